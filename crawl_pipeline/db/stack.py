"""Bring up the local stack: crawl database (migrated), Dagster's database and DAGSTER_HOME.

Child processes (the Dagster webserver, daemon and run workers) inherit the resolved
URLs through the environment, so they attach to the same server and never start another.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from crawl_pipeline.db import migrate, urls
from crawl_pipeline.db.connection import resolve_dagster_url, resolve_database_url
from crawl_pipeline.db.reference import upsert_heroes
from crawl_pipeline.domain.heroes import heroes
from crawl_pipeline.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_TEMPLATE = PROJECT_ROOT / "dagster.yaml"


@dataclass(frozen=True)
class Stack:
    settings: Settings
    database_url: str = field(repr=False)
    dagster_postgres_url: str = field(repr=False)  # postgresql+psycopg2:// for dagster-postgres
    migrations_applied: int = 0

    @property
    def description(self) -> str:
        return urls.describe(self.database_url)


def write_instance_config(dagster_home: Path) -> Path:
    """Install the project's dagster.yaml into DAGSTER_HOME (kept in step with the repo)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not INSTANCE_TEMPLATE.exists():
        raise FileNotFoundError(f"instance template {INSTANCE_TEMPLATE} is missing: run from the project checkout")
    if not target.exists() or target.read_bytes() != INSTANCE_TEMPLATE.read_bytes():
        shutil.copyfile(INSTANCE_TEMPLATE, target)
    return target


def initialize_database(url: str) -> int:
    """Apply migrations and load the reference tables; return how many migrations ran."""
    applied = migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        upsert_heroes(conn, list(heroes().values()))
    return len(applied)


def prepare_stack(settings: Settings | None = None, *, export: bool = True) -> Stack:
    """Resolve (or start) PostgreSQL, apply migrations, prepare the Dagster instance.

    With ``export`` the URLs and DAGSTER_HOME go into ``os.environ`` for child processes.
    Raises ``DatabaseUnavailable`` with a one-line, password-free message.
    """
    settings = settings or get_settings()
    database_url = resolve_database_url(settings)
    applied = initialize_database(database_url)
    dagster_url = urls.to_sqlalchemy(resolve_dagster_url(settings, database_url))
    write_instance_config(settings.dagster_home)
    if export:
        os.environ["DATABASE_URL"] = database_url
        os.environ["DAGSTER_POSTGRES_URL"] = dagster_url
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
        os.environ["CRAWL_DATA_DIR"] = str(settings.data_dir)
    return Stack(settings, database_url, dagster_url, applied)
