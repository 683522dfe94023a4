"""Peak memory and time of one batch's match work as the database grows, vs an empty database.

    .venv/bin/python bench/bench_memory.py --sizes 100000 300000 1000000 --matches-per-account 100  # the issue's scale

The batch ``d00-000000`` holds 200 real accounts of the simulated world. Its work (a fresh
subprocess running ``phases.fetch_match_stubs`` then ``phases.fetch_batch_details``, the
crawl's defaults: 8 workers, 25 details per commit, against a simulator in another process)
is measured on an empty database (the baseline) and on databases of three sizes. Each size
holds ``N`` known accounts (in 5,000 other batches) and ``N x --stubs-per-account`` match
stubs (90 % with details, 10 % pending, owned by those batches), loaded set-based with
``generate_series`` (FK triggers off, secondary indexes dropped during the load and built
afterwards, then VACUUM ANALYZE). The sizes are reached incrementally in one data database
(load the first size, add rows up to the second, ...); the batch runs in a copy of it
(``CREATE DATABASE ... TEMPLATE``), so every size gets the same, untouched batch.

Printed per size: load time (cumulative), database size, the batch's peak RSS (ru_maxrss) and
wall time; for each quantity the exponent of a power law fitted by least squares on log-log
(0 = flat, 1.0 = linear) and the extrapolation to a 15-million-player crawl; the ratio of the
largest size to the empty baseline (goal: about 1, nothing the batch does may scale with the
database) and the target (peak < 1 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from common import (
    ROOT,
    UNLIMITED_OPENDOTA,
    along_fit,
    power_law_exponent,
    scratch_database,
    server_url,
    simulator_process,
    target_line,
)
from psycopg import sql

WORLD_ACCOUNTS = 20_000
BATCH = "d00-000000"
BATCH_SIZE = 200
OTHER_BATCHES = 5000
ID_BASE = 4_100_000_000  # above every simulated account id (<= 4e9), below the anonymous id
AT_SCALE = 15_000_000  # Dota's players, roughly: what the extrapolation is for
MIB = 1024 * 1024


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


def grow(url: str, accounts: tuple[int, int], stubs: tuple[int, int]) -> float:
    """Add accounts ``accounts[0]..accounts[1]-1`` and stubs ``stubs[0]..stubs[1]-1`` (the other
    batches are created with the first rows), set-based; returns seconds."""
    started = time.perf_counter()
    (a0, a1), (s0, s1) = accounts, stubs
    per_batch = max(1, -(-a1 // OTHER_BATCHES))
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
        if a0 == 0:
            conn.execute(
                """INSERT INTO account_batches (batch_key, depth, batch_number, account_count)
                   SELECT 'd01-' || lpad(b::text, 6, '0'), 1, b, %s FROM generate_series(0, %s - 1) b""",
                (per_batch, OTHER_BATCHES),
            )
        else:
            conn.execute("UPDATE account_batches SET account_count = %s WHERE depth = 1", (per_batch,))
        conn.execute(
            """INSERT INTO accounts (account_id, depth, batch_key, profile_fetched_at, hero_stats_at, matches_synced_at,
                                     rank_tier, personaname)
               SELECT %s + g, 1, 'd01-' || lpad((g %% %s)::text, 6, '0'), now(), now(), now(), 10 + g %% 70,
                      'player ' || g
               FROM generate_series(%s, %s - 1) g""",
            (ID_BASE, OTHER_BATCHES, a0, a1),
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
               FROM generate_series(%s, %s - 1) g""",
            (OTHER_BATCHES, ID_BASE, a1, s0, s1),
        )
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("SET session_replication_role = origin")
        conn.execute("VACUUM ANALYZE accounts")
        conn.execute("VACUUM ANALYZE matches")
        conn.execute("VACUUM ANALYZE account_batches")
    return time.perf_counter() - started


def database_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


@contextmanager
def copy_of(server: str, url: str) -> Iterator[tuple[str, float]]:
    """A copy of ``url``'s database (``CREATE DATABASE ... TEMPLATE``): yields (its URL, seconds
    the copy took); dropped afterwards."""
    from crawl_pipeline.db import urls

    source = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    name = f"{source}_copy"
    started = time.perf_counter()
    with psycopg.connect(server, autocommit=True) as admin:
        for attempt in range(30):  # autovacuum may be visiting the template for a moment
            try:
                try:
                    admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                        sql.Identifier(name), sql.Identifier(source)))
                except psycopg.errors.SyntaxError:  # PostgreSQL < 15
                    admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(source)))
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                time.sleep(1)
    seconds = time.perf_counter() - started
    try:
        yield urls.with_database(server, name), seconds
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
        opendota=ProviderConfig(sim_url, (Secret("00000000-0000-4000-8000-00000000da7a"),), RateTier.of("bench", **UNLIMITED_OPENDOTA)),
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


def row(label: str, accounts: str, stubs: str, size: str, load: str, r: dict) -> str:
    return (f"  {label:<7}{accounts:>11}{stubs:>13}{size:>11}{load:>9}  {r['maxrss_kib'] / 1024:>8.0f}"
            f"{(r['maxrss_kib'] - r['idle_kib']) / 1024:>9.0f}{r['seconds']:>9.1f}  "
            f"{r['stubs_new']:>6} {r['details_stored']:>7} {r['new_accounts']:>8}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30_000, 100_000, 300_000],
                        help="known accounts per size, ascending (100000 300000 1000000 for the report)")
    parser.add_argument("--stubs-per-account", type=int, default=10, help="match stubs per known account")
    parser.add_argument("--matches-per-account", type=int, default=10, help="history read per batch account")
    parser.add_argument("--server", default=None)
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    per = args.stubs_per_account
    server = server_url(args.server)
    print(f"batch {BATCH}: {BATCH_SIZE} accounts of a {WORLD_ACCOUNTS:,}-account simulated world, "
          f"{args.matches_per_account} matches read per account; {per} stubs per known account; "
          f"each size's batch runs in a fresh copy of the data loaded so far")
    print(f"  {'':<7}{'accounts':>11}{'stubs':>13}{'database':>11}{'load s':>9}  {'peak MiB':>8}{'above':>9}"
          f"{'batch s':>9}  {'stubs':>6} {'details':>7} {'new accts':>8}")
    loaded: list[dict] = []
    with simulator_process(accounts=WORLD_ACCOUNTS, rate_limits={"enabled": False}) as sim_url:
        with scratch_database(server, "mem_empty") as empty_url:
            add_batch(empty_url)
            empty_size = database_bytes(empty_url)
            empty = measure(empty_url, sim_url, args.matches_per_account)
        print(row("empty", "0", "0", f"{empty_size / 1e6:,.0f} MB", "-", empty), flush=True)
        with scratch_database(server, "mem_data") as data_url:
            have, load_seconds = 0, 0.0
            for n in sizes:
                load_seconds += grow(data_url, (have, n), (have * per, n * per))
                have = n
                with copy_of(server, data_url) as (copy_url, copy_seconds):
                    add_batch(copy_url)
                    size = database_bytes(copy_url)
                    result = measure(copy_url, sim_url, args.matches_per_account)
                loaded.append({"accounts": n, "stubs": n * per, "bytes": size, "load": load_seconds,
                               "copy": copy_seconds, **result})
                print(row("loaded", f"{n:,}", f"{n * per:,}", f"{size / 1e6:,.0f} MB", f"{load_seconds:.0f}", result),
                      flush=True)
    print("  (load s: cumulative, each step rebuilding the secondary indexes over all rows; above: peak RSS above "
          f"the interpreter+imports, {empty['idle_kib'] / 1024:.0f} MiB; copies of the data took "
          f"{', '.join(format(r['copy'], '.0f') for r in loaded)} s)")

    xs = [float(r["accounts"]) for r in loaded]
    quantities = {  # name: (values, format at scale)
        "peak RSS": ([r["maxrss_kib"] * 1024.0 for r in loaded], lambda v: f"{v / MIB:,.0f} MiB"),
        "batch time": ([r["seconds"] for r in loaded], lambda v: f"{v:,.0f} s"),
        "database size": ([float(r["bytes"] - empty_size) for r in loaded], lambda v: f"{(v + empty_size) / 1e9:,.1f} GB"),
        "load time": ([r["load"] for r in loaded], lambda v: f"{v / 60:,.0f} min"),
    }
    top = loaded[-1]
    span = f"{sizes[0]:,}-{sizes[-1]:,} accounts" if len(sizes) > 1 else "one size only"
    print(f"\ngrowth over {span} (power law, least squares on log-log; 0 = flat, 1.0 = linear):")
    print("  " + ", ".join(f"{name} ~ N^{round(power_law_exponent(xs, ys), 2) + 0.0:.2f}" for name, (ys, _) in quantities.items())
          + f"  (database size: above the empty database's {empty_size / 1e6:.0f} MB)")
    at_scale = {name: along_fit(xs, ys, AT_SCALE) for name, (ys, _) in quantities.items()}
    print(f"at {AT_SCALE:,} accounts (extrapolated from {top['accounts']:,} along each fit; assumes "
          f"{AT_SCALE * per:,} stubs = {per} per account, the same 5,000 other batches and 90 % with details, "
          f"one {BATCH_SIZE}-account batch reading {args.matches_per_account} matches per account):")
    print("  " + ", ".join(f"{name} ~{fmt(at_scale[name])}" for name, (_, fmt) in quantities.items())
          + f"; peak < 1 GB there: {'yes' if at_scale['peak RSS'] < 1e9 else 'no'}")
    print(f"batch peak RSS loaded / empty database: {top['maxrss_kib'] / empty['maxrss_kib']:.2f}x "
          f"({top['maxrss_kib'] / 1024:.0f} MiB at {top['accounts']:,} accounts / {top['stubs']:,} stubs vs "
          f"{empty['maxrss_kib'] / 1024:.0f} MiB empty; 1.00x = no growth with the data)")
    print(f"batch time loaded / empty database: {top['seconds'] / empty['seconds']:.2f}x "
          f"({top['seconds']:.1f} s vs {empty['seconds']:.1f} s)")
    print(target_line("peak < 1 GB with the loaded database", all(r["maxrss_kib"] * 1024 < 1e9 for r in loaded)))


if __name__ == "__main__":
    main()
