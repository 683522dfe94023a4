"""Lazily derived match and profile content.

Only the skeleton of each match (players, lobby, mode, winner) is stored. Heroes, roles,
kills, gold, names and avatars are pure functions of (seed, match index, slot) computed
in vectorised batches here, so any endpoint (or any provider dialect) asking about the
same match sees exactly the same numbers without the world storing them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from crawl_pipeline.domain.identity import to_steamid64

from .cache import LRU
from .hashing import (
    NORMAL_STREAMS,
    box_muller,
    choice_index,
    extend,
    hash64,
    start,
    uniform,
    unit,
)
from .world import COUNTRIES, KIND_SMURF, World, rank_tier_from_mmr

# field tags: each random quantity gets its own stream
_F_DURATION, _F_HERO_POOL, _F_HERO_SLOT, _F_HERO_ANY, _F_UNKNOWN, _F_UNKNOWN_ID = 1, 2, 3, 4, 5, 6
_F_ROLE, _F_JUNGLE, _F_PERF, _F_STAT, _F_ANON, _F_PARTY, _F_LEAVER, _F_REGION, _F_RETRY = range(7, 16)
_F_NAME, _F_AVATAR, _F_LOGIN, _F_STYLE, _F_ITEM = 20, 21, 22, 23, 24
# end-of-game inventory draws: empty slot, blink, boots, magic wand, TP scroll, boots of travel,
# phase boots, power treads, aghanim's scepter, black king bar (dotaconstants item ids)
ITEM_POOL = np.array([0, 1, 29, 36, 46, 48, 50, 63, 108, 116])

UNKNOWN_HERO_BASE = 200  # ids the hero table does not know (new heroes before a data update)
LANE_BY_POSITION = np.array([0, 1, 2, 3, 3, 1])  # OpenDota lane_role: 1 safe, 2 mid, 3 off, 4 jungle
# Valve server cluster -> region, as dotaconstants build/cluster.json (odota/dotaconstants
# d5861a7981e0d8f88b3f2aeed08a27a34091fd19), the table OpenDota derives ``region`` from
# (svc/util/compute.ts, svc/util/filter.ts). Region ids are those of reference/region.json.
CLUSTER_REGION: dict[int, int] = {
    111: 1, 112: 1, 113: 1, 114: 1, 117: 1, 118: 1, 121: 2, 122: 2, 123: 2, 124: 2,
    131: 3, 132: 3, 133: 3, 134: 3, 135: 3, 136: 3, 137: 3, 138: 3, 141: 19, 142: 19, 143: 19,
    144: 19, 145: 19, 151: 5, 152: 5, 153: 5, 154: 5, 155: 5, 156: 5, 161: 6, 162: 6, 163: 6,
    171: 7, 172: 7, 181: 8, 182: 8, 183: 8, 184: 8, 185: 8, 186: 8, 187: 8, 188: 8, 191: 9,
    192: 9, 193: 9, 200: 10, 201: 10, 202: 10, 203: 10, 204: 10, 211: 11, 212: 11, 213: 11,
    214: 11, 221: 12, 222: 12, 223: 18, 224: 12, 225: 17, 227: 20, 231: 13, 232: 25, 235: 13,
    236: 13, 241: 14, 242: 14, 251: 15, 261: 16, 273: 3, 274: 3, 346: 38, 347: 38,
}  # fmt: skip
# Regions matches are played in (Western and SEA servers; no Chinese ones) and their clusters.
REGIONS = np.array([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16, 19, 38])
_REGION_CLUSTERS = [sorted(c for c, r in CLUSTER_REGION.items() if r == region) for region in REGIONS.tolist()]
_CLUSTER_COUNT = np.array([len(c) for c in _REGION_CLUSTERS])
_CLUSTER_TABLE = np.array([c + [c[0]] * (max(_CLUSTER_COUNT) - len(c)) for c in _REGION_CLUSTERS])
# per position 1..5: kills, deaths, assists, gpm, xpm, last-hit share of farm
_BASE = np.array(
    [
        [0, 0, 0, 0, 0, 0],
        [8.0, 4.5, 7.0, 620.0, 680.0, 0.55],
        [9.0, 5.5, 8.0, 560.0, 720.0, 0.48],
        [6.5, 6.5, 10.0, 470.0, 600.0, 0.38],
        [4.0, 8.0, 14.0, 330.0, 430.0, 0.10],
        [2.5, 8.5, 15.0, 270.0, 360.0, 0.05],
    ]
)


@dataclass(frozen=True, slots=True)
class MatchBatch:
    """Content of K matches; per-slot arrays are (K, 10), slots 0-4 radiant, 5-9 dire."""

    index: NDArray[np.int64]
    match_id: NDArray[np.int64]
    match_seq_num: NDArray[np.int64]
    start_time: NDArray[np.int64]
    duration: NDArray[np.int64]
    lobby_type: NDArray[np.int64]
    game_mode: NDArray[np.int64]
    radiant_win: NDArray[np.bool_]
    region: NDArray[np.int64]
    cluster: NDArray[np.int64]
    players: NDArray[np.int64]  # account index per slot
    account_id: NDArray[np.int64]  # per slot; ANONYMOUS slots hold -1
    hero_id: NDArray[np.int64]
    position: NDArray[np.int64]
    lane_role: NDArray[np.int64]
    rank_tier: NDArray[np.int64]  # 0 = uncalibrated
    kills: NDArray[np.int64]
    deaths: NDArray[np.int64]
    assists: NDArray[np.int64]
    gold_per_min: NDArray[np.int64]
    xp_per_min: NDArray[np.int64]
    last_hits: NDArray[np.int64]
    denies: NDArray[np.int64]
    net_worth: NDArray[np.int64]
    hero_damage: NDArray[np.int64]
    tower_damage: NDArray[np.int64]
    hero_healing: NDArray[np.int64]
    level: NDArray[np.int64]
    party_size: NDArray[np.int64]
    leaver_status: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def is_radiant(self) -> NDArray[np.bool_]:
        return np.broadcast_to(np.arange(10) < 5, self.players.shape)

    @property
    def win(self) -> NDArray[np.bool_]:
        return self.is_radiant == self.radiant_win[:, None]

    def average_rank(self) -> NDArray[np.int64]:
        ranked = self.rank_tier > 0
        total = np.where(ranked, self.rank_tier, 0).sum(axis=1)
        return np.where(ranked.any(axis=1), total // np.maximum(1, ranked.sum(axis=1)), 0)


def match_batch(world: World, match_index: NDArray[np.int64]) -> MatchBatch:
    """Derive the full content of the given matches (any order, duplicates allowed)."""
    seed = world.seed
    idx = np.asarray(match_index, dtype=np.int64)
    k = idx.size
    players = world.match_players[idx].astype(np.int64)
    streams = _SlotStreams(seed, idx)
    per_match = extend(extend(start(seed), idx)[None], _MATCH_TAGS[:, None])  # (seed, match, tag) streams
    rnd = world.round_of(idx)
    mmr = world.mmr_at(players, rnd[:, None])
    eff = world.effective_at(players, rnd[:, None])
    radiant_win = world.radiant_win[idx]
    game_mode = world.game_mode[idx].astype(np.int64)
    turbo = game_mode == 23

    # Stomps are short, close games long; turbo is about half as long.
    diff = np.abs(eff[:, :5].sum(axis=1) - eff[:, 5:].sum(axis=1))
    duration = 1500 + 1500 * unit(per_match[0]) - np.minimum(diff, 3000) * 0.15  # uniform(seed, idx, _F_DURATION)
    duration = np.where(turbo, duration * 0.55, duration).astype(np.int64)

    hero = _heroes(world, players, streams)
    position = _positions(world, players, streams)
    lane = LANE_BY_POSITION[position]
    lane = np.where((position == 4) & (streams.uniform(_F_JUNGLE) < 0.06), 4, lane)

    won = (np.arange(10)[None, :] < 5) == radiant_win[:, None]
    kind = world.accounts.kind[players]
    noise_scale = np.where(kind == KIND_SMURF, 0.4, 0.9)  # smurfs are consistent
    lobby_mmr = mmr.mean(axis=1, keepdims=True)
    # Performance against the lobby: skill above the bracket, a persistent personal style
    # (some honest players are simply aggressive), match noise, and the result.
    style = 0.35 * _normals(extend(start(seed), players, _F_STYLE), None)[0]  # normal(seed, players, _F_STYLE)
    z = (eff - lobby_mmr) / 1000.0 + style + noise_scale * streams.normal(_F_PERF) + np.where(won, 0.45, -0.45)
    minutes = duration[:, None] / 60.0
    base = _BASE[position]
    bracket = 1.0 + (lobby_mmr - 3000.0) / 15000.0  # better brackets farm a bit faster
    stat = _normals(streams.hash(_F_STAT), _STAT_TAGS)  # normal(seed, row, col, _F_STAT, tag), tags 1..11
    jitter = lambda tag: np.exp(0.25 * stat[tag - 1])
    game_len = minutes / 38.0
    kills = np.rint(base[..., 0] * np.exp(0.3 * z) * game_len * jitter(1)).astype(np.int64)
    deaths = np.rint(base[..., 1] * np.exp(-0.25 * z) * game_len * jitter(2)).astype(np.int64)
    assists = np.rint(base[..., 2] * np.exp(0.15 * z) * game_len * jitter(3)).astype(np.int64)
    turbo_gold = np.where(turbo, 1.8, 1.0)[:, None]
    gpm = np.rint(base[..., 3] * np.exp(0.14 * z) * bracket * turbo_gold * jitter(4)).astype(np.int64)
    xpm = np.rint(base[..., 4] * np.exp(0.12 * z) * bracket * turbo_gold * jitter(5)).astype(np.int64)
    last_hits = np.rint(gpm * minutes * base[..., 5] / 40.0 * jitter(6)).astype(np.int64)  # ~40 gold a creep
    denies = np.rint(last_hits * 0.07 * jitter(7)).astype(np.int64)
    net_worth = np.rint(gpm * minutes * 0.82 * jitter(8)).astype(np.int64)
    hero_damage = np.rint((kills * 1400 + assists * 500 + minutes * 250) * jitter(9)).astype(np.int64)
    tower_damage = np.rint(gpm * minutes * np.where(position <= 3, 0.35, 0.08) * jitter(10)).astype(np.int64)
    hero_healing = np.rint(np.where(position >= 4, 90.0, 10.0) * minutes * jitter(11)).astype(np.int64)
    level = np.clip(np.rint(np.sqrt(xpm * minutes / 110.0)), 1, 30).astype(np.int64)

    anonymous = streams.uniform(_F_ANON) < world.config.anonymous_rate
    account_id = np.where(anonymous, -1, world.account_ids(players))
    tiers = rank_tier_from_mmr(mmr)
    tiers = np.where(world.accounts.calibrated[players], tiers, 0)
    party = np.where(streams.uniform(_F_PARTY) < 0.62, 1, 2 + streams.choice(4, _F_PARTY, 1))
    leaver = np.where(streams.uniform(_F_LEAVER) < 0.004, 2, 0)
    # A match is hosted on one cluster; its region is that cluster's (the way OpenDota derives it).
    which = (per_match[1] % np.uint64(REGIONS.size)).astype(np.int64)  # choice_index(seed, n, idx, _F_REGION)
    slot = (extend(per_match[1], 1) % _CLUSTER_COUNT[which].astype(np.uint64)).astype(np.int64)
    cluster = _CLUSTER_TABLE[which, slot]
    region = REGIONS[which]
    return MatchBatch(
        index=idx,
        match_id=world.match_id(idx),
        match_seq_num=world.match_seq_num(idx),
        start_time=world.start_time(idx),
        duration=duration,
        lobby_type=world.lobby_type[idx].astype(np.int64),
        game_mode=game_mode,
        radiant_win=radiant_win,
        region=region,
        cluster=cluster,
        players=players,
        account_id=account_id,
        hero_id=hero,
        position=position,
        lane_role=lane,
        rank_tier=tiers,
        kills=kills,
        deaths=np.maximum(deaths, 0),
        assists=assists,
        gold_per_min=gpm,
        xp_per_min=xpm,
        last_hits=last_hits,
        denies=denies,
        net_worth=net_worth,
        hero_damage=hero_damage,
        tower_damage=tower_damage,
        hero_healing=hero_healing,
        level=level,
        party_size=np.broadcast_to(party, players.shape).copy() if k else party,
        leaver_status=leaver,
    )


class _SlotStreams:
    """The hash streams of a batch's (match, slot) coordinates: ``hash64(seed, match, slot, tag, ...)``.

    They share the (seed, match, slot) prefix, and every single-tag stream is hashed in one
    stacked pass, so a batch pays a handful of numpy calls per hash step instead of dozens.
    Values are exactly those of ``uniform``/``choice_index``/``normal`` on the same keys.
    """

    def __init__(self, seed: int, idx: NDArray[np.int64]) -> None:
        prefix = extend(start(seed), idx[:, None], _COLUMNS)  # (K, 10)
        stacked = extend(prefix[None], _SLOT_TAGS[:, None, None])  # (tags, K, 10)
        self._by_tag = {int(t): stacked[i] for i, t in enumerate(_SLOT_TAGS.tolist())}

    def hash(self, tag: int, *more: int) -> NDArray[np.uint64]:
        h = self._by_tag[tag]
        return extend(h, *more) if more else h

    def uniform(self, tag: int, *more: int) -> NDArray[np.float64]:
        return unit(self.hash(tag, *more))

    def choice(self, n: int, tag: int, *more: int) -> NDArray[np.int64]:
        return (self.hash(tag, *more) % np.uint64(n)).astype(np.int64)

    def normal(self, tag: int) -> NDArray[np.float64]:
        return _normals(self.hash(tag), None)[0]


def _normals(h: NDArray[np.uint64], tags: NDArray[np.int64] | None) -> list[NDArray[np.float64]]:
    """``normal`` of the chain ``h`` (or of ``h`` extended by each of ``tags``), one array per tag.

    The two uniforms of each normal are hashed together; the float transform runs on each
    (K, 10) array separately, exactly as ``normal`` computes it.
    """
    h = h[None] if tags is None else extend(h[None], tags.reshape((-1,) + (1,) * h.ndim))  # (tags, ...)
    pair = extend(h[None], NORMAL_STREAMS.reshape((2,) + (1,) * h.ndim))  # (2, tags, ...)
    return [box_muller(unit(pair[0, i]), unit(pair[1, i])) for i in range(h.shape[0])]


_COLUMNS = np.arange(10)[None, :]
_SLOT_TAGS = np.array([_F_HERO_POOL, _F_HERO_SLOT, _F_HERO_ANY, _F_UNKNOWN, _F_UNKNOWN_ID, _F_ROLE, _F_JUNGLE,
                       _F_PERF, _F_STAT, _F_ANON, _F_PARTY, _F_LEAVER, _F_RETRY], dtype=np.int64)  # fmt: skip
_MATCH_TAGS = np.array([_F_DURATION, _F_REGION], dtype=np.int64)
_STAT_TAGS = np.arange(1, 12, dtype=np.int64)


def inventory(world: World, b: MatchBatch, r: int, s: int) -> list[int]:
    """The six end-of-game item slots of one player (``item_0`` .. ``item_5``)."""
    return [int(x) for x in ITEM_POOL[choice_index(world.seed, ITEM_POOL.size, b.index[r], s, _F_ITEM, np.arange(6))]]


def _heroes(world: World, players: NDArray[np.int64], streams: _SlotStreams) -> NDArray[np.int64]:
    """Ten distinct heroes per match: mostly from each player's pool, rarely unknown ids."""
    known = world.known_hero_ids
    pool = world.accounts.hero_pool[players].astype(np.int64)
    from_pool = np.take_along_axis(pool, streams.choice(5, _F_HERO_SLOT)[..., None], axis=2)[..., 0]
    anyhero = known[streams.choice(known.size, _F_HERO_ANY)]
    hero = np.where(streams.uniform(_F_HERO_POOL) < 0.65, from_pool, anyhero)
    unknown = streams.uniform(_F_UNKNOWN) < world.config.unknown_hero_rate
    hero = np.where(unknown, UNKNOWN_HERO_BASE + streams.choice(40, _F_UNKNOWN_ID), hero)
    for attempt in range(8):
        dup = _duplicates(hero)
        if not dup.any():
            return hero
        redraw = known[streams.choice(known.size, _F_RETRY, attempt)]
        hero = np.where(dup, redraw, hero)
    for r in np.flatnonzero(_duplicates(hero).any(axis=1)):  # astronomically rare
        taken: set[int] = set()
        for c in range(10):
            if int(hero[r, c]) in taken:
                hero[r, c] = next(int(h) for h in known if int(h) not in taken and int(h) not in hero[r])
            taken.add(int(hero[r, c]))
    return hero


def _duplicates(hero: NDArray[np.int64]) -> NDArray[np.bool_]:
    """True where a slot repeats a hero already picked by an earlier slot of the match."""
    same = hero[:, :, None] == hero[:, None, :]
    return np.triu(same, k=1).any(axis=1)


def _positions(world: World, players: NDArray[np.int64], streams: _SlotStreams) -> NDArray[np.int64]:
    """Positions 1..5 per team, favouring each player's preferred position."""
    pref = world.accounts.position[players].astype(np.float64)
    key = pref + 1.6 * streams.uniform(_F_ROLE)
    pos = np.empty(players.shape, dtype=np.int64)
    for half in (slice(0, 5), slice(5, 10)):
        order = np.argsort(key[:, half], axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(5)[None, :].repeat(order.shape[0], axis=0), axis=1)
        pos[:, half] = ranks + 1
    return pos


# ---------------------------------------------------------------------- profiles
_SYLLABLES = ("ka", "ri", "zo", "mu", "ne", "ta", "shi", "vo", "lex", "dra", "ko", "ny", "sa", "xi", "ru", "gor", "el", "qu")
_ARANGE3, _ARANGE5 = np.arange(3)[None, :], np.arange(5)[None, :]
_WORDS = ("pudge", "mid", "carry", "ward", "rosh", "tango", "blink", "aegis", "creep", "tower", "rune", "dust")


def personaname(world: World, index: int) -> str:
    return personanames(world, np.array([index]))[0]


def personanames(world: World, indexes: NDArray[np.int64]) -> list[str]:
    """``personaname`` of many accounts with one hash call (flattened order)."""
    rows = hash64(world.seed, np.asarray(indexes).reshape(-1, 1), _F_NAME, _ARANGE5).tolist()
    return [_name(h) for h in rows]


def _name(h: list[int]) -> str:
    style = h[0] % 3
    word = "".join(_SYLLABLES[x % len(_SYLLABLES)] for x in h[1 : 2 + h[1] % 3]).capitalize()
    if style == 0:
        return f"{word}{h[3] % 1000}"
    if style == 1:
        return f"{_WORDS[h[2] % len(_WORDS)]}_{word.lower()}"
    return f"{word} {_WORDS[h[4] % len(_WORDS)].upper()}"


def avatar_urls(world: World, index: int) -> tuple[str, str, str]:
    return avatar_urls_many(world, np.array([index]))[0]


def avatar_urls_many(world: World, indexes: NDArray[np.int64]) -> list[tuple[str, str, str]]:
    out = []
    for h in hash64(world.seed, np.asarray(indexes).reshape(-1, 1), _F_AVATAR, _ARANGE3).tolist():
        base = f"https://avatars.steamstatic.com/{''.join(f'{x:016x}' for x in h)[:40]}"
        out.append((f"{base}.jpg", f"{base}_medium.jpg", f"{base}_full.jpg"))
    return out


def last_login(world: World, index: int) -> str | None:
    """OpenDota knows a login only for players who signed in there (about a fifth)."""
    return last_logins(world, np.array([index]))[0]


def last_logins(world: World, indexes: NDArray[np.int64]) -> list[str | None]:
    out: list[str | None] = []
    for u in uniform(world.seed, np.asarray(indexes).reshape(-1), _F_LOGIN).tolist():
        if u >= 0.2:
            out.append(None)
            continue
        moment = world.now - int(u * 5 * 180 * 86_400)
        out.append(datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    return out


def country(world: World, index: int) -> str | None:
    code = int(world.accounts.country[index])
    return None if code == 255 else COUNTRIES[code]


def profile_url(account_id: int) -> str:
    return f"https://steamcommunity.com/profiles/{to_steamid64(account_id)}/"


# ---------------------------------------------------------------------- serving helpers
_SLOTS = np.arange(10)
_ROW_FIELDS = (
    "account_id", "players", "hero_id", "position", "lane_role", "rank_tier", "kills", "deaths", "assists",
    "gold_per_min", "xp_per_min", "last_hits", "denies", "net_worth", "hero_damage", "tower_damage",
    "hero_healing", "level", "party_size", "leaver_status",
)  # fmt: skip
_MATCH_FIELDS = ("index", "match_id", "match_seq_num", "start_time", "duration", "lobby_type", "game_mode",
                 "radiant_win", "region", "cluster")  # fmt: skip


class MatchRows:
    """A ``MatchBatch`` read as plain Python values, for rendering answers.

    The numbers come out with one ``tolist()`` per field for every row at once, on the first
    row read (a block of 32 costs about what one row did), and the per-player extras
    (inventories, average ranks; names and last logins for OpenDota, kept per account in
    ``profiles`` when given) are hashed for the whole batch at once, on first use too. The
    values are exactly those of the batch.

    Per-slot values are kept as one flat list per field and sliced per read: a kept block then
    holds a few dozen lists instead of a thousand, which the garbage collector would walk
    again and again (it cost a fifth of serving a match).
    """

    __slots__ = ("_items", "_people", "_profiles", "_rows", "_tiers_now", "batch", "world")

    def __init__(self, world: World, batch: MatchBatch, profiles: LRU[tuple[str, str | None]] | None = None) -> None:
        self.world = world
        self.batch = batch
        self._profiles = profiles  # account index -> (personaname, last_login), if kept
        self._items: tuple[list[int], list[int]] | None = None
        self._people: tuple[list[str], list[str | None]] | None = None
        self._rows: tuple[dict[str, list[Any]], dict[str, list[Any]]] | None = None
        self._tiers_now: list[int] | None = None

    def __len__(self) -> int:
        return len(self.batch)

    def _items_and_ranks(self) -> tuple[list[int], list[int]]:
        """Every player's six item slots (= ``inventory``), flat, and the average rank per row."""
        if self._items is None:
            b, w = self.batch, self.world
            items = ITEM_POOL[choice_index(w.seed, ITEM_POOL.size, b.index[:, None, None], _SLOTS[None, :, None], _F_ITEM,
                                           np.arange(6)[None, None, :])]  # fmt: skip
            self._items = (items.ravel().tolist(), b.average_rank().tolist())
        return self._items

    def tiers_now(self, r: int) -> list[int]:
        """The ten players' medals today (0 uncalibrated), which OpenDota sends with a match."""
        if self._tiers_now is None:
            self._tiers_now = self.world.rank_tiers_now()[self.batch.players.ravel()].tolist()
        return self._tiers_now[10 * r : 10 * r + 10]

    def people(self, r: int) -> tuple[list[str], list[str | None]]:
        """``personaname`` and ``last_login`` of the ten players of row ``r``."""
        if self._people is None:
            self._people = self._names_and_logins(self.batch.players.reshape(-1))
        names, logins = self._people
        return names[10 * r : 10 * r + 10], logins[10 * r : 10 * r + 10]

    def _names_and_logins(self, flat: NDArray[np.int64]) -> tuple[list[str], list[str | None]]:
        if self._profiles is None:
            return personanames(self.world, flat), last_logins(self.world, flat)
        keys = flat.tolist()
        found = self._profiles.get_many(keys)
        missing = [j for j, f in enumerate(found) if f is None]
        if missing:
            fresh = flat[missing]
            made = list(zip(personanames(self.world, fresh), last_logins(self.world, fresh), strict=True))
            for j, profile in zip(missing, made, strict=True):
                found[j] = profile
            self._profiles.put_many([(keys[j], profile) for j, profile in zip(missing, made, strict=True)])
        return [f[0] for f in found], [f[1] for f in found]  # type: ignore[index]

    def row(self, r: int) -> dict[str, Any]:
        """Scalars of match ``r`` and its per-slot lists (plus ``items`` and ``average_rank``), fresh
        lists on every read."""
        if self._rows is None:  # the whole batch at once, on first use: one tolist() per field
            b = self.batch
            self._rows = ({name: getattr(b, name).tolist() for name in _MATCH_FIELDS},
                          {name: getattr(b, name).ravel().tolist() for name in _ROW_FIELDS})  # fmt: skip
        scalars, per_slot = self._rows
        out: dict[str, Any] = {name: values[r] for name, values in scalars.items()}
        lo, hi = 10 * r, 10 * r + 10
        for name, values in per_slot.items():
            out[name] = values[lo:hi]
        items, ranks = self._items_and_ranks()
        out["items"] = [items[i : i + 6] for i in range(60 * r, 60 * r + 60, 6)]
        out["average_rank"] = ranks[r]
        return out


_SEQUENTIAL_READERS = 4  # crawls reading the matches in order at once, each followed block by block


class MatchStore:
    """Match content for the serving path, derived in aligned blocks of ``block`` matches.

    Deriving 32 matches costs less than twice what deriving one does (numpy's per-call
    overhead dominates), and a crawl often asks for matches that are close together (the
    newest first, a sequence page). So a match is derived alone the first time its block is
    asked for, and the whole block when a second match of it comes while the block is still
    among the ``recent`` last touched, or at once when a neighbouring block was among the last
    few derived (a reader going through the matches in order gets each block whole from its
    first match on; a neighbour that is merely kept proves nothing, scattered reads keep blocks
    too): sequential readers then get the rest of the block from here, scattered readers pay no
    more than for one match. At most ``blocks`` blocks are kept (LRU); ``blocks=0`` derives every
    match on its own (the uncached path).
    """

    def __init__(self, world: World, blocks: int = 256, block: int = 32, recent: int = 64) -> None:
        self.world = world
        self.block = block
        self._recent_size = recent
        self.configure(blocks)

    def configure(self, blocks: int) -> None:
        """Keep at most ``blocks`` blocks from now on (dropping what is kept)."""
        self._blocks: LRU[MatchRows] = LRU(blocks)
        self._touched: LRU[bool] = LRU(self._recent_size if blocks else 0)
        self._derived: deque[int] = deque(maxlen=_SEQUENTIAL_READERS)  # starts of the blocks derived last
        # names and last logins of the players met lately (a player is in many matches)
        self._profiles: LRU[tuple[str, str | None]] | None = LRU(blocks * 256) if blocks else None

    @property
    def blocks(self) -> LRU[MatchRows]:
        return self._blocks

    @property
    def profiles(self) -> LRU[tuple[str, str | None]] | None:
        return self._profiles

    def locate(self, index: int) -> tuple[MatchRows, int]:
        """The rows holding match ``index`` and its row number there."""
        if not self._blocks.size:
            return MatchRows(self.world, match_batch(self.world, np.array([index]))), 0
        start = index - index % self.block
        rows = self._blocks.get(start)
        if rows is None:
            # A reader that just went through a neighbouring block (the newest first, or a
            # sequence page upwards) gets this whole block at once; anyone else, this match alone.
            sequential = start + self.block in self._derived or start - self.block in self._derived
            if not sequential and self._touched.get(start) is None:
                self._touched.put(start, True)
                return MatchRows(self.world, match_batch(self.world, np.array([index])), self._profiles), 0
            stop = min(self.world.num_matches, start + self.block)
            rows = MatchRows(self.world, match_batch(self.world, np.arange(start, stop)), self._profiles)
            self._blocks.put(start, rows)
            self._derived.append(start)
        return rows, index - start

    def many(self, indexes: list[int]) -> list[tuple[MatchRows, int]]:
        """Like ``locate`` for each index; those not in a kept block are derived in one batch."""
        found: list[tuple[MatchRows, int] | None] = []
        missing: list[int] = []
        for index in indexes:
            rows = self._blocks.get(index - index % self.block) if self._blocks.size else None
            found.append((rows, index % self.block) if rows is not None else None)
            if rows is None:
                missing.append(index)
        if missing:
            fresh = MatchRows(self.world, match_batch(self.world, np.array(missing, dtype=np.int64)), self._profiles)
            rows_of = iter(range(len(missing)))
            found = [f if f is not None else (fresh, next(rows_of)) for f in found]
        return found  # type: ignore[return-value]
