"""The connection pool every database user shares (psycopg 3 + psycopg_pool)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from crawl_pipeline.db import urls


class Database:
    """A pool of connections to the crawl database.

    ``transaction()`` yields a connection inside one transaction: committed when the
    block ends, rolled back when it raises, so a failed step leaves no partial rows.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        application_name: str = "crawl_pipeline",
        timeout: float = 10.0,
    ):
        self.description = urls.describe(url)
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,  # a lost server fails the step in seconds, not psycopg_pool's default 30 s
            # Test each connection as it is handed out: after a PostgreSQL restart the pooled ones are
            # dead, and without the check every user would get one (and fail) before the pool noticed.
            check=ConnectionPool.check_connection,
            kwargs={"application_name": application_name, "connect_timeout": 5},
            open=True,
            name=f"crawl:{self.description}",
        )

    def __repr__(self) -> str:
        return f"Database({self.description})"

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn:  # commits on success, rolls back on error
            yield conn

    def fetch_all(self, query: str, params: tuple | dict | None = None) -> list[dict]:
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def fetch_value(self, query: str, params: tuple | dict | None = None):
        with self._pool.connection() as conn:
            row = conn.execute(query, params).fetchone()
            return None if row is None else row[0]

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
