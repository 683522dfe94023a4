"""The frontier in PostgreSQL: cutting batches and deciding which batch phases may run.

All of it runs under one advisory lock so an account lands in exactly one batch even if
two sensor evaluations overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg

from crawl_pipeline.db.item_states import phase_settled, stub_unsettled
from crawl_pipeline.domain.frontier import BatchPolicy, PlannedBatch, plan_batches

FRONTIER_LOCK_ID = 0x66726F6E  # "fron"
HEROES_SETTLED = phase_settled("hero_stats", "a")
PROFILE_SETTLED = phase_settled("player_profiles", "a")
MATCHES_SETTLED = phase_settled("match_stubs", "a")
STUB_UNSETTLED = stub_unsettled("m")


def cut_batches(conn: psycopg.Connection, policy: BatchPolicy, *, linger: timedelta) -> list[PlannedBatch]:
    """Assign unbatched accounts to new batches (BFS order) and return the new batches."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (FRONTIER_LOCK_ID,))
    rows = conn.execute(
        "SELECT depth, account_id FROM accounts WHERE batch_key IS NULL AND depth <= %s "
        "ORDER BY depth, discovered_at, account_id",
        (policy.max_depth,),
    ).fetchall()
    if not rows:
        return []
    unbatched: dict[int, list[int]] = {}
    for depth, account_id in rows:
        unbatched.setdefault(depth, []).append(account_id)
    next_number = dict(conn.execute("SELECT depth, max(batch_number) + 1 FROM account_batches GROUP BY depth").fetchall())
    already = conn.execute("SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL").fetchone()[0]
    planned = plan_batches(
        unbatched, next_number, policy, already_batched=already, closed_depths=closed_depths(conn, linger)
    )
    for batch in planned:
        conn.execute(
            "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, %s, %s, %s)",
            (batch.key, batch.depth, int(batch.key[4:]), len(batch.account_ids)),
        )
        conn.execute(
            "UPDATE accounts SET batch_key = %s WHERE account_id = ANY(%s) AND batch_key IS NULL",
            (batch.key, list(batch.account_ids)),
        )
    return planned


def closed_depths(conn: psycopg.Connection, linger: timedelta) -> set[int]:
    """Depths that can get no more accounts soon: partial batches may be cut there.

    Depth 0 (seeds) is always closed. Depth d is closed when depth d-1 has no unbatched
    account and every depth d-1 batch has settled its match phase, or when its oldest
    unbatched account has waited longer than ``linger`` (a failed batch must not stall BFS).
    """
    rows = conn.execute(
        f"""WITH open_parents AS (
                SELECT DISTINCT a.depth + 1 AS depth FROM accounts a
                WHERE a.batch_key IS NULL OR NOT {MATCHES_SETTLED}
                UNION
                SELECT DISTINCT b.depth + 1 FROM account_batches b
                JOIN matches m ON m.owner_batch = b.batch_key WHERE {STUB_UNSETTLED})
            SELECT depth FROM accounts WHERE batch_key IS NULL GROUP BY depth
            HAVING depth = 0 OR depth NOT IN (SELECT depth FROM open_parents)
                OR min(discovered_at) < now() - %s""",
        (linger,),
    ).fetchall()
    return {depth for (depth,) in rows}


@dataclass(frozen=True)
class PhaseRequest:
    batch_key: str
    depth: int
    phase: str  # "heroes", "matches" or "all"


def runnable_phases(
    conn: psycopg.Connection, policy: BatchPolicy, *, hero_phase_first: bool, limit: int
) -> list[PhaseRequest]:
    """Batch phases not yet requested that may run now, shallowest first.

    With ``hero_phase_first`` a batch's match phase at depth d waits until every known
    account up to depth d has settled its hero phase (as the original scraper did). Known
    means batched, or still waiting for a batch it will get (within max_depth and the cap).
    """
    if limit <= 0:
        return []
    if not hero_phase_first:
        rows = conn.execute(
            "SELECT batch_key, depth FROM account_batches WHERE heroes_requested_at IS NULL "
            "ORDER BY depth, batch_number LIMIT %s",
            (limit,),
        ).fetchall()
        return [PhaseRequest(key, depth, "all") for key, depth in rows]
    rows = conn.execute(
        f"""WITH hero_gate AS (
                -- shallowest depth with an account whose hero phase is unsettled
                SELECT coalesce(min(a.depth), 32767) AS blocked_from FROM accounts a
                WHERE NOT {HEROES_SETTLED}
                  AND (a.batch_key IS NOT NULL OR (a.depth <= %(max_depth)s AND %(may_batch_more)s)))
            (SELECT batch_key, depth, 'heroes' AS phase, batch_number FROM account_batches
             WHERE heroes_requested_at IS NULL)
            UNION ALL
            (SELECT b.batch_key, b.depth, 'matches', b.batch_number FROM account_batches b, hero_gate g
             WHERE b.heroes_requested_at IS NOT NULL AND b.matches_requested_at IS NULL AND b.depth < g.blocked_from)
            ORDER BY depth, phase DESC, batch_number LIMIT %(limit)s""",
        {"limit": limit, "max_depth": policy.max_depth, "may_batch_more": _may_batch_more(conn, policy)},
    ).fetchall()
    return [PhaseRequest(key, depth, phase) for key, depth, phase, _ in rows]


def _may_batch_more(conn: psycopg.Connection, policy: BatchPolicy) -> bool:
    if policy.max_accounts is None:
        return True
    return conn.execute("SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL").fetchone()[0] < policy.max_accounts


def mark_requested(conn: psycopg.Connection, requests: list[PhaseRequest]) -> None:
    for column, phases in (("heroes_requested_at", ("heroes", "all")), ("matches_requested_at", ("matches", "all"))):
        keys = [r.batch_key for r in requests if r.phase in phases]
        if keys:
            conn.execute(f"UPDATE account_batches SET {column} = now() WHERE batch_key = ANY(%s)", (keys,))


def batches_with_unfinished_work(db) -> list[str]:
    """Batches whose requested phases left work behind: an account or a match that failed
    with attempts left, or that was never finished (a killed run, Steam's "no data yet")."""
    rows = db.fetch_all(
        f"""SELECT DISTINCT a.batch_key FROM accounts a JOIN account_batches b USING (batch_key)
            WHERE (b.heroes_requested_at IS NOT NULL AND NOT ({PROFILE_SETTLED} AND {HEROES_SETTLED}))
               OR (b.matches_requested_at IS NOT NULL AND NOT {MATCHES_SETTLED})
            UNION
            SELECT DISTINCT m.owner_batch FROM matches m JOIN account_batches b ON b.batch_key = m.owner_batch
            WHERE b.matches_requested_at IS NOT NULL AND {STUB_UNSETTLED}
            ORDER BY 1"""
    )
    return [r["batch_key"] for r in rows]


def stale_batches(db, *, older_than: timedelta, limit: int) -> list[str]:
    rows = db.fetch_all(
        """SELECT batch_key FROM accounts WHERE batch_key IS NOT NULL AND matches_synced_at < now() - %s
           GROUP BY batch_key ORDER BY min(matches_synced_at) LIMIT %s""",
        (older_than, limit),
    )
    return [r["batch_key"] for r in rows]
