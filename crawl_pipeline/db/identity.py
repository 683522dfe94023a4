"""Tracked identities: the players of every match ``me`` played, and their stored roles."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg


def players_of_matches_with(conn: psycopg.Connection, me: int) -> list[dict]:
    """Every player row (with the match's start time) of the detailed matches ``me`` played."""
    cur = conn.execute(
        """SELECT p.match_id, p.player_slot, p.account_id, p.hero_id, p.is_radiant, p.win, p.kills, p.deaths,
                  p.assists, m.start_time
           FROM match_players p JOIN matches m USING (match_id)
           WHERE m.has_details AND p.match_id IN (SELECT match_id FROM match_players WHERE account_id = %s)
           ORDER BY m.start_time DESC, p.match_id DESC, p.player_slot""",
        (me,),
    )
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def replace_roles(conn: psycopg.Connection, me: int, rows: Sequence[tuple]) -> int:
    """Replace me's rows of ``identity_match_roles``: (match_id, player_slot, account_id, role,
    hero_id, win, kills, deaths, assists, start_time)."""
    conn.execute("DELETE FROM identity_match_roles WHERE me_account_id = %s", (me,))
    if not rows:
        return 0
    return conn.execute(
        """INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, account_id, role, hero_id, win,
               kills, deaths, assists, start_time)
           SELECT %s, * FROM unnest(%s::bigint[], %s::smallint[], %s::bigint[], %s::text[], %s::smallint[],
                                    %s::boolean[], %s::smallint[], %s::smallint[], %s::smallint[], %s::timestamptz[])""",
        [me, *[list(c) for c in zip(*rows)]],
    ).rowcount
