"""Process entry points for multi-process tests (spawned: must be importable by name)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources


def hammer_stratz(database_url: str, url: str, token: str, per_second: int, seconds: float, threads: int) -> dict[str, int]:
    """Call Stratz as fast as the shared budget allows for ``seconds``; count outcomes."""
    tier = RateTier.of("test", per_second=per_second, per_minute=100_000)
    config = SourcesConfig(
        opendota=ProviderConfig(url),
        steam=ProviderConfig(url),
        stratz=ProviderConfig(url, (Secret(token),), tier),
        retry=RetryPolicy(max_retries=0, max_budget_wait=5.0),
    )
    deadline = time.time() + seconds
    with Database(database_url, max_size=2) as db, open_sources(config, db) as sources:
        client = sources.provider("stratz")

        def loop(_: int) -> tuple[int, int]:
            ok = failed = 0
            while time.time() < deadline:
                try:
                    client.player_profile(293053907)
                    ok += 1
                except APIError:
                    failed += 1
            return ok, failed

        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(loop, range(threads)))
        leases = sources.limiter.leases
    return {"ok": sum(r[0] for r in results), "failed": sum(r[1] for r in results), "leases": leases}
