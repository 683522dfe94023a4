"""Per-batch reads for the crawl assets: a batch's totals per phase, previews, and a run lock.

The totals are the batch's state in PostgreSQL, so a materialization shows what the partition
holds after every attempt so far (not only the counters of the attempt that happened to run last).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from crawl_pipeline.db.item_states import (
    PHASES,
    phase_gave_up,
    phase_pending,
    phase_retriable,
    stub_gave_up,
    stub_pending,
    stub_retriable,
)
from crawl_pipeline.db.pool import Database

BATCH_LOCK_NAMESPACE = 0x62617463  # "batc": pg_try_advisory_lock(namespace, crc32(batch_key))


def account_phase_totals(db: Database, batch_key: str, phase: str) -> dict[str, int]:
    """Accounts of the batch by state of ``phase``: done, failed with attempts left, gave up, never tried."""
    done, _, attempts = PHASES[phase]
    row = db.fetch_all(
        f"""SELECT count(*) AS accounts,
                   count(*) FILTER (WHERE {done} IS NOT NULL) AS done,
                   count(*) FILTER (WHERE {phase_retriable(phase)}) AS failed_with_attempts_left,
                   count(*) FILTER (WHERE {phase_gave_up(phase)}) AS gave_up,
                   count(*) FILTER (WHERE {phase_pending(phase)}) AS not_tried,
                   coalesce(sum({attempts}), 0) AS failed_attempts
            FROM accounts WHERE batch_key = %(batch)s""",
        {"batch": batch_key},
    )[0]
    return {k: int(v) for k, v in row.items()}


def profile_totals(db: Database, batch_key: str) -> dict[str, int]:
    totals = account_phase_totals(db, batch_key, "player_profiles")
    totals["ranked_accounts"] = db.fetch_value(
        "SELECT count(*) FROM accounts WHERE batch_key = %s AND rank_tier IS NOT NULL", (batch_key,)
    )
    totals["rank_snapshots"] = db.fetch_value(
        "SELECT count(*) FROM rank_snapshots s JOIN accounts a USING (account_id) WHERE a.batch_key = %s", (batch_key,)
    )
    return totals


def hero_stats_totals(db: Database, batch_key: str) -> dict[str, int]:
    totals = account_phase_totals(db, batch_key, "hero_stats")
    row = db.fetch_all(
        """SELECT count(*) AS hero_rows, coalesce(sum(s.matches), 0) AS hero_matches FROM hero_stats s
           JOIN accounts a USING (account_id) WHERE a.batch_key = %s""",
        (batch_key,),
    )[0]
    totals.update({k: int(v) for k, v in row.items()})
    return totals


def match_stub_totals(db: Database, batch_key: str) -> dict[str, int]:
    totals = account_phase_totals(db, batch_key, "match_stubs")
    totals["private_accounts"] = db.fetch_value(
        "SELECT count(*) FROM accounts WHERE batch_key = %s AND is_private", (batch_key,)
    )
    totals["stubs_owned"] = db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = %s", (batch_key,))
    return totals


def match_detail_totals(db: Database, batch_key: str) -> dict[str, int]:
    row = db.fetch_all(
        f"""SELECT count(*) AS stubs,
                  count(*) FILTER (WHERE has_details) AS detailed,
                  count(*) FILTER (WHERE {stub_pending()}) AS still_pending,
                  count(*) FILTER (WHERE {stub_retriable()}) AS failed_with_attempts_left,
                  count(*) FILTER (WHERE {stub_gave_up()}) AS gave_up,
                  coalesce(sum(retry_count), 0) AS failed_attempts
           FROM matches WHERE owner_batch = %(batch)s""",
        {"batch": batch_key},
    )[0]
    totals = {k: int(v) for k, v in row.items()}
    totals["players_stored"] = db.fetch_value(
        "SELECT count(*) FROM match_players p JOIN matches m USING (match_id) WHERE m.owner_batch = %s", (batch_key,)
    )
    return totals


def profile_preview(db: Database, batch_key: str) -> list[tuple]:
    rows = db.fetch_all(
        "SELECT account_id, personaname, rank_tier FROM accounts WHERE batch_key = %s "
        "ORDER BY rank_tier DESC NULLS LAST, account_id LIMIT 5",
        (batch_key,),
    )
    return [tuple(r.values()) for r in rows]


def hero_stats_preview(db: Database, batch_key: str) -> list[tuple]:
    rows = db.fetch_all(
        """SELECT h.localized_name, count(*) AS players, sum(s.matches) AS matches FROM hero_stats s
           JOIN heroes h USING (hero_id) JOIN accounts a USING (account_id)
           WHERE a.batch_key = %s GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 5""",
        (batch_key,),
    )
    return [tuple(r.values()) for r in rows]


def match_stubs_preview(db: Database, batch_key: str) -> list[tuple]:
    rows = db.fetch_all(
        "SELECT match_id, start_time, lobby_type, discovered_by FROM matches WHERE owner_batch = %s "
        "ORDER BY match_id DESC LIMIT 5",
        (batch_key,),
    )
    return [tuple(r.values()) for r in rows]


def match_details_preview(db: Database, batch_key: str) -> list[tuple]:
    rows = db.fetch_all(
        """SELECT has_details, count(*) AS matches, sum(retry_count) AS retries FROM matches
           WHERE owner_batch = %s GROUP BY 1 ORDER BY 1""",
        (batch_key,),
    )
    return [tuple(r.values()) for r in rows]


def batch_depth(db: Database, batch_key: str) -> int | None:
    return db.fetch_value("SELECT depth FROM account_batches WHERE batch_key = %s", (batch_key,))


def mark_phases_run(db: Database, batch_key: str, *, heroes: bool, matches: bool) -> None:
    """Record that a run took on these phases of the batch (as the sensor's requests do), so the
    sensor does not request them again and the retry schedule watches them."""
    sets = [f"{c} = coalesce({c}, now())" for c, on in (("heroes_requested_at", heroes), ("matches_requested_at", matches)) if on]
    if sets:
        with db.transaction() as conn:
            conn.execute(f"UPDATE account_batches SET {', '.join(sets)} WHERE batch_key = %s", (batch_key,))


@contextmanager
def batch_lock(db: Database, batch_key: str, *, wait_seconds: float = 1800, on_wait=None) -> Iterator[None]:
    """Hold a session advisory lock on the batch for the block, so two runs of one batch (a backfill
    next to a sensor run, two backfills) never crawl it at the same time: the second waits for the
    first (calling ``on_wait`` once) and then finds only what is still left. Waiting longer than
    ``wait_seconds`` raises ``psycopg.errors.LockNotAvailable``. The lock's connection is held for the
    block and committed at once (never idle in a transaction); if it dies (a PostgreSQL restart), the
    block's own work fails or goes on with the pool's other connections, and releasing is skipped."""
    key = zlib.crc32(batch_key.encode()) - (1 << 31)  # into int4
    holder = db.transaction()
    conn = holder.__enter__()
    try:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (BATCH_LOCK_NAMESPACE, key)).fetchone()[0]
        if not got:
            if on_wait is not None:
                on_wait()
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(wait_seconds * 1000)}ms",))
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (BATCH_LOCK_NAMESPACE, key))
        conn.commit()
    except BaseException:
        holder.__exit__(*sys.exc_info())
        raise
    try:
        yield
    finally:
        try:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (BATCH_LOCK_NAMESPACE, key))
            conn.commit()
        except psycopg.Error:
            pass  # the session is gone, and its lock with it
        try:
            holder.__exit__(None, None, None)
        except psycopg.Error:
            pass  # returning a dead connection: the pool replaces it


def batches_to_recrawl(db: Database, *, older_than, limit: int) -> list[str]:
    """Batches to crawl again from scratch: an account synced longer than ``older_than`` ago, or one whose
    history was never synced although its match phase was asked for longer than ``older_than`` ago
    (it gave up after every attempt, or a run died); the longest-waiting first."""
    rows = db.fetch_all(
        """SELECT a.batch_key FROM accounts a JOIN account_batches b USING (batch_key)
           WHERE a.matches_synced_at < now() - %(age)s
              OR (a.matches_synced_at IS NULL AND b.matches_requested_at < now() - %(age)s)
           GROUP BY a.batch_key ORDER BY min(coalesce(a.matches_synced_at, b.matches_requested_at)), a.batch_key
           LIMIT %(limit)s""",
        {"age": older_than, "limit": limit},
    )
    return [r["batch_key"] for r in rows]


def undetailed_among(conn: psycopg.Connection, match_ids: list[int]) -> set[int]:
    """Those of ``match_ids`` stored without details yet."""
    rows = conn.execute(
        "SELECT match_id FROM matches WHERE match_id = ANY(%s) AND has_details IS NOT TRUE", (match_ids,)
    ).fetchall()
    return {r[0] for r in rows}
