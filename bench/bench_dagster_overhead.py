"""Per-partition Dagster overhead against the work itself, and the batch size it suggests.

For each batch size N, N real accounts of the simulated world are seeded (depth 0, one
batch) into two fresh scratch databases, then the batch is crawled (profiles, hero stats,
match stubs, match details) in two ways against the same simulator (own process, rate
limits off, 5 ms latency):

  * direct   the work functions called one after the other (``phases.fetch_profiles``,
             ``fetch_hero_stats``, ``fetch_match_stubs``, ``fetch_batch_details``), the batch
             cut with the same ``frontier.cut_batches``
  * dagster  ``crawl_locally``: the discovery tick, then ``crawl_batch_job`` executed in
             process for each requested phase (two runs per batch) on a real instance
             whose storage is PostgreSQL (dagster-postgres), with checks and metadata

overhead = dagster - direct. Printed per N: both times, the overhead per run and its share
of the work (the ratio dagster / direct); then the batch size at which the overhead falls
under 10 % of the work, from the fixed per-run overhead and the work per account measured.

Run: ``.venv/bin/python bench/bench_dagster_overhead.py [--sizes 10 40 160] [--matches 5]``.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from datetime import timedelta

import numpy as np
from common import scratch_database, server_url, simulator_process, target_line

WORLD_ACCOUNTS = 20_000
LATENCY_MS = 5.0
RATE = {"opendota": {"per_second": 1_000_000}}


def crawl_config(seeds: list[int], matches: int):
    from crawl_pipeline.defs.crawl.resources import CrawlConfig

    return CrawlConfig(
        seeds=seeds, max_depth=0, batch_size=len(seeds), batch_growth=1.0, max_batch_size=len(seeds),
        max_matches_per_account=matches, page_size=matches, partial_batch_after_seconds=0,
    )


def direct(url: str, sim_url: str, seeds: list[int], matches: int) -> tuple[float, int]:
    from crawl_pipeline.crawl import phases
    from crawl_pipeline.db import frontier
    from crawl_pipeline.db.accounts import add_seeds
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.domain.frontier import parse_batch_key
    from crawl_pipeline.settings import Secret
    from crawl_pipeline.sources.ratelimit import RateTier
    from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources

    crawl = crawl_config(seeds, matches)
    log = logging.getLogger("bench_dagster_overhead")
    config = SourcesConfig(
        opendota=ProviderConfig(sim_url, (Secret("00000000-0000-4000-8000-00000000da7a"),), RateTier.of("bench", per_second=1_000_000)),
        steam=ProviderConfig(sim_url, (Secret("sim-steam-key"),)),
        stratz=ProviderConfig(sim_url, (Secret("sim-stratz-token-1"),)),
        max_concurrency=crawl.max_workers,
    )
    with Database(url, max_size=4) as db:
        started = time.perf_counter()
        with db.transaction() as conn:
            add_seeds(conn, seeds)
            batches = frontier.cut_batches(conn, crawl.policy(), linger=timedelta(seconds=0))
        for batch in batches:
            depth, _ = parse_batch_key(batch.key)
            w = crawl.max_workers
            with open_sources(config, db) as sources:
                phases.fetch_profiles(db, sources.for_call("profiles"), batch.key, refresh=False, max_workers=w, log=log)
            with open_sources(config, db) as sources:
                phases.fetch_hero_stats(db, sources.for_call("hero_stats"), batch.key, refresh=False, max_workers=w, log=log)
            with open_sources(config, db) as sources:
                phases.fetch_match_stubs(
                    db, sources.for_call("match_history"), batch.key, refresh=False, max_matches=matches,
                    page_size=matches, max_workers=w, log=log,
                )
            with open_sources(config, db) as sources:
                phases.fetch_batch_details(
                    db, sources.for_call("match_details"), batch.key, depth=depth,
                    chunk_size=crawl.details_chunk_size, max_workers=w, log=log,
                )
        seconds = time.perf_counter() - started
        stored = db.fetch_value("SELECT count(*) FROM matches WHERE has_details")
    return seconds, stored


def dagster(url: str, dagster_url: str, sim_url: str, seeds: list[int], matches: int) -> tuple[float, int, int]:
    import dagster as dg

    from crawl_pipeline.db import urls
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.definitions import build_definitions
    from crawl_pipeline.defs.crawl.local_runner import crawl_locally
    from crawl_pipeline.defs.providers import ProvidersResource
    from crawl_pipeline.defs.resources import PostgresResource
    from crawl_pipeline.settings import Settings

    crawl = crawl_config(seeds, matches)
    providers = ProvidersResource(
        opendota_api_url=sim_url, steam_api_url=sim_url, stratz_api_url=sim_url, opendota_api_key="00000000-0000-4000-8000-00000000da7a",
        steam_api_key="sim-steam-key", stratz_tokens="sim-stratz-token-1", rate_limits=RATE,
    )
    defs = build_definitions(Settings.from_env({}), postgres=PostgresResource(database_url=url), providers=providers, crawl=crawl)
    with tempfile.TemporaryDirectory(prefix="bench_dagster_home_") as home, dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": urls.to_sqlalchemy(dagster_url)}}}, temp_dir=home
    ) as instance, Database(url, max_size=4) as db:
        started = time.perf_counter()
        runs = crawl_locally(defs, instance, db, crawl)
        seconds = time.perf_counter() - started
        stored = db.fetch_value("SELECT count(*) FROM matches WHERE has_details")
    assert not runs.failed_partitions, runs
    return seconds, stored, sum(runs.runs.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160], help="accounts per batch")
    parser.add_argument("--matches", type=int, default=5, help="history read per account")
    parser.add_argument("--server", default=None)
    args = parser.parse_args()
    server = server_url(args.server)

    from crawl_pipeline.simulator import SimulatorConfig
    from crawl_pipeline.simulator.testing import world_for

    world = world_for(SimulatorConfig(accounts=WORLD_ACCOUNTS))
    print(f"simulator: {WORLD_ACCOUNTS:,} accounts, rate limits off, {LATENCY_MS:.0f} ms latency; "
          f"{args.matches} matches per account; one batch per size, two runs (hero phase, match phase)")
    rows = []
    offset = 0
    with simulator_process(accounts=WORLD_ACCOUNTS, latency_ms=LATENCY_MS, rate_limits={"enabled": False}) as sim_url, \
            scratch_database(server, "overhead_dagster", migrate=False) as dagster_url:
        for size in [3, *args.sizes]:  # the first (3 accounts) warms imports, connections and caches up
            # different accounts per size, the same accounts for both modes
            seeds = [int(a) for a in world.account_ids(list(range(offset, offset + size)))]
            offset += size
            with scratch_database(server, "overhead_direct") as direct_url:
                d_s, d_n = direct(direct_url, sim_url, seeds, args.matches)
            with scratch_database(server, "overhead_runs") as runs_url:
                g_s, g_n, runs = dagster(runs_url, dagster_url, sim_url, seeds, args.matches)
            if offset == size:
                continue
            rows.append((size, d_s, g_s, runs))
            print(f"batch {size:>5} accounts: direct {d_s:7.2f} s ({d_n} details)  dagster {g_s:7.2f} s ({g_n} details, "
                  f"{runs} runs)  overhead {g_s - d_s:6.2f} s = {(g_s - d_s) / d_s:6.1%} of the work  "
                  f"dagster / direct {g_s / d_s:.2f}x")
    sizes = np.array([r[0] for r in rows], float)
    d_b, d_a = np.polyfit(sizes, [r[1] for r in rows], 1) if len(rows) > 1 else (rows[0][1] / rows[0][0], 0.0)
    g_b, g_a = np.polyfit(sizes, [r[2] for r in rows], 1) if len(rows) > 1 else (rows[0][2] / rows[0][0], 0.0)
    fixed, per_account = g_a - d_a, g_b - d_b
    print(f"least squares over the sizes: direct {d_a:.2f} s + {d_b * 1000:.1f} ms/account; "
          f"dagster {g_a:.2f} s + {g_b * 1000:.1f} ms/account")
    print(f"overhead per batch: {fixed:.2f} s fixed + {per_account * 1000:.1f} ms per account "
          f"({rows[0][3]} runs per batch)")
    denominator = 0.10 * d_b - per_account
    if denominator <= 0:
        print("batch size for overhead < 10 % of work: none here (the overhead grows with the batch as fast as "
              "10 % of the work does)")
        suggested = None
    else:
        suggested = max(1, math.ceil((fixed - 0.10 * d_a) / denominator))
        print(f"batch size for overhead < 10 % of work: >= {suggested} accounts (5 ms latency, no rate limit: real "
              f"providers make the work per account far larger, so this is an upper bound)")
    largest = rows[-1]
    print(f"dagster / direct at the largest batch ({largest[0]} accounts): {largest[2] / largest[1]:.2f}x")
    print(target_line("default batch size 200 keeps overhead < 10 %", suggested is not None and suggested <= 200))


if __name__ == "__main__":
    main()
