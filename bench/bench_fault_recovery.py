"""Fault recovery: with 20 % of requests failing, every item ends fetched or failed, typed.

The simulator injects its default fault mix (500/502/503, slow, timeout, truncated,
malformed, dropped connections) into 20 % of requests, and Steam answers 5 % of
GetMatchDetails with 500 (details not ready). Each provider fetches the details of the
same matches plus a few ids that do not exist, concurrently under the shared budget.
Printed per provider: items requested, fetched, failed by error class, and lost
(requested - fetched - failed; must be 0), with retries and the calls by status.

Run: ``.venv/bin/python bench/bench_fault_recovery.py [--items 300]``.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from common import scratch_database, server_url

from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.records import DetailsRequest
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources

MISSING_IDS = [11, 12, 13, 14, 15]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=300, help="existing matches per provider")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    args = parser.parse_args()
    with scratch_database(server_url(), "fault_recovery") as database_url:  # dropped afterwards, like every bench's
        measure(args, database_url)


def measure(args: argparse.Namespace, database_url: str) -> None:
    with start_simulator(fault_rate=args.fault_rate, slow_ms=500, timeout_s=5, latency_ms=20) as sim:
        world = sim.world
        newest = list(range(world.num_matches - args.items, world.num_matches))
        requests = [
            DetailsRequest(match_id=int(m), match_seq_num=int(s))
            for m, s in zip(world.match_id(newest), world.match_seq_num(newest), strict=True)
        ] + [DetailsRequest(match_id=m) for m in MISSING_IDS]
        ids = [r.match_id for r in requests]
        config = SourcesConfig(
            opendota=ProviderConfig(sim.url, (Secret("00000000-0000-4000-8000-00000000da7a"),)),
            steam=ProviderConfig(sim.url, (Secret("sim-steam-key"),), RateTier.of("steam-bench", per_second=50)),
            stratz=ProviderConfig(sim.url, (Secret("eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ"), Secret("eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg"))),
            retry=RetryPolicy(max_retries=4, base_delay=0.05, max_delay=1.0),
            http=HTTPSettings(timeout=2.0),
            max_concurrency=16,
        )
        print(f"{args.fault_rate:.0%} faults; {args.items} matches + {len(MISSING_IDS)} missing ids per provider")
        total_lost = 0
        with Database(database_url, max_size=4) as db, open_sources(config, db) as sources:
            for provider in ("opendota", "steam", "stratz"):
                before = sources.snapshot()
                started = time.monotonic()
                fetched, failed = 0, Counter()
                source = sources.provider(provider)  # each provider's real details path (Steam: the sequence feed)
                for group, outcomes in sources.fetch_concurrently(source.match_details_group, source.details_groups(requests)):
                    for result in ([outcomes] * len(group) if isinstance(outcomes, APIError) else [r for _, r in outcomes]):
                        if isinstance(result, APIError):
                            failed[type(result).__name__] += 1
                        else:
                            fetched += 1
                after = sources.snapshot()
                lost = len(ids) - fetched - sum(failed.values())
                total_lost += lost
                calls = {k: v - before["api_calls_by_status"].get(k, 0) for k, v in after["api_calls_by_status"].items()}
                print(
                    f"{provider:<8} requested {len(ids)}  fetched {fetched}  failed {dict(failed)}  lost {lost}  "
                    f"retries {after['retries'] - before['retries']}  calls {dict(sorted((k, v) for k, v in calls.items() if v))}  "
                    f"{time.monotonic() - started:.1f}s"
                )
        print(f"server faults injected: {sim.stats()['faults']}")
        print("target (nothing lost):", "met" if total_lost == 0 else "NOT met")


if __name__ == "__main__":
    main()
