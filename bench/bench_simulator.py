"""Simulator start-up, peak memory, and how fast it serves match details.

Each scenario runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. Worlds of
three sizes (``--sizes``; default 100k, 300k and 1M accounts, ``--quick`` 20k, 50k and 100k)
are generated; the largest one is then generated again and every serving cache filled past
its bound. Figures are printed as ratios against baselines measured in the same run:
  * the largest vs the smallest world (how start-up and memory scale with the population),
    and for start-up, peak RSS, memory above the interpreter and the kept arrays the exponent
    of a power law fitted by least squares on log-log over the sizes (1.0 = linear), carried
    along the fit to a 15-million-account world (150M matches, the default 10 per account),
  * the smallest and largest world vs a trivial baseline that allocates and touches numpy
    arrays of the same total size as the world keeps (the generator's cost beyond its data),
  * each world's peak RSS vs the interpreter with the simulator imported.
Targets from the issue (a 1M-account / 10M-match world: start-up < 30 s, < 2 GB with the
serving caches full) are checked against the measured 1M world when 1M is one of the sizes,
else against the fit's extrapolation to 1M, labelled so.

Serving (issue #15 goal 1, ">= 2,000 match details/s on one core"): a simulator of 20,000
accounts (rate limits off, no latency) runs in a subprocess pinned to one core
(``os.sched_setaffinity``); this process, pinned to the other core, is the load generator:
16 keep-alive connections on a raw asyncio client (a few microseconds per request, so the
server is what is measured) asking ``GET /api/matches/{id}``. Two servers run side by side,
the default one and one with ``response_cache=False`` (every answer derived and encoded
again); their rounds alternate so a busy machine slows both alike, and the median round
counts. Id streams:
  * crawl order: the newest matches first, each once (what bench_ingest.py and a crawl
    fetching a batch's new matches ask for): no answer is served twice,
  * scattered: the same ids shuffled, each once (the block cache rarely helps),
  * repeated: 2,000 ids asked again and again (kept bytes).
Then a bench_ingest-style run (32 httpx threads fetching 3,000 match details, 5 ms mean
latency, nothing pinned) reports the share of CPU the simulator took (``/proc`` CPU times).
Run: ``.venv/bin/python bench/bench_simulator.py [--quick] [--sizes N N N] [--serving-only|--no-serving]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common import along_fit, power_law_exponent  # noqa: E402

SCENARIO = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    from crawl_pipeline.simulator import SimulatorConfig, World
    from crawl_pipeline.simulator.content import match_batch
    kind, accounts, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    started, cpu_started = time.perf_counter(), time.process_time()
    out = {}
    if kind == "world":
        world = World.generate(SimulatorConfig(accounts=accounts))
        out["seconds"] = time.perf_counter() - started
        out["cpu_seconds"] = time.process_time() - cpu_started
        out["nbytes"] = world.nbytes()
        out["matches"] = world.num_matches
        t = time.perf_counter()
        for i in range(200):
            match_batch(world, world.matches_of(i))
        out["player_lookup_ms"] = (time.perf_counter() - t) / 200 * 1000
    elif kind == "served":  # the world, then every serving cache filled past its bound
        import asyncio
        from crawl_pipeline.simulator import create_app
        config = SimulatorConfig().with_overrides(accounts=accounts, rate_limits={"enabled": False})
        world = World.generate(config)
        out["seconds"] = time.perf_counter() - started
        out["cpu_seconds"] = time.process_time() - cpu_started
        app = create_app(world, config)
        n = world.num_matches
        rng = np.random.default_rng(15)
        picks = np.concatenate([np.arange(n - 1, n - 1 - 20_000, -1), rng.integers(0, n, 10_000)])
        paths = [f"/api/matches/{int(m)}" for m in world.match_id(picks)]
        paths += [f"/api/players/{int(a)}/matches" for a in world.accounts.account_id[:2_000]]

        async def drive():
            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                pass

            for path in paths:
                scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                         "headers": [], "client": ("127.0.0.1", 1), "server": ("sim", 80), "scheme": "http",
                         "root_path": "", "http_version": "1.1", "asgi": {"version": "3.0"}}
                await app(scope, receive, send)

        t = time.perf_counter()
        asyncio.run(drive())
        out["served"] = len(paths)
        out["serve_seconds"] = time.perf_counter() - t
        caches = app.runtime.cache_stats()
        out["cache_bytes"] = caches["responses"]["bytes"]
        out["cache_capacity"] = caches["responses"]["capacity_bytes"]
        out["blocks"] = caches["match_blocks"]["entries"]
    elif kind == "alloc":
        block = np.ones(nbytes, dtype=np.uint8)  # touched, so it is resident
        out["seconds"] = time.perf_counter() - started
    out["maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))
    """
)


def run(kind: str, accounts: int = 0, nbytes: int = 0) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", SCENARIO, kind, str(accounts), str(nbytes)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


AT_SCALE = 15_000_000  # Dota's players, roughly: what the extrapolation is for
TARGET_ACCOUNTS = 1_000_000  # the targets: this world starts in < 30 s and stays < 2 GB


def _k(count: int) -> str:
    return f"{count // 1_000_000}M" if count % 1_000_000 == 0 else f"{count // 1000}k"


def memory_section(sizes: list[int]) -> None:
    from common import target_line

    mib, gib = 1024 * 1024, 1024**3
    small_n, large_n = sizes[0], sizes[-1]

    idle = run("idle")
    worlds = [run("world", n) for n in sizes]
    small, big = worlds[0], worlds[-1]
    served = run("served", large_n)
    small_alloc = run("alloc", nbytes=int(small["nbytes"]))
    big_alloc = run("alloc", nbytes=int(big["nbytes"]))

    print(f"{'scenario':<34}{'start-up s':>12}{'peak RSS MiB':>14}{'kept MiB':>10}{'CPU s':>8}")
    print(f"{'interpreter + imports':<34}{'':>12}{idle['maxrss_bytes'] / mib:>14.0f}")
    for n, res in zip(sizes, worlds, strict=True):
        name = f"world {_k(n)} / {res['matches']:,.0f} matches"
        print(f"{name:<34}{res['seconds']:>12.2f}{res['maxrss_bytes'] / mib:>14.0f}{res['nbytes'] / mib:>10.0f}"
              f"{res['cpu_seconds']:>8.2f}")
    print(f"{f'world {_k(large_n)} + caches full':<34}{served['seconds']:>12.2f}{served['maxrss_bytes'] / mib:>14.0f}"
          f"{'':>10}{served['cpu_seconds']:>8.2f}")
    for name, res in ((f"alloc baseline ({_k(small_n)} size)", small_alloc), (f"alloc baseline ({_k(large_n)} size)", big_alloc)):
        print(f"{name:<34}{res['seconds']:>12.2f}{res['maxrss_bytes'] / mib:>14.0f}")
    print("  (start-up: wall seconds of World.generate; CPU s: its CPU time summed over its threads, which other "
          "work on the machine stretches less)")

    def extra(res: dict[str, float]) -> float:
        return res["maxrss_bytes"] - idle["maxrss_bytes"]

    xs = [float(n) for n in sizes]
    startup = [w["seconds"] for w in worlds]
    cpu = [w["cpu_seconds"] for w in worlds]
    above = [extra(w) for w in worlds]
    kept = [w["nbytes"] for w in worlds]
    caches = served["maxrss_bytes"] - big["maxrss_bytes"]  # bounded (response_cache_mb, match_cache_blocks)

    def fit(ys: list[float]) -> str:
        return f"N^{round(power_law_exponent(xs, ys), 2) + 0.0:.2f}"

    print()
    print(f"growth over {_k(small_n)}-{_k(large_n)} accounts ({len(sizes)} sizes; power law, least squares on log-log; "
          f"0 = flat, 1.0 = linear):")  # fmt: skip
    print(f"  start-up ~ {fit(startup)} (CPU time ~ {fit(cpu)}), peak RSS ~ {fit([w['maxrss_bytes'] for w in worlds])}, "
          f"memory above the interpreter ~ {fit(above)}, kept arrays ~ {fit(kept)}")  # fmt: skip
    scale_startup = along_fit(xs, startup, AT_SCALE)
    scale_peak = idle["maxrss_bytes"] + along_fit(xs, above, AT_SCALE)
    print(f"at {AT_SCALE:,} accounts (extrapolated from {_k(large_n)} along each fit; assumes the default "
          f"10 match slots per account = {AT_SCALE * 10:,} matches): start-up ~{scale_startup:,.0f} s "
          f"(CPU ~{along_fit(xs, cpu, AT_SCALE):,.0f} s), "
          f"peak RSS ~{scale_peak / gib:,.1f} GiB (interpreter + memory above it), "
          f"~{(scale_peak + max(caches, 0)) / gib:,.1f} GiB with the serving caches full "
          f"(+{caches / mib:.0f} MiB, bounded), kept arrays ~{along_fit(xs, kept, AT_SCALE) / gib:,.1f} GiB")  # fmt: skip
    print(f"largest vs smallest world: start-up x{big['seconds'] / small['seconds']:.1f}, "
          f"memory above interpreter x{extra(big) / extra(small):.1f} (population x{large_n / small_n:.0f})")  # fmt: skip
    print(f"largest world vs equal-size allocation: peak RSS x{big['maxrss_bytes'] / big_alloc['maxrss_bytes']:.2f}, "
          f"memory above interpreter x{extra(big) / extra(big_alloc):.2f}")  # fmt: skip
    print(f"smallest world vs equal-size allocation: peak RSS x{small['maxrss_bytes'] / small_alloc['maxrss_bytes']:.2f}")
    print("per-account lookup (all matches of one account, content derived): "
          + ", ".join(f"{_k(n)} {w['player_lookup_ms']:.2f} ms" for n, w in zip(sizes, worlds, strict=True)))  # fmt: skip
    print(f"serving caches after {served['served']:,} requests ({served['serve_seconds']:.1f} s in-process): "
          f"{served['cache_bytes'] / mib:.0f} of {served['cache_capacity'] / mib:.0f} MiB of kept answers, "
          f"{served['blocks']} match blocks; peak RSS x{served['maxrss_bytes'] / big['maxrss_bytes']:.2f} the world alone "
          f"(+{caches / mib:.0f} MiB)")  # fmt: skip
    if TARGET_ACCOUNTS in sizes:
        at = worlds[sizes.index(TARGET_ACCOUNTS)]
        t_start, start_how = at["seconds"], f"measured, CPU {at['cpu_seconds']:.1f} s"
        if large_n == TARGET_ACCOUNTS:  # the caches-full scenario generated the same world again
            t_start = min(at["seconds"], served["seconds"])
            start_how = (f"measured, the faster of two generations: {at['seconds']:.1f} s and {served['seconds']:.1f} s, "
                         f"CPU {at['cpu_seconds']:.1f} s and {served['cpu_seconds']:.1f} s")
            t_peak, peak_how = max(at["maxrss_bytes"], served["maxrss_bytes"]), "measured, serving caches full"
        else:
            t_peak, peak_how = at["maxrss_bytes"], "measured, world alone"
    else:
        t_start = along_fit(xs, startup, TARGET_ACCOUNTS)
        t_peak = idle["maxrss_bytes"] + along_fit(xs, above, TARGET_ACCOUNTS) + max(caches, 0)
        start_how = peak_how = f"extrapolated from {_k(small_n)}-{_k(large_n)}; measured at full scale only"
        peak_how += ", serving caches full"
    print(target_line(f"{_k(TARGET_ACCOUNTS)}-account world start-up < 30 s", t_start < 30)
          + f" ({start_how}; {t_start:.1f} s)")
    print(target_line(f"{_k(TARGET_ACCOUNTS)}-account world < 2 GB", t_peak < 2e9)
          + f" ({peak_how}; {t_peak / 1e9:.2f} GB = {t_peak / mib:,.0f} MiB)")


# ---------------------------------------------------------------------- serving
SERVE_ACCOUNTS = 20_000
KEY = "00000000-0000-4000-8000-00000000da7a"
SERVER = textwrap.dedent(
    """
    import json, os, sys
    cpu = int(sys.argv[2])
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    from crawl_pipeline.simulator.testing import start_simulator
    with start_simulator(**json.loads(sys.argv[1])) as sim:
        print(sim.url, os.getpid(), flush=True)
        sys.stdin.read()
    """
)


@contextmanager
def server(cpu: int, **overrides: object) -> Iterator[tuple[str, int]]:
    """A simulator in its own process (on ``cpu`` unless -1): yields (base URL, pid)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, json.dumps(overrides), str(cpu)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        line = proc.stdout.readline().split()
        if len(line) != 2 or not line[0].startswith("http"):
            raise RuntimeError(f"simulator did not start (exit {proc.poll()})")
        yield line[0], int(line[1])
    finally:
        try:
            proc.stdin.close()
            proc.wait(timeout=20)
        except Exception:
            proc.kill()
            proc.wait()


async def _connection(host: str, port: int, paths: Iterator[str], deadline: float, done: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for path in paths:
            if time.perf_counter() >= deadline:
                break
            writer.write(f"GET {path} HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{path}: {head[:60]!r}")
            length = next(int(h[15:]) for h in head.split(b"\r\n") if h[:15].lower() == b"content-length:")
            await reader.readexactly(length)
            done[0] += 1
    finally:
        writer.close()


def load(url: str, paths: list[str], seconds: float, connections: int = 16) -> float:
    """Requests per second served over ``connections`` keep-alive connections (stops at ``seconds``)."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    shared = iter(paths)
    done = [0]

    async def go() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_connection(host, int(port), shared, deadline, done) for _ in range(connections)))
        return time.perf_counter() - started

    try:
        import uvloop

        elapsed = uvloop.run(go())
    except ImportError:
        elapsed = asyncio.run(go())
    return done[0] / elapsed


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serving_section(seconds: float, rounds: int) -> None:
    from common import ratio_line, target_line

    from crawl_pipeline.simulator import SimulatorConfig
    from crawl_pipeline.simulator.testing import world_for

    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cores[0], cores[1]) if len(cores) > 1 else (cores[0], cores[0])
    world = world_for(SimulatorConfig(accounts=SERVE_ACCOUNTS))
    n = world.num_matches
    newest = [f"/api/matches/{int(m)}" for m in world.match_id(list(range(n - 1, -1, -1)))]
    per_round = len(newest) // rounds  # every round of a stream asks ids no earlier round asked
    shuffled = newest[:]
    random.Random(15).shuffle(shuffled)
    working_set = newest[:2_000]
    streams = {
        "crawl order (newest first, each once)": lambda r: newest[r * per_round : (r + 1) * per_round],
        "scattered (shuffled, each once)": lambda r: shuffled[r * per_round : (r + 1) * per_round],
        "repeated (2,000 ids over and over)": lambda r: working_set * 200,
    }
    print(f"\nserving: {SERVE_ACCOUNTS:,} accounts / {n:,} matches, rate limits off, server on core {server_cpu}, "
          f"load generator on core {client_cpu}; {rounds} alternating rounds of {seconds:.0f} s per stream, median")  # fmt: skip
    if server_cpu == client_cpu:
        print("  (one core available: server and load generator share it)")
    os.sched_setaffinity(0, {client_cpu})
    base = {"accounts": SERVE_ACCOUNTS, "rate_limits": {"enabled": False}}
    results: dict[str, tuple[float, float]] = {}
    with server(server_cpu, **base) as (fast_url, _), server(server_cpu, **base, response_cache=False) as (slow_url, _):
        import httpx

        with httpx.Client() as http:  # the two paths answer the same bytes
            sample = newest[:: n // 40][:40] + shuffled[:10]
            same = all(http.get(fast_url + p).content == http.get(slow_url + p).content for p in sample)
        for name, ids in streams.items():
            cached, uncached = [], []
            for r in range(rounds):
                # the uncached server first in even rounds, second in odd ones
                order = [(uncached, slow_url), (cached, fast_url)]
                for bucket, url in order if r % 2 == 0 else order[::-1]:
                    bucket.append(load(url, ids(r), seconds))
            results[name] = (statistics.median(cached), statistics.median(uncached))
    os.sched_setaffinity(0, set(cores))
    print(f"  answers of the cached and uncached paths identical on {len(sample)} sampled ids: {same}")
    for name, (cached, uncached) in results.items():
        print(f"  {name:<40} cached {cached:>8,.0f}/s   uncached {uncached:>8,.0f}/s")
    for name, (cached, uncached) in results.items():
        print("  " + ratio_line(f"match details/s on one core, {name}, cached / uncached", cached, uncached, unit="/s"))
    crawl = results["crawl order (newest first, each once)"][0]
    print(target_line(">= 2,000 match details/s on one core, crawl order, each match once", crawl >= 2_000))
    print(target_line(">= 2,000 match details/s on one core, repeated ids",
                      results["repeated (2,000 ids over and over)"][0] >= 2_000))  # fmt: skip
    print(f"  (scattered, each once: {results['scattered (shuffled, each once)'][0]:,.0f}/s; "
          f"the uncached path's speed: a block is derived only when its neighbours are asked for)")  # fmt: skip
    ingest_style_share(base)


def ingest_style_share(base: dict[str, object]) -> None:
    """bench_ingest's fetch phase (32 httpx threads, 5 ms latency): the simulator's CPU share."""
    import httpx

    from crawl_pipeline.simulator import SimulatorConfig
    from crawl_pipeline.simulator.testing import world_for

    world = world_for(SimulatorConfig(accounts=SERVE_ACCOUNTS))
    n = world.num_matches
    ids = [int(m) for m in world.match_id(list(range(n - 1, n - 3_001, -1)))]
    print("\nbench_ingest-style fetch: 3,000 match details, 32 httpx threads, 5 ms mean latency, nothing pinned")
    for label, extra in (("cached", {}), ("uncached", {"response_cache": False})):
        with server(-1, **base, latency_ms=5.0, **extra) as (url, pid), httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {KEY}"}, limits=httpx.Limits(max_connections=32)
        ) as http, ThreadPoolExecutor(32) as pool:  # fmt: skip
            cpu0, own0, started = _cpu_seconds(pid), time.process_time(), time.perf_counter()
            list(pool.map(lambda i: http.get(f"/api/matches/{i}").raise_for_status(), ids))
            wall = time.perf_counter() - started
            sim_cpu, own_cpu = _cpu_seconds(pid) - cpu0, time.process_time() - own0
        print(f"  {label:<9} {len(ids) / wall:>7,.0f} details/s; simulator CPU {sim_cpu:.2f} s = "
              f"{sim_cpu / wall:.0%} of one core, {sim_cpu / (sim_cpu + own_cpu):.0%} of the CPU both sides used")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="worlds of 20k-100k instead of 100k-1M accounts; shorter serving rounds")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="world sizes in accounts (default 100000 300000 1000000, quick 20000 50000 100000)")
    parser.add_argument("--serving-only", action="store_true", help="skip start-up and memory")
    parser.add_argument("--no-serving", action="store_true", help="skip the serving measurements")
    parser.add_argument("--seconds", type=float, default=None, help="length of one serving round (default 4, quick 2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating serving rounds per stream")
    args = parser.parse_args()
    if not args.serving_only:
        sizes = args.sizes or ([20_000, 50_000, 100_000] if args.quick else [100_000, 300_000, 1_000_000])
        memory_section(sorted(set(sizes)))
    if not args.no_serving:
        serving_section(args.seconds or (2.0 if args.quick else 4.0), max(1, args.rounds))


if __name__ == "__main__":
    main()
