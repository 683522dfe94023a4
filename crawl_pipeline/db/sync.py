"""``sync_log``: range syncs of one account's history (replay-sync tool)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from crawl_pipeline.domain.coverage import DateRange


def completed_syncs(conn: psycopg.Connection, account_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT id, date_after, date_before, completed_at FROM sync_log "
        "WHERE account_id = %s AND status = 'completed' ORDER BY completed_at DESC, id DESC",
        (account_id,),
    ).fetchall()
    return [{"id": r[0], "date_after": r[1], "date_before": r[2], "completed_at": r[3]} for r in rows]


def start_sync(conn: psycopg.Connection, account_id: int, span: DateRange, *, run_id: str | None, status: str = "running") -> int:
    """A new ``sync_log`` row (``already_synced`` rows are completed at once)."""
    return conn.execute(
        """INSERT INTO sync_log (account_id, date_after, date_before, status, run_id, completed_at)
           VALUES (%s, %s, %s, %s, %s, CASE WHEN %s = 'already_synced' THEN now() END) RETURNING id""",
        (account_id, span.date_after, span.date_before, status, run_id, status),
    ).fetchone()[0]


def finish_sync(
    conn: psycopg.Connection, sync_id: int, *, status: str, found: int = 0, fetched: int = 0, skipped: int = 0,
    error: str | None = None,
) -> None:
    conn.execute(
        """UPDATE sync_log SET status = %s, completed_at = now(), matches_found = %s, matches_fetched = %s,
               matches_skipped = %s, error = %s WHERE id = %s""",
        (status, found, fetched, skipped, error, sync_id),
    )


def ensure_account(conn: psycopg.Connection, account_id: int) -> tuple[int, str | None]:
    """The account's (depth, batch_key), adding it at depth 0 when it is not known yet."""
    conn.execute(
        "INSERT INTO accounts (account_id, depth) VALUES (%s, 0) ON CONFLICT (account_id) DO NOTHING", (account_id,)
    )
    depth, batch_key = conn.execute(
        "SELECT depth, batch_key FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    return depth, batch_key


def detailed_among(conn: psycopg.Connection, match_ids: Sequence[int]) -> set[int]:
    """Which of ``match_ids`` already have their details stored."""
    return {r[0] for r in conn.execute(
        "SELECT match_id FROM matches WHERE match_id = ANY(%s) AND has_details", (list(match_ids),)
    ).fetchall()}


def sync_rows(conn: psycopg.Connection, account_id: int) -> list[dict]:
    cur = conn.execute(
        """SELECT id, account_id, date_after, date_before, started_at, completed_at, status, matches_found,
                  matches_fetched, matches_skipped, error, run_id FROM sync_log WHERE account_id = %s ORDER BY id""",
        (account_id,),
    )
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
