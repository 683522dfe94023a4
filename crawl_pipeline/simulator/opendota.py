"""The OpenDota REST dialect (``/api/...``), modelled on odota/core's ``svc/web.ts`` and spec.

Behaviour copied from the real service (odota/core 8d0a715, Aug 2026): the key comes from
``Authorization: Bearer`` or ``api_key``; a key that is not a UUID is
``400 {"error": "Invalid API key format"}``, an unknown one ``400 {"error": "API key invalid..."}``;
limits are a per-minute and (free tier only) a per-day counter that are incremented before
the check, with ``X-Rate-Limit-Remaining-*`` headers (which can go negative) and 429 bodies
``{"error": "minute rate limit exceeded"}`` / ``{"error": "daily api limit exceeded"}``.
Player routes validate the id (``400 {"error": "invalid account id"}``, svc/api/api.ts),
``/players/{id}`` of an account OpenDota does not know is the catch-all 404
``{"error": "Not Found"}`` while the list routes answer empty lists; lists default to
``significant=1``; private profiles (``fh_unavailable``) keep their profile but list no
matches. ``project`` works only as repeated keys (Express turns ``project=a&project=b`` into
an array; ``project=a,b`` is one unknown column and is dropped), on top of the always-present
``match_id, player_slot, radiant_win`` and the columns the filters need (``filterDeps``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crawl_pipeline.domain.heroes import heroes
from crawl_pipeline.domain.identity import to_steamid64

from .config import RateLimits, SimulatorConfig
from .content import (
    MatchRows,
    MatchStore,
    avatar_urls,
    country,
    last_login,
    match_batch,
    personaname,
    profile_url,
)
from .dialect import Principal, client_identity, proxy_error_page
from .ratelimit import Decision, Window
from .responses import JSONResponse
from .stats import redact
from .world import World

KEY_FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)
KEY_FORMAT_ERROR = "Invalid API key format"
INVALID_KEY_ERROR = "API key invalid. Please check the API dashboard or email support@opendota.com."
ALWAYS_FIELDS = ("match_id", "player_slot", "radiant_win")  # svc/api/playerFields.ts alwaysCols
DEFAULT_MATCH_FIELDS = (
    "hero_id", "start_time", "duration", "game_mode", "lobby_type", "version", "kills", "deaths",
    "assists", "average_rank", "leaver_status", "party_size", "hero_variant",
)  # fmt: skip  # playerFields.ts matchesCols: what /players/{id}/matches returns without project
# svc/util/filter.ts filterDeps: the columns a filter projects into the answer
FILTER_DEPS: dict[str, tuple[str, ...]] = {
    "win": ("player_slot", "radiant_win"),
    "leaver_status": ("leaver_status",),
    "game_mode": ("game_mode",),
    "lobby_type": ("lobby_type",),
    "region": ("cluster",),
    "date": ("start_time",),
    "lane_role": ("lane_role",),
    "hero_id": ("hero_id",),
    "is_radiant": ("player_slot",),
    "party_size": ("party_size",),
    "significant": ("duration", "game_mode", "lobby_type", "radiant_win"),
}
MATCH_LIST_FIELDS = (
    "match_id", "player_slot", "radiant_win", "duration", "game_mode", "lobby_type", "hero_id",
    "start_time", "version", "kills", "deaths", "assists", "skill", "average_rank",
    "leaver_status", "party_size", "hero_variant", "cluster", "lane_role", "level", "kda",
    "last_hits", "denies", "gold_per_min", "xp_per_min", "hero_damage", "tower_damage", "hero_healing",
)  # fmt: skip  # the player_caches columns (sql/create_tables.cql) the simulator can fill


def not_found() -> JSONResponse:
    return JSONResponse({"error": "Not Found"}, status_code=404)


@lru_cache(maxsize=2)
def _balanced(name: str) -> frozenset[int]:
    data = json.loads(resources.files("crawl_pipeline.reference").joinpath(name).read_text("utf-8"))
    return frozenset(int(k) for k, v in data.items() if v.get("balanced"))


# per-player fields an anonymous player's entry lacks in /matches/{id}
ANONYMOUS_ABSENT = ("account_id", "personaname", "last_login", "rank_tier", "name", "computed_mmr")


def iso_time(epoch: int) -> str:
    """A timestamptz the way OpenDota's JSON carries one (node-postgres Date: ``2024-05-01T12:34:56.000Z``)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def player_slot(slot: NDArray[np.int64]) -> NDArray[np.int64]:
    """Slots 0-4 are radiant (0..4), 5-9 dire (128..132)."""
    return np.where(slot < 5, slot, 128 + slot - 5)


def _number(value: str) -> int | None:
    """JavaScript's ``Number(value)`` where it is an integer; None otherwise."""
    try:
        return int(value)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


def _filter_keys(query: QueryParams) -> list[str]:
    """The query keys api.ts turns into filters: ``significant`` is 1 unless it is "0"."""
    keys = [k for k in dict.fromkeys(query.keys()) if k != "significant"]
    if query.get("significant") != "0":
        keys.append("significant")
    return keys


def projection(query: QueryParams) -> list[str]:
    """The columns of a /players/{id}/matches answer, as spec.ts + buildPlayer.ts build them."""
    wanted = list(ALWAYS_FIELDS)
    for key in _filter_keys(query):
        wanted.extend(FILTER_DEPS.get(key, ()))
    wanted.extend(query.getlist("project") or DEFAULT_MATCH_FIELDS)
    return [f for f in dict.fromkeys(wanted) if f in MATCH_LIST_FIELDS]  # sanitizedProject


class PlayerMatches:
    """An account's matches after OpenDota's query filters, newest first (svc/util/filter.ts)."""

    def __init__(self, world: World, index: int, query: QueryParams) -> None:
        matches = world.matches_of(index)[::-1]
        slots = world.slot_of(index, matches)
        batch = match_batch(world, matches)
        rows = np.arange(len(matches))
        keep = np.ones(len(matches), dtype=bool)

        def first(name: str) -> int | None:  # Express arrays: filters use the first value
            return _number(query.getlist(name)[0])

        for key in _filter_keys(query):
            if key == "significant":  # compute.ts isSignificant (no players on cached rows)
                keep &= np.isin(batch.game_mode, list(_balanced("game_mode.json")))
                keep &= np.isin(batch.lobby_type, list(_balanced("lobby_type.json")))
                keep &= batch.duration > 360
                continue
            if key not in FILTER_DEPS:
                continue
            value = first(key)
            if value is None:  # a non-number stays a string and equals nothing
                keep[:] = False
            elif key in ("lobby_type", "game_mode"):
                keep &= (batch.lobby_type if key == "lobby_type" else batch.game_mode) == value
            elif key == "hero_id":
                keep &= batch.hero_id[rows, slots] == value
            elif key == "win":
                keep &= batch.win[rows, slots].astype(np.int64) == value
            elif key == "is_radiant":
                keep &= (slots < 5).astype(np.int64) == value
            elif key == "leaver_status":
                keep &= batch.leaver_status[rows, slots] == value
            elif key == "party_size":
                keep &= batch.party_size[rows, slots] == value
            elif key == "lane_role":  # the simulated matches are unparsed: no lane to match
                keep &= False
            elif key == "region":
                keep &= batch.region == value
            elif key == "date":
                keep &= batch.start_time > world.now - value * 86_400
        self.batch, self.rows, self.slots = batch, rows[keep], slots[keep]

    def page(self, query: QueryParams) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``offset`` and ``limit`` as JavaScript's ``slice`` (0 or no limit: everything)."""
        offset = _number(query.get("offset", "")) or 0
        limit = _number(query.get("limit", "")) or 0
        rows, slots = self.rows[offset:], self.slots[offset:]
        if limit:
            rows, slots = rows[:limit], slots[:limit]
        return rows, slots


class OpenDotaDialect:
    name = "opendota"

    def __init__(self, world: World, store: MatchStore | None = None) -> None:
        self.world = world
        self.store = store or MatchStore(world, blocks=0)
        self._ranking_cache: dict[int, list[dict[str, Any]]] = {}

    def owns(self, path: str) -> bool:
        return path == "/api" or path.startswith("/api/")

    # --------------------------------------------------------------- gateway hooks
    def authenticate(self, request: Request, config: SimulatorConfig) -> Principal | Response:
        auth = request.headers.get("authorization", "")
        key = auth.replace("Bearer ", "", 1) or request.query_params.get("api_key", "")
        if not key:
            return client_identity(request)
        if not KEY_FORMAT.match(key):
            return JSONResponse({"error": KEY_FORMAT_ERROR}, status_code=400)
        if key not in config.opendota_keys:
            return JSONResponse({"error": INVALID_KEY_ERROR}, status_code=400)
        return Principal(identity=key, label=redact(key), tier="premium")

    def windows(self, principal: Principal, limits: RateLimits, endpoint: str = "") -> tuple[list[Window], bool]:
        if principal.tier == "premium":
            return [Window("minute", 60, limits.opendota_premium_per_minute)], True
        return [
            Window("minute", 60, limits.opendota_free_per_minute),
            Window("day", 86_400, limits.opendota_free_per_day),
        ], True

    def headers(self, principal: Principal, decision: Decision) -> dict[str, str]:
        headers = {"X-Rate-Limit-Remaining-Minute": str(decision.remaining["minute"])}
        if "day" in decision.remaining:
            headers["X-Rate-Limit-Remaining-Day"] = str(decision.remaining["day"])
        return headers

    def limited(self, principal: Principal, decision: Decision) -> Response:
        message = "minute rate limit exceeded" if decision.exceeded == "minute" else "daily api limit exceeded"
        return JSONResponse({"error": message}, status_code=429)

    def server_error(self, status: int) -> Response:
        if status == 500:
            return JSONResponse({"error": "Internal Server Error"}, status_code=500)
        return proxy_error_page(status)

    # --------------------------------------------------------------- routes
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/players/{account_id}", self._player(self.player, profile=True)),
            Route("/api/players/{account_id}/matches", self._player(self.player_matches)),
            Route("/api/players/{account_id}/heroes", self._player(self.player_heroes)),
            Route("/api/players/{account_id}/wl", self._player(self.player_wl)),
            Route("/api/players/{account_id}/ratings", self._player(self.player_ratings)),
            Route("/api/matches/{match_id}", self.match),
            Route("/api/heroes", self.hero_list),
            Route("/api/rankings", self.rankings),
            Route("/api/{rest:path}", lambda request: not_found()),
        ]

    def _player(self, handler: Callable[[int | None, QueryParams], Any], profile: bool = False) -> Callable[[Request], Response]:
        """Common player-route prologue: validate the id like svc/api/api.ts.

        Only the profile route 404s an account OpenDota never saw; the list routes answer
        as for an account without matches (``index`` None).
        """

        def endpoint(request: Request) -> Response:
            account_id = _number(request.path_params["account_id"])
            if account_id is None:
                return JSONResponse({"error": "invalid account id"}, status_code=400)
            index = self.world.account_index(account_id) if account_id > 0 else None
            if index is None and profile:
                return not_found()
            return JSONResponse(handler(index, request.query_params))

        return endpoint

    def player(self, index: int | None, query: QueryParams) -> dict[str, Any]:
        assert index is not None
        w = self.world
        account_id = int(w.accounts.account_id[index])
        small, medium, full = avatar_urls(w, index)
        return {  # spec.ts /players/{account_id}; profile columns of queries.ts getPlayer
            "profile": {
                "account_id": account_id,
                "personaname": personaname(w, index),
                "name": None,
                "plus": bool(w.accounts.plus[index]),
                "cheese": 0,
                "steamid": str(to_steamid64(account_id)),
                "avatar": small,
                "avatarmedium": medium,
                "avatarfull": full,
                "profileurl": profile_url(account_id),
                "last_login": last_login(w, index),
                "loccountrycode": country(w, index),
                "status": None,
                "fh_unavailable": bool(w.accounts.private[index]),
                "is_contributor": False,
                "is_subscriber": False,
            },
            "rank_tier": w.rank_tier(index),
            "leaderboard_rank": w.leaderboard_rank(index),
            "computed_mmr": None,
            "computed_mmr_turbo": None,
            "aliases": [],
        }

    def player_matches(self, index: int | None, query: QueryParams) -> list[dict[str, Any]]:
        if index is None or self.world.accounts.private[index]:
            return []
        found = PlayerMatches(self.world, index, query)
        rows, slots = found.page(query)
        b = found.batch
        fields = projection(query)
        avg = b.average_rank()
        columns: dict[str, Callable[[int, int], Any]] = {
            "match_id": lambda r, s: int(b.match_id[r]),
            "player_slot": lambda r, s: int(player_slot(np.int64(s))),
            "radiant_win": lambda r, s: bool(b.radiant_win[r]),
            "duration": lambda r, s: int(b.duration[r]),
            "game_mode": lambda r, s: int(b.game_mode[r]),
            "lobby_type": lambda r, s: int(b.lobby_type[r]),
            "hero_id": lambda r, s: int(b.hero_id[r, s]),
            "start_time": lambda r, s: int(b.start_time[r]),
            "version": lambda r, s: None,
            "kills": lambda r, s: int(b.kills[r, s]),
            "deaths": lambda r, s: int(b.deaths[r, s]),
            "assists": lambda r, s: int(b.assists[r, s]),
            "skill": lambda r, s: None,
            "average_rank": lambda r, s: int(avg[r]) or None,
            "leaver_status": lambda r, s: int(b.leaver_status[r, s]),
            "party_size": lambda r, s: int(b.party_size[r, s]),
            "hero_variant": lambda r, s: 1,
            "cluster": lambda r, s: int(b.cluster[r]),
            "lane_role": lambda r, s: None,  # unparsed (see match_object)
            "level": lambda r, s: int(b.level[r, s]),
            "kda": lambda r, s: round((int(b.kills[r, s]) + int(b.assists[r, s])) / (int(b.deaths[r, s]) + 1), 2),
            "last_hits": lambda r, s: int(b.last_hits[r, s]),
            "denies": lambda r, s: int(b.denies[r, s]),
            "gold_per_min": lambda r, s: int(b.gold_per_min[r, s]),
            "xp_per_min": lambda r, s: int(b.xp_per_min[r, s]),
            "hero_damage": lambda r, s: int(b.hero_damage[r, s]),
            "tower_damage": lambda r, s: int(b.tower_damage[r, s]),
            "hero_healing": lambda r, s: int(b.hero_healing[r, s]),
        }
        return [{f: columns[f](int(r), int(s)) for f in fields} for r, s in zip(rows, slots, strict=True)]

    def player_heroes(self, index: int | None, query: QueryParams) -> list[dict[str, Any]]:
        size = 256
        if index is None or self.world.accounts.private[index]:
            rows = np.empty(0, np.int64)  # every hero, no games (spec.ts prefills all heroes)
        else:
            found = PlayerMatches(self.world, index, query)
            b, rows, slots = found.batch, found.rows, found.slots
        games, wins, last = np.zeros(size, np.int64), np.zeros(size, np.int64), np.zeros(size, np.int64)
        with_g, with_w = np.zeros(size, np.int64), np.zeros(size, np.int64)
        vs_g, vs_w = np.zeros(size, np.int64), np.zeros(size, np.int64)
        if rows.size:
            hero = b.hero_id[rows]
            own = hero[np.arange(rows.size), slots]
            won = b.win[rows, slots].astype(np.int64)
            np.add.at(games, own, 1)
            np.add.at(wins, own, won)
            np.maximum.at(last, own, b.start_time[rows])
            same_team = (np.arange(10)[None, :] < 5) == (slots[:, None] < 5)
            mate = same_team & (np.arange(10)[None, :] != slots[:, None])
            won10 = np.broadcast_to(won[:, None], hero.shape)
            np.add.at(with_g, hero[mate], 1)
            np.add.at(with_w, hero[mate], won10[mate])
            np.add.at(vs_g, hero[~same_team], 1)
            np.add.at(vs_w, hero[~same_team], won10[~same_team])
        ids = sorted(set(heroes()) | set(np.flatnonzero(games + with_g + vs_g).tolist()))
        out = [
            {
                "hero_id": h,
                "last_played": int(last[h]),
                "games": int(games[h]),
                "win": int(wins[h]),
                "with_games": int(with_g[h]),
                "with_win": int(with_w[h]),
                "against_games": int(vs_g[h]),
                "against_win": int(vs_w[h]),
            }
            for h in ids
        ]
        having = _number(query.get("having", "")) or 0
        if having:
            out = [item for item in out if item["games"] >= having]
        out.sort(key=lambda item: (-item["games"], item["hero_id"]))
        return out

    def player_wl(self, index: int | None, query: QueryParams) -> dict[str, int]:
        if index is None or self.world.accounts.private[index]:
            return {"win": 0, "lose": 0}
        found = PlayerMatches(self.world, index, query)
        rows, slots = found.page(query)
        won = int(found.batch.win[rows, slots].sum())
        return {"win": won, "lose": int(rows.size) - won}

    def player_ratings(self, index: int | None, query: QueryParams) -> list[dict[str, Any]]:
        """``rank_tier_history`` in time order (queries.ts getPlayerRatings): a row each time OpenDota
        saw the medal change, ``time`` a timestamptz as node-postgres writes it (ISO 8601, ms, Z);
        ``[]`` for a private profile or an account it never saw (spec.ts)."""
        if index is None or self.world.accounts.private[index]:
            return []
        return [{"time": iso_time(when), "rank_tier": tier} for when, tier in self.world.rank_history(index)]

    def match(self, request: Request) -> Response:
        match_id = _number(request.path_params["match_id"])  # buildMatch: not a positive integer -> 404
        index = self.world.match_index(match_id) if match_id is not None and match_id > 0 else None
        if index is None:
            return not_found()
        return JSONResponse(match_object(self.world, *self.store.locate(index)))

    def hero_list(self, request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "id": h.id,
                    "name": h.name,
                    "localized_name": h.localized_name,
                    "primary_attr": h.primary_attr,
                    "attack_type": h.attack_type,
                    "roles": list(h.roles),
                }
                for h in heroes().values()
            ]
        )

    def rankings(self, request: Request) -> Response:
        try:
            hero_id = int(request.query_params.get("hero_id", ""))
        except ValueError:
            return JSONResponse({"error": "invalid hero_id"}, status_code=400)
        rankings = self._ranking_cache.get(hero_id)
        if rankings is None:
            rankings = self._rankings(hero_id)
            if len(self._ranking_cache) < 512:  # real hero ids are a few hundred at most
                self._ranking_cache[hero_id] = rankings
        return JSONResponse({"hero_id": hero_id, "rankings": rankings})

    def _rankings(self, hero_id: int) -> list[dict[str, Any]]:
        """Top 100 by a hero score: effective skill, boosted by how central the hero is to the pool."""
        w = self.world
        pool_hits = (w.accounts.hero_pool == hero_id).sum(axis=1)
        candidates = np.flatnonzero(pool_hits > 0)
        if candidates.size == 0:
            return []
        last = np.full(candidates.size, w.num_rounds - 1)
        score = w.effective_at(candidates, last) * (1.0 + 0.05 * pool_hits[candidates])
        top = candidates[np.argsort(-score, kind="stable")[:100]]
        top_score = np.sort(-score)[:100] * -1
        out = []
        for i, s in zip(top.tolist(), top_score.tolist(), strict=True):
            out.append(
                {
                    "account_id": int(w.accounts.account_id[i]),
                    "score": round(s, 2),
                    "personaname": personaname(w, i),
                    "name": None,
                    "avatar": avatar_urls(w, i)[0],
                    "last_login": last_login(w, i),
                    "rank_tier": w.rank_tier(i),
                }
            )
        return out


def match_object(world: World, rows: MatchRows, r: int) -> dict[str, Any]:
    """One match as ``GET /api/matches/{id}`` returns it (unparsed match, no replay data: no
    ``lane_role``, which computeMatchData derives from the parsed ``lane_pos`` only; OpenDota parses
    on its own only matches with a tracked player or of a league, insert.ts ``queueParse``).

    Valve's GetMatchDetails fields pass through, OpenDota adds ``patch``, ``region`` (from the
    cluster) and per player the derived fields (``isRadiant``, ``win``, ``kda``, ...) and
    ``personaname, name, last_login, rank_tier, computed_mmr, is_subscriber`` (buildMatch.ts's
    getPlayerDetails joins them per account at request time: ``rank_tier`` is the medal today).
    """
    m = rows.row(r)
    names, logins = rows.people(r)
    kills, deaths, assists = m["kills"], m["deaths"], m["assists"]
    radiant_win, duration = m["radiant_win"], m["duration"]
    common = {
        "match_id": m["match_id"],
        "start_time": m["start_time"],
        "duration": duration,
        "radiant_win": radiant_win,
        "lobby_type": m["lobby_type"],
        "game_mode": m["game_mode"],
        "cluster": m["cluster"],
        "region": m["region"],
        "patch": 55 + m["index"] * 3 // world.num_matches,
    }
    players = []
    columns = zip(
        range(10), m["account_id"], m["hero_id"], m["items"], kills, deaths, assists, m["gold_per_min"], m["xp_per_min"],
        m["last_hits"], m["denies"], m["net_worth"], m["hero_damage"], m["tower_damage"], m["hero_healing"], m["level"],
        m["leaver_status"], rows.tiers_now(r), names, logins, strict=True,
    )  # fmt: skip
    for s, account, hero, items, k, d, a, gpm, xpm, lh, dn, nw, hd, td, hh, level, leaver, tier, name, login in columns:
        anonymous = account < 0
        win = (s < 5) == radiant_win
        player = {
            **common,
            "player_slot": s if s < 5 else 128 + s - 5,
            "account_id": account,
            "hero_id": hero,
            "hero_variant": 1,
            "item_0": items[0],
            "item_1": items[1],
            "item_2": items[2],
            "item_3": items[3],
            "item_4": items[4],
            "item_5": items[5],
            "backpack_0": 0,
            "backpack_1": 0,
            "backpack_2": 0,
            "item_neutral": 0,
            "kills": k,
            "deaths": d,
            "assists": a,
            "gold_per_min": gpm,
            "xp_per_min": xpm,
            "last_hits": lh,
            "denies": dn,
            "net_worth": nw,
            "hero_damage": hd,
            "tower_damage": td,
            "hero_healing": hh,
            "level": level,
            "leaver_status": leaver,
            "isRadiant": s < 5,
            "win": int(win),
            "lose": int(not win),
            "total_gold": gpm * duration // 60,
            "total_xp": xpm * duration // 60,
            "kda": round((k + a) / (d + 1), 2),
            "abandons": int(leaver >= 2),
            "personaname": name,
            "name": None,
            "last_login": login,
            "rank_tier": tier or None,
            "computed_mmr": None,
            "is_subscriber": False,
        }
        if anonymous:  # transformMatch deletes the id; getPlayerDetails then finds no row: undefined, not sent
            for field in ANONYMOUS_ABSENT:
                del player[field]
        players.append(player)
    return {
        **common,
        "match_seq_num": m["match_seq_num"],
        "radiant_score": sum(kills[:5]),
        "dire_score": sum(kills[5:]),
        "first_blood_time": 60 + m["index"] % 180,
        "human_players": 10,
        "leagueid": 0,
        "positive_votes": 0,
        "negative_votes": 0,
        "tower_status_radiant": 1974 if radiant_win else 0,
        "tower_status_dire": 0 if radiant_win else 1974,
        "barracks_status_radiant": 63 if radiant_win else 0,
        "barracks_status_dire": 0 if radiant_win else 63,
        "engine": 1,
        "flags": 1,
        "version": None,
        "players": players,
    }
