"""The shared rate budget's tables: ``rate_limit_windows`` (permits leased per window of a bucket)
and ``rate_limit_backoff`` (a bucket paused for every process). The algorithm that leases and
spends permits is ``sources/ratelimit.py``; these are its statements.

Windows are passed as parallel arrays: ``seconds`` (the window length) and ``starts`` (epoch
seconds of the window's start); ``to_timestamp`` turns them into the table's timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from crawl_pipeline.db.pool import Database

_PAUSED_UNTIL = (
    "SELECT extract(epoch FROM until)::float8 FROM rate_limit_backoff WHERE bucket = %s AND until > to_timestamp(%s)"
)


def paused_until(conn: psycopg.Connection, bucket: str, now: float) -> float | None:
    """The end of ``bucket``'s active backoff (epoch seconds), or None."""
    row = conn.execute(_PAUSED_UNTIL, (bucket, now)).fetchone()
    return float(row[0]) if row else None


def paused_until_db(db: Database, bucket: str, now: float) -> float | None:
    value = db.fetch_value(_PAUSED_UNTIL, (bucket, now))
    return float(value) if value else None


def free_in_windows(db: Database, bucket: str, seconds: Sequence[int], starts: Sequence[float]) -> dict[int, int]:
    """Permits still free per window length, for the windows that have a row (the others are untouched)."""
    rows = db.fetch_all(
        """SELECT w.window_seconds, least(w.capacity, coalesce(w.announced, w.capacity)) - w.used AS free
           FROM rate_limit_windows w
           JOIN unnest(%s::int[], %s::float8[]) AS x(s, t) ON w.window_seconds = x.s AND w.window_start = to_timestamp(x.t)
           WHERE w.bucket = %s""",
        (list(seconds), list(starts), bucket),
    )
    return {r["window_seconds"]: r["free"] for r in rows}


def lock_windows(
    conn: psycopg.Connection, bucket: str, seconds: Sequence[int], starts: Sequence[float],
    capacities: Sequence[int], used_floors: Sequence[int], announced: Sequence[int | None] | None = None,
) -> dict[int, int]:
    """Upsert and lock the bucket's current windows (in window order, so concurrent leases never
    deadlock); ``used`` is raised to ``used_floors`` (the server's own count), ``capacity`` is the
    configured one, and ``announced`` keeps the least limit any process heard from the server for
    the window (None: none heard), which caps it for every process. Returns free permits."""
    rows = conn.execute(
        """INSERT INTO rate_limit_windows AS w (bucket, window_seconds, window_start, used, capacity, announced)
           SELECT %s, s, to_timestamp(t), u, c, a
           FROM unnest(%s::int[], %s::float8[], %s::int[], %s::int[], %s::int[]) AS x(s, t, c, u, a)
           ORDER BY s
           ON CONFLICT (bucket, window_seconds, window_start) DO UPDATE
               SET capacity = EXCLUDED.capacity, used = greatest(w.used, EXCLUDED.used),
                   announced = least(w.announced, EXCLUDED.announced)
           RETURNING w.window_seconds, least(w.capacity, coalesce(w.announced, w.capacity)) - w.used""",
        (bucket, list(seconds), list(starts), list(capacities), list(used_floors),
         list(announced) if announced is not None else [None] * len(seconds)),
    ).fetchall()
    return dict(rows)


def add_used(conn: psycopg.Connection, bucket: str, permits: int, seconds: Sequence[int], starts: Sequence[float]) -> None:
    """Count ``permits`` as used in every listed window (the grant of a lease)."""
    conn.execute(
        """UPDATE rate_limit_windows SET used = used + %s
           WHERE bucket = %s AND (window_seconds, window_start) IN
                 (SELECT s, to_timestamp(t) FROM unnest(%s::int[], %s::float8[]) AS x(s, t))""",
        (permits, bucket, list(seconds), list(starts)),
    )


def give_back(conn: psycopg.Connection, bucket: str, permits: int, seconds: Sequence[int], starts: Sequence[float]) -> None:
    """Return unused permits to windows that are still current. The rows are locked in window order
    first, the order ``lock_windows`` takes them in, so a lease and a return never deadlock."""
    conn.execute(
        """WITH locked AS (
               SELECT window_seconds, window_start FROM rate_limit_windows
               WHERE bucket = %(bucket)s AND (window_seconds, window_start) IN
                     (SELECT s, to_timestamp(t) FROM unnest(%(seconds)s::int[], %(starts)s::float8[]) AS x(s, t))
               ORDER BY window_seconds FOR UPDATE)
           UPDATE rate_limit_windows w SET used = greatest(0, w.used - %(permits)s)
           FROM locked l
           WHERE w.bucket = %(bucket)s AND w.window_seconds = l.window_seconds AND w.window_start = l.window_start""",
        {"permits": permits, "bucket": bucket, "seconds": list(seconds), "starts": list(starts)},
    )


def prune_windows(conn: psycopg.Connection, now: float) -> None:
    """Delete windows that ended over a minute ago (per-second rows add up quickly)."""
    conn.execute(
        "DELETE FROM rate_limit_windows WHERE window_start + window_seconds * interval '1 second' "
        "< to_timestamp(%s) - interval '1 minute'",
        (now,),
    )


def write_backoff(conn: psycopg.Connection, bucket: str, until: float, reason: str) -> None:
    """Pause ``bucket`` until ``until`` (the later of this and any pause already there)."""
    conn.execute(
        """INSERT INTO rate_limit_backoff AS b (bucket, until, attempts, reason, updated_at)
           VALUES (%s, to_timestamp(%s), 1, %s, now())
           ON CONFLICT (bucket) DO UPDATE SET
               until = greatest(b.until, EXCLUDED.until),
               attempts = CASE WHEN b.until > now() - interval '1 minute' THEN b.attempts + 1 ELSE 1 END,
               reason = EXCLUDED.reason, updated_at = now()""",
        (bucket, until, reason[:200]),
    )


def smallest_active_backoff(db: Database) -> dict[str, Any] | None:
    """The active backoff that ends first, ``{"bucket", "seconds_left", "reason", "attempts"}``, or None."""
    rows = db.fetch_all(
        """SELECT bucket, extract(epoch FROM until - now())::float8 AS seconds_left, reason, attempts
           FROM rate_limit_backoff WHERE until > now() ORDER BY until LIMIT 1"""
    )
    if not rows:
        return None
    row = rows[0]
    return {**row, "seconds_left": round(row["seconds_left"], 1)}
