"""Stratz GraphQL (``POST /graphql`` with a Bearer token), field names as in its schema.

GraphQL reports problems as ``errors`` beside (possibly null) ``data`` with status 200:
"not found" messages become ``NotFound``, errors in our query ``BadRequest``, anything else
(an internal error, "please retry") a retriable ``ServerError``. Profiles, hero stats,
first history pages and match details go ``BATCH_IDS`` accounts or matches per request through
``players(steamAccountIds:)`` and ``matches(ids:)``; each id's outcome comes from the entry that
carries that id (an id the answer lacks is NotFound; order and nulls are not trusted). Enums (lobby type,
game mode, lane) come as names and are mapped back to the numeric ids the rest of the
project uses. ``heroesPerformance`` covers at most 100 matches per selection, so a long
history is read as several aliased selections in one follow-up request and summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx
import pydantic
from pydantic import Field

from crawl_pipeline.domain.records import (
    DetailsRequest,
    HeroStat,
    HeroStats,
    MatchDetails,
    MatchPage,
    MatchPlayer,
    MatchStub,
    PlayerProfile,
)
from crawl_pipeline.settings import DEFAULT_STRATZ_API_URL, check_stratz_token
from crawl_pipeline.sources.common import (
    MAX_EPOCH_SECONDS,
    BaseSource,
    DetailsOutcome,
    ItemOutcome,
    Wire,
    account_or_none,
    details,
    epoch,
    from_epoch,
    known_heroes,
    only_outcome,
)
from crawl_pipeline.sources.errors import APIError, BadRequest, MalformedResponse, NotFound, ServerError
from crawl_pipeline.sources.http import Problem, validation_message
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.spec import ProviderSpec

PROVIDER = "stratz"
RATE_GROUP = "graphql"
PATH = "/graphql"
USER_AGENT = "STRATZ_API"  # Stratz asks API clients to send exactly this
MAX_TAKE = 100
MAX_HERO_PAGES = 100  # 10,000 matches: more than any account plays
MAX_ALIASES = 10  # aliased sub-selections per request: heavier queries are rejected as too complex
# ids per players(steamAccountIds:)/matches(ids:) request. Stratz publishes no maximum; 10 keeps each
# answer small (ten full matches) and under any complexity limit, and is already 10x fewer calls.
BATCH_IDS = 10

# Stratz enum names -> Valve ids (the ids dotaconstants and the other providers use).
LOBBY_TYPES = {
    "UNRANKED": 0, "PRACTICE": 1, "TOURNAMENT": 2, "TUTORIAL": 3, "COOP_VS_BOTS": 4, "TEAM_MATCH": 5,
    "SOLO_QUEUE": 6, "RANKED": 7, "SOLO_MID": 8, "BATTLE_CUP": 9, "EVENT": 12,
}  # fmt: skip
GAME_MODES = {
    "NONE": 0, "ALL_PICK": 1, "CAPTAINS_MODE": 2, "RANDOM_DRAFT": 3, "SINGLE_DRAFT": 4, "ALL_RANDOM": 5,
    "INTRO": 6, "THE_DIRETIDE": 7, "REVERSE_CAPTAINS_MODE": 8, "THE_GREEVILING": 9, "TUTORIAL": 10,
    "MID_ONLY": 11, "LEAST_PLAYED": 12, "NEW_PLAYER_POOL": 13, "COMPENDIUM_MATCHMAKING": 14, "CUSTOM": 15,
    "CAPTAINS_DRAFT": 16, "BALANCED_DRAFT": 17, "ABILITY_DRAFT": 18, "EVENT": 19, "ALL_RANDOM_DEATH_MATCH": 20,
    "SOLO_MID": 21, "ALL_PICK_RANKED": 22, "TURBO": 23, "MUTATION": 24,
}  # fmt: skip
LANES = {"SAFE_LANE": 1, "MID_LANE": 2, "OFF_LANE": 3, "JUNGLE": 4}

STEAM_ACCOUNT_FIELDS = "id name avatar countryCode isDotaPlusSubscriber seasonRank seasonLeaderboardRank"
PLAYERS_PROFILE_QUERY = f"""query Profiles($ids: [Long]!) {{
  players(steamAccountIds: $ids) {{ steamAccountId steamAccount {{ {STEAM_ACCOUNT_FIELDS} }} }}
}}"""
HERO_FIELDS = "heroId matchCount winCount lastPlayedDateTime"
MATCH_FIELDS = "id sequenceNum startDateTime durationSeconds lobbyType gameMode didRadiantWin regionId"
MATCHES_QUERY = f"""query Matches($id: Long!, $request: PlayerMatchesRequestType!) {{
  player(steamAccountId: $id) {{
    steamAccount {{ isAnonymous }}
    matches(request: $request) {{ {MATCH_FIELDS} }}
  }}
}}"""
PLAYERS_MATCHES_QUERY = f"""query Histories($ids: [Long]!, $request: PlayerMatchesRequestType!) {{
  players(steamAccountIds: $ids) {{
    steamAccountId
    steamAccount {{ isAnonymous }}
    matches(request: $request) {{ {MATCH_FIELDS} }}
  }}
}}"""
MATCHES_MANY_QUERY = f"""query Matches($ids: [Long]!) {{
  matches(ids: $ids) {{
    {MATCH_FIELDS}
    players {{
      playerSlot steamAccountId heroId isRadiant isVictory kills deaths assists goldPerMinute
      experiencePerMinute numLastHits numDenies networth heroDamage lane
    }}
  }}
}}"""


def error_hook(response: httpx.Response, endpoint: str) -> type[APIError] | None:
    """A 403 that is not JSON is Cloudflare's challenge page (no or a blocked User-Agent), not a
    rejected token: retry it, and do not disable the token. A bad token is a JSON 403 from Kong."""
    if response.status_code == 403 and "json" not in response.headers.get("content-type", ""):
        return ServerError
    return None


def _players_heroes_query(pages: range, *, with_count: bool) -> str:
    """``players`` with one aliased ``heroesPerformance`` selection per page of 100 matches."""
    selections = "\n".join(
        f"    p{i}: heroesPerformance(request: {{take: {MAX_TAKE}, skip: {i * MAX_TAKE}}}) {{ {HERO_FIELDS} }}"
        for i in pages
    )
    count = "matchCount" if with_count else ""
    return (
        "query Heroes($ids: [Long]!) {\n  players(steamAccountIds: $ids) {\n"
        f"    steamAccountId {count}\n{selections}\n  }}\n}}"
    )


class _SteamAccount(Wire):
    id: int | None = None
    name: str | None = None
    avatar: str | None = None
    countryCode: str | None = None
    isDotaPlusSubscriber: bool | None = None
    isAnonymous: bool | None = None
    seasonRank: int | None = None
    seasonLeaderboardRank: int | None = None


class _HeroRow(Wire):
    heroId: int
    matchCount: int = Field(ge=0)
    winCount: int = Field(ge=0)
    # checked here, not when merged after the call, so a bad value is a MalformedResponse
    lastPlayedDateTime: int | None = Field(default=None, ge=0, le=MAX_EPOCH_SECONDS)


class _Match(Wire):
    id: int
    sequenceNum: int | None = None
    startDateTime: int | None = None
    durationSeconds: int | None = None
    lobbyType: str | None = None
    gameMode: str | None = None
    didRadiantWin: bool | None = None
    regionId: int | None = None


class _MatchPlayer(Wire):
    playerSlot: int
    heroId: int
    steamAccountId: int | None = None
    isRadiant: bool | None = None
    isVictory: bool | None = None
    kills: int | None = None
    deaths: int | None = None
    assists: int | None = None
    goldPerMinute: int | None = None
    experiencePerMinute: int | None = None
    numLastHits: int | None = None
    numDenies: int | None = None
    networth: int | None = None
    heroDamage: int | None = None
    lane: str | None = None
    steamAccount: _SteamAccount | None = None


class _FullMatch(_Match):
    players: list[_MatchPlayer]


class _Player(Wire):
    steamAccountId: int | None = None
    steamAccount: _SteamAccount | None = None
    matchCount: int | None = None
    heroesPerformance: list[_HeroRow] | None = None
    matches: list[_Match] | None = None


class _Data(Wire):
    player: _Player | None = None
    match: _FullMatch | None = None


class _Response(Wire):
    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None


# GraphQL errors that say our query is wrong (retrying the same text cannot help); "not found"
# is NotFound; anything else (a server error, a timeout, "please retry") is retriable.
_QUERY_ERRORS = (
    "syntax error", "cannot query field", "unknown argument", "unknown type", "variable", "expected type",
    "too complex", "complexity", "validation", "argument", "must have a selection",
)  # fmt: skip


def graphql_error_kind(message: str) -> type[APIError]:
    lowered = message.lower()
    if "not found" in lowered:
        return NotFound
    if any(marker in lowered for marker in _QUERY_ERRORS):
        return BadRequest
    return ServerError


def _data(payload: Any) -> dict[str, Any]:
    """``data`` of a GraphQL answer; its ``errors`` turned into typed errors."""
    response = _Response.model_validate(payload)
    if response.errors:
        message = str(response.errors[0].get("message", "GraphQL error"))[:200]
        raise Problem(graphql_error_kind(message), message)
    if response.data is None:
        raise Problem(BadRequest, "GraphQL answer without data or errors")
    return response.data


def _player(payload: Any, account_id: int) -> _Player:
    player = _Data.model_validate(_data(payload)).player
    if player is None:
        raise Problem(NotFound, f"Stratz has no player {account_id}")
    return player


def _stub(m: _Match) -> MatchStub:
    return MatchStub(
        match_id=m.id,
        match_seq_num=m.sequenceNum,
        start_time=from_epoch(m.startDateTime, "startDateTime"),
        lobby_type=LOBBY_TYPES.get(m.lobbyType or ""),
        game_mode=GAME_MODES.get(m.gameMode or ""),
        duration=m.durationSeconds,
        radiant_win=m.didRadiantWin,
    )


def _profile(account: _SteamAccount, account_id: int) -> PlayerProfile:
    return PlayerProfile(
        account_id=account_id,
        source=PROVIDER,
        personaname=account.name,
        avatar=account.avatar,
        loccountrycode=account.countryCode,
        plus=account.isDotaPlusSubscriber,
        rank_tier=account.seasonRank,
        leaderboard_rank=account.seasonLeaderboardRank,
    )


def _hero_stats(account_id: int, rows: list[_HeroRow]) -> HeroStats:
    """Per-hero rows of several ``heroesPerformance`` selections summed into one HeroStats."""
    merged: dict[int, list[int]] = {}
    for row in rows:
        entry = merged.setdefault(row.heroId, [0, 0, 0])
        entry[0] += row.matchCount
        entry[1] += row.winCount
        entry[2] = max(entry[2], row.lastPlayedDateTime or 0)
    stats = [
        HeroStat(hero_id=h, matches=n, wins=w, last_played=from_epoch(last or None, "lastPlayed"))
        for h, (n, w, last) in sorted(merged.items())
        if n > 0
    ]
    kept, skipped = known_heroes(stats)
    return HeroStats(account_id=account_id, source=PROVIDER, heroes=kept, unknown_heroes_skipped=skipped)


def _details(m: _FullMatch) -> MatchDetails:
    players = [
        MatchPlayer(
            player_slot=p.playerSlot,
            account_id=account_or_none(p.steamAccountId),
            hero_id=p.heroId,
            is_radiant=p.isRadiant if p.isRadiant is not None else p.playerSlot < 128,
            win=p.isVictory,
            kills=p.kills,
            deaths=p.deaths,
            assists=p.assists,
            gold_per_min=p.goldPerMinute,
            xp_per_min=p.experiencePerMinute,
            last_hits=p.numLastHits,
            denies=p.numDenies,
            net_worth=p.networth,
            hero_damage=p.heroDamage,
            lane_role=LANES.get(p.lane or ""),
            # no medal sent with the match (OpenDota's is the player's today, not at the match
            # either): the medal at a match is read from the rank history (rank_snapshots)
            rank_tier=None,
        )
        for p in m.players
    ]
    stub = _stub(m)
    return details(
        players,
        match_id=m.id,
        source=PROVIDER,
        match_seq_num=m.sequenceNum,
        start_time=stub.start_time,
        duration=m.durationSeconds,
        lobby_type=stub.lobby_type,
        game_mode=stub.game_mode,
        radiant_win=m.didRadiantWin,
        region=m.regionId,
    )


def _history_request(
    skip: int, take: int, lobby_type: int | None, date_after: datetime | None, date_before: datetime | None
) -> dict[str, Any]:
    request: dict[str, Any] = {"take": take, "skip": skip}
    if lobby_type is not None:
        request["lobbyTypeIds"] = [lobby_type]
    if date_after is not None:
        request["startDateTime"] = epoch(date_after)
    if date_before is not None:
        request["endDateTime"] = epoch(date_before)
    return request


def _page(player: _Player, account_id: int, skip: int, take: int) -> MatchPage:
    matches = [_stub(m) for m in player.matches or []]
    return MatchPage(
        account_id=account_id,
        source=PROVIDER,
        matches=matches,
        next_cursor=skip + len(matches) if len(matches) == take else None,
        is_private=bool(player.steamAccount and player.steamAccount.isAnonymous),
    )


def _by_id(items: list[Any] | None, key: str) -> dict[int, dict[str, Any]]:
    """The entries of a ``players``/``matches`` answer by their own id (order and nulls not trusted)."""
    found: dict[int, dict[str, Any]] = {}
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get(key), int):
            found[item[key]] = item
    return found


class StratzSource(BaseSource):
    """One token's GraphQL client. ``players(steamAccountIds:)`` and ``matches(ids:)`` answer many
    accounts or matches per request (``BATCH_IDS`` of them), which is where its budget goes furthest.
    Its matches carry no medal per player, and lose nothing by it: OpenDota's is the player's today,
    not at the match, so the medal at a match comes from the rank history either way."""

    provider = PROVIDER
    batch_sizes: ClassVar[dict[str, int]] = {"profiles": BATCH_IDS, "hero_stats": BATCH_IDS, "match_history": BATCH_IDS, "match_details": BATCH_IDS}

    def _query(self, endpoint: str, query: str, variables: dict[str, Any], parse: Any) -> Any:
        return self.http.call(endpoint, PATH, parse, method="POST", json_body={"query": query, "variables": variables})

    def _many(self, endpoint: str, query: str, field: str, key: str, ids: Sequence[int], build: Any,
              variables: dict[str, Any] | None = None) -> list[ItemOutcome]:
        """One ``players``/``matches`` request for ``ids``; each id's outcome built from its own entry.
        An id the answer does not carry is NotFound, whatever else the answer holds."""
        wanted = list(dict.fromkeys(ids))

        def parse(payload: Any) -> list[ItemOutcome]:
            entries = _by_id(_data(payload).get(field), key)
            outcomes: list[ItemOutcome] = []
            for item in wanted:
                entry = entries.get(item)
                if entry is None:
                    outcomes.append((item, NotFound(f"Stratz has no {field[:-1]} {item}", provider=PROVIDER, endpoint=endpoint)))
                    continue
                try:
                    outcomes.append((item, build(item, entry)))
                except Problem as problem:
                    outcomes.append((item, problem.kind(problem.message, provider=PROVIDER, endpoint=endpoint)))
                except pydantic.ValidationError as exc:
                    message = f"{field} entry {item}: {validation_message(exc)}"
                    outcomes.append((item, MalformedResponse(message, provider=PROVIDER, endpoint=endpoint)))
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    message = f"{field} entry {item}: JSON of an unexpected shape ({type(exc).__name__})"
                    outcomes.append((item, MalformedResponse(message, provider=PROVIDER, endpoint=endpoint)))
            return outcomes

        try:
            return self._query(endpoint, query, {"ids": wanted, **(variables or {})}, parse)
        except APIError as error:
            return [(item, error) for item in wanted]

    # ------------------------------------------------------------------ one id
    def player_profile(self, account_id: int) -> PlayerProfile:
        return only_outcome(self.profiles_many([account_id]))

    def hero_stats(self, account_id: int) -> HeroStats:
        return only_outcome(self.hero_stats_many([account_id]))

    def match_details(self, match_id: int) -> MatchDetails:
        return only_outcome(self.match_details_group([DetailsRequest(match_id=match_id)]))

    def match_page(
        self,
        account_id: int,
        cursor: int | None = None,
        *,
        page_size: int = 100,
        lobby_type: int | None = None,
        date_after: datetime | None = None,
        date_before: datetime | None = None,
    ) -> MatchPage:
        """``cursor`` is Stratz's ``skip``; all filters are applied by Stratz."""
        skip = cursor or 0
        take = max(1, min(page_size, MAX_TAKE))
        request = _history_request(skip, take, lobby_type, date_after, date_before)
        return self._query(
            "match_page", MATCHES_QUERY, {"id": account_id, "request": request},
            lambda payload: _page(_player(payload, account_id), account_id, skip, take),
        )

    # ------------------------------------------------------------------ many ids per request
    def profiles_many(self, account_ids: Sequence[int]) -> list[ItemOutcome]:
        def build(account_id: int, entry: dict[str, Any]) -> PlayerProfile:
            player = _Player.model_validate(entry)
            if player.steamAccount is None:
                raise Problem(NotFound, f"Stratz has no Steam account {account_id}")
            if player.steamAccount.id is not None and player.steamAccount.id != account_id:
                raise Problem(
                    MalformedResponse,
                    f"wrong identity: field 'steamAccount.id' is {player.steamAccount.id} in the answer for account {account_id}",
                )
            return _profile(player.steamAccount, account_id)

        return self._many("player_profile", PLAYERS_PROFILE_QUERY, "players", "steamAccountId", account_ids, build)

    def hero_stats_many(self, account_ids: Sequence[int]) -> list[ItemOutcome]:
        """Hero stats of many accounts: each request reads ``MAX_ALIASES`` pages of 100 matches of
        every account in it (aliased ``heroesPerformance`` selections on ``players``), so most
        histories take one request for ten accounts; longer ones go on with the accounts that need it."""
        wanted = list(dict.fromkeys(account_ids))
        rows: dict[int, list[_HeroRow]] = {a: [] for a in wanted}
        totals: dict[int, int] = {}
        failed: dict[int, APIError] = {}
        todo, first = wanted, 0
        while todo and first < MAX_HERO_PAGES:
            pages = range(first, min(MAX_HERO_PAGES, first + MAX_ALIASES))
            answers = self._many(
                "hero_stats", _players_heroes_query(pages, with_count=first == 0), "players", "steamAccountId", todo,
                lambda account_id, entry, pages=pages: (
                    entry.get("matchCount"),
                    [_HeroRow.model_validate(row) for i in pages for row in entry.get(f"p{i}") or []],
                ),
            )
            for account_id, answer in answers:
                if isinstance(answer, APIError):
                    failed[account_id] = answer
                    continue
                count, found = answer
                if first == 0:
                    totals[account_id] = count if isinstance(count, int) and count >= 0 else 0
                rows[account_id] += found
            first = pages.stop
            todo = [a for a in todo if a not in failed and totals.get(a, 0) > first * MAX_TAKE]
        outcomes: list[ItemOutcome] = []
        for account_id in wanted:
            if account_id in failed:
                outcomes.append((account_id, failed[account_id]))
                continue
            try:
                outcomes.append((account_id, _hero_stats(account_id, rows[account_id])))
            except Problem as problem:
                outcomes.append((account_id, problem.kind(problem.message, provider=PROVIDER, endpoint="hero_stats")))
            except pydantic.ValidationError as exc:
                outcomes.append((account_id, MalformedResponse(validation_message(exc), provider=PROVIDER, endpoint="hero_stats")))
        return outcomes

    def match_pages_many(self, account_ids: Sequence[int], *, page_size: int = 100) -> list[ItemOutcome]:
        take = max(1, min(page_size, MAX_TAKE))
        return self._many(
            "match_page", PLAYERS_MATCHES_QUERY, "players", "steamAccountId", account_ids,
            lambda account_id, entry: _page(_Player.model_validate(entry), account_id, 0, take),
            {"request": {"take": take, "skip": 0}},
        )

    def match_details_group(self, group: Sequence[DetailsRequest]) -> list[DetailsOutcome]:
        def build(match_id: int, entry: dict[str, Any]) -> MatchDetails:
            return _details(_FullMatch.model_validate(entry))

        return self._many("match_details", MATCHES_MANY_QUERY, "matches", "id", [r.match_id for r in group], build)


SPEC = ProviderSpec(
    name="stratz",
    client=StratzSource,
    calls=frozenset({"profiles", "hero_stats", "match_history", "match_details"}),
    default_url=DEFAULT_STRATZ_API_URL,
    url_variable="STRATZ_API_URL",
    credential_variable="STRATZ_TOKENS",
    credential_kind="token",
    several_credentials=True,
    check_credential=check_stratz_token,
    auth="bearer",
    rate_group=RATE_GROUP,
    # Stratz: 20/s, 250/min, 2,000/h and 10,000/day per token.
    tiers=(RateTier.of("stratz", per_second=20, per_minute=250, per_hour=2000, per_day=10_000),),
    error_hook=error_hook,
    user_agent=USER_AGENT,
)
