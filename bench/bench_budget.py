"""API calls for the same data: the seed-style plan against the budget planner, same world, same depth.

    python bench/bench_budget.py [--accounts-per-depth 60] [--depth 2] [--matches 20] [--day-scale 0.01]

Part 1, calls for the same rows. Both sides crawl the same simulated world breadth-first to the
same depth (the seed, then up to ``--accounts-per-depth`` accounts at each depth): profiles, hero
stats, match histories, match details. The seed-style plan sends every call to OpenDota, one call
per item; ours routes each call family through the planner (``auto``: Stratz answers 10 accounts
or matches per request, Steam's sequence feed up to 100 matches). Printed: API calls per crawled
account and per detailed match, their ratio, and whether the stored tables are identical
(accounts, matches, players and hero stats compared row by row).

Part 2, a day of budget. The providers' real daily limits (OpenDota keyless 3,000, Stratz
10,000 per token, Steam 100,000 per key) are scaled by ``--day-scale`` on both sides, the
simulator's counters and our tiers, and each plan crawls until its budgets are spent: how many
accounts (all three account phases done) and matches (detailed) each stores.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from common import ratio_line, scratch_database, server_url, target_line

from crawl_pipeline.crawl import phases
from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.config import DEFAULT_OPENDOTA_KEYS, DEFAULT_STEAM_KEYS, DEFAULT_STRATZ_TOKENS
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import TIERS, ProviderConfig, SourcesConfig, open_sources

SEED = 293053907
LOG = logging.getLogger("bench_budget")
SEED_STYLE = {"profiles": "opendota", "hero_stats": "opendota", "match_history": "opendota", "match_details": "opendota"}


def crawl(db: Database, config: SourcesConfig, *, depth: int, per_depth: int, matches: int) -> dict:
    """BFS from the seed: a batch per depth of at most ``per_depth`` accounts, the four phases."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO accounts (account_id, depth) VALUES (%s, 0) ON CONFLICT DO NOTHING", (SEED,))
    with open_sources(config, db) as sources:
        for d in range(depth + 1):
            key = f"d{d:02d}-000000"
            with db.transaction() as conn:
                conn.execute(
                    "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, %s, 0, 1)",
                    (key, d),
                )
                conn.execute(
                    """UPDATE accounts SET batch_key = %s WHERE account_id IN (
                           SELECT account_id FROM accounts WHERE depth = %s AND batch_key IS NULL
                           ORDER BY account_id LIMIT %s)""",
                    (key, d, per_depth),
                )
            common = {"max_workers": 4, "log": LOG}
            phases.fetch_profiles(db, sources.for_call("profiles"), key, refresh=False, **common)
            phases.fetch_hero_stats(db, sources.for_call("hero_stats"), key, refresh=False, **common)
            phases.fetch_match_stubs(
                db, sources.for_call("match_history"), key, refresh=False, max_matches=matches, page_size=100, **common
            )
            phases.fetch_batch_details(db, sources.for_call("match_details"), key, depth=d, chunk_size=25, **common)
        snapshot = sources.snapshot()
    counts = db.fetch_all(
        """SELECT (SELECT count(*) FROM accounts WHERE profile_fetched_at IS NOT NULL AND hero_stats_at IS NOT NULL
                     AND matches_synced_at IS NOT NULL) AS accounts,
                  (SELECT count(*) FROM matches WHERE has_details) AS matches"""
    )[0]
    return {**counts, "calls": snapshot["api_calls"], "by_provider": snapshot["api_calls_by_provider"],
            "plan": snapshot.get("plan_items", {})}


def fingerprint(db: Database) -> dict[str, frozenset]:
    """The stored data both plans must agree on (not which provider it came from)."""
    queries = {
        "accounts": "SELECT account_id, depth, rank_tier FROM accounts WHERE batch_key IS NOT NULL",
        "matches": "SELECT match_id, start_time, duration, lobby_type, radiant_win FROM matches WHERE has_details",
        "players": "SELECT match_id, player_slot, account_id, hero_id, kills, deaths, assists FROM match_players",
        "hero_stats": "SELECT account_id, hero_id, matches, wins FROM hero_stats",
    }
    return {name: frozenset(tuple(r.values()) for r in db.fetch_all(q)) for name, q in queries.items()}


def config_for(url: str, routes: dict, *, scale: float | None) -> SourcesConfig:
    retry = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.1, max_budget_wait=0.5 if scale else 30.0)

    def tier(name: str) -> RateTier | None:
        if scale is None:
            return RateTier.of(f"{name}-bench", per_second=10_000)  # part 1: calls, not time
        real = TIERS[name]
        return RateTier.of(
            f"{name}-day", **{_kw(w.seconds): max(1, int(w.limit * scale)) if w.seconds == 86_400 else w.limit for w in real.windows}
        )

    return SourcesConfig(
        opendota=ProviderConfig(url, (), tier("opendota-free")),  # keyless: the free tier
        steam=ProviderConfig(url, (Secret(DEFAULT_STEAM_KEYS[0]),), tier("steam")),
        stratz=ProviderConfig(url, tuple(Secret(t) for t in DEFAULT_STRATZ_TOKENS), tier("stratz")),
        routes=routes, retry=retry, http=HTTPSettings(timeout=5.0),
    )


def _kw(seconds: int) -> str:
    return {1: "per_second", 60: "per_minute", 3600: "per_hour", 86_400: "per_day"}[seconds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts-per-depth", type=int, default=60)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--matches", type=int, default=20, help="history matches per account")
    parser.add_argument("--world-accounts", type=int, default=20_000)
    parser.add_argument("--day-scale", type=float, default=0.01)
    parser.add_argument("--server", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    server = server_url(args.server)
    _ = DEFAULT_OPENDOTA_KEYS  # keyless here: the seed's free tier is what a newcomer has

    print(f"part 1: same world ({args.world_accounts:,} accounts), depth {args.depth}, "
          f"{args.accounts_per_depth} accounts per depth, {args.matches} matches per history")
    results, prints = {}, {}
    with start_simulator(accounts=args.world_accounts, rate_limits={"enabled": False}) as sim:
        for name, routes in (("seed-style", SEED_STYLE), ("planner", {})):
            with scratch_database(server, f"budget_{name.replace('-', '')}") as url, Database(url, max_size=6) as db:
                started = time.monotonic()
                results[name] = crawl(db, config_for(sim.url, routes, scale=None), depth=args.depth,
                                      per_depth=args.accounts_per_depth, matches=args.matches)
                prints[name] = fingerprint(db)
                r = results[name]
                print(f"  {name:<10} {r['accounts']} accounts, {r['matches']} matches, {r['calls']} calls "
                      f"({r['calls'] / max(1, r['accounts'] + r['matches']):.3f} per item) by provider {r['by_provider']} "
                      f"in {time.monotonic() - started:.1f}s")
    seed, ours = results["seed-style"], results["planner"]
    identical = prints["seed-style"] == prints["planner"]
    for table in prints["seed-style"]:
        if prints["seed-style"][table] != prints["planner"][table]:
            print(f"  tables differ: {table} ({len(prints['seed-style'][table] ^ prints['planner'][table])} rows)")
    per_item = {k: v["calls"] / max(1, v["accounts"] + v["matches"]) for k, v in results.items()}
    print(ratio_line("calls per item (accounts + matches)", per_item["planner"], per_item["seed-style"],
                     higher_is_better=False))
    print(f"  calls per crawled account: seed-style {seed['calls'] / max(1, seed['accounts']):.2f}, "
          f"planner {ours['calls'] / max(1, ours['accounts']):.2f}; per detailed match: "
          f"seed-style {seed['calls'] / max(1, seed['matches']):.3f}, planner {ours['calls'] / max(1, ours['matches']):.3f}")
    print(target_line(">= 5x fewer calls for the same rows, identical tables",
                      identical and per_item["seed-style"] >= 5 * per_item["planner"]))

    scale = args.day_scale
    limits = {
        "opendota_free_per_day": max(1, int(3000 * scale)),
        "stratz_per_day": max(1, int(10_000 * scale)),
        "steam_per_day": max(1, int(100_000 * scale)),
    }
    print(f"part 2: a day of budget, the real daily limits x {scale} on both sides: {limits}")
    day = {}
    for name, routes in (("seed-style", SEED_STYLE), ("planner", {})):
        with start_simulator(accounts=args.world_accounts, rate_limits=limits) as sim:
            with scratch_database(server, f"day_{name.replace('-', '')}") as url, Database(url, max_size=6) as db:
                day[name] = crawl(db, config_for(sim.url, routes, scale=scale), depth=args.depth + 2,
                                  per_depth=10 * args.accounts_per_depth, matches=args.matches)
                served = sim.stats()["requests_total"]
        r = day[name]
        print(f"  {name:<10} stored {r['accounts']} accounts and {r['matches']} matches with {r['calls']} calls "
              f"(server saw {served}) by provider {r['by_provider']}")
    stored = {k: v["accounts"] + v["matches"] for k, v in day.items()}
    print(ratio_line("items stored in a day of budget", stored["planner"], stored["seed-style"]))
    print(target_line(">= 5x the seed-style plan's items in a day", stored["planner"] >= 5 * stored["seed-style"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
