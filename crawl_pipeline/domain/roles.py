"""Roles of the players in a tracked match, relative to tracked identities (replay sync).

Configuration: ``me`` (one account id) and ``teammates`` (the friends' account ids). Every
player of a match where ``me`` played gets one role:

=================  ==========================================================
``me``             the tracked account itself
``teammate``       on me's side with a known account id
``anon_teammate``  on me's side, anonymous (account id None / 4294967295)
``opponent``       on the other side with a known id - even a listed teammate
``anon_opponent``  on the other side, anonymous
=================  ==========================================================

With ``listed_only=True`` an unlisted (but known) player on me's side counts as
``anon_teammate``: "not one of our identities", for reports about the friends group only.

Pure functions over plain rows: a row is a mapping (or an object with attributes) with
``account_id`` and either ``is_radiant`` or ``player_slot`` (0-127 radiant); the aggregation
helpers also read ``match_id``, ``win``, ``kills``, ``deaths``, ``assists`` and ``hero_id``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping

from .identity import is_anonymous

ME, TEAMMATE, ANON_TEAMMATE, OPPONENT, ANON_OPPONENT = "me", "teammate", "anon_teammate", "opponent", "anon_opponent"
ROLES: tuple[str, ...] = (ME, TEAMMATE, ANON_TEAMMATE, OPPONENT, ANON_OPPONENT)


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def account_of(player: Any) -> int | None:
    """The player's account id, None when anonymous (missing or 4294967295)."""
    aid = _get(player, "account_id")
    return None if is_anonymous(aid) else int(aid)


def side_of(player: Any) -> bool:
    """True for radiant: ``is_radiant`` when present, else ``player_slot < 128``."""
    radiant = _get(player, "is_radiant")
    if radiant is not None:
        return bool(radiant)
    slot = _get(player, "player_slot")
    if slot is None:
        raise ValueError("a player row needs is_radiant or player_slot")
    return int(slot) < 128


def role_of(player: Any, me_side: bool, me: int, teammates: Collection[int], *, listed_only: bool = False) -> str:
    """Role of one player given me's side (True = radiant), me and the listed teammates."""
    aid = account_of(player)
    same_side = side_of(player) == bool(me_side)
    if aid is not None and aid == me:
        return ME
    if not same_side:
        return ANON_OPPONENT if aid is None else OPPONENT
    if aid is None or (listed_only and aid not in teammates):
        return ANON_TEAMMATE
    return TEAMMATE


def match_roles(players: Iterable[Any], me: int, teammates: Collection[int], *, listed_only: bool = False) -> list[tuple[Any, str]]:
    """(player, role) for every player of one match; ValueError when me did not play it."""
    rows = list(players)
    mine = [p for p in rows if account_of(p) == me]
    if not mine:
        raise ValueError(f"account {me} did not play this match")
    me_side = side_of(mine[0])
    return [(p, role_of(p, me_side, me, teammates, listed_only=listed_only)) for p in rows]


@dataclass
class RoleStats:
    """Games, wins, K/D/A sums and heroes of the players holding one role."""

    games: int = 0
    wins: int = 0
    kills: int = 0
    deaths: int = 0
    assists: int = 0
    heroes: Counter = field(default_factory=Counter)

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.games if self.games else None

    @property
    def kda(self) -> float | None:
        """(kills + assists) / max(1, deaths) over all the role's games."""
        return (self.kills + self.assists) / max(1, self.deaths) if self.games else None

    def add(self, row: Any) -> None:
        self.games += 1
        self.wins += 1 if _get(row, "win") else 0
        self.kills += int(_get(row, "kills", 0) or 0)
        self.deaths += int(_get(row, "deaths", 0) or 0)
        self.assists += int(_get(row, "assists", 0) or 0)
        hero = _get(row, "hero_id")
        if hero is not None:
            self.heroes[int(hero)] += 1


def _by_match(rows: Iterable[Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[_get(row, "match_id")].append(row)
    return grouped


def role_stats(rows: Iterable[Any], me: int, teammates: Collection[int], *, listed_only: bool = False) -> dict[str, RoleStats]:
    """Per-role stats over player rows of many matches (grouped by ``match_id``).

    Matches in which ``me`` does not appear are skipped. Every role is present in the result."""
    out = {role: RoleStats() for role in ROLES}
    for players in _by_match(rows).values():
        try:
            assigned = match_roles(players, me, teammates, listed_only=listed_only)
        except ValueError:
            continue
        for player, role in assigned:
            out[role].add(player)
    return out


@dataclass(frozen=True)
class PlayerMet:
    """How often me met one account: with (same side) and against, and me's wins in each."""

    account_id: int
    games: int
    with_games: int
    with_wins: int
    against_games: int
    against_wins: int
    is_listed_teammate: bool


def players_met(rows: Iterable[Any], me: int, teammates: Collection[int], top: int | None = 10) -> list[PlayerMet]:
    """Known accounts met most often in me's matches, most games first (ties: lower id first).

    Anonymous players and me are left out; wins are me's wins."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for players in _by_match(rows).values():
        mine = [p for p in players if account_of(p) == me]
        if not mine:
            continue
        me_side, me_won = side_of(mine[0]), bool(_get(mine[0], "win"))
        for p in players:
            aid = account_of(p)
            if aid is None or aid == me:
                continue
            c = counts[aid]
            if side_of(p) == me_side:
                c[0] += 1
                c[1] += me_won
            else:
                c[2] += 1
                c[3] += me_won
    met = [
        PlayerMet(aid, c[0] + c[2], c[0], c[1], c[2], c[3], aid in teammates) for aid, c in counts.items()
    ]
    met.sort(key=lambda m: (-m.games, m.account_id))
    return met if top is None else met[:top]
