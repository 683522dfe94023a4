"""The Stratz GraphQL dialect (``POST /graphql``) served by a real graphql-core schema.

The schema is a faithful subset of Stratz's: ``player(steamAccountId: Long!)`` with
``steamAccount``, ``matchCount``, ``winCount``, ``ranks``, ``heroesPerformance`` and
``matches(request: PlayerMatchesRequestType!)``; ``match(id: Long!)``, ``matches(ids:)``
and ``players(steamAccountIds:)`` at the root. Custom scalars (Long, Byte, Short) and the
enums (LobbyTypeEnum, GameModeEnumType, MatchLaneType, ...) use Stratz's names, so a
client's typed query documents validate here as they do there. Errors follow GraphQL:
``{"data": ..., "errors": [{"message", "locations", "path"}]}`` with status 200; a
missing or unknown bearer token is a 401 before any parsing.
``smurfFlag`` is a weak heuristic like Stratz's own (a minority of smurfs, a few false
positives), never the ground truth.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

import numpy as np
from graphql import GraphQLError, GraphQLSchema, build_schema, graphql_sync
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .config import RateLimits, SimulatorConfig
from .content import MatchBatch, avatar_urls, country, match_batch, personaname, profile_url
from .dialect import Principal, proxy_error_page
from .hashing import uniform
from .ratelimit import Decision, Window
from .stats import redact
from .world import KIND_SMURF, World

MAX_TAKE = 100

SDL = """
scalar Long
scalar Byte
scalar Short

enum LobbyTypeEnum { UNRANKED PRACTICE TOURNAMENT TUTORIAL COOP_VS_BOTS TEAM_MATCH SOLO_QUEUE RANKED SOLO_MID BATTLE_CUP }
enum GameModeEnumType { NONE ALL_PICK CAPTAINS_MODE RANDOM_DRAFT SINGLE_DRAFT ALL_RANDOM ABILITY_DRAFT ALL_PICK_RANKED TURBO }
enum MatchLaneType { UNKNOWN SAFE_LANE MID_LANE OFF_LANE JUNGLE ROAMING }
enum MatchPlayerRoleType { CORE LIGHT_SUPPORT HARD_SUPPORT UNKNOWN }
enum MatchPlayerPositionType { POSITION_1 POSITION_2 POSITION_3 POSITION_4 POSITION_5 UNKNOWN FILTERED ALL }

input PlayerMatchesRequestType {
  matchIds: [Long]
  isParsed: Boolean
  isStats: Boolean
  startDateTime: Long
  endDateTime: Long
  lobbyTypeIds: [Byte]
  gameModeIds: [Byte]
  heroIds: [Short]
  isVictory: Boolean
  take: Int
  skip: Int
}

input PlayerHeroesPerformanceMatchesRequestType {
  matchIds: [Long]
  startDateTime: Long
  endDateTime: Long
  lobbyTypeIds: [Byte]
  gameModeIds: [Byte]
  heroIds: [Short]
  isVictory: Boolean
  take: Int
  skip: Int
}

type SteamAccountType {
  id: Long
  name: String
  avatar: String
  profileUri: String
  countryCode: String
  timeCreated: Long
  isAnonymous: Boolean!
  isDotaPlusSubscriber: Boolean
  smurfFlag: Byte
  seasonRank: Byte
  seasonLeaderboardRank: Int
}

type SteamAccountSeasonRankType {
  seasonRankId: Byte
  asOfDateTime: Long
  isCore: Boolean
  rank: Byte
}

type PlayerHeroesPerformanceType {
  heroId: Short
  matchCount: Int
  winCount: Int
  kDA: Float
  avgKills: Float
  avgDeaths: Float
  avgAssists: Float
  avgGoldPerMinute: Float
  avgExperiencePerMinute: Float
  duration: Int
  lastPlayedDateTime: Long
}

type MatchPlayerType {
  matchId: Long
  playerSlot: Byte
  steamAccountId: Long
  steamAccount: SteamAccountType
  isRadiant: Boolean
  isVictory: Boolean
  heroId: Short
  kills: Byte
  deaths: Byte
  assists: Byte
  numLastHits: Short
  numDenies: Short
  goldPerMinute: Short
  experiencePerMinute: Short
  networth: Int
  heroDamage: Int
  towerDamage: Int
  heroHealing: Int
  level: Byte
  partyId: Long
  leaverStatus: Byte
  lane: MatchLaneType
  role: MatchPlayerRoleType
  position: MatchPlayerPositionType
}

type MatchType {
  id: Long
  didRadiantWin: Boolean
  durationSeconds: Int
  startDateTime: Long
  endDateTime: Long
  sequenceNum: Long
  lobbyType: LobbyTypeEnum
  gameMode: GameModeEnumType
  regionId: Byte
  clusterId: Int
  averageRank: Int
  radiantKills: [Int]
  direKills: [Int]
  players(steamAccountId: Long): [MatchPlayerType]
}

type PlayerType {
  steamAccountId: Long
  steamAccount: SteamAccountType
  matchCount: Int
  winCount: Int
  firstMatchDate: Long
  lastMatchDate: Long
  ranks(seasonRankIds: [Byte]): [SteamAccountSeasonRankType]
  heroesPerformance(request: PlayerHeroesPerformanceMatchesRequestType!, take: Int): [PlayerHeroesPerformanceType]
  matches(request: PlayerMatchesRequestType!): [MatchType]
}

type DotaQuery {
  player(steamAccountId: Long!): PlayerType
  players(steamAccountIds: [Long]!): [PlayerType]
  match(id: Long!): MatchType
  matches(ids: [Long]!): [MatchType]
}

schema { query: DotaQuery }
"""

LOBBY_ENUM = {0: "UNRANKED", 1: "PRACTICE", 2: "TOURNAMENT", 3: "TUTORIAL", 4: "COOP_VS_BOTS", 5: "TEAM_MATCH", 6: "SOLO_QUEUE", 7: "RANKED", 8: "SOLO_MID", 9: "BATTLE_CUP"}
MODE_ENUM = {0: "NONE", 1: "ALL_PICK", 2: "CAPTAINS_MODE", 3: "RANDOM_DRAFT", 4: "SINGLE_DRAFT", 5: "ALL_RANDOM", 18: "ABILITY_DRAFT", 22: "ALL_PICK_RANKED", 23: "TURBO"}
LANE_ENUM = {1: "SAFE_LANE", 2: "MID_LANE", 3: "OFF_LANE", 4: "JUNGLE"}
ROLE_ENUM = {1: "CORE", 2: "CORE", 3: "CORE", 4: "LIGHT_SUPPORT", 5: "HARD_SUPPORT"}


class StratzDialect:
    name = "stratz"

    def __init__(self, world: World) -> None:
        self.world = world
        self.schema: GraphQLSchema = build_schema(SDL)

    def owns(self, path: str) -> bool:
        return path.rstrip("/") == "/graphql"

    # --------------------------------------------------------------- gateway hooks
    def authenticate(self, request: Request, config: SimulatorConfig) -> Principal | Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token not in config.stratz_tokens:
            return JSONResponse({"data": None, "errors": [{"message": "Unauthorized: a valid STRATZ API token is required."}]}, status_code=401)
        return Principal(identity=token, label=redact(token), tier="token")

    def windows(self, principal: Principal, limits: RateLimits) -> tuple[list[Window], bool]:
        return [
            Window("second", 1, limits.stratz_per_second),
            Window("minute", 60, limits.stratz_per_minute),
            Window("hour", 3600, limits.stratz_per_hour),
        ], False

    def headers(self, principal: Principal, decision: Decision) -> dict[str, str]:
        return {}

    def limited(self, principal: Principal, decision: Decision) -> Response:
        return JSONResponse(
            {"data": None, "errors": [{"message": f"API rate limit exceeded ({decision.exceeded})."}]},
            status_code=429,
            headers={"Retry-After": str(max(1, int(np.ceil(decision.retry_after))))},
        )

    def server_error(self, status: int) -> Response:
        return proxy_error_page(status)

    # --------------------------------------------------------------- routes
    def routes(self) -> list[BaseRoute]:
        return [Route("/graphql", self.endpoint, methods=["POST"]), Route("/graphql/", self.endpoint, methods=["POST"])]

    async def endpoint(self, request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
            query = payload["query"]
            variables = payload.get("variables") or None
            operation = payload.get("operationName")
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse({"errors": [{"message": "POST body must be JSON with a 'query'."}]}, status_code=400)
        result = graphql_sync(self.schema, query, root_value=Root(self.world), variable_values=variables, operation_name=operation)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return JSONResponse(body)


class Root:
    """Resolvers of DotaQuery; the default resolver calls these with (info, **args)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def player(self, info: Any, steamAccountId: int) -> "PlayerNode | None":
        index = self.world.account_index(int(steamAccountId))
        if index is None:
            raise GraphQLError(f"Player {steamAccountId} not found.")
        return PlayerNode(self.world, index)

    def players(self, info: Any, steamAccountIds: list[int]) -> list["PlayerNode | None"]:
        found = [self.world.account_index(int(i)) for i in steamAccountIds if i is not None]
        return [PlayerNode(self.world, i) if i is not None else None for i in found]

    def match(self, info: Any, id: int) -> dict[str, Any]:  # noqa: A002 - Stratz's argument name
        index = self.world.match_index(int(id))
        if index is None:
            raise GraphQLError(f"Match {id} not found.")
        return match_node(self.world, match_batch(self.world, np.array([index])), 0)

    def matches(self, info: Any, ids: list[int]) -> list[dict[str, Any] | None]:
        found = [self.world.match_index(int(i)) if i is not None else None for i in ids[:MAX_TAKE]]
        known = np.array([i for i in found if i is not None], dtype=np.int64)
        batch = match_batch(self.world, known)
        rows = iter(range(len(known)))
        return [match_node(self.world, batch, next(rows)) if i is not None else None for i in found]


def steam_account(world: World, index: int) -> dict[str, Any]:
    a = world.accounts
    account_id = int(a.account_id[index])
    u = float(uniform(world.seed, index, 0x5F1A)[0])
    flagged = u < (0.35 if a.kind[index] == KIND_SMURF else 0.004)
    return {
        "id": account_id,
        "name": personaname(world, index),
        "avatar": avatar_urls(world, index)[2],
        "profileUri": profile_url(account_id),
        "countryCode": country(world, index),
        "timeCreated": int(a.created[index]),
        "isAnonymous": bool(a.private[index]),
        "isDotaPlusSubscriber": bool(a.plus[index]),
        "smurfFlag": int(flagged),
        "seasonRank": world.rank_tier(index),
        "seasonLeaderboardRank": world.leaderboard_rank(index),
    }


class PlayerNode:
    def __init__(self, world: World, index: int) -> None:
        self.world = world
        self.index = index
        self.steamAccountId = int(world.accounts.account_id[index])

    @cached_property
    def _all(self) -> tuple[MatchBatch, np.ndarray]:
        """All matches newest first, with the player's slot (empty for private players)."""
        w = self.world
        matches = np.empty(0, np.int64) if w.accounts.private[self.index] else w.matches_of(self.index)[::-1]
        return match_batch(w, matches), w.slot_of(self.index, matches)

    def _filtered(self, request: dict[str, Any]) -> tuple[MatchBatch, np.ndarray, np.ndarray]:
        batch, slots = self._all
        rows = np.arange(len(batch))
        keep = np.ones(rows.size, dtype=bool)
        for name, column in (("lobbyTypeIds", batch.lobby_type), ("gameModeIds", batch.game_mode), ("matchIds", batch.match_id)):
            if request.get(name):
                keep &= np.isin(column, [int(v) for v in request[name] if v is not None])
        if request.get("heroIds"):
            keep &= np.isin(batch.hero_id[rows, slots], [int(v) for v in request["heroIds"] if v is not None])
        if request.get("startDateTime") is not None:
            keep &= batch.start_time >= int(request["startDateTime"])
        if request.get("endDateTime") is not None:
            keep &= batch.start_time <= int(request["endDateTime"])
        if request.get("isVictory") is not None:
            keep &= batch.win[rows, slots] == bool(request["isVictory"])
        return batch, rows[keep], slots[keep]

    def steamAccount(self, info: Any) -> dict[str, Any]:
        return steam_account(self.world, self.index)

    def matchCount(self, info: Any) -> int:
        return len(self._all[0])

    def winCount(self, info: Any) -> int:
        batch, slots = self._all
        return int(batch.win[np.arange(len(batch)), slots].sum())

    def firstMatchDate(self, info: Any) -> int | None:
        batch = self._all[0]
        return int(batch.start_time[-1]) if len(batch) else None

    def lastMatchDate(self, info: Any) -> int | None:
        batch = self._all[0]
        return int(batch.start_time[0]) if len(batch) else None

    def ranks(self, info: Any, seasonRankIds: list[int] | None = None) -> list[dict[str, Any]]:
        return [
            {"seasonRankId": 0, "asOfDateTime": when, "isCore": True, "rank": tier}
            for when, tier in self.world.rank_history(self.index)
        ]

    def matches(self, info: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
        take, skip = _take(request.get("take"), 10), max(0, int(request.get("skip") or 0))
        batch, rows, _ = self._filtered(request)
        return [match_node(self.world, batch, int(r)) for r in rows[skip : skip + take]]

    def heroesPerformance(self, info: Any, request: dict[str, Any], take: int | None = None) -> list[dict[str, Any]]:
        batch, rows, slots = self._filtered(request)
        skip = max(0, int(request.get("skip") or 0))
        limit = _take(request.get("take"), MAX_TAKE)
        rows, slots = rows[skip : skip + limit], slots[skip : skip + limit]
        hero = batch.hero_id[rows, slots]
        out = []
        for h in np.unique(hero):
            sel = hero == h
            r, s = rows[sel], slots[sel]
            k, d, a = batch.kills[r, s], batch.deaths[r, s], batch.assists[r, s]
            out.append(
                {
                    "heroId": int(h),
                    "matchCount": int(sel.sum()),
                    "winCount": int(batch.win[r, s].sum()),
                    "kDA": round(float((k.sum() + a.sum()) / max(1, d.sum())), 2),
                    "avgKills": round(float(k.mean()), 2),
                    "avgDeaths": round(float(d.mean()), 2),
                    "avgAssists": round(float(a.mean()), 2),
                    "avgGoldPerMinute": round(float(batch.gold_per_min[r, s].mean()), 1),
                    "avgExperiencePerMinute": round(float(batch.xp_per_min[r, s].mean()), 1),
                    "duration": int(batch.duration[r].mean()),
                    "lastPlayedDateTime": int(batch.start_time[r].max()),
                }
            )
        out.sort(key=lambda item: (-item["matchCount"], item["heroId"]))
        return out[: _take(take, len(out) or 1)] if take is not None else out


def _take(value: Any, default: int) -> int:
    take = default if value is None else int(value)
    if take > MAX_TAKE:
        raise GraphQLError(f"take cannot be larger than {MAX_TAKE}.")
    return max(0, take)


def match_node(world: World, b: MatchBatch, r: int) -> dict[str, Any]:
    avg = int(b.average_rank()[r])

    def players(info: Any, steamAccountId: int | None = None) -> list[dict[str, Any]]:
        return [
            _player_node(world, b, r, s)
            for s in range(10)
            if steamAccountId is None or int(b.account_id[r, s]) == int(steamAccountId)
        ]

    return {
        "id": int(b.match_id[r]),
        "didRadiantWin": bool(b.radiant_win[r]),
        "durationSeconds": int(b.duration[r]),
        "startDateTime": int(b.start_time[r]),
        "endDateTime": int(b.start_time[r] + b.duration[r]),
        "sequenceNum": int(b.match_seq_num[r]),
        "lobbyType": LOBBY_ENUM.get(int(b.lobby_type[r]), "UNRANKED"),
        "gameMode": MODE_ENUM.get(int(b.game_mode[r]), "NONE"),
        "regionId": int(b.region[r]),
        "clusterId": int(b.cluster[r]),
        "averageRank": avg or None,
        "radiantKills": [int(x) for x in b.kills[r, :5]],
        "direKills": [int(x) for x in b.kills[r, 5:]],
        "players": players,
    }


def _player_node(world: World, b: MatchBatch, r: int, s: int) -> dict[str, Any]:
    anonymous = int(b.account_id[r, s]) < 0
    index = int(b.players[r, s])
    position = int(b.position[r, s])
    return {
        "matchId": int(b.match_id[r]),
        "playerSlot": s if s < 5 else 128 + s - 5,
        "steamAccountId": None if anonymous else int(b.account_id[r, s]),
        "steamAccount": (lambda info: None) if anonymous else (lambda info: steam_account(world, index)),
        "isRadiant": s < 5,
        "isVictory": bool(b.win[r, s]),
        "heroId": int(b.hero_id[r, s]),
        "kills": int(b.kills[r, s]),
        "deaths": int(b.deaths[r, s]),
        "assists": int(b.assists[r, s]),
        "numLastHits": int(b.last_hits[r, s]),
        "numDenies": int(b.denies[r, s]),
        "goldPerMinute": int(b.gold_per_min[r, s]),
        "experiencePerMinute": int(b.xp_per_min[r, s]),
        "networth": int(b.net_worth[r, s]),
        "heroDamage": int(b.hero_damage[r, s]),
        "towerDamage": int(b.tower_damage[r, s]),
        "heroHealing": int(b.hero_healing[r, s]),
        "level": int(b.level[r, s]),
        "partyId": None,
        "leaverStatus": int(b.leaver_status[r, s]),
        "lane": LANE_ENUM.get(int(b.lane_role[r, s]), "UNKNOWN"),
        "role": ROLE_ENUM.get(position, "UNKNOWN"),
        "position": f"POSITION_{position}",
    }
