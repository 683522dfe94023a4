"""``api_requests``: provider calls counted per minute, provider, endpoint group and status.

Written by ``sources/accounting.py`` in batches (a few rows a minute however many calls);
read by ``status`` and ``metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg


def add_counts(conn: psycopg.Connection, rows: Iterable[tuple[float, str, str, str, int, int]]) -> None:
    """Add ``(minute epoch, provider, endpoint group, status, requests, total latency ms)`` rows."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO api_requests AS a (minute, provider, endpoint_group, status, requests, total_latency_ms)
               VALUES (to_timestamp(%s), %s, %s, %s, %s, %s)
               ON CONFLICT (minute, provider, endpoint_group, status) DO UPDATE SET
                   requests = a.requests + EXCLUDED.requests,
                   total_latency_ms = a.total_latency_ms + EXCLUDED.total_latency_ms""",
            list(rows),
        )
