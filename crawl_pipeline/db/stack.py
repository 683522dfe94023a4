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


class InstanceConfigError(RuntimeError):
    """The Dagster instance's dagster.yaml cannot be used; the one-line message names the file."""


def check_instance_config(path: Path, *, schema: bool = True) -> None:
    """Raise ``InstanceConfigError`` unless ``path`` is a YAML mapping that (with ``schema``)
    Dagster's instance schema accepts. The schema check imports Dagster: commands that never
    load the instance skip it."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InstanceConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceConfigError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise InstanceConfigError(f"{path} must be a YAML mapping (storage:, run_coordinator:, ...)")
    if not schema:
        return
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.instance.config import dagster_instance_config

    try:
        dagster_instance_config(str(path.parent), path.name)
    except DagsterInvalidConfigError as exc:
        errors = getattr(exc, "errors", None) or []
        first = errors[0].message if errors else str(exc)
        first = first.split(" Expected:", 1)[0].strip().splitlines()[0]
        raise InstanceConfigError(f"{path} is not a valid Dagster instance config: {first}") from None
    except Exception as exc:
        raise InstanceConfigError(f"{path} cannot be loaded by Dagster: {type(exc).__name__}") from None


def check_instance_template() -> None:
    """Dagster's schema check of the project's dagster.yaml (the copy in DAGSTER_HOME is identical):
    for the commands that load the instance (`dev`, `demo`), before they do."""
    check_instance_config(INSTANCE_TEMPLATE)


def write_instance_config(dagster_home: Path) -> Path:
    """Install the project's dagster.yaml into DAGSTER_HOME (kept in step with the repo).

    The template is checked first (a broken one is named, never copied); a copy in DAGSTER_HOME that
    differs from it, a corrupted one included, is replaced.
    """
    if not INSTANCE_TEMPLATE.exists():
        raise InstanceConfigError(f"instance template {INSTANCE_TEMPLATE} is missing: run from the project checkout")
    check_instance_config(INSTANCE_TEMPLATE, schema=False)
    target = dagster_home / "dagster.yaml"
    try:
        dagster_home.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != INSTANCE_TEMPLATE.read_bytes():
            if target.is_dir():
                raise IsADirectoryError(21, "is a directory, not a file")
            shutil.copyfile(INSTANCE_TEMPLATE, target)
    except OSError as exc:
        raise InstanceConfigError(
            f"cannot install the Dagster instance config at {target}: {exc.strerror or exc}"
        ) from None
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
