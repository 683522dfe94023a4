"""Normalized records every provider client returns (pydantic v2, validated).

A missing optional field is None. Providers map their own payloads onto these; code
downstream never sees a provider's dialect.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlayerProfile(_Record):
    account_id: int
    source: str
    personaname: str | None = None
    avatar: str | None = None
    loccountrycode: str | None = None
    plus: bool | None = None
    last_login: datetime | None = None
    rank_tier: int | None = Field(default=None, ge=0, le=80)
    leaderboard_rank: int | None = None
    is_private: bool | None = None  # the provider says the match history is not shared (None: not said)


class HeroStat(_Record):
    hero_id: int
    matches: int = Field(ge=0)
    wins: int = Field(ge=0)
    last_played: datetime | None = None


class HeroStats(_Record):
    account_id: int
    source: str
    heroes: list[HeroStat]
    unknown_heroes_skipped: int = 0  # rows with hero ids missing from the hero table


class MatchStub(_Record):
    match_id: int
    match_seq_num: int | None = None
    start_time: datetime | None = None
    lobby_type: int | None = None
    game_mode: int | None = None
    duration: int | None = None
    radiant_win: bool | None = None


class DetailsRequest(_Record):
    """A match whose details are wanted; ``match_seq_num`` lets Steam serve it from its sequence feed."""

    match_id: int
    match_seq_num: int | None = None


class MatchPage(_Record):
    """One page of an account's match history, newest first.

    ``next_cursor`` is opaque (an offset for OpenDota, a start_at_match_id for Steam, a skip
    for Stratz); None means this was the last page. ``total`` is the history size when the
    provider tells it (Steam), else None.
    """

    account_id: int
    source: str
    matches: list[MatchStub]
    next_cursor: int | None = None
    total: int | None = None
    is_private: bool = False


class MatchPlayer(_Record):
    player_slot: int
    account_id: int | None  # None: anonymous
    hero_id: int
    is_radiant: bool
    win: bool | None = None
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


class MatchDetails(_Record):
    match_id: int
    source: str
    match_seq_num: int | None = None
    start_time: datetime | None = None
    duration: int | None = None
    lobby_type: int | None = None
    game_mode: int | None = None
    radiant_win: bool | None = None
    region: int | None = None
    players: list[MatchPlayer]
    unknown_heroes: int = 0  # players whose hero id is not in the hero table (kept, counted)


class PlayerBan(_Record):
    account_id: int
    vac_banned: bool
    number_of_vac_bans: int
    number_of_game_bans: int
    community_banned: bool
    economy_ban: str | None = None
    days_since_last_ban: int | None = None


class BanResults(_Record):
    source: str
    bans: list[PlayerBan]
    not_found: list[int] = []  # account ids the provider no longer knows
