"""Shared rate budget: four processes on one Stratz token against the simulator's own limits.

The simulator enforces Stratz's 20 calls/s per token server-side (fixed windows aligned to
the second; the minute and hour caps are raised so the per-second window is what binds,
which gives one measurement per second instead of one per minute). Every process runs
eight threads calling as fast as the shared budget allows, with 50 ms of latency.

Printed, for 1, 4 and 8 processes on one token and for 8 beside processes saturating every
core: served calls against the server's capacity over the same seconds (target >= 97 %), the
server's 429 count (target 0), database leases per call, and each utilisation as a ratio of a
one-process baseline measured in the same run.

Run: ``.venv/bin/python bench/bench_rate_budget.py [--duration 60] [--baseline-duration 15]``
(a scratch database on ``BENCH_DATABASE_URL``'s server, else 127.0.0.1:5432, else the embedded one).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from common import scratch_database, server_url

from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import TIERS, ProviderConfig, SourcesConfig, open_sources

PER_SECOND = TIERS["stratz"].windows[0].limit  # 20
THREADS = 8
LATENCY_MS = 50.0


def worker(database_url: str, url: str, token: str, start_at: float, stop_at: float) -> dict[str, object]:
    """One process: THREADS threads calling until ``stop_at`` (starting together at ``start_at``)."""
    config = SourcesConfig(
        opendota=ProviderConfig(url),
        steam=ProviderConfig(url),
        stratz=ProviderConfig(url, (Secret(token),), RateTier.of("stratz-per-second", per_second=PER_SECOND)),
        retry=RetryPolicy(max_retries=0, max_budget_wait=120.0),  # 32 threads queue for 20 permits/s
        http=HTTPSettings(max_connections=THREADS),
    )
    with Database(database_url, max_size=2) as db, open_sources(config, db) as sources:
        client = sources.provider("stratz")
        time.sleep(max(0.0, start_at - time.time()))

        def loop(_: int) -> tuple[int, Counter[str]]:
            ok, failed = 0, Counter[str]()
            while time.time() < stop_at:
                try:
                    client.player_profile(293053907)
                    ok += 1
                except APIError as exc:
                    failed[type(exc).__name__] += 1
            return ok, failed

        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(loop, range(THREADS)))
        leases = sources.limiter.leases
    return {"ok": sum(r[0] for r in results), "failed": sum((r[1] for r in results), Counter()), "leases": leases}


def run(processes: int, duration: int, database_url: str) -> dict[str, float]:
    token = f"eyJhbGciOiJIUzI1NiJ9.{uuid.uuid4().hex}.YmVuY2g"  # a fresh bucket per phase, shaped like a Stratz JWT
    limits = {"stratz_per_second": PER_SECOND, "stratz_per_minute": 10**7, "stratz_per_hour": 10**8}
    with start_simulator(rate_limits=limits, stratz_tokens=(token,), latency_ms=LATENCY_MS) as sim:
        start_at = math.ceil(time.time()) + 4.0  # spawned interpreters import first; start on a second
        stop_at = start_at + duration
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(processes) as pool:
            pending = pool.starmap_async(worker, [(database_url, sim.url, token, start_at, stop_at)] * processes)
            # The server's count just before the end of the 2nd and of the last second: no
            # permit is used in a window's last 100 ms, so the difference is exactly what the
            # windows in between served, free of start-up and of calls still waiting for a
            # permit when the clock ran out.
            samples = []
            for instant in (start_at + 1.95, stop_at - 0.05):
                time.sleep(max(0.0, instant - time.time()))
                samples.append(sim.stats()["responses_by_status"].get("200", 0))
            results = pending.get()
        stats = sim.stats()
    windows = duration - 2
    served = samples[1] - samples[0]
    failed = sum((r["failed"] for r in results), Counter())
    return {
        "served": served,
        "capacity": PER_SECOND * windows,
        "utilisation": served / (PER_SECOND * windows),
        "server_429": stats["rate_limited_total"],
        "client_errors": dict(failed),
        "leases_per_call": sum(r["leases"] for r in results) / max(1, sum(r["ok"] for r in results)),
    }


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30, help="seconds of each shared run")
    parser.add_argument("--baseline-duration", type=int, default=15, help="seconds of the one-process baseline")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--no-cpu-load", action="store_true", help="skip the run beside CPU-saturating processes")
    args = parser.parse_args()
    with scratch_database(server_url(), "rate_budget") as database_url:  # dropped afterwards, like every bench's
        measure(args, database_url)


def measure(args: argparse.Namespace, database_url: str) -> None:
    print(f"server limit: Stratz {PER_SECOND}/s per token; {THREADS} threads per process, {LATENCY_MS:.0f} ms latency")
    baseline = run(1, args.baseline_duration, database_url)
    runs = [("1 process (baseline)", baseline)]
    for n in args.processes:
        runs.append((f"{n} processes, one key", run(n, args.duration, database_url)))
    if not args.no_cpu_load:
        busiest = max(args.processes)
        hogs_until = time.time() + args.duration + 15
        ctx = multiprocessing.get_context("spawn")
        hogs = [ctx.Process(target=_spin, args=(hogs_until,)) for _ in range(os.cpu_count() or 2)]
        for hog in hogs:
            hog.start()
        try:
            runs.append((f"{busiest} processes + CPU saturated", run(busiest, args.duration, database_url)))
        finally:
            for hog in hogs:
                hog.terminate()
                hog.join()
    for name, r in runs:
        print(
            f"{name:<32} served {r['served']:>5} of {r['capacity']:>5}  utilisation {r['utilisation']:6.1%}  "
            f"server 429s {r['server_429']}  client errors {r['client_errors']}  db leases/call {r['leases_per_call']:.2f}"
        )
    for name, r in runs[1:]:
        print(f"{name}: utilisation / baseline = {r['utilisation'] / baseline['utilisation']:.3f}x")
    ok = all(r["utilisation"] >= 0.97 and r["server_429"] == 0 for _, r in runs)
    print("target (>= 97 % of the limit, zero 429s, at every process count and under CPU load):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
