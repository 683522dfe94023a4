"""The Stratz GraphQL dialect (``POST /graphql``) served by a real graphql-core schema.

The schema is a faithful subset of Stratz's published one (type, field and argument names
and their nullability as in Stratz's schema; checked against the TypeScript types generated
from it, 7kruger/stratz_models_ts ``types.ts`` at 6584d26): on ``DotaQuery``
``player(steamAccountId: Long!): PlayerType``, ``players(steamAccountIds: [Long]!): [PlayerType]``,
``match(id: Long!): MatchType`` and ``matches(ids: [Long]!): [MatchType]``; on ``PlayerType``
``steamAccount``, ``matchCount``, ``winCount``, ``ranks``,
``heroesPerformance(request: PlayerHeroPerformanceMatchesRequestType, skip: Int, take: Int)``
(``request`` optional) and ``matches(request: PlayerMatchesRequestType!)``. Custom scalars
(Long, Byte, Short) and the enums (LobbyTypeEnum, GameModeEnumType, MatchLaneType,
LeaverStatusEnum, ...) use Stratz's names, so a client's typed query documents validate
here as they do there. Errors follow GraphQL: ``{"data": ..., "errors": [{"message",
"locations", "path"}]}`` with status 200.
Gatekeeping, in order: a User-Agent without ``STRATZ_API`` is refused with 403 (Stratz asks
API clients to send it; ``stratz_require_user_agent``), a missing token or a JWT that does not
verify is a 403 JSON with ``WWW-Authenticate: Key realm="kong"``, a token that is not a JWT at
all a 500 JSON "An unexpected error occurred" (as probed live), limits are per token (20/s, 250/min, 2,000/h, 10,000/day); a request with more
than ``stratz_max_aliases`` (10) aliased fields is "too complex" (no data), and
``players``/``matches`` take at most ``stratz_max_ids`` (100) ids per call.
``smurfFlag`` is a weak heuristic like Stratz's own (a minority of smurfs, a few false
positives), never the ground truth.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, partial
from typing import Any

import numpy as np
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    Visitor,
    build_schema,
    execute_sync,
    parse,
    validate,
    visit,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .cache import LRU
from .config import RateLimits, SimulatorConfig
from .content import (
    MatchBatch,
    MatchRows,
    MatchStore,
    avatar_urls,
    country,
    match_batch,
    personaname,
    profile_url,
)
from .dialect import Principal, proxy_error_page
from .hashing import uniform
from .ratelimit import Decision, Window
from .responses import JSONResponse
from .stats import redact
from .world import KIND_SMURF, World

MAX_TAKE = 100
USER_AGENT_MARK = "STRATZ_API"

SDL = """
scalar Long
scalar Byte
scalar Short

enum LobbyTypeEnum { UNRANKED PRACTICE TOURNAMENT TUTORIAL COOP_VS_BOTS TEAM_MATCH SOLO_QUEUE RANKED SOLO_MID BATTLE_CUP EVENT DIRE_TIDE }
enum GameModeEnumType {
  NONE ALL_PICK CAPTAINS_MODE RANDOM_DRAFT SINGLE_DRAFT ALL_RANDOM INTRO THE_DIRETIDE REVERSE_CAPTAINS_MODE
  THE_GREEVILING TUTORIAL MID_ONLY LEAST_PLAYED NEW_PLAYER_POOL COMPENDIUM_MATCHMAKING CUSTOM CAPTAINS_DRAFT
  BALANCED_DRAFT ABILITY_DRAFT EVENT ALL_RANDOM_DEATH_MATCH SOLO_MID ALL_PICK_RANKED TURBO MUTATION UNKNOWN
}
enum MatchLaneType { UNKNOWN SAFE_LANE MID_LANE OFF_LANE JUNGLE ROAMING }
enum MatchPlayerRoleType { CORE LIGHT_SUPPORT HARD_SUPPORT UNKNOWN }
enum MatchPlayerPositionType { POSITION_1 POSITION_2 POSITION_3 POSITION_4 POSITION_5 UNKNOWN FILTERED ALL }
enum LeaverStatusEnum {
  NONE DISCONNECTED DISCONNECTED_TOO_LONG ABANDONED AFK NEVER_CONNECTED NEVER_CONNECTED_TOO_LONG
  FAILED_TO_READY_UP DECLINED_READY_UP
}

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
  isRadiant: Boolean
  take: Int
  skip: Int
}

input PlayerHeroPerformanceMatchesRequestType {
  matchIds: [Long]
  isParsed: Boolean
  isStats: Boolean
  startDateTime: Long
  endDateTime: Long
  lobbyTypeIds: [Byte]
  gameModeIds: [Byte]
  heroIds: [Short]
  isRadiant: Boolean
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
  isStratzPublic: Boolean!
  isDotaPlusSubscriber: Boolean
  smurfFlag: Byte
  seasonRank: Byte
  seasonLeaderboardRank: Short
}

type SteamAccountSeasonRankType {
  seasonRankId: Byte
  asOfDateTime: Long
  isCore: Boolean
  rank: Byte
}

type PlayerHeroesPerformanceType {
  heroId: Short!
  matchCount: Int!
  winCount: Int!
  kDA: Float
  avgKills: Float
  avgDeaths: Float
  avgAssists: Float
  goldPerMinute: Int!
  experiencePerMinute: Int!
  duration: Int!
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
  partyId: Byte
  leaverStatus: LeaverStatusEnum
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
  averageRank: Short
  numHumanPlayers: Int
  firstBloodTime: Int
  towerStatusRadiant: Int
  towerStatusDire: Int
  barracksStatusRadiant: Short
  barracksStatusDire: Short
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
  heroesPerformance(request: PlayerHeroPerformanceMatchesRequestType, skip: Int, take: Int): [PlayerHeroesPerformanceType]
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


LEAVER_ENUM = {0: "NONE", 1: "DISCONNECTED", 2: "DISCONNECTED_TOO_LONG", 3: "ABANDONED", 4: "AFK", 5: "NEVER_CONNECTED", 6: "NEVER_CONNECTED_TOO_LONG"}
FORBIDDEN = 403


_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")  # what a Stratz token looks like


def _error(message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"message": message}]}, status_code=status)


class _AliasCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.alias is not None:
            self.count += 1


def alias_count(document: Any) -> int:
    """Aliased fields anywhere in the document (operations and fragments)."""
    counter = _AliasCounter()
    visit(document, counter)
    return counter.count


class StratzDialect:
    name = "stratz"

    def __init__(
        self, world: World, config_source: Callable[[], SimulatorConfig] = lambda: SimulatorConfig(),
        store: MatchStore | None = None,
    ) -> None:  # fmt: skip
        self.world = world
        self._config = config_source
        self.store = store or MatchStore(world, blocks=0)
        self.schema: GraphQLSchema = build_schema(SDL)
        # parsed and validated documents by query text (a function of the text and the schema only)
        self._documents: LRU[tuple[Any, list[GraphQLError], int]] = LRU(256)
        # Queries run off the event loop, one at a time: a query takes tens of milliseconds, and run
        # inline it held every request behind it before the gateway had counted it, so calls sent
        # within one second were counted in the next (Stratz's gateway counts a call on arrival).
        # One thread: graphql-core is pure Python, more threads would only contend for the GIL.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-stratz-graphql")

    def owns(self, path: str) -> bool:
        return path.rstrip("/") == "/graphql"

    def close(self) -> None:
        """End the query thread (a stopped server sends no more queries)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --------------------------------------------------------------- gateway hooks
    def authenticate(self, request: Request, config: SimulatorConfig) -> Principal | Response:
        if config.stratz_require_user_agent and USER_AGENT_MARK not in request.headers.get("user-agent", ""):
            return proxy_error_page(FORBIDDEN)  # refused in front of the API, before the token
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token and not _JWT.match(token):  # the gateway fails to parse it: a 500, not a refusal
            return JSONResponse({"message": "An unexpected error occurred"}, status_code=500)
        if token not in config.stratz_tokens:  # missing, or a JWT that does not verify
            return JSONResponse({"message": "Unauthorized"}, status_code=403,
                                headers={"WWW-Authenticate": 'Key realm="kong"'})
        return Principal(identity=token, label=redact(token), tier="token")

    def windows(self, principal: Principal, limits: RateLimits, endpoint: str = "") -> tuple[list[Window], bool]:
        return [
            Window("second", 1, limits.stratz_per_second),
            Window("minute", 60, limits.stratz_per_minute),
            Window("hour", 3600, limits.stratz_per_hour),
            Window("day", 86_400, limits.stratz_per_day),
        ], False

    def headers(self, principal: Principal, decision: Decision) -> dict[str, str]:
        """Kong's rate-limiting headers, as probed live: every window's limit and what is left of it,
        and ``RateLimit-*`` for the most imminent one (the second)."""
        windows, _ = self.windows(principal, self._config().rate_limits)
        headers = {}
        for w in windows:
            name = w.name.capitalize()
            headers[f"X-RateLimit-Limit-{name}"] = str(w.limit)
            headers[f"X-RateLimit-Remaining-{name}"] = str(max(0, decision.remaining.get(w.name, w.limit)))
        second = windows[0]
        headers["RateLimit-Limit"] = str(second.limit)
        headers["RateLimit-Remaining"] = headers[f"X-RateLimit-Remaining-{second.name.capitalize()}"]
        headers["RateLimit-Reset"] = "1"
        return headers

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
            if not isinstance(query, str):
                raise TypeError("query must be a string")
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse({"errors": [{"message": "POST body must be JSON with a 'query'."}]}, status_code=400)
        checked = self._documents.get(query)  # clients send the same few documents with new variables
        if checked is None:
            try:
                document = parse(query)
            except GraphQLSyntaxError as exc:
                return JSONResponse({"data": None, "errors": [exc.formatted]})
            checked = (document, validate(self.schema, document), alias_count(document))
            self._documents.put(query, checked)
        document, invalid, aliases = checked
        if invalid:
            return JSONResponse({"data": None, "errors": [e.formatted for e in invalid]})
        config = self._config()
        if aliases > config.stratz_max_aliases:
            return _error(
                f"The query is too complex: {aliases} aliased selections, at most {config.stratz_max_aliases} per request."
            )
        run = partial(self._execute, document, Root(self.world, config.stratz_max_ids, self.store), variables, operation)
        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    def _execute(self, document: Any, root: Root, variables: dict[str, Any] | None, operation: str | None) -> Response:
        result = execute_sync(self.schema, document, root_value=root, variable_values=variables, operation_name=operation)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return JSONResponse(body)


class Root:
    """Resolvers of DotaQuery; the default resolver calls these with (info, **args)."""

    def __init__(self, world: World, max_ids: int = 100, store: MatchStore | None = None) -> None:
        self.world = world
        self.max_ids = max_ids
        self.store = store or MatchStore(world, blocks=0)

    def _check_ids(self, ids: list[Any], what: str) -> None:
        if len(ids) > self.max_ids:
            raise GraphQLError(f"Too many {what}: {len(ids)} requested, at most {self.max_ids} per request.")

    def player(self, info: Any, steamAccountId: int) -> PlayerNode | None:
        index = self.world.account_index(int(steamAccountId))
        if index is None:
            raise GraphQLError(f"Player {steamAccountId} not found.")
        return PlayerNode(self.world, index)

    def players(self, info: Any, steamAccountIds: list[int | None]) -> list[PlayerNode | None]:
        """One entry per id, in order; ids the world does not know are null."""
        self._check_ids(steamAccountIds, "steamAccountIds")
        found = [self.world.account_index(int(i)) if i is not None else None for i in steamAccountIds]
        return [PlayerNode(self.world, i) if i is not None else None for i in found]

    def match(self, info: Any, id: int) -> dict[str, Any]:
        index = self.world.match_index(int(id))
        if index is None:
            raise GraphQLError(f"Match {id} not found.")
        return match_node(self.world, *self.store.locate(index))

    def matches(self, info: Any, ids: list[int | None]) -> list[dict[str, Any] | None]:
        """One entry per id, in order; ids the world does not know are null."""
        self._check_ids(ids, "ids")
        found = [self.world.match_index(int(i)) if i is not None else None for i in ids]
        located = iter(self.store.many([i for i in found if i is not None]))
        return [match_node(self.world, *next(located)) if i is not None else None for i in found]


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
        "isStratzPublic": not bool(a.private[index]),
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

    @cached_property
    def _rows(self) -> MatchRows:
        return MatchRows(self.world, self._all[0])

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
        if request.get("isRadiant") is not None:
            keep &= (slots < 5) == bool(request["isRadiant"])
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
        _, rows, _ = self._filtered(request)
        return [match_node(self.world, self._rows, int(r)) for r in rows[skip : skip + take]]

    def heroesPerformance(
        self, info: Any, request: dict[str, Any] | None = None, skip: int | None = None, take: int | None = None
    ) -> list[dict[str, Any]]:
        """Per hero over the request's matches (``request.take`` <= 100 of them); ``skip``/``take`` page heroes."""
        request = request or {}
        batch, rows, slots = self._filtered(request)
        first = max(0, int(request.get("skip") or 0))  # request.skip/take choose matches; skip/take page heroes
        limit = _take(request.get("take"), MAX_TAKE)
        rows, slots = rows[first : first + limit], slots[first : first + limit]
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
                    "goldPerMinute": round(float(batch.gold_per_min[r, s].mean())),
                    "experiencePerMinute": round(float(batch.xp_per_min[r, s].mean())),
                    "duration": int(batch.duration[r].mean()),
                    "lastPlayedDateTime": int(batch.start_time[r].max()),
                }
            )
        out.sort(key=lambda item: (-item["matchCount"], item["heroId"]))
        out = out[max(0, int(skip or 0)) :]
        return out[: _take(take, len(out) or 1)] if take is not None else out


def _take(value: Any, default: int) -> int:
    take = default if value is None else int(value)
    if take > MAX_TAKE:
        raise GraphQLError(f"take cannot be larger than {MAX_TAKE}.")
    return max(0, take)


def match_node(world: World, rows: MatchRows, r: int) -> dict[str, Any]:
    m = rows.row(r)
    avg = m["average_rank"]
    radiant_win, kills, account_ids = m["radiant_win"], m["kills"], m["account_id"]

    def players(info: Any, steamAccountId: int | None = None) -> list[dict[str, Any]]:
        return [
            _player_node(world, m, s)
            for s in range(10)
            if steamAccountId is None or account_ids[s] == int(steamAccountId)
        ]

    return {
        "id": m["match_id"],
        "didRadiantWin": radiant_win,
        "durationSeconds": m["duration"],
        "startDateTime": m["start_time"],
        "endDateTime": m["start_time"] + m["duration"],
        "sequenceNum": m["match_seq_num"],
        "lobbyType": LOBBY_ENUM.get(m["lobby_type"], "UNRANKED"),
        "gameMode": MODE_ENUM.get(m["game_mode"], "NONE"),
        "regionId": m["region"],
        "clusterId": m["cluster"],
        "averageRank": avg or None,
        "numHumanPlayers": 10,
        "firstBloodTime": 60 + m["index"] % 180,
        "towerStatusRadiant": 1974 if radiant_win else 0,
        "towerStatusDire": 0 if radiant_win else 1974,
        "barracksStatusRadiant": 63 if radiant_win else 0,
        "barracksStatusDire": 0 if radiant_win else 63,
        "radiantKills": kills[:5],
        "direKills": kills[5:],
        "players": players,
    }


def _player_node(world: World, m: dict[str, Any], s: int) -> dict[str, Any]:
    account = m["account_id"][s]
    anonymous = account < 0
    index = m["players"][s]
    position = m["position"][s]
    return {
        "matchId": m["match_id"],
        "playerSlot": s if s < 5 else 128 + s - 5,
        "steamAccountId": None if anonymous else account,
        "steamAccount": (lambda info: None) if anonymous else (lambda info: steam_account(world, index)),
        "isRadiant": s < 5,
        "isVictory": (s < 5) == m["radiant_win"],
        "heroId": m["hero_id"][s],
        "kills": m["kills"][s],
        "deaths": m["deaths"][s],
        "assists": m["assists"][s],
        "numLastHits": m["last_hits"][s],
        "numDenies": m["denies"][s],
        "goldPerMinute": m["gold_per_min"][s],
        "experiencePerMinute": m["xp_per_min"][s],
        "networth": m["net_worth"][s],
        "heroDamage": m["hero_damage"][s],
        "towerDamage": m["tower_damage"][s],
        "heroHealing": m["hero_healing"][s],
        "level": m["level"][s],
        "partyId": None,
        "leaverStatus": LEAVER_ENUM.get(m["leaver_status"][s], "NONE"),
        "lane": LANE_ENUM.get(m["lane_role"][s], "UNKNOWN"),
        "role": ROLE_ENUM.get(position, "UNKNOWN"),
        "position": f"POSITION_{position}",
    }
