"""A small crawl against the simulator, done once per session (and xdist worker) and cloned per test.

The crawl (the crawl_tests helpers: ``SMALL_CRAWL`` through ``crawl_locally``) goes into a
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
from crawl_pipeline.definitions import build_definitions
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import Settings
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.crawl_tests.conftest import SIM_OPENDOTA_KEY, SMALL_CRAWL, crawl_definitions

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CRAWL = CrawlConfig(**{**SMALL_CRAWL.model_dump(), "max_workers": 8})


def sim_providers(url: str, rate_limits: dict | None = None, **fields) -> ProvidersResource:
    return ProvidersResource(
        opendota_api_url=url, steam_api_url=url, stratz_api_url=url,
        opendota_api_key=SIM_OPENDOTA_KEY, steam_api_key="sim-steam-key",
        stratz_tokens="sim-stratz-token-1,sim-stratz-token-2",
        rate_limits=rate_limits or {"opendota": {"per_second": 500}}, **fields,
    )


def analyzer_definitions(database_url: str, sim_url: str, *, providers: ProvidersResource | None = None,
                         identities: TrackedIdentities | None = None) -> dg.Definitions:
    """The project's definitions, pointed at this test's database and simulator."""
    return build_definitions(
        Settings.from_env({}), postgres=PostgresResource(database_url=database_url),
        providers=providers or sim_providers(sim_url), crawl=CRAWL, identities=identities or TrackedIdentities(),
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
        runs = crawl_locally(crawl_definitions(url, simulator.url, CRAWL), instance, database, CRAWL)
        assert runs.failed_partitions == []
    yield name
    _drop(pg_server_url, name)


def _clone(pg_server_url: str, template: str) -> str:
    name = f"{template[:40]}_c{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return name


def _drop(pg_server_url: str, name: str) -> None:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def analyzed_template(pg_server_url, crawl_template, dagster_postgres_url, simulator, tmp_path_factory):
    """The crawl after one analyzer run reading 20 ranked matches per account (scores stored)."""
    from crawl_pipeline.defs.smurf.assets import analyzer_run_request, smurf_analyzer_job

    name = _clone(pg_server_url, crawl_template)
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
    _drop(pg_server_url, name)


def _copy_of(pg_server_url, template, dagster_instance):
    name = _clone(pg_server_url, template)
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
        _drop(pg_server_url, name)


@pytest.fixture
def analyzed(pg_server_url, analyzed_template, dagster_instance):
    """(url, Database) of a fresh copy of the crawl after one analyzer run."""
    name, url, database = _copy_of(pg_server_url, analyzed_template, dagster_instance)
    try:
        yield url, database
    finally:
        database.close()
        _drop(pg_server_url, name)
