"""Reading PostgreSQL for an export: one consistent snapshot, and the tables' column types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql


def pin_read_only_snapshot(conn: psycopg.Connection) -> str:
    """Make ``conn``'s transaction (at its start) one REPEATABLE READ READ ONLY snapshot in UTC;
    returns the snapshot's id, for the export's manifest."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute("SET LOCAL TimeZone = 'UTC'")
    return conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]


def table_columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """``(column name, type name)`` of ``table`` in order (``table`` is a regclass parameter, never pasted)."""
    return conn.execute(
        """SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        (table,),
    ).fetchall()


@contextmanager
def copy_as_csv(conn: psycopg.Connection, table: str, select_list: str) -> Iterator[psycopg.Copy]:
    """``COPY (SELECT <select_list> FROM <table>) TO STDOUT (FORMAT csv)``, streamed: the table is an
    identifier (quoted by psycopg); ``select_list`` is built from the catalog's column names."""
    statement = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv)").format(sql.SQL(select_list), sql.Identifier(table))
    with conn.cursor() as cur, cur.copy(statement) as copy:
        yield copy
