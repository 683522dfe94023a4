"""Leaderboard rebuild at scale: LATERAL top-100 per hero over the index vs a full-sort window.

    .venv/bin/python bench/bench_leaderboard.py --accounts 1000000 --heroes-per-account 30   # 30M rows

Creates a scratch database on the server (default: the machine's PostgreSQL), applies the
migrations, generates accounts x heroes rows of hero_stats with generate_series (indexes built
after the load), then times, in the same run:
  * naive      window over the whole table (row_number() PARTITION BY hero), index scans off
  * lateral    the LATERAL top-100 per hero that hero_top100 uses (reads the index)
  * rebuild    the full hero_top100 rebuild statement (upsert + prune, atomic)
  * boards     the whole leaderboards rebuild (overall boards aggregate every row)
and prints the ratios. The scratch database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawl_pipeline.db import leaderboards, migrate, urls  # noqa: E402
from crawl_pipeline.db.reference import upsert_heroes  # noqa: E402
from crawl_pipeline.domain.heroes import heroes  # noqa: E402

LATERAL_SELECT = "SELECT count(*), sum(account_id) FROM (" + leaderboards._HERO_TOP_BY_MATCHES + ") t"
NAIVE_SELECT = "SELECT count(*), sum(account_id) FROM (" + leaderboards.HERO_TOP100_NAIVE_SELECT + ") t"


def load(url: str, accounts: int, per_account: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        upsert_heroes(conn, list(heroes().values()))
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "ALTER TABLE hero_stats DROP CONSTRAINT hero_stats_pkey, DROP CONSTRAINT hero_stats_account_id_fkey, "
            "DROP CONSTRAINT hero_stats_hero_id_fkey"
        )
        conn.execute("DROP INDEX hero_stats_leaderboard")
        conn.execute("SELECT setseed(0.17)")
        conn.execute(
            "INSERT INTO accounts (account_id, depth) SELECT g, 1 FROM generate_series(1, %s) g", (accounts,)
        )
        conn.execute(
            """INSERT INTO hero_stats (account_id, hero_id, matches, wins, updated_at)
               SELECT a, ids[1 + (a * 7 + k) %% n], m, (m * (0.35 + random() * 0.3))::int, now()
               FROM (SELECT array_agg(hero_id ORDER BY hero_id) AS ids, count(*)::int AS n FROM heroes) h,
                    generate_series(1, %s) a,
                    generate_series(0, %s - 1) k,
                    LATERAL (SELECT (random() ^ 3 * 500)::int + (a * 0) + (k * 0) AS m) r""",
            (accounts, per_account),
        )
        conn.execute("ALTER TABLE hero_stats ADD PRIMARY KEY (account_id, hero_id)")
        conn.execute("CREATE INDEX hero_stats_leaderboard ON hero_stats (hero_id, matches DESC, wins DESC, account_id)")
        conn.execute("VACUUM ANALYZE hero_stats")
        conn.execute("VACUUM ANALYZE accounts")
    return time.perf_counter() - started


def timed(conn: psycopg.Connection, query: str, params: dict, repeat: int, setup: tuple[str, ...] = ()) -> tuple[float, tuple]:
    times, result = [], None
    for _ in range(repeat):
        with conn.transaction():
            for statement in setup:
                conn.execute(statement)
            started = time.perf_counter()
            result = conn.execute(query, params).fetchone()
            times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts (default 100000; 1000000 for 30M rows)")
    parser.add_argument("--heroes-per-account", type=int, default=30)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    name = f"crawl_bench_leaderboard_{args.accounts}"
    with psycopg.connect(args.server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urls.with_database(args.server, name)
    try:
        migrate.upgrade(url)
        load_seconds = load(url, args.accounts, args.heroes_per_account)
        with psycopg.connect(url, autocommit=True) as conn:  # each conn.transaction() is a real one
            rows = conn.execute("SELECT count(*) FROM hero_stats").fetchone()[0]
            print(f"hero_stats: {rows:,} rows ({args.accounts:,} accounts x {args.heroes_per_account} heroes), "
                  f"loaded and indexed in {load_seconds:.1f} s")
            params = {"size": 100}
            no_index = ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_indexonlyscan = off",
                        "SET LOCAL enable_bitmapscan = off")
            naive, naive_result = timed(conn, NAIVE_SELECT, params, max(1, args.repeat - 1), no_index)
            lateral, lateral_result = timed(conn, LATERAL_SELECT, params, args.repeat)
            assert naive_result == lateral_result, (naive_result, lateral_result)
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + LATERAL_SELECT, params).fetchall())
            rebuild_times, board_times = [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                with conn.transaction():
                    leaderboards.rebuild_hero_top100(conn)
                rebuild_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                with conn.transaction():
                    leaderboards.rebuild_leaderboards(conn)
                board_times.append(time.perf_counter() - started)
            rebuild, boards = statistics.median(rebuild_times), statistics.median(board_times)
        print(f"  uses index hero_stats_leaderboard: {'hero_stats_leaderboard' in plan}")
        print(f"  naive full-sort window (no index)   {naive:9.3f} s")
        print(f"  LATERAL top-100 per hero (index)     {lateral:9.3f} s   {naive / lateral:8.1f}x faster")
        print(f"  hero_top100 rebuild (upsert+prune)   {rebuild:9.3f} s   {naive / rebuild:8.1f}x faster than naive select")
        print(f"  leaderboards rebuild (all boards)    {boards:9.3f} s")
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
