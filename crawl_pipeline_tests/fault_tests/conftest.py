"""Fault campaign: each test ends with no lost ids, no duplicates, and a crawl equal to the
uninterrupted one (``fingerprint`` of the module's ``baseline_crawl``).

``CRAWL_SOAK=1`` (``make soak``) scales the crawls up and runs the tests marked ``soak``.
"""

from __future__ import annotations

import os

import pytest

from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline_tests.crawl_tests.conftest import fresh_database  # noqa: F401
from crawl_pipeline_tests.crawl_tests.test_crawl_e2e import fingerprint

SOAK = os.environ.get("CRAWL_SOAK", "") not in ("", "0")

# make test: the crawl tests' small crawl; make soak: deeper histories and bigger batches
_FIELDS = {
    "max_depth": 1, "batch_size": 20, "batch_growth": 1.0, "max_matches_per_account": 5, "page_size": 5, "max_workers": 4,
    "details_chunk_size": 10, "partial_batch_after_seconds": 3600,
}  # SMALL_CRAWL of the crawl tests
if SOAK:
    _FIELDS.update(batch_size=60, max_matches_per_account=20, page_size=10)
CRAWL = CrawlConfig(**_FIELDS)


@pytest.fixture(scope="module")
def fault_baseline(request, make_database, dagster_postgres_url, clean_simulator, tmp_path_factory):
    """The uninterrupted, fault-free crawl of ``CRAWL``: its fingerprint (the session's baseline
    crawl unless ``make soak`` scaled CRAWL up)."""
    if not SOAK:
        yield fingerprint(request.getfixturevalue("baseline_crawl")[0])
        return
    import dagster as dg

    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.db.stack import initialize_database
    from crawl_pipeline.defs.crawl.local_runner import crawl_locally
    from crawl_pipeline_tests.support import crawl_definitions

    url = make_database("fault_baseline")
    initialize_database(url)
    with Database(url, max_size=4) as database, dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": dagster_postgres_url}}},
        temp_dir=str(tmp_path_factory.mktemp("fault_baseline_home")),
    ) as instance:
        runs = crawl_locally(crawl_definitions(url, clean_simulator.url, CRAWL), instance, database, CRAWL)
        assert runs.failed_partitions == []
        yield fingerprint(database)


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
