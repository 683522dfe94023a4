"""A crawled stack laid out the way a deployment is: the project's dagster.yaml in a DAGSTER_HOME,
the instance on its own dagster-postgres database, the crawl in its own database (``support.CrawledStack``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from crawl_pipeline.db import urls
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import initialize_database, write_instance_config
from crawl_pipeline_tests.ops_tests.support import CrawledStack


@pytest.fixture(scope="session")
def crawled_stack(make_database, tmp_path_factory) -> Iterator[CrawledStack]:
    """One small, fault-free crawl (SMALL_CRAWL against the simulator) through the project's instance."""
    import dagster as dg

    from crawl_pipeline.defs.crawl.local_runner import crawl_locally
    from crawl_pipeline.simulator.testing import start_simulator
    from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions

    url = make_database("ops_crawl")
    initialize_database(url)
    dagster_url = urls.to_sqlalchemy(make_database("ops_dagster"))
    home = tmp_path_factory.mktemp("ops_dagster_home")
    write_instance_config(home)
    with ExitStack() as stack:
        sim = stack.enter_context(start_simulator(rate_limits={"enabled": False}))
        db = stack.enter_context(Database(url, max_size=4))
        with pytest.MonkeyPatch.context() as mp:  # dagster.yaml reads it when the instance loads
            mp.setenv("DAGSTER_POSTGRES_URL", dagster_url)
            instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        runs = crawl_locally(crawl_definitions(url, sim.url), instance, db, SMALL_CRAWL)
        assert runs.failed_partitions == [], runs
        yield CrawledStack(url, dagster_url, home, db, runs.run_ids)
