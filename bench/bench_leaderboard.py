"""Leaderboard builds at scale: LATERAL top-100 per hero over the index vs a full-sort window, and
incremental builds (only what changed accounts can move) vs full rebuilds.

    .venv/bin/python bench/bench_leaderboard.py                                   # 1.5M rows, three sizes
    .venv/bin/python bench/bench_leaderboard.py --accounts 1000000 --heroes-per-account 30   # 30M rows

Creates a scratch database on the server (default: the machine's PostgreSQL), applies the
migrations and generates accounts x heroes rows of hero_stats with generate_series (indexes built
after the load, change tracking off during it). With --scaling (the default) it grows the table in
three steps (a quarter, a half, all of --accounts) and measures at each size, in the same run:
  * full         hero_top100 and leaderboards rebuilt from all of hero_stats (full_rebuild)
  * incremental  after a batch of --changed accounts written by the crawl's writer
                 (replace_hero_stats: their matches grow; --dropped of them are board members whose
                 rows disappear, as when a profile goes private), both boards built incrementally
and checks that the incremental tables equal a full rebuild's. At the largest size it also times
  * naive        window over the whole table (row_number() PARTITION BY hero), index scans off
  * lateral      the LATERAL top-100 per hero that hero_top100 uses (reads the index)
  * tracking     the writer's batch with the change-tracking triggers off (rolled back)
prints the ratios, the growth exponent of each build (log-log fit over the sizes) and the target
line. The scratch database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import power_law_exponent, ratio_line, target_line

from crawl_pipeline.db import leaderboards, migrate, urls
from crawl_pipeline.db.crawl import replace_hero_stats
from crawl_pipeline.db.reference import upsert_heroes
from crawl_pipeline.domain.heroes import heroes
from crawl_pipeline.domain.records import HeroStat, HeroStats

LATERAL_SELECT = "SELECT count(*), sum(account_id) FROM (" + leaderboards._HERO_TOP_BY_MATCHES + ") t"
NAIVE_SELECT = "SELECT count(*), sum(account_id) FROM (" + leaderboards.HERO_TOP100_NAIVE_SELECT + ") t"
TARGET_ROWS, TARGET_SECONDS = 30_000_000, 2.0
TRACKING_TRIGGERS = ("hero_stats_changes_insert", "hero_stats_changes_update", "hero_stats_changes_delete")
COMPARED = {
    "hero_top100": "SELECT hero_id, position, account_id, matches, wins, win_rate FROM hero_top100 ORDER BY 1, 2",
    "leaderboards": "SELECT board, hero_id, position, account_id, matches, wins, win_rate, heroes_played, min_games "
                    "FROM leaderboards ORDER BY 1, 2, 3",
    "totals": "SELECT * FROM leaderboard_account_totals ORDER BY account_id",
}


def load(url: str, first: int, last: int, per_account: int) -> float:
    """Add accounts first..last with ``per_account`` hero rows each; indexes rebuilt, change tracking off."""
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
        conn.execute("ALTER TABLE hero_stats DISABLE TRIGGER USER")
        conn.execute("SELECT setseed(%s)", (0.17 + first * 1e-9,))
        conn.execute(
            "INSERT INTO accounts (account_id, depth) SELECT g, 1 FROM generate_series(%s::bigint, %s::bigint) g", (first, last)
        )
        conn.execute(
            """INSERT INTO hero_stats (account_id, hero_id, matches, wins, updated_at)
               SELECT a, ids[1 + (a * 7 + k) %% n], m, (m * (0.35 + random() * 0.3))::int, now()
               FROM (SELECT array_agg(hero_id ORDER BY hero_id) AS ids, count(*)::int AS n FROM heroes) h,
                    generate_series(%s::int, %s::int) a,
                    generate_series(0, %s - 1) k,
                    LATERAL (SELECT (random() ^ 3 * 500)::int + (a * 0) + (k * 0) AS m) r""",
            (first, last, per_account),
        )
        conn.execute("ALTER TABLE hero_stats ENABLE TRIGGER USER")
        # The rows above were not noted as changes: forget the builds (the next ones are full).
        conn.execute("TRUNCATE hero_stats_changes")
        conn.execute("ALTER TABLE hero_stats ADD PRIMARY KEY (account_id, hero_id)")
        conn.execute("ALTER TABLE hero_stats ADD FOREIGN KEY (account_id) REFERENCES accounts (account_id) "
                     "ON DELETE CASCADE NOT VALID")
        conn.execute("ALTER TABLE hero_stats ADD FOREIGN KEY (hero_id) REFERENCES heroes (hero_id) NOT VALID")
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


def build_both(conn: psycopg.Connection, *, full_rebuild: bool, rollback: bool = False) -> tuple[float, float, list, dict]:
    """hero_top100 then leaderboards, each in a transaction of its own as the assets run them; with
    ``rollback`` both are undone and the tables they had built are returned."""
    seconds, results, built = [], [], {}
    with conn.transaction(force_rollback=rollback):
        for build in (leaderboards.build_hero_top100, leaderboards.build_leaderboards):
            started = time.perf_counter()
            with conn.transaction():  # a savepoint when rolling back, else the build's own transaction
                results.append(build(conn, full_rebuild=full_rebuild))
            seconds.append(time.perf_counter() - started)
        if rollback:
            built = tables(conn)
    return seconds[0], seconds[1], results, built


def change_batch(conn: psycopg.Connection, rng: random.Random, accounts: int, changed: int, dropped: int) -> list[HeroStats]:
    """Fresh hero stats for ``changed`` accounts: matches grow, and ``dropped`` board members lose their rows."""
    members = [r[0] for r in conn.execute("SELECT DISTINCT account_id FROM leaderboards ORDER BY 1").fetchall()]
    gone = set(rng.sample(members, min(dropped, len(members))))
    grown = set()
    while len(grown) < changed - len(gone):
        account = rng.randint(1, accounts)
        if account not in gone:
            grown.add(account)
    current = defaultdict(list)
    for account, hero, matches, wins in conn.execute(
        "SELECT account_id, hero_id, matches, wins FROM hero_stats WHERE account_id = ANY(%s)", (sorted(grown),)
    ).fetchall():
        more = rng.randint(0, 12)
        current[account].append(HeroStat(hero_id=hero, matches=matches + more, wins=wins + rng.randint(0, more)))
    return [HeroStats(account_id=a, source="bench", heroes=current[a]) for a in sorted(grown)] + [
        HeroStats(account_id=a, source="bench", heroes=[]) for a in sorted(gone)
    ]


def write_batch(conn: psycopg.Connection, stats: list[HeroStats], *, tracking: bool = True, keep: bool = True) -> float:
    """The crawl's writer for one batch in one transaction (rolled back unless ``keep``); its seconds."""
    with conn.transaction(force_rollback=not keep):
        if not tracking:
            for trigger in TRACKING_TRIGGERS:
                conn.execute(sql.SQL("ALTER TABLE hero_stats DISABLE TRIGGER {}").format(sql.Identifier(trigger)))
        started = time.perf_counter()
        replace_hero_stats(conn, stats)
        return time.perf_counter() - started


def tracking_cost(conn: psycopg.Connection, rng: random.Random, args, accounts: int) -> tuple[float, float]:
    """Median writer seconds for the same batches with and without the change-tracking triggers (rolled back,
    the order alternating so neither always finds the pages cached)."""
    tracked, untracked = [], []
    for i in range(max(2, args.repeat)):
        stats = change_batch(conn, rng, accounts, args.changed, 0)
        for tracking in ((True, False) if i % 2 else (False, True)):
            (tracked if tracking else untracked).append(write_batch(conn, stats, tracking=tracking, keep=False))
    return statistics.median(tracked), statistics.median(untracked)


def tables(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {name: conn.execute(query).fetchall() for name, query in COMPARED.items()}


def measure_size(conn: psycopg.Connection, args, accounts: int, rng: random.Random) -> dict:
    full_top, full_boards = [], []
    for _ in range(max(1, args.repeat - 1)):  # the first one is the first build
        top, boards, _, _ = build_both(conn, full_rebuild=True)
        full_top.append(top)
        full_boards.append(boards)
    inc_top, inc_boards, writer, details = [], [], [], []
    for _ in range(args.repeat):
        stats = change_batch(conn, rng, accounts, args.changed, args.dropped)
        writer.append(write_batch(conn, stats))
        top, boards, results, _ = build_both(conn, full_rebuild=False)
        assert all(r.mode == "incremental" for r in results), results
        inc_top.append(top)
        inc_boards.append(boards)
        details.append(results)
    with conn.transaction():
        incremental = tables(conn)
    top, boards, _, full = build_both(conn, full_rebuild=True, rollback=True)  # the full rebuild of this very state
    full_top.append(top)
    full_boards.append(boards)
    same = full == incremental
    return {
        "full_top": statistics.median(full_top), "full_boards": statistics.median(full_boards),
        "inc_top": statistics.median(inc_top), "inc_boards": statistics.median(inc_boards),
        "inc_total": statistics.median(t + b for t, b in zip(inc_top, inc_boards, strict=True)),
        "writer": statistics.median(writer), "details": details, "same": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50_000, help="accounts (default 50000; 1000000 for 30M rows)")
    parser.add_argument("--heroes-per-account", type=int, default=30)
    parser.add_argument("--changed", type=int, default=1000, help="accounts changed per batch before an incremental build")
    parser.add_argument("--dropped", type=int, default=10,
                        help="of them: board members whose rows are deleted (forces the win-rate boards' fallbacks)")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false",
                        help="measure at --accounts only (default: also at a quarter and a half of it)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=2, help="timed builds of each kind per size (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    steps = [args.accounts // 4, args.accounts // 2, args.accounts] if args.scaling else [args.accounts]
    rng = random.Random(args.seed)
    name = f"crawl_bench_leaderboard_{args.accounts}"
    with psycopg.connect(args.server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urls.with_database(args.server, name)
    measured: list[tuple[int, dict]] = []
    try:
        migrate.upgrade(url)
        loaded = 0
        for accounts in steps:
            load_seconds = load(url, loaded + 1, accounts, args.heroes_per_account)
            loaded = accounts
            with psycopg.connect(url, autocommit=True) as conn:  # each conn.transaction() is a real one
                rows = conn.execute("SELECT count(*) FROM hero_stats").fetchone()[0]
                print(f"hero_stats: {rows:,} rows ({accounts:,} accounts x {args.heroes_per_account} heroes), "
                      f"loaded and indexed in {load_seconds:.1f} s", flush=True)
                result = measure_size(conn, args, accounts, rng)
                measured.append((rows, result))
                last = result["details"][-1]
                print(f"  full rebuild         hero_top100 {result['full_top']:7.3f} s   leaderboards {result['full_boards']:7.3f} s")
                print(f"  incremental          hero_top100 {result['inc_top']:7.3f} s   leaderboards {result['inc_boards']:7.3f} s"
                      f"   ({args.changed:,} changed accounts, {args.dropped} board members dropped; last build: "
                      f"{last[0].recomputed} heroes, {last[1].recomputed} boards recomputed, "
                      f"{last[1].fallbacks} win-rate boards in full, {last[0].rows_written + last[1].rows_written} rows written)")
                print(f"  incremental = full rebuild (hero_top100, leaderboards, totals): {'yes' if result['same'] else 'NO'}",
                      flush=True)
                if accounts == steps[-1]:
                    params = {"size": 100}
                    no_index = ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_indexonlyscan = off",
                                "SET LOCAL enable_bitmapscan = off")
                    naive, naive_result = timed(conn, NAIVE_SELECT, params, max(1, args.repeat - 1), no_index)
                    lateral, lateral_result = timed(conn, LATERAL_SELECT, params, args.repeat)
                    assert naive_result == lateral_result, (naive_result, lateral_result)
                    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + LATERAL_SELECT, params).fetchall())
                    tracked, untracked = tracking_cost(conn, rng, args, accounts)
        rows, final = measured[-1]
        print(f"at {rows:,} rows:")
        print(f"  uses index hero_stats_leaderboard: {'hero_stats_leaderboard' in plan}")
        print(f"  naive full-sort window (no index)   {naive:9.3f} s")
        print(f"  LATERAL top-100 per hero (index)     {lateral:9.3f} s   {naive / lateral:8.1f}x faster")
        print(f"  hero_top100 rebuild (upsert+prune)   {final['full_top']:9.3f} s   "
              f"{naive / final['full_top']:8.1f}x faster than naive select")
        print(f"  leaderboards rebuild (all boards)    {final['full_boards']:9.3f} s")
        print("  " + ratio_line("leaderboards incremental vs full rebuild (s)", final["inc_boards"], final["full_boards"],
                                unit=" s", higher_is_better=False))
        print("  " + ratio_line("both boards incremental vs full rebuild (s)", final["inc_total"],
                                final["full_top"] + final["full_boards"], unit=" s", higher_is_better=False))
        print(f"  writer batch ({args.changed:,} accounts, replace_hero_stats): {tracked:.3f} s with change "
              f"tracking, {untracked:.3f} s without ({tracked / untracked:.2f}x the time)")
        if len(measured) >= 3:
            sizes = [r for r, _ in measured]
            for label, key in (("full leaderboards", "full_boards"), ("incremental, both boards", "inc_total")):
                slope = power_law_exponent(sizes, [max(m[key], 1e-6) for _, m in measured])  # 1.0 linear, 0 flat
                line = ", ".join(f"{r / 1e6:.1f}M: {m[key]:.3f} s" for r, m in measured)
                print(f"  growth {label}: {line}; time ~ rows^{slope:.2f}")
        at_target = args.accounts * args.heroes_per_account >= TARGET_ROWS  # (dropped board members lose rows)
        met = at_target and final["inc_total"] < TARGET_SECONDS and all(m["same"] for _, m in measured)
        note = "" if at_target else f" (measured at {rows:,} rows only; run --accounts 1000000 for 30M)"
        print(target_line(f"< {TARGET_SECONDS:g} s at 30M rows incremental", met)
              + f": both boards {final['inc_total']:.3f} s after {args.changed:,} changed accounts{note}")
        if not all(m["same"] for _, m in measured):
            sys.exit("incremental builds differ from a full rebuild")
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
