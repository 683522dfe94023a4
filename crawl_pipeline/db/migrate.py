"""Versioned SQL migrations: ``db/migrations/NNNN_name.sql`` applied in order, once.

Each file runs in its own transaction and is recorded with a checksum in
``schema_migrations``. A session-level advisory lock makes concurrent starts safe: the
second process waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from crawl_pipeline.db.connection import connect_failure

MIGRATION_LOCK_ID = 0x63726177  # "craw": one advisory lock id for all migration runs
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("crawl_pipeline.db").joinpath("migrations").iterdir():
        match = _FILENAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


def _connect(url: str, **options) -> psycopg.Connection:
    """``psycopg.connect``; a URL it cannot use is a ``DatabaseUnavailable`` line, never a traceback."""
    try:
        return psycopg.connect(url, **options)
    except psycopg.Error as exc:
        raise connect_failure(url, exc) from None


def upgrade(url: str) -> list[Migration]:
    """Apply pending migrations; return those applied by this call."""
    applied_now: list[Migration] = []
    with _connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       checksum   text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            for migration in available_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now


def current_version(url: str) -> int | None:
    with _connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return None
        return conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
