"""``python -m bench``: run every ``bench/bench_*.py`` and write ``bench/RESULTS.md``.

    python -m bench                 # --quick scales (about 10 minutes on 2 cores)
    python -m bench --full          # the scales the issues quote (1M accounts, 10M rows, ...)
    python -m bench --only ingest memory

Each benchmark runs in a subprocess of its own (so its memory and imports are its own) and
prints its figures as ratios against a baseline measured in the same run; this runner keeps
their output, pulls the ratio and target lines into a summary and records the machine the
figures came from (CPU, cores, memory, Python, PostgreSQL version, date).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import ROOT, machine_info, server_url  # noqa: E402

# Arguments per benchmark and scale; a benchmark missing here runs with its own defaults.
SCALES: dict[str, dict[str, list[str]]] = {
    "bench_simulator": {"quick": ["--quick", "--sizes", "20000", "50000", "100000"], "full": ["--sizes", "100000", "300000", "1000000"]},
    "bench_rate_budget": {"quick": ["--duration", "12", "--baseline-duration", "8"], "full": []},
    "bench_fault_recovery": {"quick": ["--items", "100"], "full": ["--items", "300"]},
    "bench_leaderboard": {"quick": ["--accounts", "50000", "--repeat", "2"], "full": ["--accounts", "1000000"]},
    "bench_duckdb_export": {
        "quick": ["--rows", "500000", "--pandas-sample", "200000", "--row-sample", "10000"],
        "full": ["--rows", "10000000"],
    },
    "bench_smurf_quality": {"quick": ["--seeds", "1", "2", "--accounts", "20000"], "full": ["--seeds", "1", "2", "3"]},
    "bench_ingest": {
        "quick": ["--matches", "4000", "--baseline-matches", "300"],  # side by side, each run needs a few seconds
        "full": ["--matches", "10000", "--baseline-matches", "500"],
    },
    "bench_memory": {
        "quick": ["--sizes", "30000", "100000", "300000", "--stubs-per-account", "10", "--matches-per-account", "10"],
        "full": ["--sizes", "100000", "300000", "1000000", "--stubs-per-account", "10", "--matches-per-account", "100"],
    },
    "bench_dagster_overhead": {"quick": [], "full": ["--repeat", "4"]},  # its defaults: 50 and the default batch size
    "bench_sensor_tick": {"quick": ["--sizes", "10000", "30000", "100000"], "full": ["--sizes", "100000", "300000", "1000000"]},
    "bench_budget": {"quick": ["--accounts-per-depth", "40"], "full": ["--accounts-per-depth", "200", "--depth", "3"]},
}
ORDER = [
    "bench_budget", "bench_sensor_tick", "bench_ingest", "bench_rate_budget", "bench_fault_recovery", "bench_leaderboard", "bench_memory",
    "bench_dagster_overhead", "bench_duckdb_export", "bench_simulator", "bench_smurf_quality",
]  # fmt: skip
# a figure line: a ratio ("12.3x", "x4.0", "= 0.98x"), a target verdict, or a utilisation / F1 ratio
FIGURE = re.compile(r"(\d[\d.,]*\s*x\b|\bx\d[\d.]*|\btarget|\bratio\b|/ baseline)", re.IGNORECASE)


def discover(only: list[str]) -> list[Path]:
    found = {p.stem: p for p in sorted(HERE.glob("bench_*.py"))}
    names = [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]
    if only:
        wanted = {o if o.startswith("bench_") else f"bench_{o}" for o in only}
        unknown = wanted - set(found)
        if unknown:
            raise SystemExit(f"python -m bench: unknown benchmark(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(n.removeprefix('bench_') for n in names)}")
        names = [n for n in names if n in wanted]
    return [found[n] for n in names]


def run(path: Path, scale: str, timeout: float) -> dict:
    args = SCALES.get(path.stem, {}).get(scale, [])
    started = time.monotonic()
    print(f"== {path.stem} {' '.join(args)}", flush=True)
    try:
        proc = subprocess.run(
            [sys.executable, str(path), *args], cwd=HERE, capture_output=True, text=True, timeout=timeout
        )
        output, status = proc.stdout, ("ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})")
        if proc.returncode != 0:
            output += "\n" + "\n".join(proc.stderr.strip().splitlines()[-15:])
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or "")
        status = f"timed out after {timeout:.0f} s"
    seconds = time.monotonic() - started
    print(output.rstrip(), flush=True)
    print(f"-- {path.stem}: {status} in {seconds:.0f} s\n", flush=True)
    figures = [line.strip() for line in output.splitlines() if FIGURE.search(line)]
    return {"name": path.stem, "args": args, "status": status, "seconds": seconds, "output": output, "figures": figures}


# Between these markers RESULTS.md holds what a run of this runner does not measure (the verdict per
# goal, full-scale figures run one at a time): a regeneration keeps that part as it is.
KEPT_START = "<!-- kept by python -m bench: figures run by hand -->"
KEPT_END = "<!-- end of the figures run by hand -->"


def kept_part(path: Path) -> str:
    text = path.read_text() if path.exists() else ""
    start = text.find(KEPT_START)
    if start < 0:
        return ""
    end = text.find(KEPT_END, start)
    if end < 0:  # refuse to overwrite hand-run figures whose end is lost
        raise SystemExit(f"python -m bench: {path} has {KEPT_START!r} but no {KEPT_END!r} after it; fix the markers")
    return text[start : end + len(KEPT_END)]


def render(results: list[dict], machine: dict[str, str], scale: str, kept: str = "") -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python -m bench{' --full' if scale == 'full' else ''}` ({scale} scales). "
        "Every figure is a ratio against a baseline measured in the same run on the same machine; "
        "absolute times and rates are context only. Regenerate with `make bench`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items()],
        "",
        "## Summary",
        "",
        "| benchmark | status | time | figures (ratios vs the same run's baseline, targets) |",
        "|---|---|---|---|",
    ]
    for r in results:
        figures = "<br>".join(f.replace("|", "/") for f in r["figures"]) or "(none printed)"
        lines.append(f"| `{r['name']}` | {r['status']} | {r['seconds']:.0f} s | {figures} |")
    if kept:
        lines += ["", kept]
    lines += ["", "## Output", ""]
    for r in results:
        lines += [f"### {r['name']}", "", f"`python bench/{r['name']}.py {' '.join(r['args'])}`".replace(" `", "`"), "",
                  "```", r["output"].rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="small scales, about 10 minutes on 2 cores (default)")
    scale.add_argument("--full", action="store_true", help="the issues' scales (an hour or more)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="e.g. ingest memory")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per benchmark (default 900 quick, 7200 full)")
    args = parser.parse_args(argv)
    chosen = "full" if args.full else "quick"
    timeout = args.timeout or (7200 if args.full else 900)
    paths = discover(args.only)
    machine = machine_info(server_url())
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + "\n", flush=True)
    results = [run(path, chosen, timeout) for path in paths]
    args.output.write_text(render(results, machine, chosen, kept_part(args.output)) + "\n")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
