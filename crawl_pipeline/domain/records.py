"""Normalized records every provider client returns (pydantic v2, validated).

A missing optional field is None. Providers map their own payloads onto these; code
downstream never sees a provider's dialect.

Nothing a provider sends is trusted: every number is checked against the column it is stored
in (a kills count of 40000 does not fit a smallint; an account id of 2**70 is no account) and
every string is clipped to ``MAX_TEXT`` characters, so a bad value is that item's
``MalformedResponse`` naming the field, never a database error that aborts a whole chunk. A
match has one to ten players, each in a slot of its own (five a side at most; 1v1 Solo Mid has two
players and a practice lobby may have one, and OpenDota and Steam list those matches too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_TEXT = 512  # characters kept of any provider string (names, avatars, country codes)


def _clip(value: object) -> object:
    """At most MAX_TEXT characters, and no NUL (PostgreSQL text cannot hold one)."""
    return value[:MAX_TEXT].replace("\x00", "") if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_clip)]
# the database columns' ranges
AccountId = Annotated[int, Field(gt=0, lt=4_294_967_295)]
MatchId = Annotated[int, Field(gt=0, le=2**63 - 1)]
SeqNum = Annotated[int, Field(ge=0, le=2**63 - 1)]
Small = Annotated[int, Field(ge=-32768, le=32767)]
Count = Annotated[int, Field(ge=0, le=32767)]  # kills, deaths, assists: smallint
Int = Annotated[int, Field(ge=0, le=2**31 - 1)]  # gpm, xpm, last hits, net worth, durations, matches
Slot = Annotated[int, Field(ge=0, le=255)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlayerProfile(_Record):
    account_id: AccountId
    source: str
    personaname: Text | None = None
    avatar: Text | None = None
    loccountrycode: Text | None = None
    plus: bool | None = None
    last_login: datetime | None = None
    rank_tier: int | None = Field(default=None, ge=0, le=80)
    leaderboard_rank: Int | None = None
    is_private: bool | None = None  # the provider says the match history is not shared (None: not said)


class RankChange(_Record):
    observed_at: datetime
    rank_tier: int = Field(ge=0, le=80)


class RankHistory(_Record):
    """An account's medal over time as a provider recorded it: a row each time it saw the medal
    change (OpenDota's ``/players/{id}/ratings``), oldest first."""

    account_id: AccountId
    source: str
    changes: list[RankChange]


class HeroStat(_Record):
    hero_id: Small
    matches: Int
    wins: Int
    last_played: datetime | None = None

    @model_validator(mode="after")
    def _wins_within_matches(self) -> HeroStat:
        if self.wins > self.matches:
            raise ValueError(f"hero {self.hero_id}: {self.wins} wins in {self.matches} matches")
        return self


class HeroStats(_Record):
    account_id: AccountId
    source: str
    heroes: list[HeroStat]
    unknown_heroes_skipped: int = 0  # rows with hero ids missing from the hero table


class MatchStub(_Record):
    match_id: MatchId
    match_seq_num: SeqNum | None = None
    start_time: datetime | None = None
    lobby_type: Small | None = None
    game_mode: Small | None = None
    duration: Int | None = None
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

    account_id: AccountId
    source: str
    matches: list[MatchStub]
    next_cursor: int | None = None
    total: Int | None = None
    is_private: bool = False


class MatchPlayer(_Record):
    player_slot: Slot
    account_id: AccountId | None  # None: anonymous
    hero_id: Small
    is_radiant: bool
    win: bool | None = None
    kills: Count | None = None
    deaths: Count | None = None
    assists: Count | None = None
    gold_per_min: Int | None = None
    xp_per_min: Int | None = None
    last_hits: Int | None = None
    denies: Int | None = None
    net_worth: Int | None = None
    hero_damage: Int | None = None
    lane_role: Small | None = None
    rank_tier: Small | None = None


MAX_PLAYERS_PER_MATCH = 10  # Dota's slots: positions 0-4 of either team


class MatchDetails(_Record):
    match_id: MatchId
    source: str
    match_seq_num: SeqNum | None = None
    start_time: datetime | None = None
    duration: Int | None = None
    lobby_type: Small | None = None
    game_mode: Small | None = None
    radiant_win: bool | None = None
    region: Small | None = None
    players: list[MatchPlayer]
    unknown_heroes: int = 0  # players whose hero id is not in the hero table (kept, counted)

    @model_validator(mode="after")
    def _players_in_slots_of_their_own(self) -> MatchDetails:
        slots = {p.player_slot for p in self.players}
        if not 1 <= len(self.players) <= MAX_PLAYERS_PER_MATCH or len(slots) != len(self.players):
            raise ValueError(
                f"match {self.match_id} has {len(self.players)} players in {len(slots)} distinct slots; "
                f"a match has 1 to {MAX_PLAYERS_PER_MATCH}, each in a slot of its own"
            )
        return self


class PlayerBan(_Record):
    account_id: AccountId
    vac_banned: bool
    number_of_vac_bans: Count
    number_of_game_bans: Count
    community_banned: bool
    economy_ban: Text | None = None
    days_since_last_ban: Int | None = None


class BanResults(_Record):
    source: str
    bans: list[PlayerBan]
    not_found: list[int] = []  # account ids the provider no longer knows
