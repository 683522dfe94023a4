"""Read-only queries of the asset checks and the small previews of the Dagster wiring (every
PostgreSQL statement lives under db/).

The crawl checks run after every batch, so what they read must not grow with the crawl: given a
batch key they read that batch's matches (``matches_owner`` index); without one (a check executed
alone) they read everything, which at millions of matches takes seconds to minutes."""

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


def _owned_by(batch_key: str | None, alias: str = "") -> tuple[str, tuple]:
    """The matches a check looks at: those ``batch_key`` owns (``matches_owner`` index), or all."""
    column = f"{alias}." if alias else ""
    return (f"{column}owner_batch = %s", (batch_key,)) if batch_key is not None else ("true", ())


def match_player_violations(db: Database, batch_key: str | None = None) -> dict[str, int]:
    """Players twice in one match, and detailed matches without players, among the matches of
    ``batch_key`` (None: every match, a scan of all of ``match_players``: about a minute at 27M rows)."""
    scope, params = _owned_by(batch_key, "m")
    if batch_key is None:
        pairs = "SELECT match_id, account_id FROM match_players WHERE account_id IS NOT NULL"
    else:
        pairs = (
            "SELECT p.match_id, p.account_id FROM matches m JOIN match_players p USING (match_id) "
            f"WHERE {scope} AND p.account_id IS NOT NULL"
        )
    duplicates = db.fetch_value(f"SELECT count(*) FROM ({pairs} GROUP BY 1, 2 HAVING count(*) > 1) d", params)
    empty = db.fetch_value(
        f"SELECT count(*) FROM matches m WHERE {scope} AND m.has_details AND NOT EXISTS "
        "(SELECT 1 FROM match_players p WHERE p.match_id = m.match_id)",
        params,
    )
    return {"duplicate_players": duplicates, "detailed_matches_without_players": empty}


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


def gave_up_details(db: Database, batch_key: str | None = None, *, sample: int = 5) -> dict[str, Any]:
    """Stubs that failed on every attempt, of all stubs of ``batch_key`` (None: of every batch),
    with a sample of their errors."""
    scope, params = _owned_by(batch_key)
    row = db.fetch_all(
        f"SELECT count(*) AS stubs, count(*) FILTER (WHERE {stub_gave_up()}) AS gave_up FROM matches WHERE {scope}",
        params,
    )[0]
    rows = db.fetch_all(
        f"SELECT match_id, fetch_error FROM matches WHERE {scope} AND {stub_gave_up()} LIMIT %s", (*params, sample)
    )
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


def waiting_details(db: Database, batch_key: str | None = None, *, sample: int = 5) -> dict[str, Any]:
    """Stubs of ``batch_key`` (None: of every batch) pending with an error that was not theirs (an
    outage, a spent budget, a bad key, Steam's GetMatchDetails 500), with a sample of the errors."""
    scope, params = _owned_by(batch_key)
    count = db.fetch_value(f"SELECT count(*) FROM matches WHERE {scope} AND {stub_waiting()}", params)
    rows = db.fetch_all(
        f"SELECT match_id, fetch_error FROM matches WHERE {scope} AND {stub_waiting()} "
        "ORDER BY last_fetch_attempt NULLS FIRST LIMIT %s",
        (*params, sample),
    )
    return {"waiting": count, "sample": rows}
