"""Resolve, check and create the databases the project uses."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from crawl_pipeline.db import urls
from crawl_pipeline.db.embedded import EmbeddedServerError, start_embedded
from crawl_pipeline.settings import Settings

CRAWL_DATABASE = "crawl"
DAGSTER_DATABASE = "dagster"
CONNECT_TIMEOUT_SECONDS = 5
_LIBPQ_PREFIX = re.compile(r'^(connection (failed|is bad): )?(connection to server (at|on) .*? failed: )?')
# what psycopg and libpq say of an option they cannot use (a name or a value), before any network
_BAD_OPTION = re.compile(
    r'^(bad value for \S+:|invalid connection option |invalid integer value .* for connection option |invalid \S+ value)'
)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message names host and database, never a password."""


def _reason(exc: Exception) -> str:
    """The useful part of a libpq error, on one line (the host is already in our message)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _LIBPQ_PREFIX.sub("", first).strip()


def connect_failure(url: str, exc: psycopg.Error, variable: str = "DATABASE_URL") -> DatabaseUnavailable:
    """The one-line error for a failed ``psycopg.connect(url)``: an option psycopg or libpq cannot use
    is named as ``variable``'s, anything else names the server and database; never the password."""
    try:
        password = urls.parse(url).get("password")
    except urls.InvalidDatabaseURL:
        password = None
    reason = _reason(exc)
    if password:
        reason = reason.replace(password, "***")
    if isinstance(exc, psycopg.ProgrammingError) or _BAD_OPTION.match(reason):
        return DatabaseUnavailable(f"{variable} has a connection option PostgreSQL cannot use: {reason}")
    return DatabaseUnavailable(f"cannot connect to PostgreSQL at {urls.describe(url)}: {reason}")


def check_connection(url: str, variable: str = "DATABASE_URL") -> None:
    """Connect once as every later connection will: the URL's own ``connect_timeout`` when it sets one
    (an override would hide a bad value until the first real connection), else a short default."""
    try:
        options = urls.validate(url, variable)
    except urls.InvalidDatabaseURL as exc:
        raise DatabaseUnavailable(str(exc)) from None
    timeout = {} if "connect_timeout" in options else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    try:
        with psycopg.connect(url, **timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise connect_failure(url, exc, variable) from None


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
            f"cannot create database {dbname!r} on {urls.describe(server_url)}: {_reason(exc)}"
        ) from None
    return target


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set (checked, nothing embedded); else the embedded server's crawl DB."""
    if settings.database_url:
        url = urls.to_libpq(settings.database_url)
        check_connection(url)
        return url
    try:
        server_url = start_embedded(settings.pgdata_dir)
    except EmbeddedServerError as exc:
        raise DatabaseUnavailable(str(exc)) from None
    return ensure_database(server_url, CRAWL_DATABASE)


def resolve_dagster_url(settings: Settings, crawl_url: str) -> str:
    """The Dagster instance's own database on the same server (DAGSTER_POSTGRES_URL overrides)."""
    if settings.dagster_postgres_url:
        url = urls.to_libpq(settings.dagster_postgres_url)
        check_connection(url, "DAGSTER_POSTGRES_URL")
        return url
    dbname = DAGSTER_DATABASE if settings.embedded else f"{urls.database_name(crawl_url)}_dagster"
    return ensure_database(crawl_url, dbname)
