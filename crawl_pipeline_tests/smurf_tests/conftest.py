"""A small crawl against the simulator, done once per session (and xdist worker) and cloned per test.

The crawl (``support.ANALYZER_CRAWL`` through ``crawl_locally``) goes into a
template database; each test gets ``CREATE DATABASE ... TEMPLATE`` of it, so tests may change
their copy freely and stay independent (and parallel-safe: names carry the worker tag).
"""

import uuid

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from crawl_pipeline.db import urls
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import initialize_database
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import (
    ANALYZER_CRAWL,
    QUIET,
    analyzer_definitions,
    clone_database,
    crawl_definitions,
    drop_database,
)


@pytest.fixture(scope="session")
def simulator():
    with start_simulator(rate_limits={"enabled": False}) as sim:
        yield sim


@pytest.fixture(scope="session")
def crawl_template(pg_server_url, worker_tag, dagster_postgres_url, simulator, tmp_path_factory):
    """Name of a database holding a finished small crawl (no open connections: usable as a template)."""
    name = f"crawl_test_smurf_template_{worker_tag}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urls.with_database(pg_server_url, name)
    initialize_database(url)
    home = tmp_path_factory.mktemp("smurf_crawl_home")
    with Database(url, max_size=4) as database, dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": dagster_postgres_url}}}, temp_dir=str(home)
    ) as instance:
        runs = crawl_locally(crawl_definitions(url, simulator.url, ANALYZER_CRAWL), instance, database, ANALYZER_CRAWL)
        assert runs.failed_partitions == []
    yield name
    drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def analyzed_template(pg_server_url, crawl_template, dagster_postgres_url, simulator, tmp_path_factory):
    """The crawl after one analyzer run reading 20 ranked matches per account (scores stored)."""
    from crawl_pipeline.defs.smurf.assets import analyzer_run_request, smurf_analyzer_job

    name = clone_database(pg_server_url, crawl_template)
    url = urls.with_database(pg_server_url, name)
    home = tmp_path_factory.mktemp("smurf_analyzed_home")
    with Database(url, max_size=2) as database, dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": dagster_postgres_url}}}, temp_dir=str(home)
    ) as instance:
        keys = [r["batch_key"] for r in database.fetch_all("SELECT batch_key FROM account_batches ORDER BY 1")]
        instance.add_dynamic_partitions("account_batches", keys)
        job = analyzer_definitions(url, simulator.url).resolve_job_def(smurf_analyzer_job.name)
        result = job.execute_in_process(
            instance=instance, tags=analyzer_run_request(instance).tags,
            run_config={**QUIET, "ops": {"smurf_match_history": {"config": {"matches_per_call": 20, "max_accounts": 15}}}},
        )
        assert result.success
        assert database.fetch_value("SELECT count(*) FROM smurf_scores") > 0
    yield name
    drop_database(pg_server_url, name)


def _copy_of(pg_server_url, template, dagster_instance):
    name = clone_database(pg_server_url, template)
    url = urls.with_database(pg_server_url, name)
    database = Database(url, max_size=4)
    keys = [r["batch_key"] for r in database.fetch_all("SELECT batch_key FROM account_batches ORDER BY 1")]
    dagster_instance.add_dynamic_partitions("account_batches", keys)
    return name, url, database


@pytest.fixture
def crawled(pg_server_url, crawl_template, dagster_instance):
    """(url, Database) of a fresh copy of the crawl, its batches registered in ``dagster_instance``."""
    name, url, database = _copy_of(pg_server_url, crawl_template, dagster_instance)
    try:
        yield url, database
    finally:
        database.close()
        drop_database(pg_server_url, name)


@pytest.fixture
def analyzed(pg_server_url, analyzed_template, dagster_instance):
    """(url, Database) of a fresh copy of the crawl after one analyzer run."""
    name, url, database = _copy_of(pg_server_url, analyzed_template, dagster_instance)
    try:
        yield url, database
    finally:
        database.close()
        drop_database(pg_server_url, name)
