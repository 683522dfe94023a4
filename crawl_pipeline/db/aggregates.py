"""player_match_type_stats: per account x hero x match type, folded in from detailed matches.

Match types (see crawl_pipeline.domain.match_types): ``ranked`` = lobby_type 7,
``normal`` = lobby_type 0, and ``all`` = every detailed match whatever its lobby type
(practice, tournament, co-op bots, battle cup, event, unknown/NULL ...). Those other lobby
types therefore count only in ``all``.

Incremental: ``aggregate_batch`` claims up to ``batch_size`` detailed, unaggregated matches with
``FOR UPDATE SKIP LOCKED`` (concurrent runs take disjoint batches), marks them
``stats_aggregated`` and upserts their sums (``ON CONFLICT ... DO UPDATE`` adds) in the same
transaction: a failure rolls back both, so a match is counted exactly once.
Players without an account (NULL, <= 0 or 4294967295) and hero ids not in ``heroes`` are skipped.

``rebuild_all`` recomputes the table from every detailed match in one statement; an advisory
lock (exclusive for the rebuild, shared for batches) keeps the two from interleaving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID
from crawl_pipeline.domain.match_types import match_type_case

AGGREGATION_LOCK_ID = 0x706D7473  # "pmts"

_COLUMNS = (
    "account_id, hero_id, match_type, games, wins, kills, deaths, assists, "
    "gold_per_min_sum, xp_per_min_sum, last_hits, first_match_at, last_match_at, updated_at"
)

_SELECT = f"""
SELECT mp.account_id, mp.hero_id, t.match_type,
       count(*) AS games,
       count(*) FILTER (WHERE mp.win) AS wins,
       coalesce(sum(mp.kills), 0), coalesce(sum(mp.deaths), 0), coalesce(sum(mp.assists), 0),
       coalesce(sum(mp.gold_per_min), 0), coalesce(sum(mp.xp_per_min), 0), coalesce(sum(mp.last_hits), 0),
       min(m.start_time), max(m.start_time), now()
FROM matches m
JOIN match_players mp ON mp.match_id = m.match_id
JOIN heroes h ON h.hero_id = mp.hero_id
CROSS JOIN LATERAL (VALUES ('all'), ({match_type_case("m.lobby_type")})) AS t(match_type)
WHERE {{matches_filter}}
  AND mp.account_id > 0 AND mp.account_id <> {ANONYMOUS_ACCOUNT_ID}
  AND t.match_type IS NOT NULL
GROUP BY mp.account_id, mp.hero_id, t.match_type
ORDER BY mp.account_id, mp.hero_id, t.match_type
"""

# Locking rows in key order keeps two concurrent upserts from deadlocking.
UPSERT_SQL = f"""
INSERT INTO player_match_type_stats AS p ({_COLUMNS})
{_SELECT.format(matches_filter="m.match_id = ANY(%(ids)s)")}
ON CONFLICT (account_id, hero_id, match_type) DO UPDATE SET
    games = p.games + EXCLUDED.games,
    wins = p.wins + EXCLUDED.wins,
    kills = p.kills + EXCLUDED.kills,
    deaths = p.deaths + EXCLUDED.deaths,
    assists = p.assists + EXCLUDED.assists,
    gold_per_min_sum = p.gold_per_min_sum + EXCLUDED.gold_per_min_sum,
    xp_per_min_sum = p.xp_per_min_sum + EXCLUDED.xp_per_min_sum,
    last_hits = p.last_hits + EXCLUDED.last_hits,
    first_match_at = LEAST(p.first_match_at, EXCLUDED.first_match_at),
    last_match_at = GREATEST(p.last_match_at, EXCLUDED.last_match_at),
    updated_at = EXCLUDED.updated_at
"""

CLAIM_SQL = """
UPDATE matches m SET stats_aggregated = true, stats_aggregated_at = now()
WHERE m.match_id IN (
    SELECT match_id FROM matches
    WHERE has_details AND NOT stats_aggregated
    ORDER BY match_id
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
)
RETURNING m.match_id
"""

SKIPPED_SQL = f"""
SELECT count(*) FILTER (WHERE account_id IS NULL OR account_id <= 0 OR account_id = {ANONYMOUS_ACCOUNT_ID}) AS anonymous,
       count(*) FILTER (WHERE account_id > 0 AND account_id <> {ANONYMOUS_ACCOUNT_ID}
                          AND NOT EXISTS (SELECT 1 FROM heroes h WHERE h.hero_id = mp.hero_id)) AS unknown_hero
FROM match_players mp WHERE {{matches_filter}}
"""

# One statement: the matches marked and the matches summed come from the same snapshot.
REBUILD_SQL = f"""
WITH marked AS (
    UPDATE matches SET stats_aggregated = true, stats_aggregated_at = now()
    WHERE has_details AND NOT stats_aggregated
    RETURNING match_id
)
INSERT INTO player_match_type_stats ({_COLUMNS})
{_SELECT.format(matches_filter="m.has_details")}
"""

LAG_SQL = """
SELECT count(*), min(coalesce(details_fetched_at, created_at))
FROM matches WHERE has_details AND NOT stats_aggregated
"""


@dataclass(frozen=True)
class BatchResult:
    matches: int
    rows_upserted: int
    anonymous_players: int
    unknown_hero_players: int


@dataclass(frozen=True)
class Lag:
    pending: int
    oldest: datetime | None
    age_seconds: float


def aggregate_batch(conn: psycopg.Connection, batch_size: int) -> BatchResult:
    """Claim, mark and fold one batch of matches; call inside a transaction (``db.transaction()``)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (AGGREGATION_LOCK_ID,))
    ids = [row[0] for row in conn.execute(CLAIM_SQL, {"batch_size": batch_size}).fetchall()]
    if not ids:
        return BatchResult(0, 0, 0, 0)
    with conn.cursor() as cur:
        cur.execute(UPSERT_SQL, {"ids": ids})
        upserted = cur.rowcount
    anonymous, unknown = conn.execute(
        SKIPPED_SQL.format(matches_filter="mp.match_id = ANY(%(ids)s)"), {"ids": ids}
    ).fetchone()
    return BatchResult(len(ids), upserted, anonymous, unknown)


def rebuild_all(conn: psycopg.Connection) -> BatchResult:
    """Recompute player_match_type_stats from every detailed match (one transaction)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (AGGREGATION_LOCK_ID,))
    conn.execute("DELETE FROM player_match_type_stats")
    # A match that lost its details since it was counted is no longer counted.
    conn.execute(
        "UPDATE matches SET stats_aggregated = false, stats_aggregated_at = NULL "
        "WHERE stats_aggregated AND has_details IS NOT TRUE"
    )
    with conn.cursor() as cur:
        cur.execute(REBUILD_SQL)
        rows = cur.rowcount
    matches, anonymous, unknown = conn.execute(
        "SELECT (SELECT count(*) FROM matches WHERE has_details), s.* FROM ("
        + SKIPPED_SQL.format(
            matches_filter="mp.match_id IN (SELECT match_id FROM matches WHERE has_details)"
        )
        + ") s"
    ).fetchone()
    return BatchResult(matches, rows, anonymous, unknown)


def aggregation_lag(conn: psycopg.Connection) -> Lag:
    pending, oldest = conn.execute(LAG_SQL).fetchone()
    age = conn.execute("SELECT extract(epoch FROM now() - %s::timestamptz)", (oldest,)).fetchone()[0] if oldest else 0
    return Lag(pending, oldest, float(age or 0.0))


def table_fingerprint(conn: psycopg.Connection) -> list[tuple]:
    """Every row but updated_at, ordered: for comparing an incremental and a full build."""
    return conn.execute(
        "SELECT account_id, hero_id, match_type, games, wins, kills, deaths, assists, gold_per_min_sum, "
        "xp_per_min_sum, last_hits, first_match_at, last_match_at FROM player_match_type_stats "
        "ORDER BY account_id, hero_id, match_type"
    ).fetchall()


def rows_by_match_type(conn: psycopg.Connection) -> list[tuple]:
    """(match type, rows, games) of player_match_type_stats."""
    return conn.execute(
        "SELECT match_type, count(*), coalesce(sum(games), 0) FROM player_match_type_stats GROUP BY 1 ORDER BY 1"
    ).fetchall()


def consistency_violations(conn: psycopg.Connection) -> tuple[int, int]:
    """(rows with wins > games or games < 1, account x hero keys whose 'all' games are below ranked + normal)."""
    return conn.execute(
        """SELECT (SELECT count(*) FROM player_match_type_stats WHERE wins > games OR games < 1),
                  (SELECT count(*) FROM (
                       SELECT account_id, hero_id FROM player_match_type_stats GROUP BY 1, 2
                       HAVING coalesce(sum(games) FILTER (WHERE match_type = 'all'), 0)
                            < coalesce(sum(games) FILTER (WHERE match_type <> 'all'), 0)) x)"""
    ).fetchone()
