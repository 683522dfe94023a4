"""hero_top100 and leaderboards: each rebuilt by one set-based, atomic statement.

Per-hero boards read the index ``hero_stats_leaderboard (hero_id, matches DESC, wins DESC,
account_id)`` through a LATERAL subquery per hero: 100 index entries per hero instead of a
sort of the whole table. The statement upserts the new rows by primary key and deletes the
rows that no longer exist in the same statement, so a concurrent reader sees either the old
board or the new one, never an empty or half-written table (no TRUNCATE, no gap between
DELETE and INSERT).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

MAX_SIZE = 100  # hero_top100.position is CHECKed to 1..100

# Top `size` accounts of one hero by matches (ties: wins, then account_id): an index range scan.
_HERO_TOP_BY_MATCHES = """
    SELECT h.hero_id, t.position, t.account_id, t.matches, t.wins, t.wins::float8 / t.matches AS win_rate
    FROM heroes h
    CROSS JOIN LATERAL (
        SELECT s.account_id, s.matches, s.wins,
               row_number() OVER (ORDER BY s.matches DESC, s.wins DESC, s.account_id) AS position
        FROM hero_stats s
        WHERE s.hero_id = h.hero_id AND s.matches > 0
        ORDER BY s.matches DESC, s.wins DESC, s.account_id
        LIMIT %(size)s
    ) t
"""

HERO_TOP100_SQL = f"""
WITH fresh AS MATERIALIZED ({_HERO_TOP_BY_MATCHES}),
upserted AS (
    INSERT INTO hero_top100 AS o (hero_id, position, account_id, matches, wins, win_rate, computed_at)
    SELECT hero_id, position, account_id, matches, wins, win_rate, now() FROM fresh
    ON CONFLICT (hero_id, position) DO UPDATE SET
        account_id = EXCLUDED.account_id, matches = EXCLUDED.matches, wins = EXCLUDED.wins,
        win_rate = EXCLUDED.win_rate, computed_at = EXCLUDED.computed_at
    RETURNING 1
),
removed AS (
    DELETE FROM hero_top100 o
    WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.hero_id = o.hero_id AND f.position = o.position)
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted) AS rows, (SELECT count(*) FROM removed) AS removed,
       (SELECT count(DISTINCT hero_id) FROM fresh) AS heroes
"""

# The naive form the benchmark compares against: a window over the whole table.
HERO_TOP100_NAIVE_SELECT = """
SELECT hero_id, position, account_id, matches, wins, wins::float8 / matches AS win_rate
FROM (
    SELECT s.*, row_number() OVER (PARTITION BY hero_id ORDER BY matches DESC, wins DESC, account_id) AS position
    FROM hero_stats s WHERE matches > 0
) ranked
WHERE position <= %(size)s
"""

LEADERBOARDS_SQL = f"""
WITH totals AS MATERIALIZED (
    SELECT account_id, sum(matches)::bigint AS matches, sum(wins)::bigint AS wins,
           count(*) FILTER (WHERE matches > 0) AS heroes_played
    FROM hero_stats
    GROUP BY account_id
    HAVING sum(matches) > 0
),
overall_matches AS (
    SELECT 'most_matches'::text AS board, 0 AS hero_id,
           row_number() OVER (ORDER BY matches DESC, wins DESC, account_id) AS position,
           account_id, matches, wins, wins::float8 / matches AS win_rate, heroes_played, 0 AS min_games
    FROM (SELECT * FROM totals ORDER BY matches DESC, wins DESC, account_id LIMIT %(size)s) t
),
overall_win_rate AS (
    SELECT 'best_win_rate'::text, 0,
           row_number() OVER (ORDER BY wins::float8 / matches DESC, matches DESC, account_id),
           account_id, matches, wins, wins::float8 / matches, heroes_played, %(min_games)s
    FROM (SELECT * FROM totals WHERE matches >= %(min_games)s
          ORDER BY wins::float8 / matches DESC, matches DESC, account_id LIMIT %(size)s) t
),
hero_matches AS (
    SELECT 'most_matches'::text, hero_id, position, account_id, matches, wins, win_rate, NULL::int, 0
    FROM ({_HERO_TOP_BY_MATCHES}) t
),
hero_win_rate AS (
    SELECT 'best_win_rate'::text, h.hero_id, t.position, t.account_id, t.matches, t.wins,
           t.wins::float8 / t.matches, NULL::int, %(min_hero_games)s
    FROM heroes h
    CROSS JOIN LATERAL (
        SELECT s.account_id, s.matches, s.wins,
               row_number() OVER (ORDER BY s.wins::float8 / s.matches DESC, s.matches DESC, s.account_id) AS position
        FROM hero_stats s
        WHERE s.hero_id = h.hero_id AND s.matches >= %(min_hero_games)s
        ORDER BY s.wins::float8 / s.matches DESC, s.matches DESC, s.account_id
        LIMIT %(size)s
    ) t
),
fresh AS MATERIALIZED (
    SELECT * FROM overall_matches
    UNION ALL SELECT * FROM overall_win_rate
    UNION ALL SELECT * FROM hero_matches
    UNION ALL SELECT * FROM hero_win_rate
),
upserted AS (
    INSERT INTO leaderboards AS o (board, hero_id, position, account_id, matches, wins, win_rate,
                                   heroes_played, min_games, computed_at)
    SELECT board, hero_id, position, account_id, matches, wins, win_rate, heroes_played, min_games, now()
    FROM fresh
    ON CONFLICT (board, hero_id, position) DO UPDATE SET
        account_id = EXCLUDED.account_id, matches = EXCLUDED.matches, wins = EXCLUDED.wins,
        win_rate = EXCLUDED.win_rate, heroes_played = EXCLUDED.heroes_played,
        min_games = EXCLUDED.min_games, computed_at = EXCLUDED.computed_at
    RETURNING 1
),
removed AS (
    DELETE FROM leaderboards o
    WHERE NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.board = o.board AND f.hero_id = o.hero_id AND f.position = o.position)
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted) AS rows, (SELECT count(*) FROM removed) AS removed,
       (SELECT count(*) FROM totals) AS ranked_accounts
"""


@dataclass(frozen=True)
class RebuildResult:
    rows: int
    removed: int
    extra: int  # heroes with a board (hero_top100) / accounts with matches (leaderboards)


def _check_size(size: int) -> None:
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"board size must be between 1 and {MAX_SIZE}, got {size}")


def rebuild_hero_top100(conn: psycopg.Connection, size: int = MAX_SIZE) -> RebuildResult:
    """Replace hero_top100 with the current top ``size`` accounts of every hero, atomically."""
    _check_size(size)
    rows, removed, heroes = conn.execute(HERO_TOP100_SQL, {"size": size}).fetchone()
    return RebuildResult(rows, removed, heroes)


def rebuild_leaderboards(
    conn: psycopg.Connection, *, size: int = MAX_SIZE, min_games: int = 100, min_hero_games: int = 20
) -> RebuildResult:
    """Replace every board in ``leaderboards`` in one statement (see migration 0003)."""
    _check_size(size)
    if min_games < 1 or min_hero_games < 1:
        raise ValueError("minimum games thresholds must be at least 1")
    params = {"size": size, "min_games": min_games, "min_hero_games": min_hero_games}
    rows, removed, accounts = conn.execute(LEADERBOARDS_SQL, params).fetchone()
    return RebuildResult(rows, removed, accounts)


def hero_top100_summary(conn: psycopg.Connection, limit: int = 200) -> list[dict]:
    """Per hero: name, accounts on the board, the leader and its matches / win rate."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT h.hero_id, h.localized_name AS hero, count(t.position) AS accounts,
                      max(t.account_id) FILTER (WHERE t.position = 1) AS leader,
                      max(t.matches) AS top_matches,
                      max(t.win_rate) FILTER (WHERE t.position = 1) AS leader_win_rate
               FROM heroes h JOIN hero_top100 t USING (hero_id)
               GROUP BY h.hero_id, h.localized_name
               ORDER BY top_matches DESC, h.hero_id
               LIMIT %s""",
            (limit,),
        ).fetchall()


def board_rows(conn: psycopg.Connection, board: str, hero_id: int = 0, limit: int = 10) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT position, account_id, matches, wins, win_rate, min_games
               FROM leaderboards WHERE board = %s AND hero_id = %s AND position <= %s ORDER BY position""",
            (board, hero_id, limit),
        ).fetchall()


def hero_top100_violations(conn: psycopg.Connection) -> dict[str, int]:
    """Data-quality counts; all zero on a valid board."""
    return dict(
        zip(
            ("over_100", "gaps", "out_of_order", "unknown_heroes"),
            conn.execute(
                """WITH per_hero AS (
                       SELECT hero_id, count(*) AS n, max(position) AS top FROM hero_top100 GROUP BY hero_id),
                   ordered AS (
                       SELECT matches, wins, lag(matches) OVER w AS prev_matches, lag(wins) OVER w AS prev_wins
                       FROM hero_top100 WINDOW w AS (PARTITION BY hero_id ORDER BY position))
                   SELECT (SELECT count(*) FROM per_hero WHERE n > 100),
                          (SELECT count(*) FROM per_hero WHERE top <> n),
                          (SELECT count(*) FROM ordered
                           WHERE matches > prev_matches OR (matches = prev_matches AND wins > prev_wins)),
                          (SELECT count(*) FROM hero_top100 t WHERE NOT EXISTS (
                               SELECT 1 FROM heroes h WHERE h.hero_id = t.hero_id))"""
            ).fetchone(),
            strict=True,
        )
    )


def leaderboards_violations(conn: psycopg.Connection) -> dict[str, int]:
    """Data-quality counts for leaderboards; all zero on valid boards."""
    return dict(
        zip(
            ("gaps", "below_threshold", "out_of_order"),
            conn.execute(
                """WITH per_board AS (
                       SELECT board, hero_id, count(*) AS n, max(position) AS top
                       FROM leaderboards GROUP BY board, hero_id),
                   ordered AS (
                       SELECT board, matches, win_rate,
                              lag(matches) OVER w AS prev_matches, lag(win_rate) OVER w AS prev_rate
                       FROM leaderboards WINDOW w AS (PARTITION BY board, hero_id ORDER BY position))
                   SELECT (SELECT count(*) FROM per_board WHERE top <> n),
                          (SELECT count(*) FROM leaderboards WHERE matches < min_games),
                          (SELECT count(*) FROM ordered
                           WHERE (board = 'most_matches' AND matches > prev_matches)
                              OR (board = 'best_win_rate' AND win_rate > prev_rate))"""
            ).fetchone(),
            strict=True,
        )
    )


def board_summary(conn: psycopg.Connection) -> list[tuple]:
    """Per board: rows over all heroes (hero_id 0) and heroes with a board of their own."""
    return conn.execute(
        "SELECT board, count(*) FILTER (WHERE hero_id = 0), count(DISTINCT hero_id) FILTER (WHERE hero_id > 0) "
        "FROM leaderboards GROUP BY board ORDER BY board"
    ).fetchall()


def hero_top100_heroes(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(DISTINCT hero_id) FROM hero_top100").fetchone()[0]
