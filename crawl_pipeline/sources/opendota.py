"""OpenDota REST (``/api``), payloads as in odota/core's OpenAPI spec.

Match lists and hero stats are asked with ``significant=0`` so that every provider returns
the same set of matches (OpenDota otherwise hides turbo and other unbalanced modes).
Heroes never played (OpenDota lists every hero, with 0 games) are dropped.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import httpx
from pydantic import TypeAdapter

from crawl_pipeline.domain.heroes import is_known_hero
from crawl_pipeline.domain.records import (
    HeroStat,
    HeroStats,
    MatchDetails,
    MatchPage,
    MatchPlayer,
    MatchStub,
    PlayerProfile,
    RankChange,
    RankHistory,
)
from crawl_pipeline.settings import DEFAULT_OPENDOTA_API_URL, check_opendota_key
from crawl_pipeline.sources.common import (
    BaseSource,
    Wire,
    account_or_none,
    details,
    from_epoch,
    in_date_range,
    known_heroes,
)
from crawl_pipeline.sources.errors import APIError, NotFound, Unauthorized
from crawl_pipeline.sources.http import Problem
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.spec import ProviderSpec

PROVIDER = "opendota"
RATE_GROUP = "api"  # one limit for every endpoint
RATINGS_SOURCE = "opendota_ratings"  # rank_snapshots.source of the medal history's rows
# svc/web.ts: a key not shaped like a UUID is "Invalid API key format"; a well-formed key the
# database does not know is "API key invalid. Please check the API dashboard ...". Both are 400s.
INVALID_KEY_MESSAGES = (b"Invalid API key format", b"API key invalid")
MAX_PAGE = 100
# Sent as repeated ``project`` keys: Express parses ``project=a&project=b`` into a list, while one
# comma-joined value is a single unknown column that buildPlayer.ts drops.
MATCH_FIELDS = ("match_id", "player_slot", "radiant_win", "start_time", "duration", "game_mode", "lobby_type")


class _Profile(Wire):
    account_id: int
    personaname: str | None = None
    avatar: str | None = None
    avatarfull: str | None = None
    loccountrycode: str | None = None
    plus: bool | None = None
    last_login: datetime | None = None
    fh_unavailable: bool | None = None  # the player does not share match data: history is empty


class _Player(Wire):
    profile: _Profile | None = None
    rank_tier: int | None = None
    leaderboard_rank: int | None = None


class _HeroRow(Wire):
    hero_id: int
    games: int
    win: int
    last_played: int | None = None


class _MatchRow(Wire):
    match_id: int
    player_slot: int | None = None
    radiant_win: bool | None = None
    start_time: int | None = None
    duration: int | None = None
    game_mode: int | None = None
    lobby_type: int | None = None


class _MatchPlayer(Wire):
    player_slot: int
    hero_id: int
    account_id: int | None = None
    isRadiant: bool | None = None
    win: int | None = None
    kills: int | None = None
    deaths: int | None = None
    assists: int | None = None
    gold_per_min: int | None = None
    xp_per_min: int | None = None
    last_hits: int | None = None
    denies: int | None = None
    net_worth: int | None = None
    hero_damage: int | None = None
    lane_role: int | None = None
    rank_tier: int | None = None


class _Match(Wire):
    match_id: int
    players: list[_MatchPlayer]
    match_seq_num: int | None = None
    start_time: int | None = None
    duration: int | None = None
    lobby_type: int | None = None
    game_mode: int | None = None
    radiant_win: bool | None = None
    region: int | None = None


class _Rating(Wire):
    time: datetime  # a timestamptz, which node-postgres writes as an ISO string (the spec says integer)
    rank_tier: int | None = None


_HERO_ROWS = TypeAdapter(list[_HeroRow])
_RATINGS = TypeAdapter(list[_Rating])
_MATCH_ROWS = TypeAdapter(list[_MatchRow])


def error_hook(response: httpx.Response, endpoint: str) -> type[APIError] | None:
    """OpenDota answers a bad key with a 400 (see ``INVALID_KEY_MESSAGES``): that is a bad key, to be
    disabled, not a bad request that gives up the item."""
    if response.status_code == 400 and any(m in response.content for m in INVALID_KEY_MESSAGES):
        return Unauthorized
    return None


class OpenDotaSource(BaseSource):
    provider = PROVIDER

    def player_profile(self, account_id: int) -> PlayerProfile:
        def parse(payload: Any) -> PlayerProfile:
            player = _Player.model_validate(payload)
            if player.profile is None:
                raise Problem(NotFound, f"OpenDota has no profile for account {account_id}")
            p = player.profile
            return PlayerProfile(
                account_id=p.account_id,
                source=PROVIDER,
                personaname=p.personaname,
                avatar=p.avatarfull or p.avatar,
                loccountrycode=p.loccountrycode,
                plus=p.plus,
                last_login=p.last_login,
                rank_tier=player.rank_tier,
                leaderboard_rank=player.leaderboard_rank,
                is_private=p.fh_unavailable,
            )

        return self.http.call("player_profile", f"/api/players/{account_id}", parse)

    def hero_stats(self, account_id: int) -> HeroStats:
        def parse(payload: Any) -> HeroStats:
            rows = [
                HeroStat(hero_id=r.hero_id, matches=r.games, wins=r.win, last_played=from_epoch(r.last_played or None, "last_played"))
                for r in _HERO_ROWS.validate_python(payload)
                if r.games > 0
            ]
            kept, skipped = known_heroes(rows)
            return HeroStats(account_id=account_id, source=PROVIDER, heroes=kept, unknown_heroes_skipped=skipped)

        return self.http.call("hero_stats", f"/api/players/{account_id}/heroes", parse, params={"significant": 0})

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
        """``cursor`` is an offset; ``date_after`` becomes OpenDota's ``date`` (days back)."""
        offset = cursor or 0
        limit = max(1, min(page_size, MAX_PAGE))
        params: dict[str, Any] = {"limit": limit, "offset": offset, "significant": 0, "project": list(MATCH_FIELDS)}
        if lobby_type is not None:
            params["lobby_type"] = lobby_type
        if date_after is not None:
            params["date"] = max(1, math.ceil((time.time() - date_after.timestamp()) / 86_400))

        def parse(payload: Any) -> MatchPage:
            rows = _MATCH_ROWS.validate_python(payload)
            stubs = [
                MatchStub(
                    match_id=r.match_id,
                    start_time=from_epoch(r.start_time, "start_time"),
                    lobby_type=r.lobby_type,
                    game_mode=r.game_mode,
                    duration=r.duration,
                    radiant_win=r.radiant_win,
                )
                for r in rows
            ]
            return MatchPage(
                account_id=account_id,
                source=PROVIDER,
                matches=[s for s in stubs if in_date_range(s.start_time, date_after, date_before)],
                next_cursor=offset + len(rows) if len(rows) == limit else None,
            )

        return self.http.call("match_page", f"/api/players/{account_id}/matches", parse, params=params)

    def match_details(self, match_id: int) -> MatchDetails:
        return self.http.call("match_details", f"/api/matches/{match_id}", _match_details)

    def rank_history(self, account_id: int) -> RankHistory:
        """``/players/{id}/ratings``: the medal each time OpenDota saw it change. A match's own
        ``rank_tier`` is the player's medal today (buildMatch.ts joins the current ``rank_tier``),
        so this is where the medal at a match's start comes from. ``[]`` for a private profile."""

        def parse(payload: Any) -> RankHistory:
            rows = sorted(_RATINGS.validate_python(payload), key=lambda r: r.time)
            changes = [RankChange(observed_at=r.time, rank_tier=r.rank_tier) for r in rows if r.rank_tier]
            return RankHistory(account_id=account_id, source=RATINGS_SOURCE, changes=changes)

        return self.http.call("rank_history", f"/api/players/{account_id}/ratings", parse)


def _match_details(payload: Any) -> MatchDetails:
    return _well_typed_details(payload) or _checked_details(payload)


def _checked_details(payload: Any) -> MatchDetails:
    """Any payload: ``_Match`` takes what it can coerce (a number sent as a string, say), and what it
    cannot, or what a record refuses, is the ValidationError naming the field."""
    m = _Match.model_validate(payload)
    players = [
        MatchPlayer(
            player_slot=p.player_slot,
            account_id=account_or_none(p.account_id),
            hero_id=p.hero_id,
            is_radiant=p.isRadiant if p.isRadiant is not None else p.player_slot < 128,
            win=None if p.win is None else bool(p.win),
            kills=p.kills,
            deaths=p.deaths,
            assists=p.assists,
            gold_per_min=p.gold_per_min,
            xp_per_min=p.xp_per_min,
            last_hits=p.last_hits,
            denies=p.denies,
            net_worth=p.net_worth,
            hero_damage=p.hero_damage,
            lane_role=p.lane_role,
            rank_tier=p.rank_tier,
        )
        for p in m.players
    ]
    return details(
        players,
        match_id=m.match_id,
        source=PROVIDER,
        match_seq_num=m.match_seq_num,
        start_time=from_epoch(m.start_time, "start_time"),
        duration=m.duration,
        lobby_type=m.lobby_type,
        game_mode=m.game_mode,
        radiant_win=m.radiant_win,
        region=m.region,
    )


# fields that go into the records as sent
_PLAYER_AS_SENT = (
    "hero_id", "kills", "deaths", "assists", "gold_per_min", "xp_per_min", "last_hits", "denies", "net_worth",
    "hero_damage", "lane_role", "rank_tier",
)
_MATCH_AS_SENT = ("match_id", "match_seq_num", "duration", "lobby_type", "game_mode", "radiant_win", "region")
_INT_OR_NONE = (int, type(None))
_BOOL_OR_NONE = (bool, type(None))


def _well_typed_details(payload: Any) -> MatchDetails | None:
    """What ``_checked_details`` gives, in one pass: when every value already has the JSON type its
    field wants (what OpenDota sends), the records are validated strictly straight from the
    payload, skipping ``_Match`` (a second model of each player). Strict validation accepts only
    values the lax path keeps unchanged, so whatever it accepts the lax path gives equal; anything
    else (a refusal, an odd type, a bad timestamp) returns None and goes the lax way, which decides
    the error."""
    try:
        players = []
        unknown = 0
        for p in payload["players"]:
            slot, account, radiant, win = p["player_slot"], p.get("account_id"), p.get("isRadiant"), p.get("win")
            if type(slot) is not int or type(account) not in _INT_OR_NONE or type(radiant) not in _BOOL_OR_NONE \
                    or type(win) not in _INT_OR_NONE:
                return None
            player = {name: p.get(name) for name in _PLAYER_AS_SENT}
            player["player_slot"] = slot
            player["account_id"] = account_or_none(account)
            player["is_radiant"] = slot < 128 if radiant is None else radiant
            player["win"] = None if win is None else bool(win)
            unknown += not is_known_hero(player["hero_id"])
            players.append(player)
        start_time = payload.get("start_time")
        if type(start_time) not in _INT_OR_NONE:
            return None
        match = {name: payload.get(name) for name in _MATCH_AS_SENT}
        match.update(source=PROVIDER, start_time=from_epoch(start_time, "start_time"), players=players, unknown_heroes=unknown)
        return _validate_details(match, strict=True)
    except (ValueError, LookupError, TypeError, AttributeError, Problem):  # ValidationError is a ValueError
        return None


_validate_details = MatchDetails.__pydantic_validator__.validate_python


SPEC = ProviderSpec(
    name="opendota",
    client=OpenDotaSource,
    calls=frozenset({"profiles", "hero_stats", "match_history", "match_details"}),
    default_url=DEFAULT_OPENDOTA_API_URL,
    url_variable="OPENDOTA_API_URL",
    credential_variable="OPENDOTA_API_KEY",
    credential_kind="key",
    auth="bearer",
    rate_group=RATE_GROUP,
    # odota/core config.ts + svc/web.ts: keyless 60/min per IP and API_FREE_LIMIT 3,000/day,
    # both UTC-aligned; with a key API_KEY_PER_MIN_LIMIT 300/min and no daily cap (calls are billed).
    tiers=(
        RateTier.of("opendota-free", per_minute=60, per_day=3000),
        RateTier.of("opendota-premium", per_minute=300),
    ),
    keyed_tier="opendota-premium",
    error_hook=error_hook,
    anonymous_allowed=True,
    check_credential=check_opendota_key,
)
