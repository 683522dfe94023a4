"""Tracked identities: the players of every match me's accounts played, their stored roles, the
configuration they were computed with, and the players met most often (to build that configuration)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import psycopg

from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID

KNOWN = f"BETWEEN 1 AND {ANONYMOUS_ACCOUNT_ID - 1}"  # a 32-bit account id that is not anonymous


def _dicts(cur: psycopg.Cursor) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def players_of_matches_with(conn: psycopg.Connection, me: Collection[int]) -> list[dict]:
    """Every player row (with the match's start time) of the detailed matches any of ``me`` played,
    newest match first."""
    cur = conn.execute(
        """SELECT p.match_id, p.player_slot, p.account_id, p.hero_id, p.is_radiant, p.win, p.kills, p.deaths,
                  p.assists, m.start_time
           FROM match_players p JOIN matches m USING (match_id)
           WHERE m.has_details
             AND p.match_id IN (SELECT match_id FROM match_players WHERE account_id = ANY(%s::bigint[]))
           ORDER BY m.start_time DESC NULLS LAST, p.match_id DESC, p.player_slot""",
        (sorted(me),),
    )
    return _dicts(cur)


def replace_roles(conn: psycopg.Connection, rows: Sequence[tuple]) -> int:
    """Replace every row of ``identity_match_roles``: (me_account_id, match_id, player_slot, account_id,
    role, identity, hero_id, win, kills, deaths, assists, start_time). Roles are relative to the whole
    configuration, so a new configuration replaces them all. Two concurrent replacements wait for
    each other (the table lock lets readers through) instead of colliding on the primary key."""
    conn.execute("LOCK TABLE identity_match_roles IN EXCLUSIVE MODE")
    conn.execute("DELETE FROM identity_match_roles")
    if not rows:
        return 0
    return conn.execute(
        """INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, account_id, role, identity,
               hero_id, win, kills, deaths, assists, start_time)
           SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::smallint[], %s::bigint[], %s::text[], %s::text[],
                                %s::smallint[], %s::boolean[], %s::smallint[], %s::smallint[], %s::smallint[],
                                %s::timestamptz[])""",
        [list(c) for c in zip(*rows, strict=True)],
    ).rowcount


def replace_tracked_identities(conn: psycopg.Connection, accounts: Sequence[tuple[int, str, str]]) -> int:
    """Replace ``tracked_identities`` with (account_id, identity, kind) rows."""
    conn.execute("DELETE FROM tracked_identities")
    if not accounts:
        return 0
    return conn.execute(
        """INSERT INTO tracked_identities (account_id, identity, kind)
           SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])""",
        [list(c) for c in zip(*accounts, strict=True)],
    ).rowcount


# The frequency listing; the analysts' view `v_players_by_frequency` (analytics/views.py) mirrors it and
# reads me's accounts from tracked_identities in place of the parameter. A match counts once
# for me even when two of me's accounts played it; one where they played on both sides is left out.
FREQUENT_SQL = f"""
WITH my_matches AS (
    SELECT p.match_id, bool_or(p.is_radiant) AS me_radiant, bool_or(p.win) AS me_won, min(m.start_time) AS start_time
    FROM match_players p JOIN matches m ON m.match_id = p.match_id
    WHERE m.has_details AND p.account_id = ANY(%(me)s::bigint[])
    GROUP BY p.match_id
    HAVING bool_or(p.is_radiant) = bool_and(p.is_radiant)
)
SELECT o.account_id,
       count(*) AS games,
       count(*) FILTER (WHERE o.is_radiant = mm.me_radiant) AS teammate_games,
       count(*) FILTER (WHERE o.is_radiant <> mm.me_radiant) AS opponent_games,
       count(*) FILTER (WHERE o.is_radiant = mm.me_radiant AND mm.me_won) AS wins_with,
       count(*) FILTER (WHERE o.is_radiant <> mm.me_radiant AND mm.me_won) AS wins_against,
       max(mm.start_time) AS last_played
FROM my_matches mm
JOIN match_players o ON o.match_id = mm.match_id
WHERE o.account_id {KNOWN} AND o.account_id <> ALL(%(me)s::bigint[])
GROUP BY o.account_id
"""


def players_by_frequency(conn: psycopg.Connection, me: Collection[int], limit: int | None = 20) -> list[dict]:
    """The known accounts met most often in the detailed matches of any of ``me``'s accounts.

    Per account: ``games``, ``teammate_games`` and ``opponent_games`` (on me's side or not),
    ``wins_with`` / ``wins_against`` (me's wins), ``last_played``, ``personaname``. Order: most
    games, then most recently met, then the lower id."""
    cur = conn.execute(
        f"""SELECT f.*, a.personaname FROM ({FREQUENT_SQL}) f
            LEFT JOIN accounts a ON a.account_id = f.account_id
            ORDER BY f.games DESC, f.last_played DESC NULLS LAST, f.account_id
            LIMIT %(limit)s""",
        {"me": sorted(me), "limit": limit},
    )
    return _dicts(cur)


def my_match_count(conn: psycopg.Connection, me: Collection[int]) -> int:
    """Detailed matches any of ``me``'s accounts played."""
    return conn.execute(
        """SELECT count(DISTINCT p.match_id) FROM match_players p JOIN matches m USING (match_id)
           WHERE m.has_details AND p.account_id = ANY(%s::bigint[])""",
        (sorted(me),),
    ).fetchone()[0]
