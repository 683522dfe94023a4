"""PostgreSQL -> DuckDB export of match_players: streamed COPY + Arrow vs pandas and row-by-row baselines.

    .venv/bin/python bench/bench_duckdb_export.py --rows 10000000

Creates a scratch database on the server (default: the machine's PostgreSQL), fills
match_players with --rows rows (10 players per match) using generate_series, then measures
in the same run:
  * export     crawl_pipeline.analytics.duckdb_export.copy_table over the whole table
               (COPY ... TO STDOUT csv -> Arrow streaming CSV reader -> DuckDB CREATE TABLE AS)
  * pandas     pandas.read_sql (psycopg cursor) + DuckDB insert from the DataFrame, on a sample
  * row-by-row psycopg fetch + DuckDB executemany INSERT, on a smaller sample
Baselines run on samples (--pandas-sample, --row-sample) and are compared in rows per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawl_pipeline.analytics.duckdb_export import copy_table
from crawl_pipeline.db import migrate, urls

COLUMNS = (
    "match_id, player_slot, account_id, hero_id, is_radiant, win, kills, deaths, assists, gold_per_min, "
    "xp_per_min, last_hits, denies, net_worth, hero_damage, lane_role, rank_tier"
)


def load(url: str, rows: int) -> float:
    started = time.perf_counter()
    matches = (rows + 9) // 10
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("ALTER TABLE match_players DROP CONSTRAINT match_players_pkey, "
                     "DROP CONSTRAINT match_players_match_id_fkey")
        conn.execute("DROP INDEX match_players_account")
        conn.execute("SELECT setseed(0.3)")
        conn.execute(
            """INSERT INTO matches (match_id, start_time, lobby_type, has_details)
               SELECT 7000000000 + g, timestamptz '2025-01-01' + g * interval '1 minute', (g %% 2) * 7, true
               FROM generate_series(1, %s) g""",
            (matches,),
        )
        conn.execute(
            f"""INSERT INTO match_players ({COLUMNS})
                SELECT 7000000000 + g / 10, s, CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 5e6)::bigint + 1 END,
                       1 + (random() * 126)::int, s < 128, random() < 0.5,
                       (random() * 20)::int, (random() * 15)::int, (random() * 25)::int,
                       200 + (random() * 600)::int, 250 + (random() * 700)::int, (random() * 400)::int,
                       (random() * 30)::int, (random() * 30000)::int, (random() * 50000)::int,
                       1 + (random() * 3)::int, (random() * 80)::int
                FROM generate_series(0, %s - 1) g,
                     LATERAL (SELECT CASE WHEN g %% 10 < 5 THEN g %% 10 ELSE 128 + g %% 10 - 5 END AS s) slot""",
            (rows,),
        )
        conn.execute("ALTER TABLE match_players ADD PRIMARY KEY (match_id, player_slot)")
        conn.execute("VACUUM ANALYZE match_players")
    return time.perf_counter() - started


def bench_export(url: str, workdir: Path) -> tuple[float, int]:
    with psycopg.connect(url) as conn, duckdb.connect(str(workdir / "export.duckdb")) as duck:
        started = time.perf_counter()
        rows = copy_table(conn, duck, "match_players")
        duck.execute("CHECKPOINT")
        return time.perf_counter() - started, rows


def bench_pandas(url: str, workdir: Path, sample: int) -> tuple[float, int]:
    with psycopg.connect(url) as conn, duckdb.connect(str(workdir / "pandas.duckdb")) as duck:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas prefers SQLAlchemy; a DBAPI connection works
            frame = pd.read_sql(f"SELECT {COLUMNS} FROM match_players LIMIT {sample}", conn)
        duck.register("frame", frame)
        duck.execute("CREATE TABLE match_players AS SELECT * FROM frame")
        duck.execute("CHECKPOINT")
        return time.perf_counter() - started, len(frame)


def bench_row_by_row(url: str, workdir: Path, sample: int) -> tuple[float, int]:
    with psycopg.connect(url) as conn, duckdb.connect(str(workdir / "rows.duckdb")) as duck:
        duck.execute(
            "CREATE TABLE match_players (match_id BIGINT, player_slot SMALLINT, account_id BIGINT, hero_id SMALLINT, "
            "is_radiant BOOLEAN, win BOOLEAN, kills SMALLINT, deaths SMALLINT, assists SMALLINT, gold_per_min INTEGER, "
            "xp_per_min INTEGER, last_hits INTEGER, denies INTEGER, net_worth INTEGER, hero_damage INTEGER, "
            "lane_role SMALLINT, rank_tier SMALLINT)"
        )
        started = time.perf_counter()
        rows = conn.execute(f"SELECT {COLUMNS} FROM match_players LIMIT {sample}").fetchall()
        duck.executemany("INSERT INTO match_players VALUES (" + ", ".join(["?"] * 17) + ")", rows)
        duck.execute("CHECKPOINT")
        return time.perf_counter() - started, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="match_players rows (default 1M; 10M for the report)")
    parser.add_argument("--pandas-sample", type=int, default=1_000_000)
    parser.add_argument("--row-sample", type=int, default=20_000)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    name = f"crawl_bench_export_{args.rows}"
    with psycopg.connect(args.server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urls.with_database(args.server, name)
    try:
        migrate.upgrade(url)
        print(f"match_players: {args.rows:,} rows loaded in {load(url, args.rows):.1f} s")
        with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
            workdir = Path(tmp)
            export_s, export_rows = bench_export(url, workdir)
            size = (workdir / "export.duckdb").stat().st_size
            pandas_s, pandas_rows = bench_pandas(url, workdir, min(args.pandas_sample, args.rows))
            row_s, row_rows = bench_row_by_row(url, workdir, min(args.row_sample, args.rows))
        assert export_rows == args.rows, (export_rows, args.rows)
        rates = {
            "export (COPY -> Arrow -> DuckDB)": (export_rows / export_s, export_s, export_rows),
            "pandas read_sql + DuckDB insert": (pandas_rows / pandas_s, pandas_s, pandas_rows),
            "row-by-row executemany": (row_rows / row_s, row_s, row_rows),
        }
        best = rates["export (COPY -> Arrow -> DuckDB)"][0]
        print(f"DuckDB file {size / 1e6:.0f} MB")
        for label, (rate, seconds, rows) in rates.items():
            extrapolated = args.rows / rate
            print(f"  {label:<34} {rate:>12,.0f} rows/s  {rows:>11,} rows in {seconds:7.2f} s"
                  f"  ({extrapolated:8.1f} s for {args.rows:,})  export is {best / rate:6.1f}x")
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
