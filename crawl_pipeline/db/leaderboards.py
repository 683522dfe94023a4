"""hero_top100 and leaderboards: each built by one set-based, atomic statement, incrementally by default.

Per-hero boards read the index ``hero_stats_leaderboard (hero_id, matches DESC, wins DESC,
account_id)`` through a LATERAL subquery per hero: 100 index entries per hero instead of a
sort of the whole table. Each statement upserts the new rows by primary key and deletes the
rows that no longer exist in the same statement, so a concurrent reader sees either the old
board or the new one, never an empty or half-written table (no TRUNCATE, no gap between
DELETE and INSERT).

Incremental builds (migration 0021). Triggers on hero_stats note, in ``hero_stats_changes``, every
account whose rows a transaction inserted, updated or deleted, with that transaction's id; each
build stores the snapshot of its statement in ``leaderboard_builds``. The next build reads the
accounts whose transaction that snapshot did not see (the changed accounts C) and recomputes only
what they can move, in one statement again (one snapshot for what it reads and what it stores):

* per-hero boards can change only where an account of C sat on the stored board, or now has a row
  ranking at or above its last row (any qualifying row, when the board is not full): only those
  heroes' boards are recomputed. Most-matches boards (hero_top100, leaderboards) from the index (exact);
* the overall boards (hero_id 0): ``leaderboard_account_totals`` (per-account sums, kept by the
  leaderboards build) has an index in each board's order; its first size + |C| entries without C,
  merged with C's new totals, hold the board (exact);
* best_win_rate per such hero: the stored board without C merged with C's qualifying rows.
  That holds the true board when the stored board was not full, or when at least ``size`` merged
  rows rank at or above its last row (every row not merged ranked below that row before and is
  unchanged). Otherwise that hero is recomputed from hero_stats (a "fallback").

The first build, a build with other parameters (size, thresholds) and ``full_rebuild=True`` run
the full statements, which also rewrite the totals and store the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

MAX_SIZE = 100  # hero_top100.position is CHECKed to 1..100
BUILD_LOCK_CLASS = 0x6C647262  # "ldrb": pg_advisory_xact_lock(class, board) serializes builds of one board
_BOARD_LOCKS = {"hero_top100": 1, "leaderboards": 2}


def _hero_top_by_matches(heroes: str = "heroes h") -> str:
    """Top `size` accounts of each hero in ``heroes`` by matches (ties: wins, then account_id): an index range scan."""
    return f"""
    SELECT h.hero_id, t.position, t.account_id, t.matches, t.wins, t.wins::float8 / t.matches AS win_rate
    FROM {heroes}
    CROSS JOIN LATERAL (
        SELECT s.account_id, s.matches, s.wins,
               row_number() OVER (ORDER BY s.matches DESC, s.wins DESC, s.account_id) AS position
        FROM hero_stats s
        WHERE s.hero_id = h.hero_id AND s.matches > 0
        ORDER BY s.matches DESC, s.wins DESC, s.account_id
        LIMIT %(size)s
    ) t
"""


def _hero_top_by_win_rate(heroes: str = "heroes h") -> str:
    """Per hero in ``heroes``: best win rate among rows with at least min_hero_games (ties: matches, account_id)."""
    return f"""
    SELECT 'best_win_rate'::text, h.hero_id, t.position, t.account_id, t.matches, t.wins,
           t.wins::float8 / t.matches, NULL::int, %(min_hero_games)s
    FROM {heroes}
    CROSS JOIN LATERAL (
        SELECT s.account_id, s.matches, s.wins,
               row_number() OVER (ORDER BY s.wins::float8 / s.matches DESC, s.matches DESC, s.account_id) AS position
        FROM hero_stats s
        WHERE s.hero_id = h.hero_id AND s.matches >= %(min_hero_games)s
        ORDER BY s.wins::float8 / s.matches DESC, s.matches DESC, s.account_id
        LIMIT %(size)s
    ) t
"""


_HERO_TOP_BY_MATCHES = _hero_top_by_matches()  # the benchmark times this select alone

# The state row of a full build: its parameters and the snapshot its statement read.
_STORE_FULL_BUILD = """
state AS (
    INSERT INTO leaderboard_builds AS b (board, params, snapshot, mode, changed_accounts, built_at)
    VALUES (%(board)s, %(params)s, pg_current_snapshot(), 'full', 0, now())
    ON CONFLICT (board) DO UPDATE SET
        params = EXCLUDED.params, snapshot = EXCLUDED.snapshot, mode = EXCLUDED.mode,
        changed_accounts = EXCLUDED.changed_accounts, built_at = EXCLUDED.built_at
    RETURNING 1
)"""

# The accounts changed since the last build of %(board)s (whose writing transaction its snapshot did not see).
_CHANGED_SINCE_LAST_BUILD = """
prev AS (SELECT snapshot FROM leaderboard_builds WHERE board = %(board)s),
changed AS MATERIALIZED (
    SELECT c.account_id FROM hero_stats_changes c, prev
    WHERE c.changed_xid >= pg_snapshot_xmin(prev.snapshot)
      AND NOT pg_visible_in_snapshot(c.changed_xid, prev.snapshot)
),
changed_rows AS MATERIALIZED (
    SELECT s.account_id, s.hero_id, s.matches, s.wins FROM changed c JOIN hero_stats s USING (account_id)
)"""

_STORE_INCREMENTAL_BUILD = """
state AS (
    UPDATE leaderboard_builds SET snapshot = pg_current_snapshot(), mode = 'incremental',
        changed_accounts = (SELECT count(*) FROM changed), built_at = now()
    WHERE board = %(board)s
    RETURNING 1
)"""

_UPSERT_HERO_TOP100 = """
    INSERT INTO hero_top100 AS o (hero_id, position, account_id, matches, wins, win_rate, computed_at)
    SELECT hero_id, position, account_id, matches, wins, win_rate, now() FROM fresh
    ON CONFLICT (hero_id, position) DO UPDATE SET
        account_id = EXCLUDED.account_id, matches = EXCLUDED.matches, wins = EXCLUDED.wins,
        win_rate = EXCLUDED.win_rate, computed_at = EXCLUDED.computed_at"""

HERO_TOP100_SQL = f"""
WITH fresh AS MATERIALIZED ({_HERO_TOP_BY_MATCHES}),
upserted AS ({_UPSERT_HERO_TOP100}
    RETURNING 1
),
removed AS (
    DELETE FROM hero_top100 o
    WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.hero_id = o.hero_id AND f.position = o.position)
    RETURNING 1
),
{_STORE_FULL_BUILD}
SELECT (SELECT count(*) FROM upserted) AS rows, (SELECT count(*) FROM removed) AS removed,
       (SELECT count(DISTINCT hero_id) FROM fresh) AS heroes
"""

# The order of most-matches boards as a key that sorts ascending: a row "ranks at or above" another
# when its key is <= the other's (row comparison).
_MATCHES_KEY = "(-{t}.matches::bigint, -{t}.wins::bigint, {t}.account_id)"

# Recompute the heroes the changed accounts touch; rows whose content is unchanged are not rewritten.
HERO_TOP100_INCREMENTAL_SQL = f"""
WITH {_CHANGED_SINCE_LAST_BUILD},
last_rows AS MATERIALIZED (SELECT hero_id, account_id, matches, wins FROM hero_top100 WHERE position = %(size)s),
touched AS MATERIALIZED (  -- a changed account was on the board, or now ranks at or above its last row
    SELECT r.hero_id FROM changed_rows r LEFT JOIN last_rows b USING (hero_id)
    WHERE r.matches > 0 AND (b.hero_id IS NULL OR {_MATCHES_KEY.format(t="r")} <= {_MATCHES_KEY.format(t="b")})
    UNION
    SELECT t.hero_id FROM hero_top100 t JOIN changed c USING (account_id)
),
fresh AS MATERIALIZED ({_hero_top_by_matches("heroes h JOIN touched USING (hero_id)")}),
upserted AS ({_UPSERT_HERO_TOP100}
    WHERE (o.account_id, o.matches, o.wins, o.win_rate)
          IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.matches, EXCLUDED.wins, EXCLUDED.win_rate)
    RETURNING 1
),
kept AS (  -- rows per touched hero now: positions above it go (fresh positions are 1..n)
    SELECT t.hero_id, count(f.position) AS n FROM touched t LEFT JOIN fresh f USING (hero_id) GROUP BY t.hero_id
),
removed AS (
    DELETE FROM hero_top100 o USING kept k
    WHERE o.hero_id = k.hero_id AND o.position > k.n
    RETURNING 1
),
{_STORE_INCREMENTAL_BUILD}
SELECT (SELECT count(*) FROM upserted) AS rows, (SELECT count(*) FROM removed) AS removed,
       (SELECT count(*) FROM changed) AS changed, (SELECT count(*) FROM touched) AS touched,
       (SELECT count(*) FROM state) AS stored
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

_UPSERT_LEADERBOARDS = """
    INSERT INTO leaderboards AS o (board, hero_id, position, account_id, matches, wins, win_rate,
                                   heroes_played, min_games, computed_at)
    SELECT board, hero_id, position, account_id, matches, wins, win_rate, heroes_played, min_games, now()
    FROM fresh
    ON CONFLICT (board, hero_id, position) DO UPDATE SET
        account_id = EXCLUDED.account_id, matches = EXCLUDED.matches, wins = EXCLUDED.wins,
        win_rate = EXCLUDED.win_rate, heroes_played = EXCLUDED.heroes_played,
        min_games = EXCLUDED.min_games, computed_at = EXCLUDED.computed_at"""

# the per-account sums behind the overall boards, from the CTE {source} (all accounts on a full
# build, the changed ones on an incremental build); unchanged rows are not rewritten
_UPSERT_ACCOUNT_TOTALS = """
    INSERT INTO leaderboard_account_totals AS o (account_id, matches, wins, heroes_played)
    SELECT account_id, matches, wins, heroes_played FROM {source}
    ON CONFLICT (account_id) DO UPDATE SET
        matches = EXCLUDED.matches, wins = EXCLUDED.wins, heroes_played = EXCLUDED.heroes_played
    WHERE (o.matches, o.wins, o.heroes_played) IS DISTINCT FROM (EXCLUDED.matches, EXCLUDED.wins, EXCLUDED.heroes_played)
    RETURNING 1
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
hero_win_rate AS ({_hero_top_by_win_rate()}),
fresh AS MATERIALIZED (
    SELECT * FROM overall_matches
    UNION ALL SELECT * FROM overall_win_rate
    UNION ALL SELECT * FROM hero_matches
    UNION ALL SELECT * FROM hero_win_rate
),
upserted AS ({_UPSERT_LEADERBOARDS}
    RETURNING 1
),
removed AS (
    DELETE FROM leaderboards o
    WHERE NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.board = o.board AND f.hero_id = o.hero_id AND f.position = o.position)
    RETURNING 1
),
totals_upserted AS ({_UPSERT_ACCOUNT_TOTALS.format(source='totals')}),
totals_removed AS (
    DELETE FROM leaderboard_account_totals o
    WHERE NOT EXISTS (SELECT 1 FROM totals t WHERE t.account_id = o.account_id)
    RETURNING 1
),
{_STORE_FULL_BUILD}
SELECT (SELECT count(*) FROM upserted) AS rows, (SELECT count(*) FROM removed) AS removed,
       (SELECT count(*) FROM totals) AS ranked_accounts
"""

# The order of win-rate boards as a key that sorts ascending: a row "ranks at or above" another
# when its key is <= the other's (row comparison).
_WR_KEY = "(-({t}.wins::float8 / {t}.matches), -{t}.matches::bigint, {t}.account_id)"

LEADERBOARDS_INCREMENTAL_SQL = f"""
WITH {_CHANGED_SINCE_LAST_BUILD},
new_totals AS MATERIALIZED (
    SELECT account_id, sum(matches)::bigint AS matches, sum(wins)::bigint AS wins,
           count(*) FILTER (WHERE matches > 0) AS heroes_played
    FROM changed_rows
    GROUP BY account_id
    HAVING sum(matches) > 0
),
-- Over all heroes: the stored totals of the accounts not changed are still exact, and the first
-- size + |changed| of them in each board's order (an index range) hold every one that can make the
-- board. %(expected)s is the count of changed accounts read just before under the build lock; should
-- more have committed since, the whole table is read instead.
n_changed AS MATERIALIZED (SELECT count(*) AS n FROM changed),
kept_by_matches AS (
    SELECT t.account_id, t.matches, t.wins, t.heroes_played::bigint AS heroes_played
    FROM (SELECT * FROM leaderboard_account_totals
          ORDER BY matches DESC, wins DESC, account_id LIMIT %(size)s + %(expected)s) t
    WHERE (SELECT n FROM n_changed) <= %(expected)s
      AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.account_id = t.account_id)
    UNION ALL
    SELECT t.account_id, t.matches, t.wins, t.heroes_played::bigint
    FROM leaderboard_account_totals t
    WHERE (SELECT n FROM n_changed) > %(expected)s
      AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.account_id = t.account_id)
),
kept_by_win_rate AS (
    SELECT t.account_id, t.matches, t.wins, t.heroes_played::bigint AS heroes_played
    FROM (SELECT * FROM leaderboard_account_totals WHERE matches >= %(min_games)s
          ORDER BY wins::float8 / matches DESC, matches DESC, account_id LIMIT %(size)s + %(expected)s) t
    WHERE (SELECT n FROM n_changed) <= %(expected)s
      AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.account_id = t.account_id)
    UNION ALL
    SELECT t.account_id, t.matches, t.wins, t.heroes_played::bigint
    FROM leaderboard_account_totals t
    WHERE (SELECT n FROM n_changed) > %(expected)s AND t.matches >= %(min_games)s
      AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.account_id = t.account_id)
),
overall_matches AS (
    SELECT 'most_matches'::text AS board, 0 AS hero_id,
           row_number() OVER (ORDER BY matches DESC, wins DESC, account_id) AS position,
           account_id, matches, wins, wins::float8 / matches AS win_rate, heroes_played, 0 AS min_games
    FROM (SELECT * FROM (SELECT * FROM kept_by_matches UNION ALL SELECT * FROM new_totals) u
          ORDER BY matches DESC, wins DESC, account_id LIMIT %(size)s) t
),
overall_win_rate AS (
    SELECT 'best_win_rate'::text, 0,
           row_number() OVER (ORDER BY wins::float8 / matches DESC, matches DESC, account_id),
           account_id, matches, wins, wins::float8 / matches, heroes_played, %(min_games)s
    FROM (SELECT * FROM (SELECT * FROM kept_by_win_rate
                         UNION ALL SELECT * FROM new_totals WHERE matches >= %(min_games)s) u
          ORDER BY wins::float8 / matches DESC, matches DESC, account_id LIMIT %(size)s) t
),
-- Per hero, a board can change only where a changed account sat on it, or now ranks at or above
-- its last row (any qualifying row, when the board is not full).
last_rows AS MATERIALIZED (
    SELECT board, hero_id, account_id, matches, wins FROM leaderboards WHERE hero_id > 0 AND position = %(size)s
),
touched_matches AS MATERIALIZED (
    SELECT r.hero_id FROM changed_rows r LEFT JOIN last_rows b ON b.board = 'most_matches' AND b.hero_id = r.hero_id
    WHERE r.matches > 0 AND (b.hero_id IS NULL OR {_MATCHES_KEY.format(t="r")} <= {_MATCHES_KEY.format(t="b")})
    UNION
    SELECT l.hero_id FROM leaderboards l JOIN changed c USING (account_id)
    WHERE l.board = 'most_matches' AND l.hero_id > 0
),
hero_matches AS (
    SELECT 'most_matches'::text, hero_id, position, account_id, matches, wins, win_rate, NULL::int, 0
    FROM ({_hero_top_by_matches("heroes h JOIN touched_matches USING (hero_id)")}) t
),
-- best win rate per hero: merged like the overall board; heroes where that may miss a row are recomputed
touched_win_rate AS MATERIALIZED (
    SELECT r.hero_id FROM changed_rows r LEFT JOIN last_rows b ON b.board = 'best_win_rate' AND b.hero_id = r.hero_id
    WHERE r.matches >= %(min_hero_games)s
      AND (b.hero_id IS NULL OR {_WR_KEY.format(t="r")} <= {_WR_KEY.format(t="b")})
    UNION
    SELECT l.hero_id FROM leaderboards l JOIN changed c USING (account_id)
    WHERE l.board = 'best_win_rate' AND l.hero_id > 0
),
hero_wr_merged AS MATERIALIZED (
    SELECT l.hero_id, l.account_id, l.matches, l.wins
    FROM leaderboards l JOIN touched_win_rate USING (hero_id)
    WHERE l.board = 'best_win_rate'
      AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.account_id = l.account_id)
    UNION ALL
    SELECT r.hero_id, r.account_id, r.matches, r.wins
    FROM changed_rows r JOIN touched_win_rate USING (hero_id) WHERE r.matches >= %(min_hero_games)s
),
hero_wr_recomputed AS MATERIALIZED (
    SELECT b.hero_id
    FROM leaderboards b JOIN touched_win_rate USING (hero_id)
    LEFT JOIN hero_wr_merged m ON m.hero_id = b.hero_id AND {_WR_KEY.format(t="m")} <= {_WR_KEY.format(t="b")}
    WHERE b.board = 'best_win_rate' AND b.position = %(size)s
    GROUP BY b.hero_id
    HAVING count(m.account_id) < %(size)s
),
hero_win_rate AS (
    SELECT 'best_win_rate'::text, hero_id, position, account_id, matches, wins,
           wins::float8 / matches, NULL::int, %(min_hero_games)s
    FROM (SELECT m.*, row_number() OVER (PARTITION BY m.hero_id
                                         ORDER BY m.wins::float8 / m.matches DESC, m.matches DESC, m.account_id) AS position
          FROM hero_wr_merged m
          WHERE NOT EXISTS (SELECT 1 FROM hero_wr_recomputed r WHERE r.hero_id = m.hero_id)) ranked
    WHERE position <= %(size)s
    UNION ALL
    {_hero_top_by_win_rate("heroes h JOIN hero_wr_recomputed USING (hero_id)")}
),
fresh AS MATERIALIZED (
    SELECT * FROM overall_matches
    UNION ALL SELECT * FROM overall_win_rate
    UNION ALL SELECT * FROM hero_matches
    UNION ALL SELECT * FROM hero_win_rate
),
recomputed AS MATERIALIZED (
    SELECT 'most_matches'::text AS board, 0 AS hero_id
    UNION ALL SELECT 'best_win_rate', 0
    UNION ALL SELECT 'most_matches', hero_id FROM touched_matches
    UNION ALL SELECT 'best_win_rate', hero_id FROM touched_win_rate
),
upserted AS ({_UPSERT_LEADERBOARDS}
    WHERE (o.account_id, o.matches, o.wins, o.win_rate, o.heroes_played, o.min_games)
          IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.matches, EXCLUDED.wins, EXCLUDED.win_rate,
                            EXCLUDED.heroes_played, EXCLUDED.min_games)
    RETURNING 1
),
kept AS (  -- rows per recomputed board now: positions above it go (fresh positions are 1..n)
    SELECT r.board, r.hero_id, count(f.position) AS n
    FROM recomputed r LEFT JOIN fresh f ON f.board = r.board AND f.hero_id = r.hero_id
    GROUP BY r.board, r.hero_id
),
removed AS (
    DELETE FROM leaderboards o USING kept k
    WHERE o.board = k.board AND o.hero_id = k.hero_id AND o.position > k.n
    RETURNING 1
),
totals_upserted AS ({_UPSERT_ACCOUNT_TOTALS.format(source='new_totals')}),
totals_removed AS (
    DELETE FROM leaderboard_account_totals o USING changed c
    WHERE o.account_id = c.account_id AND NOT EXISTS (SELECT 1 FROM new_totals n WHERE n.account_id = o.account_id)
    RETURNING 1
),
{_STORE_INCREMENTAL_BUILD}
SELECT (SELECT count(*) FROM upserted) AS rows, (SELECT count(*) FROM removed) AS removed,
       (SELECT count(*) FROM changed) AS changed, (SELECT count(*) FROM recomputed) AS recomputed,
       (SELECT count(*) FROM state) AS stored,
       (SELECT count(*) FROM hero_wr_recomputed) AS fallbacks,
       (SELECT n > %(expected)s FROM n_changed) AS overall_scanned
"""

# Forget the changes every stored build has seen (their transactions ended before its snapshot).
# SKIP LOCKED: a build never waits for a writer that is noting a change of the same account.
PRUNE_CHANGES_SQL = """
DELETE FROM hero_stats_changes
WHERE account_id IN (
    SELECT account_id FROM hero_stats_changes
    WHERE changed_xid < (SELECT pg_snapshot_xmin(snapshot) FROM leaderboard_builds ORDER BY 1 LIMIT 1)
    FOR UPDATE SKIP LOCKED)
"""


@dataclass(frozen=True)
class RebuildResult:
    rows: int
    removed: int
    extra: int  # heroes with a board (hero_top100) / accounts with matches (leaderboards)


@dataclass(frozen=True)
class BuildResult:
    """What one build did; ``mode`` is "full" or "incremental", ``reason`` says why."""

    mode: str
    reason: str
    rows_written: int  # rows inserted or changed
    removed: int
    recomputed: int  # heroes (hero_top100) / boards, one per (board, hero_id) (leaderboards)
    changed_accounts: int | None  # accounts changed since the last build; None when there was none
    fallbacks: int = 0  # per-hero win-rate boards the merge could not settle, recomputed from hero_stats
    pruned: int = 0  # change-log rows no stored build needs any more


def _check_size(size: int) -> None:
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"board size must be between 1 and {MAX_SIZE}, got {size}")


def _leaderboard_params(size: int, min_games: int, min_hero_games: int) -> dict:
    _check_size(size)
    if min_games < 1 or min_hero_games < 1:
        raise ValueError("minimum games thresholds must be at least 1")
    return {"size": size, "min_games": min_games, "min_hero_games": min_hero_games}


def _lock_last_build(conn: psycopg.Connection, board: str) -> tuple[dict | None, int | None]:
    """Serialize builds of ``board`` (until commit); its stored parameters and changes since, if built before."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (BUILD_LOCK_CLASS, _BOARD_LOCKS[board]))
    row = conn.execute(
        """SELECT b.params,
                  (SELECT count(*) FROM hero_stats_changes c
                   WHERE c.changed_xid >= pg_snapshot_xmin(b.snapshot)
                     AND NOT pg_visible_in_snapshot(c.changed_xid, b.snapshot))
           FROM leaderboard_builds b WHERE b.board = %s FOR UPDATE""",
        (board,),
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _mode(full_rebuild: bool, stored: dict | None, params: dict) -> tuple[str, str]:
    if full_rebuild:
        return "full", "requested"
    if stored is None:
        return "full", "first build"
    if stored != params:
        return "full", "parameters changed"
    return "incremental", "changes since the last build"


def _check_stored(stored_rows: int) -> None:
    if stored_rows != 1:  # cannot happen: this transaction holds the state row (FOR UPDATE)
        raise RuntimeError("the leaderboard build's state row vanished during the build")


def prune_changes(conn: psycopg.Connection) -> int:
    return conn.execute(PRUNE_CHANGES_SQL).rowcount


def rebuild_hero_top100(conn: psycopg.Connection, size: int = MAX_SIZE) -> RebuildResult:
    """Replace hero_top100 with the current top ``size`` accounts of every hero, atomically (a full rebuild)."""
    _check_size(size)
    rows, removed, heroes = conn.execute(
        HERO_TOP100_SQL, {"size": size, "board": "hero_top100", "params": Jsonb({"size": size})}
    ).fetchone()
    return RebuildResult(rows, removed, heroes)


def rebuild_leaderboards(
    conn: psycopg.Connection, *, size: int = MAX_SIZE, min_games: int = 100, min_hero_games: int = 20
) -> RebuildResult:
    """Replace every board in ``leaderboards`` (and the account totals) in one statement (a full rebuild)."""
    params = _leaderboard_params(size, min_games, min_hero_games)
    rows, removed, accounts = conn.execute(
        LEADERBOARDS_SQL, {**params, "board": "leaderboards", "params": Jsonb(params)}
    ).fetchone()
    return RebuildResult(rows, removed, accounts)


def build_hero_top100(conn: psycopg.Connection, size: int = MAX_SIZE, *, full_rebuild: bool = False) -> BuildResult:
    """Bring hero_top100 up to date: incrementally from the accounts changed since the last build, else in full.

    Run it in a transaction of its own (READ COMMITTED): the stored snapshot must be the one the
    build's statement reads, and builds of the board are serialized until commit.
    """
    _check_size(size)
    params = {"size": size}
    stored, changed = _lock_last_build(conn, "hero_top100")
    mode, reason = _mode(full_rebuild, stored, params)
    if mode == "full":
        result = rebuild_hero_top100(conn, size)
        return BuildResult(mode, reason, result.rows, result.removed, result.extra, changed, 0, prune_changes(conn))
    conn.execute("SET LOCAL jit = off")  # compiling the statement would cost more than running it
    rows, removed, changed, touched, stored_rows = conn.execute(
        HERO_TOP100_INCREMENTAL_SQL, {"size": size, "board": "hero_top100"}
    ).fetchone()
    _check_stored(stored_rows)
    return BuildResult(mode, reason, rows, removed, touched, changed, 0, prune_changes(conn))


def build_leaderboards(
    conn: psycopg.Connection,
    *,
    size: int = MAX_SIZE,
    min_games: int = 100,
    min_hero_games: int = 20,
    full_rebuild: bool = False,
) -> BuildResult:
    """Bring every board in ``leaderboards`` up to date, incrementally unless it cannot be (see the module)."""
    params = _leaderboard_params(size, min_games, min_hero_games)
    stored, changed = _lock_last_build(conn, "leaderboards")
    mode, reason = _mode(full_rebuild, stored, params)
    if mode == "full":
        result = rebuild_leaderboards(conn, **params)
        boards = conn.execute("SELECT count(*) FROM (SELECT DISTINCT board, hero_id FROM leaderboards) b").fetchone()[0]
        return BuildResult(mode, reason, result.rows, result.removed, boards, changed, 0, prune_changes(conn))
    conn.execute("SET LOCAL jit = off")  # compiling the statement would cost more than running it
    rows, removed, changed, recomputed, stored_rows, fallbacks, _ = conn.execute(
        LEADERBOARDS_INCREMENTAL_SQL, {**params, "board": "leaderboards", "expected": changed}
    ).fetchone()
    _check_stored(stored_rows)
    return BuildResult(mode, reason, rows, removed, recomputed, changed, fallbacks, prune_changes(conn))


def ranked_accounts(conn: psycopg.Connection) -> int:
    """Accounts with matches (the overall boards rank them), as of the last leaderboards build."""
    return conn.execute("SELECT count(*) FROM leaderboard_account_totals").fetchone()[0]


def board_row_count(conn: psycopg.Connection, table: str) -> int:
    if table not in ("hero_top100", "leaderboards"):
        raise ValueError(f"not a board table: {table}")
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


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
