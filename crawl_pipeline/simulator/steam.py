"""The Steam Web API dialect (``/IDOTA2Match_570/...`` and ``/ISteamUser/GetPlayerBans``).

As the real service: a ``key`` is required (403 HTML page otherwise), paths work with and
without the trailing slash and as v1 or v0001, GetMatchHistory only reaches an account's
latest 500 matches (each with its ``match_seq_num``) and answers status 15 for accounts
that do not expose match data, anonymous players are account_id 4294967295.
GetMatchDetails answers HTTP 500 with body ``{}`` for every match, as it has since 2024
(ValveSoftware/Dota-2 #2715); ``steam_match_details_enabled`` brings back the old
endpoint (unknown id -> ``{"result": {"error": "Match ID not found"}}``, and now and then a
500 ``{}`` with ``steam_details_error_rate``, a deterministic draw per match and attempt).
Full matches come from GetMatchHistoryBySequenceNum: up to 100 per call from
``start_at_match_seq_num``, ordered by ``match_seq_num``, in the GetMatchDetails shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from crawl_pipeline.domain.identity import (
    ANONYMOUS_ACCOUNT_ID,
    STEAMID64_OFFSET,
    from_steamid64,
)

from .config import RateLimits, SimulatorConfig
from .content import MatchBatch, MatchRows, MatchStore, match_batch
from .dialect import Principal, proxy_error_page
from .hashing import uniform_int
from .ratelimit import Decision, Window
from .responses import JSONResponse
from .stats import redact
from .world import World

HISTORY_WINDOW = 500  # Steam only lists an account's latest 500 matches
MAX_REQUESTED = 100
HISTORY_DEFAULT = 25  # GetMatchHistory's matches_requested default (Valve's WebAPI documentation)
BAD_REQUESTED = {"status": 8, "statusDetail": "'matches_requested' must be greater than 0."}
PRIVATE_STATUS = {"status": 15, "statusDetail": "Cannot get match history for a user that hasn't allowed it"}
FORBIDDEN_PAGE = (
    "<html><head><title>Forbidden</title></head><body><h1>Forbidden</h1>"
    "Access is denied. Retrying will not help. Please verify your <pre>key=</pre> parameter. </body></html>"
)
TOO_MANY_PAGE = "<html><head><title>Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>"


def bad_request(parameter: str) -> HTMLResponse:
    return HTMLResponse(
        f"<html><head><title>Bad Request</title></head><body><h1>Bad Request</h1>"
        f"Required parameter '{parameter}' is missing</body></html>",
        status_code=400,
    )


def _account_param(value: str) -> int | None:
    """GetMatchHistory takes a 32-bit account id; a steamid64 is converted like Steam does."""
    try:
        number = int(value)
    except ValueError:
        return None
    return from_steamid64(number) if number >= STEAMID64_OFFSET else number


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default


class SteamDialect:
    name = "steam"

    def __init__(self, world: World, config_source: Callable[[], SimulatorConfig], store: MatchStore | None = None) -> None:
        self.world = world
        self._config = config_source
        self.store = store or MatchStore(world, blocks=0)

    def owns(self, path: str) -> bool:
        return path.startswith(("/IDOTA2Match_570/", "/ISteamUser/"))

    # --------------------------------------------------------------- gateway hooks
    def authenticate(self, request: Request, config: SimulatorConfig) -> Principal | Response:
        key = request.query_params.get("key", "")
        if key not in config.steam_keys:
            return HTMLResponse(FORBIDDEN_PAGE, status_code=403)
        return Principal(identity=key, label=redact(key), tier="key")

    def windows(self, principal: Principal, limits: RateLimits, endpoint: str = "") -> tuple[list[Window], bool]:
        windows = [Window("day", 86_400, limits.steam_per_day)]
        if "/GetMatchHistoryBySequenceNum/" in endpoint and limits.steam_sequence_every_seconds:
            # the sequence feed's own pace: one call per key in each aligned window of this length
            windows.append(Window("sequence", limits.steam_sequence_every_seconds, 1))
        return windows, False

    def headers(self, principal: Principal, decision: Decision) -> dict[str, str]:
        return {}

    def limited(self, principal: Principal, decision: Decision) -> Response:
        return HTMLResponse(TOO_MANY_PAGE, status_code=429)

    def server_error(self, status: int) -> Response:
        return proxy_error_page(status)

    # --------------------------------------------------------------- routes
    def volatile_endpoints(self) -> tuple[Callable[[Request], Response], ...]:
        """Endpoints whose answer is not a function of the request alone (never kept as bytes):
        GetMatchDetails depends on the runtime switch and draws its errors per attempt."""
        return (self.match_details,)

    def routes(self) -> list[BaseRoute]:
        endpoints = {
            "/IDOTA2Match_570/GetMatchHistory": self.match_history,
            "/IDOTA2Match_570/GetMatchHistoryBySequenceNum": self.history_by_seq,
            "/IDOTA2Match_570/GetMatchDetails": self.match_details,
            "/ISteamUser/GetPlayerBans": self.player_bans,
        }
        routes: list[BaseRoute] = []
        for path, endpoint in endpoints.items():
            for version in ("v1", "v0001", "V001"):
                routes.append(Route(f"{path}/{version}/", endpoint))
                routes.append(Route(f"{path}/{version}", endpoint))
        return routes

    def match_history(self, request: Request) -> Response:
        w = self.world
        requested = min(max(1, _int_param(request, "matches_requested", HISTORY_DEFAULT)), MAX_REQUESTED)
        raw_account = request.query_params.get("account_id")
        if raw_account is not None:
            account_id = _account_param(raw_account)
            index = w.account_index(account_id) if account_id is not None else None
            if index is None or w.accounts.private[index]:
                return JSONResponse({"result": PRIVATE_STATUS})
            matches = w.matches_of(index)[::-1]
        else:
            matches = np.arange(w.num_matches - 1, max(-1, w.num_matches - 1 - HISTORY_WINDOW * 4), -1)
        batch = match_batch(w, matches)
        keep = np.ones(len(matches), dtype=bool)
        if "game_mode" in request.query_params:
            keep &= batch.game_mode == _int_param(request, "game_mode", -1)
        if "hero_id" in request.query_params:
            hero = _int_param(request, "hero_id", -1)
            if raw_account is not None:
                keep &= batch.hero_id[np.arange(len(matches)), w.slot_of(index, matches)] == hero
            else:
                keep &= (batch.hero_id == hero).any(axis=1)
        window = np.flatnonzero(keep)[:HISTORY_WINDOW]
        start = request.query_params.get("start_at_match_id")
        if start is not None:
            window = window[batch.match_id[window] <= _int_param(request, "start_at_match_id", 0)]
        page = window[:requested]
        return JSONResponse(
            {
                "result": {
                    "status": 1,
                    "num_results": int(page.size),
                    "total_results": int(min(HISTORY_WINDOW, int(keep.sum()))),
                    "results_remaining": int(window.size - page.size),
                    "matches": [_history_item(batch, int(r)) for r in page],
                }
            }
        )

    def history_by_seq(self, request: Request) -> Response:
        """Every match from ``start_at_match_seq_num`` on, oldest first, ``matches_requested`` <= 100."""
        w = self.world
        requested = _int_param(request, "matches_requested", MAX_REQUESTED)
        if requested < 1:
            return JSONResponse({"result": BAD_REQUESTED})
        requested = min(requested, MAX_REQUESTED)
        first = w.first_match_at_seq(_int_param(request, "start_at_match_seq_num", 0))
        indices = np.arange(first, min(w.num_matches, first + requested))
        rows = MatchRows(w, match_batch(w, indices))
        matches = [details(rows, r) for r in range(len(rows))]
        return JSONResponse({"result": {"status": 1, "matches": matches}})

    def match_details(self, request: Request) -> Response:
        raw = request.query_params.get("match_id")
        if raw is None:
            return bad_request("match_id")
        try:
            index = self.world.match_index(int(raw))
        except ValueError:
            index = None
        config = self._config()
        if not config.steam_match_details_enabled:
            return JSONResponse({}, status_code=500)  # every match, known or not, since 2024
        if index is None:
            return JSONResponse({"result": {"error": "Match ID not found"}})
        attempt = getattr(request.state, "sim_attempt", 1)
        if uniform_int(self.world.seed, index, attempt, 0xD7) < config.steam_details_error_rate:
            return JSONResponse({}, status_code=500)
        return JSONResponse({"result": details(*self.store.locate(index))})

    def player_bans(self, request: Request) -> Response:
        raw = request.query_params.get("steamids")
        if raw is None:
            return bad_request("steamids")
        a = self.world.accounts
        players = []
        for token in [t.strip() for t in raw.split(",") if t.strip()][:MAX_REQUESTED]:
            try:
                steamid = int(token)
            except ValueError:
                continue
            index = self.world.account_index(from_steamid64(steamid))
            if index is None:
                continue  # Steam omits ids it does not know
            players.append(
                {
                    "SteamId": str(steamid),
                    "CommunityBanned": bool(a.community_banned[index]),
                    "VACBanned": bool(a.vac_bans[index] > 0),
                    "NumberOfVACBans": int(a.vac_bans[index]),
                    "DaysSinceLastBan": int(a.days_since_ban[index]),
                    "NumberOfGameBans": int(a.game_bans[index]),
                    "EconomyBan": "none",
                }
            )
        return JSONResponse({"players": players})


def _steam_account(batch: MatchBatch, r: int, s: int) -> int:
    value = int(batch.account_id[r, s])
    return ANONYMOUS_ACCOUNT_ID if value < 0 else value


def _slot_fields(s: int) -> dict[str, int]:
    return {"player_slot": s if s < 5 else 128 + s - 5, "team_number": int(s >= 5), "team_slot": s % 5}


def _history_item(batch: MatchBatch, r: int) -> dict[str, Any]:
    return {
        "match_id": int(batch.match_id[r]),
        "match_seq_num": int(batch.match_seq_num[r]),
        "start_time": int(batch.start_time[r]),
        "lobby_type": int(batch.lobby_type[r]),
        "radiant_team_id": 0,
        "dire_team_id": 0,
        "players": [
            {"account_id": _steam_account(batch, r, s), **_slot_fields(s), "hero_id": int(batch.hero_id[r, s]), "hero_variant": 1}
            for s in range(10)
        ],
    }


def details(rows: MatchRows, r: int) -> dict[str, Any]:
    """A match as GetMatchDetails (and GetMatchHistoryBySequenceNum) return it."""
    m = rows.row(r)
    players = []
    for s in range(10):
        items = m["items"][s]
        account = m["account_id"][s]
        net_worth = m["net_worth"][s]
        players.append(
            {
                "account_id": ANONYMOUS_ACCOUNT_ID if account < 0 else account,
                "player_slot": s if s < 5 else 128 + s - 5,
                "team_number": int(s >= 5),
                "team_slot": s % 5,
                "hero_id": m["hero_id"][s],
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
                "kills": m["kills"][s],
                "deaths": m["deaths"][s],
                "assists": m["assists"][s],
                "leaver_status": m["leaver_status"][s],
                "last_hits": m["last_hits"][s],
                "denies": m["denies"][s],
                "gold_per_min": m["gold_per_min"][s],
                "xp_per_min": m["xp_per_min"][s],
                "level": m["level"][s],
                "net_worth": net_worth,
                "hero_damage": m["hero_damage"][s],
                "tower_damage": m["tower_damage"][s],
                "hero_healing": m["hero_healing"][s],
                "gold": net_worth // 7,
                "gold_spent": net_worth - net_worth // 7,
            }
        )
    radiant_win = m["radiant_win"]
    return {
        "players": players,
        "radiant_win": radiant_win,
        "duration": m["duration"],
        "pre_game_duration": 90,
        "start_time": m["start_time"],
        "match_id": m["match_id"],
        "match_seq_num": m["match_seq_num"],
        "tower_status_radiant": 1974 if radiant_win else 0,
        "tower_status_dire": 0 if radiant_win else 1974,
        "barracks_status_radiant": 63 if radiant_win else 0,
        "barracks_status_dire": 0 if radiant_win else 63,
        "cluster": m["cluster"],
        "first_blood_time": 60 + m["index"] % 180,
        "lobby_type": m["lobby_type"],
        "human_players": 10,
        "leagueid": 0,
        "positive_votes": 0,
        "negative_votes": 0,
        "game_mode": m["game_mode"],
        "flags": 1,
        "engine": 1,
        "radiant_score": sum(m["kills"][:5]),
        "dire_score": sum(m["kills"][5:]),
    }
