"""Helpers of the fault campaign: the crawl it runs (``CRAWL``, scaled up by ``CRAWL_SOAK=1``)
and the convergence check every test ends with. Fixtures are in conftest.py."""

from __future__ import annotations

import os

from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline_tests.support import fingerprint

SOAK = os.environ.get("CRAWL_SOAK", "") not in ("", "0")

# make test: the crawl tests' small crawl; make soak: deeper histories and bigger batches
_FIELDS = {
    "max_depth": 1, "batch_size": 20, "batch_growth": 1.0, "max_matches_per_account": 5, "page_size": 5, "max_workers": 4,
    "details_chunk_size": 10, "partial_batch_after_seconds": 3600,
}  # SMALL_CRAWL of the crawl tests
if SOAK:
    _FIELDS.update(batch_size=60, max_matches_per_account=20, page_size=10)
CRAWL = CrawlConfig(**_FIELDS)


def assert_converged(db, expected) -> None:
    """Nothing lost, nothing twice, and the same data as the uninterrupted crawl."""
    assert db.fetch_value("SELECT count(*) FROM matches WHERE has_details IS NOT TRUE") == 0, "stubs left without details"
    assert db.fetch_value(
        "SELECT count(*) FROM (SELECT match_id FROM match_players GROUP BY 1 HAVING count(*) <> 10) x"
    ) == 0, "a detailed match without exactly its ten players"
    assert db.fetch_value(
        "SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL AND (profile_fetched_at IS NULL "
        "OR hero_stats_at IS NULL OR matches_synced_at IS NULL)"
    ) == 0, "a batched account with a phase left undone"
    assert fingerprint(db) == expected


def crawl_config(**changes) -> CrawlConfig:
    return CrawlConfig(**{**_FIELDS, **changes})
