"""The OpenDota REST dialect (``/api/...``), modelled on odota/core's ``svc/web.ts`` and spec.

Behaviour copied from the real service: the key comes from ``Authorization: Bearer`` or
``api_key``; an unknown key is a 400; limits are a per-minute and (free tier only) a
per-day counter that are incremented before the check, with ``X-Rate-Limit-Remaining-*``
headers (which can go negative) and 429 bodies ``{"error": "minute rate limit exceeded"}``
/ ``{"error": "daily api limit exceeded"}``; player lists default to ``significant=1``;
private profiles keep their profile but list no matches.
Simulator choices: an unknown account or match is ``404 {"error": "Not Found"}``
(real OpenDota answers 200 with an empty profile for accounts it never saw); keys are not
required to be UUIDs so the demo key ``sim-opendota-key`` works.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crawl_pipeline.domain.heroes import heroes
from crawl_pipeline.domain.identity import to_steamid64

from .config import RateLimits, SimulatorConfig
from .content import MatchBatch, avatar_urls, country, last_login, match_batch, personaname, profile_url
from .dialect import Principal, client_identity, proxy_error_page
from .ratelimit import Decision, Window
from .stats import redact
from .world import World

INVALID_KEY_ERROR = "API key invalid. Please check the API dashboard or email support@opendota.com."
ALWAYS_FIELDS = ("match_id", "player_slot", "radiant_win")
MATCH_LIST_FIELDS = (
    "match_id", "player_slot", "radiant_win", "duration", "game_mode", "lobby_type", "hero_id",
    "start_time", "version", "kills", "deaths", "assists", "skill", "average_rank",
    "leaver_status", "party_size", "hero_variant",
)  # fmt: skip


def not_found() -> JSONResponse:
    return JSONResponse({"error": "Not Found"}, status_code=404)


@lru_cache(maxsize=2)
def _balanced(name: str) -> frozenset[int]:
    data = json.loads(resources.files("crawl_pipeline.reference").joinpath(name).read_text("utf-8"))
    return frozenset(int(k) for k, v in data.items() if v.get("balanced"))


def player_slot(slot: NDArray[np.int64]) -> NDArray[np.int64]:
    """Slots 0-4 are radiant (0..4), 5-9 dire (128..132)."""
    return np.where(slot < 5, slot, 128 + slot - 5)


class PlayerMatches:
    """An account's matches after OpenDota's query filters, newest first."""

    def __init__(self, world: World, index: int, query: dict[str, str]) -> None:
        matches = world.matches_of(index)[::-1]
        slots = world.slot_of(index, matches)
        batch = match_batch(world, matches)
        rows = np.arange(len(matches))
        keep = np.ones(len(matches), dtype=bool)
        if query.get("significant", "1") != "0":
            keep &= np.isin(batch.game_mode, list(_balanced("game_mode.json")))
            keep &= np.isin(batch.lobby_type, list(_balanced("lobby_type.json")))
            keep &= batch.leaver_status[rows, slots] == 0
        for name, column in (("lobby_type", batch.lobby_type), ("game_mode", batch.game_mode)):
            if name in query:
                keep &= column == _int(query[name])
        if "hero_id" in query:
            keep &= batch.hero_id[rows, slots] == _int(query["hero_id"])
        if "win" in query:
            keep &= batch.win[rows, slots] == (query["win"] == "1")
        if "date" in query:
            keep &= batch.start_time >= world.now - _int(query["date"]) * 86_400
        self.batch, self.rows, self.slots = batch, rows[keep], slots[keep]

    def page(self, query: dict[str, str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        offset = max(0, _int(query.get("offset", "0")))
        rows, slots = self.rows[offset:], self.slots[offset:]
        if query.get("limit"):
            limit = max(0, _int(query["limit"]))
            rows, slots = rows[:limit], slots[:limit]
        return rows, slots


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1  # OpenDota filters with a non-number simply match nothing


class OpenDotaDialect:
    name = "opendota"

    def __init__(self, world: World) -> None:
        self.world = world

    def owns(self, path: str) -> bool:
        return path == "/api" or path.startswith("/api/")

    # --------------------------------------------------------------- gateway hooks
    def authenticate(self, request: Request, config: SimulatorConfig) -> Principal | Response:
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip() or request.query_params.get("api_key", "")
        if not key:
            return client_identity(request)
        if key not in config.opendota_keys:
            return JSONResponse({"error": INVALID_KEY_ERROR}, status_code=400)
        return Principal(identity=key, label=redact(key), tier="premium")

    def windows(self, principal: Principal, limits: RateLimits) -> tuple[list[Window], bool]:
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
            Route("/api/players/{account_id}", self._player(self.player)),
            Route("/api/players/{account_id}/matches", self._player(self.player_matches)),
            Route("/api/players/{account_id}/heroes", self._player(self.player_heroes)),
            Route("/api/players/{account_id}/wl", self._player(self.player_wl)),
            Route("/api/matches/{match_id}", self.match),
            Route("/api/heroes", self.hero_list),
            Route("/api/rankings", self.rankings),
            Route("/api/{rest:path}", lambda request: not_found()),
        ]

    def _player(self, handler: Callable[[int, dict[str, str]], Any]) -> Callable[[Request], Response]:
        """Common player-route prologue: validate the id like odota/core, then 404 unknowns."""

        def endpoint(request: Request) -> Response:
            raw = request.path_params["account_id"]
            try:
                account_id = int(raw)
            except ValueError:
                return JSONResponse({"error": "invalid account id"}, status_code=400)
            index = self.world.account_index(account_id)
            if index is None:
                return not_found()
            return JSONResponse(handler(index, dict(request.query_params)))

        return endpoint

    def player(self, index: int, query: dict[str, str]) -> dict[str, Any]:
        w = self.world
        account_id = int(w.accounts.account_id[index])
        small, medium, full = avatar_urls(w, index)
        return {
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
                "is_contributor": False,
                "is_subscriber": False,
                "fh_unavailable": bool(w.accounts.private[index]),
            },
            "rank_tier": w.rank_tier(index),
            "leaderboard_rank": w.leaderboard_rank(index),
            "computed_rating": None,
        }

    def player_matches(self, index: int, query: dict[str, str]) -> list[dict[str, Any]]:
        if self.world.accounts.private[index]:
            return []
        found = PlayerMatches(self.world, index, query)
        rows, slots = found.page(query)
        b = found.batch
        projected = query.get("project")
        fields = MATCH_LIST_FIELDS
        if projected:
            wanted = set(projected.split(",")) | set(ALWAYS_FIELDS)
            fields = tuple(f for f in MATCH_LIST_FIELDS if f in wanted)
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
        }
        return [{f: columns[f](int(r), int(s)) for f in fields} for r, s in zip(rows, slots)]

    def player_heroes(self, index: int, query: dict[str, str]) -> list[dict[str, Any]]:
        if self.world.accounts.private[index]:
            return []
        found = PlayerMatches(self.world, index, query)
        b, rows, slots = found.batch, found.rows, found.slots
        size = 256
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
        out.sort(key=lambda item: (-item["games"], item["hero_id"]))
        return out

    def player_wl(self, index: int, query: dict[str, str]) -> dict[str, int]:
        if self.world.accounts.private[index]:
            return {"win": 0, "lose": 0}
        found = PlayerMatches(self.world, index, query)
        rows, slots = found.page(query)
        won = int(found.batch.win[rows, slots].sum())
        return {"win": won, "lose": int(rows.size) - won}

    def match(self, request: Request) -> Response:
        try:
            match_id = int(request.path_params["match_id"])
        except ValueError:
            return JSONResponse({"error": "invalid match id"}, status_code=400)
        index = self.world.match_index(match_id)
        if index is None:
            return not_found()
        return JSONResponse(match_object(self.world, match_batch(self.world, np.array([index])), 0))

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
        return JSONResponse({"hero_id": hero_id, "rankings": self._rankings(hero_id)})

    @lru_cache(maxsize=256)
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
        for i, s in zip(top.tolist(), top_score.tolist()):
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


def match_object(world: World, b: MatchBatch, r: int) -> dict[str, Any]:
    """One match as ``GET /api/matches/{id}`` returns it (unparsed match, no replay data)."""
    radiant_score = int(b.kills[r, :5].sum())
    dire_score = int(b.kills[r, 5:].sum())
    patch = 55 + int(b.index[r] * 3 // world.num_matches)
    common = {
        "match_id": int(b.match_id[r]),
        "start_time": int(b.start_time[r]),
        "duration": int(b.duration[r]),
        "radiant_win": bool(b.radiant_win[r]),
        "lobby_type": int(b.lobby_type[r]),
        "game_mode": int(b.game_mode[r]),
        "cluster": int(b.cluster[r]),
        "region": int(b.region[r]),
        "patch": patch,
    }
    players = []
    for s in range(10):
        anonymous = int(b.account_id[r, s]) < 0
        index = int(b.players[r, s])
        kills, deaths, assists = int(b.kills[r, s]), int(b.deaths[r, s]), int(b.assists[r, s])
        win = bool(b.win[r, s])
        players.append(
            {
                **common,
                "player_slot": int(player_slot(np.int64(s))),
                "account_id": None if anonymous else int(b.account_id[r, s]),
                "hero_id": int(b.hero_id[r, s]),
                "hero_variant": 1,
                "kills": kills,
                "deaths": deaths,
                "assists": assists,
                "gold_per_min": int(b.gold_per_min[r, s]),
                "xp_per_min": int(b.xp_per_min[r, s]),
                "last_hits": int(b.last_hits[r, s]),
                "denies": int(b.denies[r, s]),
                "net_worth": int(b.net_worth[r, s]),
                "hero_damage": int(b.hero_damage[r, s]),
                "tower_damage": int(b.tower_damage[r, s]),
                "hero_healing": int(b.hero_healing[r, s]),
                "level": int(b.level[r, s]),
                "leaver_status": int(b.leaver_status[r, s]),
                "party_size": int(b.party_size[r, s]),
                "lane_role": int(b.lane_role[r, s]),
                "isRadiant": s < 5,
                "win": int(win),
                "lose": int(not win),
                "total_gold": int(b.gold_per_min[r, s] * b.duration[r] // 60),
                "total_xp": int(b.xp_per_min[r, s] * b.duration[r] // 60),
                "kda": round((kills + assists) / (deaths + 1), 2),
                "abandons": int(b.leaver_status[r, s] >= 2),
                "personaname": None if anonymous else personaname(world, index),
                "name": None,
                "rank_tier": None if anonymous or int(b.rank_tier[r, s]) == 0 else int(b.rank_tier[r, s]),
                "is_contributor": False,
                "is_subscriber": False,
            }
        )
    return {
        **common,
        "match_seq_num": int(b.match_seq_num[r]),
        "radiant_score": radiant_score,
        "dire_score": dire_score,
        "first_blood_time": 60 + int(b.index[r] % 180),
        "human_players": 10,
        "leagueid": 0,
        "positive_votes": 0,
        "negative_votes": 0,
        "tower_status_radiant": 1974 if b.radiant_win[r] else 0,
        "tower_status_dire": 0 if b.radiant_win[r] else 1974,
        "barracks_status_radiant": 63 if b.radiant_win[r] else 0,
        "barracks_status_dire": 0 if b.radiant_win[r] else 63,
        "engine": 1,
        "flags": 1,
        "version": None,
        "players": players,
    }
