"""One discovery-sensor tick against a frontier of N pending accounts, at three sizes.

    python bench/bench_sensor_tick.py [--sizes 10000 30000 100000]

Each size gets a scratch database whose frontier holds N unbatched accounts at depth 1 (the
seed's batch finished), then one ``discovery_tick`` runs: it cuts every batch the policy allows
(growing batch sizes per depth), marks their phases requested and builds the partition and run
requests, in one transaction. Printed: seconds per tick, batches cut, and how the time grows
with N (the exponent of a power law fitted to the smallest and largest size; 1.0 is linear),
so the cost at Dota's scale (about 15 million accounts) can be read off. Target: < 5 s at
100,000 pending accounts.
"""

from __future__ import annotations

import argparse
import math
import time

import dagster as dg
from common import scratch_database, server_url, target_line

from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.crawl.sensors import discovery_tick

SEED = 293053907


def tick(url: str, pending: int) -> tuple[float, int]:
    with Database(url, max_size=2) as db:
        with db.transaction() as conn:
            conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES "
                         "('d00-000000', 0, 0, 1)")
            conn.execute("INSERT INTO accounts (account_id, depth, batch_key, is_seed, profile_fetched_at, "
                         "hero_stats_at, matches_synced_at) VALUES (%s, 0, 'd00-000000', true, now(), now(), now())",
                         (SEED,))
            conn.execute("INSERT INTO accounts (account_id, depth, discovered_from) "
                         "SELECT 1000 + g, 1, %s FROM generate_series(1, %s) g", (SEED, pending))
            conn.execute("ANALYZE accounts")
        crawl = CrawlConfig(max_depth=3, max_runs_in_flight=8)
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            result = discovery_tick(instance, db, crawl)
            elapsed = time.perf_counter() - started
        batches = sum(len(r.partition_keys) for r in result.dynamic_partitions_requests)
    return elapsed, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--server", default=None)
    args = parser.parse_args()
    server = server_url(args.server)
    figures = []
    for n in args.sizes:
        with scratch_database(server, "sensor") as url:
            seconds, batches = tick(url, n)
        figures.append((n, seconds))
        print(f"  {n:>9,} pending accounts: tick {seconds:6.2f} s, {batches} batches cut")
    (n0, t0), (n1, t1) = figures[0], figures[-1]
    exponent = math.log(t1 / t0) / math.log(n1 / n0) if t0 > 0 and n1 != n0 else float("nan")
    at_scale = t1 * (15_000_000 / n1) ** exponent if exponent == exponent else float("nan")
    print(f"growth: time ~ N^{exponent:.2f} (1.0 is linear); a tick over 15,000,000 pending accounts: ~{at_scale:,.0f} s")
    largest = max(figures)
    print(target_line(f"< 5 s per tick at {largest[0]:,} pending accounts", largest[0] >= 100_000 and largest[1] < 5.0))


if __name__ == "__main__":
    main()
