"""Session fixtures: a database of its own per test session and xdist worker.

The server is TEST_DATABASE_URL, else the machine's PostgreSQL at 127.0.0.1:5432 when it
answers, else an embedded server shared by the workers of this run.

``sim`` / ``client``: a fault-free simulator without server-side rate limits, one per test module
on a free port (xdist-safe), and an HTTP client on it (sources_tests has a ``sim`` per test).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from crawl_pipeline.db import urls
from crawl_pipeline.db.embedded import start_embedded
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import initialize_database
from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import DEFAULT_TEST_SERVER, EMBEDDED_TEST_PGDATA, KEPT_TABLES, reachable


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of a server where tests may create databases."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit
    if reachable(DEFAULT_TEST_SERVER):
        return DEFAULT_TEST_SERVER
    return start_embedded(EMBEDDED_TEST_PGDATA)


@pytest.fixture(scope="session")
def worker_tag(worker_id: str) -> str:
    return f"{worker_id}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def make_database(pg_server_url: str, worker_tag: str) -> Iterator:
    """Factory for fresh, empty databases on the test server; all dropped at session end."""
    created: list[str] = []

    def factory(purpose: str) -> str:
        name = f"crawl_test_{purpose}_{worker_tag}_{len(created)}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return urls.with_database(pg_server_url, name)

    yield factory
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(make_database) -> str:
    """The migrated crawl database of this session/worker."""
    url = make_database("crawl")
    initialize_database(url)
    return url


@pytest.fixture
def fresh_database(make_database):
    """Another empty, migrated crawl database (for comparing two crawls): (url, Database)."""
    opened = []

    def factory(purpose: str) -> tuple[str, Database]:
        url = make_database(purpose)
        initialize_database(url)
        opened.append(Database(url, max_size=4))
        return url, opened[-1]

    yield factory
    for database in opened:
        database.close()


@pytest.fixture(scope="session")
def session_db(database_url: str) -> Iterator[Database]:
    with Database(database_url, max_size=4) as database:
        yield database


@pytest.fixture
def db(session_db: Database) -> Iterator[Database]:
    """The session's database, emptied (but for reference tables) before the test."""
    with session_db.transaction() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            if row[0] not in KEPT_TABLES
        ]
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
        )
    yield session_db


@pytest.fixture(scope="session")
def dagster_postgres_url(make_database) -> str:
    """A database of its own for the Dagster instance, as dagster-postgres wants its URL."""
    return urls.to_sqlalchemy(make_database("dagster"))


@pytest.fixture
def dagster_instance(dagster_postgres_url: str, tmp_path: Path):
    """A real Dagster instance whose run, event and schedule storage is PostgreSQL."""
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": dagster_postgres_url}}}, temp_dir=str(home)
    ) as instance:
        # The database is the worker's for the session: start each test from an empty instance.
        instance.wipe()
        for key in instance.get_dynamic_partitions("account_batches"):
            instance.delete_dynamic_partition("account_batches", key)
        yield instance


@pytest.fixture
def cli_env(database_url: str, dagster_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI tests: the session's databases and a private data dir."""
    env = {
        "DATABASE_URL": database_url,
        "DAGSTER_POSTGRES_URL": dagster_postgres_url,
        "CRAWL_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "data" / "dagster_home"),
    }
    for key in ("OPENDOTA_API_KEY", "STEAM_API_KEY", "STRATZ_TOKENS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def clean_simulator():
    """A fault-free simulator without rate limits, shared by the session's crawl tests."""
    from crawl_pipeline.simulator.testing import start_simulator

    with start_simulator(rate_limits={"enabled": False}) as sim:
        yield sim


@pytest.fixture(scope="session")
def baseline_crawl(make_database, clean_simulator, tmp_path_factory):
    """One uninterrupted, fault-free SMALL_CRAWL per session: what every other crawl must reproduce.

    Yields (Database, DagsterInstance, CrawlRuns); the instance has a database of its own so
    other tests' partitions and runs never mix with the baseline's.
    """
    import dagster as dg

    from crawl_pipeline.defs.crawl.local_runner import crawl_locally
    from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions

    url = make_database("baseline")
    initialize_database(url)
    dagster_url = urls.to_sqlalchemy(make_database("baseline_dagster"))
    home = tmp_path_factory.mktemp("baseline_home")
    with Database(url, max_size=4) as database, dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": dagster_url}}}, temp_dir=str(home)
    ) as instance:
        runs = crawl_locally(crawl_definitions(url, clean_simulator.url), instance, database, SMALL_CRAWL)
        yield database, instance, runs


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(rate_limits={"enabled": False}) as handle:
        yield handle


@pytest.fixture()
def client(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c
