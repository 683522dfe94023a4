"""Roles of the players in a tracked match, relative to the tracked identities (replay sync).

Configuration (:class:`Identities`, parsed and validated in ``settings.py`` from
``TRACKED_IDENTITIES``): ``me`` is one person with one or more accounts (main, smurfs) and
``teammates`` are named friends, each with their own accounts::

    {"me": [111, 222], "teammates": {"alice": [333, 444], "bob": [555]}}

Every player of a match where one of me's accounts played gets one role:

=================  ==============================================================  ============
role               who                                                             ``identity``
=================  ==============================================================  ============
``me``             one of me's accounts                                            ``"me"``
``teammate``       on me's side, an account of a named teammate                    its name
``anon_teammate``  anyone else on me's side: an unlisted account or anonymous      None
``anon_opponent``  every player on the other side - even a named teammate          None
=================  ==============================================================  ============

A match where me's accounts played on both sides has no "me side": it is ambiguous, gets no
roles and is counted apart (:class:`MatchRoles` raises :class:`AmbiguousMatch`).

Stats per identity (:func:`identity_stats`): ``me`` as a whole over all its accounts and each
named teammate; ``games`` are matches played on me's side (a match counts once even when two of
the identity's accounts are in it), ``wins`` me's side won, K/D/A sums and heroes over its rows,
``games_against`` matches a teammate played on the other side (not in its other numbers).

Pure functions over plain rows: a row is a mapping (or an object with attributes) with
``account_id`` and either ``is_radiant`` or ``player_slot`` (0-127 radiant); the aggregation
helpers also read ``match_id``, ``win``, ``kills``, ``deaths``, ``assists``, ``hero_id`` and
(optionally) ``start_time``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .identity import is_anonymous

ME, TEAMMATE, ANON_TEAMMATE, ANON_OPPONENT = "me", "teammate", "anon_teammate", "anon_opponent"
ROLES: tuple[str, ...] = (ME, TEAMMATE, ANON_TEAMMATE, ANON_OPPONENT)
ME_IDENTITY = "me"  # the identity name of me's accounts; no teammate may take it


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


@dataclass(frozen=True)
class Identities:
    """Me's accounts and the named teammates' accounts (validated by ``settings.parse_identities``)."""

    me: tuple[int, ...]
    teammates: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def simple(cls, me: int, teammates: Iterable[int] = ()) -> Identities:
        """The TRACKED_ME / TRACKED_TEAMMATES form: one me account, each teammate named by its id."""
        return cls((me,), {str(t): (t,) for t in teammates})

    @property
    def me_ids(self) -> frozenset[int]:
        return frozenset(self.me)

    @property
    def names(self) -> tuple[str, ...]:
        """``"me"`` then the teammates in configuration order."""
        return (ME_IDENTITY, *self.teammates)

    def name_of(self, account_id: int | None) -> str | None:
        """``"me"``, the teammate's name, or None for an account that is not one of ours."""
        return self._by_account().get(account_id) if account_id is not None else None

    def _by_account(self) -> dict[int, str]:
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = dict.fromkeys(self.me, ME_IDENTITY)
            for name, accounts in self.teammates.items():
                cached.update(dict.fromkeys(accounts, name))
            object.__setattr__(self, "_index", cached)
        return cached

    def accounts(self) -> list[tuple[int, str, str]]:
        """(account_id, identity, kind) per configured account; kind is ``me`` or ``teammate``."""
        rows = [(a, ME_IDENTITY, ME) for a in self.me]
        rows += [(a, name, TEAMMATE) for name, accounts in self.teammates.items() for a in accounts]
        return rows

    def as_config(self) -> dict:
        """The configuration shape, for JSON metadata and the CLI."""
        return {"me": list(self.me), "teammates": {n: list(a) for n, a in self.teammates.items()}}


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


class NotMyMatch(ValueError):
    """None of me's accounts played this match."""


class AmbiguousMatch(ValueError):
    """Me's accounts played on both sides of this match: it has no "me side"."""


def me_side(players: Iterable[Any], identities: Identities) -> bool:
    """The side of me's accounts (True = radiant); NotMyMatch / AmbiguousMatch otherwise."""
    sides = {side_of(p) for p in players if account_of(p) in identities.me_ids}
    if not sides:
        raise NotMyMatch(f"none of me's accounts {sorted(identities.me)} played this match")
    if len(sides) > 1:
        raise AmbiguousMatch("me's accounts played on both sides of this match")
    return sides.pop()


def role_of(player: Any, my_side: bool, identities: Identities) -> tuple[str, str | None]:
    """(role, identity) of one player given me's side (True = radiant)."""
    aid = account_of(player)
    name = identities.name_of(aid)
    if name == ME_IDENTITY:
        return ME, ME_IDENTITY
    if side_of(player) != bool(my_side):
        return ANON_OPPONENT, None
    if name is None:
        return ANON_TEAMMATE, None
    return TEAMMATE, name


@dataclass(frozen=True)
class Assigned:
    player: Any
    role: str
    identity: str | None


def match_roles(players: Iterable[Any], identities: Identities) -> list[Assigned]:
    """The role of every player of one match; NotMyMatch or AmbiguousMatch (both ValueError)."""
    rows = list(players)
    side = me_side(rows, identities)
    return [Assigned(p, *role_of(p, side, identities)) for p in rows]


@dataclass
class RoleStats:
    """Games, wins, K/D/A sums and heroes of the player rows holding one role."""

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
        """(kills + assists) / max(1, deaths) over all the games."""
        return (self.kills + self.assists) / max(1, self.deaths) if self.games else None

    def _add_line(self, row: Any) -> None:
        self.kills += int(_get(row, "kills", 0) or 0)
        self.deaths += int(_get(row, "deaths", 0) or 0)
        self.assists += int(_get(row, "assists", 0) or 0)
        hero = _get(row, "hero_id")
        if hero is not None:
            self.heroes[int(hero)] += 1

    def add(self, row: Any) -> None:
        self.games += 1
        self.wins += 1 if _get(row, "win") else 0
        self._add_line(row)


@dataclass
class IdentityStats(RoleStats):
    """One identity's games on me's side (a match counts once), plus matches against me."""

    games_against: int = 0
    accounts: Counter = field(default_factory=Counter)  # account -> games on me's side with it
    last_played: datetime | None = None
    _matches: set = field(default_factory=set, repr=False)

    def add(self, row: Any) -> None:
        match_id = _get(row, "match_id")
        if match_id not in self._matches:
            self._matches.add(match_id)
            self.games += 1
            self.wins += 1 if _get(row, "win") else 0
        self.accounts[account_of(row)] += 1
        self._add_line(row)
        started = _get(row, "start_time")
        if started is not None and (self.last_played is None or started > self.last_played):
            self.last_played = started


def _by_match(rows: Iterable[Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[_get(row, "match_id")].append(row)
    return grouped


def assign_all(rows: Iterable[Any], identities: Identities) -> tuple[dict[Any, list[Assigned]], list[Any]]:
    """Roles per match over rows of many matches: ({match_id: assigned}, ambiguous match ids).

    Matches none of me's accounts played are left out; ambiguous ones are listed apart."""
    out: dict[Any, list[Assigned]] = {}
    ambiguous: list[Any] = []
    for match_id, players in _by_match(rows).items():
        try:
            out[match_id] = match_roles(players, identities)
        except AmbiguousMatch:
            ambiguous.append(match_id)
        except NotMyMatch:
            continue
    return out, ambiguous


def role_stats(rows: Iterable[Any], identities: Identities) -> dict[str, RoleStats]:
    """Per-role stats over player rows of many matches (each row counts). Every role is present."""
    out = {role: RoleStats() for role in ROLES}
    for assigned in assign_all(rows, identities)[0].values():
        for a in assigned:
            out[a.role].add(a.player)
    return out


def identity_stats(rows: Iterable[Any], identities: Identities) -> dict[str, IdentityStats]:
    """Stats of ``me`` (all its accounts) and of each named teammate, in configuration order.

    Every configured identity is present; ambiguous matches are left out."""
    out = {name: IdentityStats() for name in identities.names}
    for assigned in assign_all(rows, identities)[0].values():
        against = set()
        for a in assigned:
            if a.identity is not None:
                out[a.identity].add(a.player)
            elif a.role == ANON_OPPONENT:
                name = identities.name_of(account_of(a.player))
                if name is not None:
                    against.add(name)
        for name in against:
            out[name].games_against += 1
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
    identity: str | None  # the teammate's name when the account is listed
    last_played: datetime | None = None


def players_met(rows: Iterable[Any], identities: Identities, top: int | None = 10) -> list[PlayerMet]:
    """Known accounts met most often in me's matches (any of me's accounts), wins being me's.

    Order: most games first, then the most recently met, then the lower id. Me's accounts and
    anonymous players are left out; ambiguous matches too."""
    counts: dict[int, list] = defaultdict(lambda: [0, 0, 0, 0, None])
    for assigned in assign_all(rows, identities)[0].values():
        mine = next(a.player for a in assigned if a.role == ME)
        my_side, me_won, started = side_of(mine), bool(_get(mine, "win")), _get(mine, "start_time")
        for a in assigned:
            aid = account_of(a.player)
            if aid is None or a.role == ME:
                continue
            c = counts[aid]
            offset = 0 if side_of(a.player) == my_side else 2
            c[offset] += 1
            c[offset + 1] += me_won
            if started is not None and (c[4] is None or started > c[4]):
                c[4] = started
    met = [
        PlayerMet(aid, c[0] + c[2], c[0], c[1], c[2], c[3], identities.name_of(aid), c[4])
        for aid, c in counts.items()
    ]
    met.sort(key=lambda m: m.account_id)
    met.sort(key=lambda m: m.last_played.timestamp() if m.last_played else float("-inf"), reverse=True)
    met.sort(key=lambda m: m.games, reverse=True)
    return met if top is None else met[:top]
