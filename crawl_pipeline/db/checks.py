"""Read-only queries of the asset checks and the small previews of the Dagster wiring (every
PostgreSQL statement lives under db/).

The crawl checks run after every batch, so what they read must not grow with the crawl: the
stubs in an error state (partial indexes of migration 0022), or the matches of named batches
(``matches_owner``); only a check executed alone reads every match."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from crawl_pipeline.db.item_states import stub_gave_up, stub_waiting
from crawl_pipeline.db.pool import Database


def crawl_is_empty(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM accounts)").fetchone()[0]


def orphan_stubs(db: Database) -> int:
    """Matches still waiting for details that nothing will fetch: no batch owns them, and they are
    not matches the feed listed but could not read (a sequence number and an error: the feed's own
    runs fetch those again, ``feed.unread_to_retry``)."""
    return db.fetch_value(
        "SELECT count(*) FROM matches WHERE owner_batch IS NULL AND has_details IS NOT TRUE "
        "AND (match_seq_num IS NULL OR fetch_error IS NULL)"
    )


NO_BATCH = "(no batch)"  # matches no batch owns (the feed's, tracked accounts'), in a failing-batches list
EXACT_COUNT_BELOW = 1_000_000  # rows of matches under which the stub total is counted, not estimated


def match_player_violations(db: Database, batch_keys: list[str] | None = None) -> dict[str, Any]:
    """Players twice in one match, and detailed matches without players, among the matches the
    batches ``batch_keys`` own (``matches_owner`` index; None: every match, a scan of all of
    ``match_players``: 53-61 s at 27M rows), with the batches where either was found."""
    scope = "m.owner_batch = ANY(%(batches)s)" if batch_keys is not None else "true"
    rows = db.fetch_all(
        f"""SELECT owner_batch, sum(duplicates)::bigint AS duplicates, sum(empty)::bigint AS empty FROM (
                SELECT d.owner_batch, count(*) AS duplicates, 0 AS empty FROM (
                    SELECT m.owner_batch FROM matches m JOIN match_players p USING (match_id)
                    WHERE {scope} AND p.account_id IS NOT NULL
                    GROUP BY m.owner_batch, p.match_id, p.account_id HAVING count(*) > 1) d
                GROUP BY 1
                UNION ALL
                SELECT m.owner_batch, 0, count(*) FROM matches m
                WHERE {scope} AND m.has_details
                  AND NOT EXISTS (SELECT 1 FROM match_players p WHERE p.match_id = m.match_id)
                GROUP BY 1) v
            GROUP BY 1 ORDER BY 1""",
        {"batches": batch_keys} if batch_keys is not None else None,
    )
    return {
        "duplicate_players": sum(r["duplicates"] for r in rows),
        "detailed_matches_without_players": sum(r["empty"] for r in rows),
        "batches": [r["owner_batch"] or NO_BATCH for r in rows],
    }


def unbatched_accounts(db: Database, max_depth: int) -> dict[str, Any]:
    """Accounts within ``max_depth`` waiting for a batch, and the oldest wait (``accounts_unbatched_age`` index)."""
    waiting = db.fetch_all(
        """SELECT count(*) AS accounts, coalesce(extract(epoch FROM now() - min(discovered_at)), 0) AS oldest_seconds
           FROM accounts WHERE batch_key IS NULL AND depth <= %s""",
        (max_depth,),
    )[0]
    return {"accounts": int(waiting["accounts"]), "oldest_seconds": float(waiting["oldest_seconds"])}


def batched_accounts(db: Database) -> int:
    """Accounts in a batch, what ``max_accounts`` caps (a scan of ``accounts``: asked only under a cap)."""
    return db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL")


def stub_total(db: Database) -> tuple[int, bool]:
    """Rows of ``matches`` and whether that is the planner's estimate: exact under
    ``EXACT_COUNT_BELOW`` rows, else ``pg_class.reltuples`` (kept by autovacuum), as counting a
    large table on every batch would cost each batch more as the crawl grows."""
    estimate = db.fetch_value("SELECT reltuples::bigint FROM pg_class WHERE oid = 'matches'::regclass")
    if estimate is not None and estimate >= EXACT_COUNT_BELOW:
        return int(estimate), True
    return db.fetch_value("SELECT count(*) FROM matches"), False


def gave_up_details(db: Database, *, sample: int = 5) -> dict[str, Any]:
    """Stubs that failed on every attempt (through the ``matches_failed_details`` index: failed
    stubs only), with a sample of their errors, and the stub total (``stub_total``)."""
    count = db.fetch_value(f"SELECT count(*) FROM matches WHERE {stub_gave_up()}")
    rows = db.fetch_all(f"SELECT match_id, fetch_error FROM matches WHERE {stub_gave_up()} LIMIT %s", (sample,))
    stubs, estimated = stub_total(db)
    return {"stubs": stubs, "stubs_estimated": estimated, "gave_up": count, "sample": rows}


def inconsistent_smurf_verdicts(db: Database) -> int:
    return db.fetch_value(
        "SELECT count(*) FROM smurf_scores WHERE is_smurf <> (total_score >= threshold) OR total_score NOT BETWEEN 0 AND 1"
    )


def hero_ids(db: Database) -> set[int]:
    return {row["hero_id"] for row in db.fetch_all("SELECT hero_id FROM heroes")}


def hero_count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM heroes").fetchone()[0]


def table_row_counts(conn: psycopg.Connection, tables: Iterable[str]) -> dict[str, int]:
    """Rows now of each named table (names are the export's own, quoted as identifiers)."""
    from psycopg import sql

    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0] for t in tables
    }


def waiting_details(db: Database, *, sample: int = 5) -> dict[str, Any]:
    """Stubs pending with an error that was not theirs (an outage, a spent budget, a bad key,
    Steam's GetMatchDetails 500), with a sample of the errors; read through the
    ``matches_waiting_on_errors`` index (those stubs only), so it does not grow with the crawl."""
    count = db.fetch_value(f"SELECT count(*) FROM matches WHERE {stub_waiting()}")
    rows = db.fetch_all(
        f"SELECT match_id, fetch_error FROM matches WHERE {stub_waiting()} "
        "ORDER BY last_fetch_attempt NULLS FIRST LIMIT %s",
        (sample,),
    )
    return {"waiting": count, "sample": rows}
