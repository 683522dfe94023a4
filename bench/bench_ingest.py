"""Ingest throughput: match details stored per second, end to end, against the simulator.

The simulator runs in a subprocess of its own with server-side rate limits off and 5 ms of
mean latency. Both contenders fetch OpenDota ``/api/matches/{id}`` for the same match ids
of the same world and store match + ten players + newly seen accounts, each into a fresh,
migrated scratch database:

  * pipeline   ``crawl_pipeline.defs.crawl.phases.fetch_details``: the real client (shared
               PostgreSQL rate budget with a limit far above what is reached, retries,
               accounting), ``fetch_concurrently`` and set-based ``store_details`` commits
               (the crawl's defaults: 8 workers, 25 matches per transaction)
  * baseline   the way the original scripts did it: one ``httpx`` request after another,
               row-by-row INSERTs (match, each player, each account), a commit every 25

Printed: matches/s of each, the ratio (goal >= 10x), and the pipeline's absolute rate (goal
>= 500/s on 2 cores). The rows the baseline stored are checked to equal the pipeline's.

Run: ``.venv/bin/python bench/bench_ingest.py [--matches 3000] [--baseline-matches 300]``.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from common import ratio_line, scratch_database, server_url, simulator_process, target_line

from crawl_pipeline.crawl import phases
from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator import SimulatorConfig
from crawl_pipeline.simulator.testing import world_for
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources

KEY = "00000000-0000-4000-8000-00000000da7a"
WORLD_ACCOUNTS = 20_000
LATENCY_MS = 5.0
PLAYERS_SQL = (
    "INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant, win, kills, deaths, assists, "
    "gold_per_min, xp_per_min, last_hits, denies, net_worth, hero_damage, lane_role, rank_tier) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
SAME_ROWS = (
    "SELECT md5(string_agg(concat_ws(':', match_id, player_slot, account_id, hero_id, kills, deaths, assists, "
    "gold_per_min, win), ',' ORDER BY match_id, player_slot)) FROM match_players WHERE match_id = ANY(%s)"
)


class Replay(httpx.BaseTransport):
    """Recorded simulator answers served after the simulated latency (uniform 0.5-1.5 x mean)."""

    def __init__(self, bodies: dict[int, bytes], latency_ms: float) -> None:
        self.bodies, self.latency_s = bodies, latency_ms / 1000

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.latency_s * random.uniform(0.5, 1.5))
        body = self.bodies[int(request.url.path.rsplit("/", 1)[1])]
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def record(sim_url: str, ids: list[int]) -> tuple[dict[int, bytes], float]:
    """Every answer once, 32 requests at a time; returns them and the simulator's serving rate."""
    with httpx.Client(base_url=sim_url, headers={"Authorization": f"Bearer {KEY}"},
                      limits=httpx.Limits(max_connections=32)) as http, ThreadPoolExecutor(32) as pool:
        started = time.perf_counter()
        bodies = dict(zip(ids, pool.map(lambda i: http.get(f"/api/matches/{i}").raise_for_status().content, ids)))
        return bodies, len(ids) / (time.perf_counter() - started)


def pipeline(url: str, sim_url: str, ids: list[int], *, workers: int, chunk: int,
             transport: httpx.BaseTransport | None = None) -> tuple[float, int]:
    config = SourcesConfig(
        opendota=ProviderConfig(sim_url, (Secret(KEY),), RateTier.of("bench-unlimited", per_second=1_000_000)),
        steam=ProviderConfig(sim_url),
        stratz=ProviderConfig(sim_url),
        max_concurrency=workers,
    )
    log = logging.getLogger("bench_ingest")
    with Database(url, max_size=4) as db, open_sources(config, db, transport=transport) as sources:
        started = time.perf_counter()
        result = phases.fetch_details(
            db, sources.provider("opendota"), ids, discovery_depth=1, chunk_size=chunk, max_workers=workers,
            log=log, label="bench",
        )
        seconds = time.perf_counter() - started
    return seconds, result.counts["details_stored"]


def baseline(url: str, sim_url: str, ids: list[int], transport: httpx.BaseTransport | None = None) -> tuple[float, int]:
    stored = 0
    headers = {"Authorization": f"Bearer {KEY}"}
    with psycopg.connect(url) as conn, httpx.Client(base_url=sim_url, headers=headers, transport=transport) as http:
        started = time.perf_counter()
        for n, match_id in enumerate(ids, 1):
            m = http.get(f"/api/matches/{match_id}").raise_for_status().json()
            conn.execute(
                "INSERT INTO matches (match_id, match_seq_num, start_time, duration, lobby_type, game_mode, radiant_win, "
                "region, has_details, details_source, details_fetched_at) "
                "VALUES (%s, %s, to_timestamp(%s), %s, %s, %s, %s, %s, true, 'opendota', now()) ON CONFLICT DO NOTHING",
                (m["match_id"], m.get("match_seq_num"), m.get("start_time"), m.get("duration"), m.get("lobby_type"),
                 m.get("game_mode"), m.get("radiant_win"), m.get("region")),
            )
            for p in m["players"]:
                account = p.get("account_id")
                if account is not None and 0 < account < 4294967295:
                    conn.execute(
                        "INSERT INTO accounts (account_id, depth) VALUES (%s, 1) ON CONFLICT DO NOTHING", (account,)
                    )
                else:
                    account = None
                conn.execute(
                    PLAYERS_SQL,
                    (m["match_id"], p["player_slot"], account, p["hero_id"],
                     p.get("isRadiant", p["player_slot"] < 128), None if p.get("win") is None else bool(p["win"]),
                     p.get("kills"), p.get("deaths"), p.get("assists"), p.get("gold_per_min"), p.get("xp_per_min"),
                     p.get("last_hits"), p.get("denies"), p.get("net_worth"), p.get("hero_damage"), p.get("lane_role"),
                     p.get("rank_tier")),
                )
            stored += 1
            if n % 25 == 0:
                conn.commit()
        conn.commit()
        seconds = time.perf_counter() - started
    return seconds, stored


def contest(label: str, server: str, sim_url: str, ids: list[int], base_ids: list[int], args,
            transport: httpx.BaseTransport | None) -> tuple[float, float]:
    with scratch_database(server, "ingest_base") as base_url, scratch_database(server, "ingest_fast") as fast_url:
        base_s, base_n = baseline(base_url, sim_url, base_ids, transport)
        fast_s, fast_n = pipeline(fast_url, sim_url, ids, workers=args.workers, chunk=args.chunk, transport=transport)
        with psycopg.connect(base_url) as a, psycopg.connect(fast_url) as b:
            same = a.execute(SAME_ROWS, (base_ids,)).fetchone() == b.execute(SAME_ROWS, (base_ids,)).fetchone()
    base_rate, fast_rate = base_n / base_s, fast_n / fast_s
    print(f"[{label}]")
    print(f"  baseline (sequential httpx, row-by-row, commit/25): {base_n:>6} matches in {base_s:7.2f} s = {base_rate:8.1f}/s")
    print(f"  pipeline (fetch_details, {args.workers} workers, {args.chunk}/commit):    {fast_n:>6} matches in {fast_s:7.2f} s = {fast_rate:8.1f}/s")
    print(f"  rows of the {len(base_ids)} common matches identical in both databases: {same}")
    print("  " + ratio_line(f"ingest matches/s pipeline / baseline ({label})", fast_rate, base_rate, unit="/s"))
    return fast_rate, base_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matches", type=int, default=3000, help="matches stored by the pipeline")
    parser.add_argument("--baseline-matches", type=int, default=300, help="matches stored by the baseline")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=25, help="matches per transaction (pipeline)")
    parser.add_argument("--server", default=None, help="PostgreSQL server for the scratch databases")
    args = parser.parse_args()
    server = server_url(args.server)

    world = world_for(SimulatorConfig(accounts=WORLD_ACCOUNTS))
    # newest matches first, as a crawl meets them; the baseline's ids are a prefix of the pipeline's
    indexes = list(range(world.num_matches - 1, world.num_matches - 1 - args.matches, -1))
    ids = [int(m) for m in world.match_id(indexes)]
    base_ids = ids[: args.baseline_matches]
    print(f"simulator: {WORLD_ACCOUNTS:,} accounts, rate limits off, {LATENCY_MS:.0f} ms mean latency (own process)")
    with simulator_process(accounts=WORLD_ACCOUNTS, latency_ms=LATENCY_MS, rate_limits={"enabled": False}) as sim_url:
        bodies, ceiling = record(sim_url, ids)
        print(f"simulator ceiling: {ceiling:,.0f} match details/s served to 32 threads (fetch only, nothing stored)")
        live, live_base = contest("live simulator", server, sim_url, ids, base_ids, args, None)
    print(f"  pipeline uses {live / ceiling:.0%} of what the simulator can serve")
    replayed, replayed_base = contest(
        f"recorded answers, {LATENCY_MS:.0f} ms latency", server, "http://replay", ids, base_ids, args,
        Replay(bodies, LATENCY_MS),
    )
    print(target_line(">= 10x the baseline, recorded answers", replayed >= 10 * replayed_base))
    print(target_line(">= 500 matches/s end to end, recorded answers", replayed >= 500))
    print(target_line(">= 500 matches/s against the live simulator", live >= 500))


if __name__ == "__main__":
    main()
