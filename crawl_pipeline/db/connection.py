"""Resolve, check and create the databases the project uses."""

from __future__ import annotations

import psycopg
from psycopg import sql

from crawl_pipeline.db import urls
from crawl_pipeline.db.embedded import start_embedded
from crawl_pipeline.settings import Settings

CRAWL_DATABASE = "crawl"
DAGSTER_DATABASE = "dagster"
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message names host and database, never a password."""


def check_connection(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")
    except urls.InvalidDatabaseURL as exc:
        raise DatabaseUnavailable(str(exc)) from None
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        reason = reason.replace(urls.parse(url).get("password") or "\0", "***")
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {urls.describe(url)}: {reason}") from None


def ensure_database(server_url: str, dbname: str) -> str:
    """Create ``dbname`` on the server of ``server_url`` if missing; return its URL."""
    target = urls.with_database(server_url, dbname)
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                except psycopg.errors.DuplicateDatabase:
                    pass  # another process created it first
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot create database {dbname!r} on {urls.describe(server_url)}: {str(exc).strip().splitlines()[-1]}"
        ) from None
    return target


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set (checked, nothing embedded); else the embedded server's crawl DB."""
    if settings.database_url:
        check_connection(settings.database_url)
        return settings.database_url
    server_url = start_embedded(settings.pgdata_dir)
    return ensure_database(server_url, CRAWL_DATABASE)


def resolve_dagster_url(settings: Settings, crawl_url: str) -> str:
    """The Dagster instance's own database on the same server (DAGSTER_POSTGRES_URL overrides)."""
    if settings.dagster_postgres_url:
        check_connection(settings.dagster_postgres_url)
        return settings.dagster_postgres_url
    dbname = DAGSTER_DATABASE if settings.embedded else f"{urls.database_name(crawl_url)}_dagster"
    return ensure_database(crawl_url, dbname)
