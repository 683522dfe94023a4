"""Helpers the benchmarks share: scratch databases, the machine description, ratio lines.

Every benchmark prints its figures as ratios against a baseline measured in the same run
(``ratio_line``); absolute times are printed too, as context only.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# OpenDota's rate budget in the benches that measure speed: far above what any of them reaches, and
# shaped like OpenDota's real tiers, which count per minute and per day (odota/core, docs/providers.md),
# never per second. A per-second window would idle every fetcher in the budget's end-of-window guard
# for a tenth of each second, a cost a real OpenDota crawl does not have (a quarter second a minute).
UNLIMITED_OPENDOTA = {"per_minute": 60_000_000}


def server_url(explicit: str | None = None) -> str:
    """The PostgreSQL server scratch databases are created on: ``--server``, else
    ``BENCH_DATABASE_URL``, else the machine's server at 127.0.0.1:5432, else the embedded one."""
    if explicit:
        return explicit
    import psycopg

    try:
        with psycopg.connect(DEFAULT_SERVER, connect_timeout=2):
            return DEFAULT_SERVER
    except psycopg.Error:
        from crawl_pipeline.db.embedded import start_embedded

        return start_embedded(ROOT / "data" / "pg")


@contextmanager
def scratch_database(server: str, purpose: str, *, keep: bool = False, migrate: bool = True) -> Iterator[str]:
    """A fresh database ``crawl_bench_<purpose>_<random>`` (migrated), dropped afterwards."""
    import psycopg
    from psycopg import sql

    from crawl_pipeline.db import urls

    name = f"crawl_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urls.with_database(server, name)
    try:
        if migrate:
            from crawl_pipeline.db.stack import initialize_database

            initialize_database(url)
        yield url
    finally:
        if not keep:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def machine_info(server: str | None = None) -> dict[str, str]:
    """What the figures were measured on."""
    info = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "memory": f"{_memory_gib():.1f} GiB" if _memory_gib() else "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    try:
        import psycopg

        with psycopg.connect(server or server_url(), connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:
        info["postgresql"] = f"unavailable ({type(exc).__name__})"
    return info


def ratio_line(label: str, value: float, baseline: float, *, unit: str = "", higher_is_better: bool = True) -> str:
    """``label: value unit vs baseline unit = ratio x`` (ratio >1 means better than baseline)."""
    ratio = (value / baseline if higher_is_better else baseline / value) if value and baseline else float("nan")
    return f"{label}: {value:,.1f}{unit} vs baseline {baseline:,.1f}{unit} = {ratio:.2f}x"


def target_line(description: str, met: bool) -> str:
    return f"target ({description}): {'met' if met else 'NOT met'}"


@contextmanager
def simulator_process(**overrides) -> Iterator[str]:
    """A simulator server in a subprocess of its own (so it does not share this process's GIL):
    yields its base URL; ``overrides`` are ``SimulatorConfig`` fields (as for ``start_simulator``)."""
    import json
    import subprocess

    script = (
        "import json, sys\n"
        "from crawl_pipeline.simulator.testing import start_simulator\n"
        "with start_simulator(**json.loads(sys.argv[1])) as sim:\n"
        "    print(sim.url, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(overrides)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"simulator did not start (exit {proc.poll()})")
        yield url
    finally:
        try:
            proc.stdin.close()
            proc.wait(timeout=20)
        except Exception:
            proc.kill()
            proc.wait()


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss, KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def power_law_exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of the least-squares line through (log x, log y): y ~ x^slope (nan without two sizes)."""
    if len(set(xs)) < 2 or min(ys) <= 0:
        return float("nan")
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def along_fit(xs: list[float], ys: list[float], at: float) -> float:
    """The largest measurement carried to ``at`` along the fitted power law."""
    k = power_law_exponent(xs, ys)
    return ys[-1] * (at / xs[-1]) ** k if k == k else float("nan")
