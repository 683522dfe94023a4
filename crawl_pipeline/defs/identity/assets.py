"""``identity_role_stats``: every player of me's matches with a role, and stats per identity and role."""

import dagster as dg

from crawl_pipeline.db import identity as identity_db
from crawl_pipeline.defs.common import markdown_table
from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain import roles
from crawl_pipeline.domain.heroes import heroes
from crawl_pipeline.settings import SettingsError

GROUP = "identity"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _hero(hero_id: int) -> str:
    known = heroes().get(hero_id)  # unknown hero ids are kept in match_players, never named
    return known.localized_name if known else f"hero {hero_id}"


def _top_heroes(counter, n: int = 3) -> str:
    return ", ".join(f"{_hero(h)} ({c})" for h, c in counter.most_common(n))


@dg.asset(
    group_name=GROUP,
    kinds={"python", "postgres"},
    description=(
        "Roles (me, teammate, anon_teammate, anon_opponent) of every player in the matches me's accounts played "
        "(identities: TRACKED_IDENTITIES), stored in identity_match_roles with the configuration in "
        "tracked_identities; metadata: stats per identity (me over all its accounts, each named teammate: games "
        "with me, wins, KDA, heroes), per role, the latest matches and the players met most often."
    ),
)
def identity_role_stats(
    context: dg.AssetExecutionContext, postgres: PostgresResource, identities: TrackedIdentities
) -> dg.MaterializeResult:
    try:
        config = identities.identities()
    except SettingsError as error:
        raise dg.Failure(description=str(error)) from error
    if config is None:
        context.log.info("no tracked identity configured (TRACKED_IDENTITIES or TRACKED_ME): nothing to do")
        return dg.MaterializeResult(metadata={"matches": 0, "configured": False})
    with postgres.db.transaction() as conn:
        rows = identity_db.players_of_matches_with(conn, config.me)
    assigned, ambiguous = roles.assign_all(rows, config)
    stored: list[tuple] = []
    per_match: list[tuple] = []
    for match_id, players in assigned.items():  # newest first, as the rows come
        mine = next(a.player for a in players if a.role == roles.ME)
        for a in players:
            p = a.player
            stored.append((mine["account_id"], match_id, p["player_slot"], roles.account_of(p), a.role, a.identity,
                           p["hero_id"], p["win"], p["kills"], p["deaths"], p["assists"], p["start_time"]))
        if len(per_match) < identities.recent_matches:
            counts = {r: sum(1 for a in players if a.role == r) for r in roles.ROLES}
            mates = sorted({a.identity for a in players if a.role == roles.TEAMMATE})
            started = mine["start_time"]
            per_match.append((match_id, started.date() if started else None, mine["account_id"], _hero(mine["hero_id"]),
                              "win" if mine["win"] else "loss", f"{mine['kills']}/{mine['deaths']}/{mine['assists']}",
                              ", ".join(mates), counts[roles.ANON_TEAMMATE], counts[roles.ANON_OPPONENT]))
    with postgres.db.transaction() as conn:
        written = identity_db.replace_roles(conn, stored)
        identity_db.replace_tracked_identities(conn, config.accounts())
    if ambiguous:
        context.log.warning(f"{len(ambiguous)} match(es) with me's accounts on both sides left out: {ambiguous[:5]}")

    identity_rows = []
    for name, s in roles.identity_stats(rows, config).items():
        accounts = ", ".join(f"{a} ({n})" for a, n in sorted(s.accounts.items()))
        identity_rows.append((name, accounts, s.games, s.wins, _fmt(s.win_rate), f"{s.kills}/{s.deaths}/{s.assists}",
                              _fmt(s.kda), _top_heroes(s.heroes), s.games_against,
                              s.last_played.date() if s.last_played else None))
    role_rows = []
    for role, s in roles.role_stats(rows, config).items():
        role_rows.append((role, s.games, s.wins, _fmt(s.win_rate), f"{s.kills}/{s.deaths}/{s.assists}", _fmt(s.kda),
                          _top_heroes(s.heroes)))
    met = roles.players_met(rows, config, top=identities.top_players)
    met_rows = [(m.account_id, m.identity or "", m.games, m.with_games, m.with_wins, m.against_games, m.against_wins)
                for m in met]
    return dg.MaterializeResult(metadata={
        "configured": True,
        "identities": dg.MetadataValue.json(config.as_config()),
        "matches": dg.MetadataValue.int(len(assigned)),
        "ambiguous_matches": dg.MetadataValue.int(len(ambiguous)),
        "role_rows_stored": dg.MetadataValue.int(written),
        "per_identity": dg.MetadataValue.md(markdown_table(
            ("identity", "accounts (games)", "games with me", "wins", "win rate", "K/D/A", "KDA", "top heroes",
             "games against me", "last played"),
            identity_rows,
        )),
        "per_role": dg.MetadataValue.md(
            markdown_table(("role", "player games", "wins", "win rate", "K/D/A", "KDA", "top heroes"), role_rows)
        ),
        "per_match": dg.MetadataValue.md(markdown_table(
            ("match", "date", "me: account", "hero", "result", "K/D/A", "teammates", "anon teammates", "anon opponents"),
            per_match,
        )),
        "players_met": dg.MetadataValue.md(markdown_table(
            ("account", "identity", "games", "with", "wins with", "against", "wins against"), met_rows
        )),
    })
