"""Peak memory of one batch's match work on a big database vs the same batch on an empty one.

    .venv/bin/python bench/bench_memory.py --accounts 1000000 --stubs 10000000   # the issue's scale

Two scratch databases (migrated) get the same batch ``d00-000000`` of 200 real accounts of
the simulated world. One of them also holds ``--accounts`` known accounts (in 5,000 other
batches) and ``--stubs`` match stubs (90 % with details, 10 % pending, owned by those
batches), loaded set-based with ``generate_series`` (FK triggers off during the load,
secondary indexes built afterwards, then ANALYZE). For each database a fresh subprocess runs
the batch's ``match_stubs`` then ``match_details`` work (``phases.fetch_match_stubs`` +
``phases.fetch_batch_details``, the crawl's defaults: 8 workers, 25 details per commit) against
a simulator in a third process, and reports its ``ru_maxrss``.

Printed: peak RSS of each run, the ratio loaded / empty (goal: about 1, since nothing the
batch does may scale with the size of the database) and the absolute peak (goal < 1 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psycopg
from common import ROOT, scratch_database, server_url, simulator_process, target_line

WORLD_ACCOUNTS = 20_000
BATCH = "d00-000000"
BATCH_SIZE = 200
OTHER_BATCHES = 5000
ID_BASE = 4_100_000_000  # above every simulated account id (<= 4e9), below the anonymous id


def add_batch(url: str) -> list[int]:
    from crawl_pipeline.simulator import SimulatorConfig
    from crawl_pipeline.simulator.testing import world_for

    world = world_for(SimulatorConfig(accounts=WORLD_ACCOUNTS))
    ids = [int(a) for a in world.account_ids(list(range(BATCH_SIZE)))]
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, %s)",
            (BATCH, BATCH_SIZE),
        )
        conn.execute(
            "INSERT INTO accounts (account_id, depth, batch_key) SELECT unnest(%s::bigint[]), 0, %s", (ids, BATCH)
        )
    return ids


def load(url: str, accounts: int, stubs: int) -> float:
    """``accounts`` batched accounts and ``stubs`` matches, set-based; returns seconds."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET session_replication_role = replica")  # no FK triggers during the bulk load
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('accounts', 'matches') "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        per_batch = max(1, -(-accounts // OTHER_BATCHES))
        conn.execute(
            """INSERT INTO account_batches (batch_key, depth, batch_number, account_count)
               SELECT 'd01-' || lpad(b::text, 6, '0'), 1, b, %s FROM generate_series(0, %s - 1) b""",
            (per_batch, OTHER_BATCHES),
        )
        conn.execute(
            """INSERT INTO accounts (account_id, depth, batch_key, profile_fetched_at, hero_stats_at, matches_synced_at,
                                     rank_tier, personaname)
               SELECT %s + g, 1, 'd01-' || lpad((g %% %s)::text, 6, '0'), now(), now(), now(), 10 + g %% 70,
                      'player ' || g
               FROM generate_series(0, %s - 1) g""",
            (ID_BASE, OTHER_BATCHES, accounts),
        )
        conn.execute(
            """INSERT INTO matches (match_id, match_seq_num, start_time, lobby_type, game_mode, duration, radiant_win,
                                    owner_batch, discovered_by, has_details, details_source, details_fetched_at)
               SELECT 1000000000000 + g, 2000000000000 + g, timestamptz '2024-07-01' + g * interval '1 second',
                      (g %% 2) * 7, 22, 1800 + g %% 1200, g %% 3 = 0,
                      'd01-' || lpad((g %% %s)::text, 6, '0'), %s + g %% %s,
                      CASE WHEN g %% 10 = 0 THEN NULL ELSE true END,
                      CASE WHEN g %% 10 = 0 THEN NULL ELSE 'opendota' END,
                      CASE WHEN g %% 10 = 0 THEN NULL ELSE now() END
               FROM generate_series(0, %s - 1) g""",
            (OTHER_BATCHES, ID_BASE, accounts, stubs),
        )
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("SET session_replication_role = origin")
        conn.execute("VACUUM ANALYZE accounts")
        conn.execute("VACUUM ANALYZE matches")
        conn.execute("VACUUM ANALYZE account_batches")
    return time.perf_counter() - started


def child(database_url: str, sim_url: str, max_matches: int) -> None:
    """The measured process: the batch's match stubs, then its match details."""
    import logging
    import resource

    from crawl_pipeline.crawl import phases
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.settings import Secret
    from crawl_pipeline.sources.ratelimit import RateTier
    from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources

    config = SourcesConfig(
        opendota=ProviderConfig(sim_url, (Secret("00000000-0000-4000-8000-00000000da7a"),), RateTier.of("bench", per_second=1_000_000)),
        steam=ProviderConfig(sim_url),
        stratz=ProviderConfig(sim_url),
    )
    log = logging.getLogger("bench_memory")
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with Database(database_url, max_size=4) as db, open_sources(config, db) as sources:
        source = sources.provider("opendota")
        stubs = phases.fetch_match_stubs(
            db, source, BATCH, refresh=False, max_matches=max_matches, page_size=100, max_workers=8, log=log
        )
        details = phases.fetch_batch_details(db, source, BATCH, depth=0, chunk_size=25, max_workers=8, log=log)
    print(json.dumps({
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "idle_kib": idle,
        "seconds": time.perf_counter() - started, "stubs_new": stubs.counts["stubs_new"],
        "details_stored": details.counts["details_stored"], "new_accounts": details.counts["new_accounts"],
    }))


def measure(url: str, sim_url: str, max_matches: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", url, sim_url, str(max_matches)],
        capture_output=True, text=True, check=True, cwd=ROOT / "bench",
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000, help="known accounts (1000000 for the report)")
    parser.add_argument("--stubs", type=int, default=1_000_000, help="match stubs (10000000 for the report)")
    parser.add_argument("--matches-per-account", type=int, default=10, help="history read per batch account")
    parser.add_argument("--server", default=None)
    args = parser.parse_args()
    server = server_url(args.server)
    mib = 1024
    with simulator_process(accounts=WORLD_ACCOUNTS, rate_limits={"enabled": False}) as sim_url:
        with scratch_database(server, "mem_empty") as empty_url:
            add_batch(empty_url)
            empty = measure(empty_url, sim_url, args.matches_per_account)
        with scratch_database(server, "mem_big") as big_url:
            seconds = load(big_url, args.accounts, args.stubs)
            add_batch(big_url)
            with psycopg.connect(big_url) as conn:
                size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
            print(f"loaded {args.accounts:,} accounts and {args.stubs:,} stubs in {seconds:.0f} s (database {size})")
            big = measure(big_url, sim_url, args.matches_per_account)
    for name, r in (("empty database", empty), (f"{args.accounts:,} accounts / {args.stubs:,} stubs", big)):
        print(f"{name:<40} peak RSS {r['maxrss_kib'] / mib:7.0f} MiB (interpreter+imports {r['idle_kib'] / mib:5.0f} MiB)  "
              f"{r['stubs_new']} stubs, {r['details_stored']} details, {r['new_accounts']} new accounts in {r['seconds']:.1f} s")
    print(f"batch peak RSS loaded / empty database: {big['maxrss_kib'] / empty['maxrss_kib']:.2f}x "
          f"({big['maxrss_kib'] / mib:.0f} MiB vs {empty['maxrss_kib'] / mib:.0f} MiB; 1.00x = no growth with the data)")
    print(target_line("peak < 1 GB with the loaded database", big["maxrss_kib"] * 1024 < 1e9))


if __name__ == "__main__":
    main()
