"""``identity_role_stats``: every player of me's matches with a role, and stats per role."""

import dagster as dg

from crawl_pipeline.db import identity as identity_db
from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.metadata import markdown_table
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain import roles
from crawl_pipeline.domain.heroes import heroes

GROUP = "identity"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _hero(hero_id: int) -> str:
    known = heroes().get(hero_id)  # unknown hero ids are kept in match_players, never named
    return known.localized_name if known else f"hero {hero_id}"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "postgres"},
    description=(
        "Roles (me, teammate, anon_teammate, opponent, anon_opponent) of every player in the matches the tracked "
        "account `me` played, stored in identity_match_roles; metadata: stats per role (games, wins, KDA, heroes), "
        "the latest matches and the players met most often."
    ),
)
def identity_role_stats(
    context: dg.AssetExecutionContext, postgres: PostgresResource, identities: TrackedIdentities
) -> dg.MaterializeResult:
    if identities.me is None:
        context.log.info("no tracked identity configured (identities.me): nothing to do")
        return dg.MaterializeResult(metadata={"matches": 0, "configured": False})
    me, mates = identities.me, set(identities.teammates)
    with postgres.db.transaction() as conn:
        rows = identity_db.players_of_matches_with(conn, me)
    by_match: dict[int, list[dict]] = {}
    for row in rows:
        by_match.setdefault(row["match_id"], []).append(row)
    stored: list[tuple] = []
    per_match: list[tuple] = []
    for match_id, players in by_match.items():
        assigned = roles.match_roles(players, me, mates, listed_only=identities.listed_only)
        for player, role in assigned:
            stored.append((match_id, player["player_slot"], roles.account_of(player), role, player["hero_id"],
                           player["win"], player["kills"], player["deaths"], player["assists"], player["start_time"]))
        if len(per_match) < identities.recent_matches:
            mine = next(p for p, r in assigned if r == roles.ME)
            counts = {r: sum(1 for _, x in assigned if x == r) for r in roles.ROLES}
            per_match.append((match_id, players[0]["start_time"].date() if players[0]["start_time"] else None,
                              _hero(mine["hero_id"]), "win" if mine["win"] else "loss",
                              f"{mine['kills']}/{mine['deaths']}/{mine['assists']}", counts[roles.TEAMMATE],
                              counts[roles.ANON_TEAMMATE], counts[roles.OPPONENT], counts[roles.ANON_OPPONENT]))
    with postgres.db.transaction() as conn:
        written = identity_db.replace_roles(conn, me, stored)
    stats = roles.role_stats(rows, me, mates, listed_only=identities.listed_only)
    role_rows = []
    for role in roles.ROLES:
        s = stats.get(role)
        if s is None:
            continue
        top_heroes = ", ".join(f"{_hero(h)} ({n})" for h, n in s.heroes.most_common(3))
        role_rows.append((role, s.games, s.wins, _fmt(s.win_rate), f"{s.kills}/{s.deaths}/{s.assists}", _fmt(s.kda),
                          top_heroes))
    met = roles.players_met(rows, me, mates, top=identities.top_players)
    met_rows = [(m.account_id, m.games, m.with_games, m.with_wins, m.against_games, m.against_wins) for m in met]
    return dg.MaterializeResult(metadata={
        "configured": True,
        "me": dg.MetadataValue.int(me),
        "teammates": dg.MetadataValue.json(sorted(mates)),
        "matches": dg.MetadataValue.int(len(by_match)),
        "role_rows_stored": dg.MetadataValue.int(written),
        "per_role": dg.MetadataValue.md(
            markdown_table(("role", "games", "wins", "win rate", "K/D/A", "KDA", "top heroes"), role_rows)
        ),
        "per_match": dg.MetadataValue.md(markdown_table(
            ("match", "date", "me: hero", "result", "K/D/A", "teammates", "anon teammates", "opponents",
             "anon opponents"),
            per_match,
        )),
        "players_met": dg.MetadataValue.md(
            markdown_table(("account", "games", "with", "wins with", "against", "wins against"), met_rows)
        ),
    })
