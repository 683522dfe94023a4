"""Accounts: seeds at depth 0 and tracked accounts (set-based, idempotent)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg


def add_seeds(conn: psycopg.Connection, account_ids: Sequence[int]) -> int:
    """Add accounts at depth 0; an account already known keeps its depth and is marked a seed.

    Returns the number of accounts that were new.
    """
    rows = conn.execute(
        """INSERT INTO accounts (account_id, depth, is_seed)
           SELECT DISTINCT unnest(%s::bigint[]), 0, true
           ON CONFLICT (account_id) DO UPDATE SET is_seed = true
           RETURNING (xmax = 0) AS inserted""",
        (list(account_ids),),
    ).fetchall()
    return sum(1 for (inserted,) in rows if inserted)


def set_tracked(conn: psycopg.Connection, account_ids: Sequence[int], tracked: bool = True) -> int:
    """Mark accounts tracked (adding unknown ones as depth-0 seeds); return how many changed."""
    if tracked:
        add_seeds(conn, account_ids)
    cur = conn.execute(
        "UPDATE accounts SET is_tracked = %s WHERE account_id = ANY(%s) AND is_tracked IS DISTINCT FROM %s",
        (tracked, list(account_ids), tracked),
    )
    return cur.rowcount
