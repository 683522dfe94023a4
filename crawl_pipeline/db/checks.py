"""Read-only queries of the asset checks and the small previews of the Dagster wiring (every
PostgreSQL statement lives under db/). Global queries, cheap with the partial indexes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from crawl_pipeline.db.item_states import stub_gave_up, stub_waiting
from crawl_pipeline.db.pool import Database


def crawl_is_empty(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM accounts)").fetchone()[0]


def orphan_stubs(db: Database) -> int:
    """Matches still waiting for details that no batch owns."""
    return db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch IS NULL AND has_details IS NOT TRUE")


def match_player_violations(db: Database) -> dict[str, int]:
    duplicates = db.fetch_value(
        """SELECT count(*) FROM (SELECT match_id, account_id FROM match_players WHERE account_id IS NOT NULL
                                 GROUP BY 1, 2 HAVING count(*) > 1) d"""
    )
    empty = db.fetch_value(
        "SELECT count(*) FROM matches m WHERE has_details AND NOT EXISTS "
        "(SELECT 1 FROM match_players p WHERE p.match_id = m.match_id)"
    )
    return {"duplicate_players": duplicates, "detailed_matches_without_players": empty}


def unbatched_accounts(db: Database, max_depth: int) -> dict[str, Any]:
    """Accounts within ``max_depth`` waiting for a batch (and the oldest wait), and accounts batched."""
    waiting = db.fetch_all(
        """SELECT count(*) AS accounts, coalesce(extract(epoch FROM now() - min(discovered_at)), 0) AS oldest_seconds
           FROM accounts WHERE batch_key IS NULL AND depth <= %s""",
        (max_depth,),
    )[0]
    batched = db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL")
    return {"accounts": int(waiting["accounts"]), "oldest_seconds": float(waiting["oldest_seconds"]), "batched": batched}


def gave_up_details(db: Database, *, sample: int = 5) -> dict[str, Any]:
    """Stubs that failed on every attempt, of all stubs, with a sample of their errors."""
    row = db.fetch_all(
        f"SELECT count(*) AS stubs, count(*) FILTER (WHERE {stub_gave_up()}) AS gave_up FROM matches"
    )[0]
    rows = db.fetch_all(f"SELECT match_id, fetch_error FROM matches WHERE {stub_gave_up()} LIMIT %s", (sample,))
    return {"stubs": row["stubs"], "gave_up": row["gave_up"], "sample": rows}


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
    Steam's GetMatchDetails 500), with a sample of the errors."""
    count = db.fetch_value(f"SELECT count(*) FROM matches WHERE {stub_waiting()}")
    rows = db.fetch_all(
        f"SELECT match_id, fetch_error FROM matches WHERE {stub_waiting()} "
        "ORDER BY last_fetch_attempt NULLS FIRST LIMIT %s",
        (sample,),
    )
    return {"waiting": count, "sample": rows}
