"""Fault campaign: each test ends with no lost ids, no duplicates, and a crawl equal to the
uninterrupted one (``fingerprint`` of the module's ``baseline_crawl``).

``CRAWL_SOAK=1`` (``make soak``) scales the crawls up and runs the tests marked ``soak``.
The crawl and the convergence check are in ``support.py``; ``fresh_database`` is the root conftest's.
"""

from __future__ import annotations

import pytest

from crawl_pipeline_tests.fault_tests.support import CRAWL, SOAK
from crawl_pipeline_tests.support import fingerprint


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
