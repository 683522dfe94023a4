"""Every dialect answers exactly as the simulator did before its serving path was optimised.

A fixed seed and a fixed list of requests (OpenDota players/heroes/matches/match details,
Steam history/sequence/details/bans, Stratz player/players/matches/match queries, error
answers), plus request sequences whose answers depend on per-request state: deterministic
faults (attempt counters), rate-limit refusals and headers (on a frozen clock) and Steam
GetMatchDetails' per-attempt error draw. Each answer is reduced to its status, content type,
the sha256 of its raw body and the sha256 of its canonical JSON (sorted keys), and compared
with ``golden/response_digests.json``, recorded from the implementation as it was before the
response caches and the faster encoder went in. A changed byte in any answer fails here.

Re-record (only when a response is *meant* to change):
``.venv/bin/python -m crawl_pipeline_tests.simulator_tests.test_response_identity``
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from crawl_pipeline.domain.identity import to_steamid64
from crawl_pipeline.simulator import DEFAULT_OPENDOTA_KEYS, SimulatorConfig, World
from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator, world_for

GOLDEN = Path(__file__).parent / "golden" / "response_digests.json"
ACCOUNTS = 2_000
SEED = 1
SEED_ACCOUNT = 293053907
STEAM_KEY = "sim-steam-key"
OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]
STRATZ_HEADERS = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ", "User-Agent": "crawl_pipeline/0.1 (STRATZ_API)"}
FROZEN_CLOCK = 1_750_000_030.25  # mid-minute, mid-second: windows never roll over during the test

Spec = tuple[str, str, str, dict[str, Any]]  # name, method, path, httpx keyword arguments


def _world() -> World:
    return world_for(SimulatorConfig(seed=SEED, accounts=ACCOUNTS))


def _gql(query: str, **variables: Any) -> dict[str, Any]:
    return {"json": {"query": query, "variables": variables}, "headers": STRATZ_HEADERS}


PLAYER_FULL = """
query P($id: Long!) {
  player(steamAccountId: $id) {
    steamAccountId
    steamAccount { id name avatar profileUri countryCode timeCreated isAnonymous isStratzPublic
                   isDotaPlusSubscriber smurfFlag seasonRank seasonLeaderboardRank }
    matchCount winCount firstMatchDate lastMatchDate
    ranks { seasonRankId rank asOfDateTime isCore }
    heroesPerformance(request: {take: 100}) { heroId matchCount winCount kDA avgKills avgDeaths avgAssists
                                              goldPerMinute experiencePerMinute duration lastPlayedDateTime }
  }
}
"""
MATCH_FIELDS = """
  id didRadiantWin durationSeconds startDateTime endDateTime sequenceNum lobbyType gameMode regionId clusterId
  averageRank numHumanPlayers firstBloodTime towerStatusRadiant towerStatusDire barracksStatusRadiant
  barracksStatusDire radiantKills direKills
  players { matchId playerSlot steamAccountId steamAccount { id name seasonRank smurfFlag } heroId isRadiant
            isVictory kills deaths assists numLastHits numDenies goldPerMinute experiencePerMinute networth
            heroDamage towerDamage heroHealing level partyId leaverStatus lane role position }
"""


def specs(world: World) -> list[Spec]:
    """The fixed requests; ids are derived from the world (and recorded with the answers)."""
    a = world.accounts
    private = int(a.account_id[int(np.flatnonzero(a.private)[0])])
    other = int(a.account_id[17])
    last, middle = world.num_matches - 1, world.num_matches // 2
    anonymous = next(i for i in range(world.num_matches - 1, 0, -1)
                     if _has_anonymous(world, i))  # fmt: skip
    mid_id, last_id, anon_id = (int(world.match_id(np.array([i]))[0]) for i in (middle, last, anonymous))
    first_id = int(world.match_id(np.array([0]))[0])
    seq = int(world.match_seq_num(np.array([middle]))[0])
    seed_matches = world.matches_of(0)
    some_hero = int(world.accounts.hero_pool[0][0])
    start_at = int(world.match_id(np.array([int(seed_matches[-5])]))[0])
    key = {"headers": {"Authorization": f"Bearer {OPENDOTA_KEY}"}}
    steam = lambda **params: {"params": {"key": STEAM_KEY, **params}}
    od: list[Spec] = [
        ("od player seed", "GET", f"/api/players/{SEED_ACCOUNT}", key),
        ("od player seed free", "GET", f"/api/players/{SEED_ACCOUNT}", {}),
        ("od player other", "GET", f"/api/players/{other}", key),
        ("od player private", "GET", f"/api/players/{private}", key),
        ("od player unknown", "GET", "/api/players/5", key),
        ("od player invalid", "GET", "/api/players/abc", key),
        ("od matches seed", "GET", f"/api/players/{SEED_ACCOUNT}/matches", key),
        ("od matches project", "GET", f"/api/players/{SEED_ACCOUNT}/matches",
         {**key, "params": [("significant", "0"), ("project", "hero_id"), ("project", "kills"), ("project", "kda"),
                            ("project", "lane_role"), ("limit", "20"), ("offset", "3")]}),
        ("od matches comma project", "GET", f"/api/players/{SEED_ACCOUNT}/matches",
         {**key, "params": {"project": "hero_id,kills", "significant": "0"}}),
        ("od matches filters", "GET", f"/api/players/{SEED_ACCOUNT}/matches",
         {**key, "params": {"lobby_type": "7", "date": "60", "win": "1", "is_radiant": "1"}}),
        ("od matches hero", "GET", f"/api/players/{SEED_ACCOUNT}/matches",
         {**key, "params": {"hero_id": str(some_hero), "significant": "0", "region": "3"}}),
        ("od matches other", "GET", f"/api/players/{other}/matches", {**key, "params": {"limit": "5"}}),
        ("od matches private", "GET", f"/api/players/{private}/matches", key),
        ("od heroes seed", "GET", f"/api/players/{SEED_ACCOUNT}/heroes", key),
        ("od heroes having", "GET", f"/api/players/{SEED_ACCOUNT}/heroes", {**key, "params": {"having": "2", "significant": "0"}}),
        ("od heroes unknown", "GET", "/api/players/5/heroes", key),
        ("od wl seed", "GET", f"/api/players/{SEED_ACCOUNT}/wl", key),
        ("od wl filtered", "GET", f"/api/players/{SEED_ACCOUNT}/wl", {**key, "params": {"lobby_type": "7", "limit": "10"}}),
        ("od match first", "GET", f"/api/matches/{first_id}", key),
        ("od match middle", "GET", f"/api/matches/{mid_id}", key),
        ("od match middle free", "GET", f"/api/matches/{mid_id}", {}),
        ("od match last", "GET", f"/api/matches/{last_id}", key),
        ("od match anonymous", "GET", f"/api/matches/{anon_id}", key),
        ("od match unknown", "GET", f"/api/matches/{mid_id + 1}", key),
        ("od match invalid", "GET", "/api/matches/xyz", key),
        ("od hero list", "GET", "/api/heroes", key),
        ("od rankings", "GET", "/api/rankings", {**key, "params": {"hero_id": str(some_hero)}}),
        ("od rankings invalid", "GET", "/api/rankings", {**key, "params": {"hero_id": "x"}}),
        ("od unknown route", "GET", "/api/nope/1", key),
        ("od bad key format", "GET", f"/api/matches/{mid_id}", {"params": {"api_key": "nope"}}),
    ]
    st: list[Spec] = [
        ("steam history seed", "GET", "/IDOTA2Match_570/GetMatchHistory/v1/", steam(account_id=str(SEED_ACCOUNT), matches_requested="10")),
        ("steam history steamid64", "GET", "/IDOTA2Match_570/GetMatchHistory/v1", steam(account_id=str(to_steamid64(SEED_ACCOUNT)))),
        ("steam history hero", "GET", "/IDOTA2Match_570/GetMatchHistory/v1/", steam(account_id=str(SEED_ACCOUNT), hero_id=str(some_hero))),
        ("steam history start_at", "GET", "/IDOTA2Match_570/GetMatchHistory/v1/",
         steam(account_id=str(SEED_ACCOUNT), start_at_match_id=str(start_at), matches_requested="3")),
        ("steam history all", "GET", "/IDOTA2Match_570/GetMatchHistory/v1/", steam(matches_requested="7", game_mode="22")),
        ("steam history private", "GET", "/IDOTA2Match_570/GetMatchHistory/v1/", steam(account_id=str(private))),
        ("steam sequence", "GET", "/IDOTA2Match_570/GetMatchHistoryBySequenceNum/v1/",
         steam(start_at_match_seq_num=str(seq), matches_requested="5")),
        ("steam sequence default", "GET", "/IDOTA2Match_570/GetMatchHistoryBySequenceNum/v0001/", steam(start_at_match_seq_num=str(seq))),
        ("steam sequence zero", "GET", "/IDOTA2Match_570/GetMatchHistoryBySequenceNum/v1/", steam(matches_requested="0")),
        ("steam details off", "GET", "/IDOTA2Match_570/GetMatchDetails/v1/", steam(match_id=str(mid_id))),
        ("steam details missing", "GET", "/IDOTA2Match_570/GetMatchDetails/v1/", steam()),
        ("steam bans", "GET", "/ISteamUser/GetPlayerBans/v1/",
         steam(steamids=",".join(str(to_steamid64(int(x))) for x in a.account_id[:40]) + ",1,abc")),
        ("steam no key", "GET", "/IDOTA2Match_570/GetMatchHistory/v1/", {"params": {"account_id": str(SEED_ACCOUNT)}}),
    ]
    sz: list[Spec] = [
        ("stratz player full", "POST", "/graphql", _gql(PLAYER_FULL, id=SEED_ACCOUNT)),
        ("stratz player private", "POST", "/graphql", _gql(PLAYER_FULL, id=private)),
        ("stratz player unknown", "POST", "/graphql", _gql(PLAYER_FULL, id=5)),
        ("stratz players", "POST", "/graphql",
         _gql("query Q($ids: [Long]!) { players(steamAccountIds: $ids) { steamAccountId matchCount winCount "
              "steamAccount { name smurfFlag isAnonymous } } }", ids=[SEED_ACCOUNT, 5, other, private])),
        ("stratz player matches", "POST", "/graphql",
         _gql("query Q($id: Long!) { player(steamAccountId: $id) { matches(request: {take: 4, skip: 1, "
              "lobbyTypeIds: [7], isVictory: true}) {" + MATCH_FIELDS + "} } }", id=SEED_ACCOUNT)),
        ("stratz player matches self", "POST", "/graphql",
         _gql("query Q($id: Long!) { player(steamAccountId: $id) { matches(request: {take: 100}) { id "
              "players(steamAccountId: $id) { heroId kills deaths assists lane position } } } }", id=SEED_ACCOUNT)),
        ("stratz heroes paged", "POST", "/graphql",
         _gql("query Q($id: Long!) { player(steamAccountId: $id) { a: heroesPerformance(request: {take: 50, "
              "isRadiant: true}, skip: 1, take: 3) { heroId matchCount kDA } b: heroesPerformance { heroId duration } } }",
              id=SEED_ACCOUNT)),
        ("stratz match", "POST", "/graphql", _gql("query M($id: Long!) { match(id: $id) {" + MATCH_FIELDS + "} }", id=mid_id)),
        ("stratz match unknown", "POST", "/graphql", _gql("query M($id: Long!) { match(id: $id) { id } }", id=mid_id + 1)),
        ("stratz matches", "POST", "/graphql",
         _gql("query M($ids: [Long]!) { matches(ids: $ids) {" + MATCH_FIELDS + "} }", ids=[mid_id, mid_id + 1, anon_id, last_id])),
        ("stratz too many ids", "POST", "/graphql",
         _gql("query M($ids: [Long]!) { matches(ids: $ids) { id } }", ids=list(range(1, 102)))),
        ("stratz too complex", "POST", "/graphql",
         _gql("{ " + " ".join(f"a{i}: player(steamAccountId: {SEED_ACCOUNT}) {{ matchCount }}" for i in range(11)) + " }")),
        ("stratz take too big", "POST", "/graphql",
         _gql("query Q($id: Long!) { player(steamAccountId: $id) { matches(request: {take: 500}) { id } } }", id=SEED_ACCOUNT)),
        ("stratz syntax error", "POST", "/graphql", _gql("{ player(steamAccountId: 1) { ")),
        ("stratz invalid field", "POST", "/graphql", _gql("{ player(steamAccountId: 1) { noSuchField } }")),
        ("stratz bad body", "POST", "/graphql", {"content": b"not json", "headers": STRATZ_HEADERS}),
        ("stratz no token", "POST", "/graphql", {"json": {"query": "{ match(id: 1) { id } }"},
                                                 "headers": {"User-Agent": STRATZ_HEADERS["User-Agent"]}}),
        ("stratz no user agent", "POST", "/graphql", {"json": {"query": "{ match(id: 1) { id } }"},
                                                      "headers": {"Authorization": STRATZ_HEADERS["Authorization"]}}),
    ]
    return od + st + sz


def _has_anonymous(world: World, index: int) -> bool:
    from crawl_pipeline.simulator.content import match_batch

    return bool((match_batch(world, np.array([index])).account_id < 0).any())


def digest(response: httpx.Response, *, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    raw = response.content
    out: dict[str, Any] = {
        "status": response.status_code,
        "type": response.headers.get("content-type"),
        "raw": hashlib.sha256(raw).hexdigest()[:24],
    }
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        out["json"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]
    except ValueError:
        out["json"] = None
    for name in headers:
        if name in response.headers:
            out[name] = response.headers[name]
    return out


def _send(client: httpx.Client, spec: Spec, **keep: Any) -> dict[str, Any]:
    _name, method, path, kwargs = spec
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return {"error": type(exc).__name__}
    return digest(response, **keep)


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text("utf-8"))


@pytest.fixture(scope="module")
def plain() -> Iterator[SimulatorHandle]:
    with start_simulator(seed=SEED, accounts=ACCOUNTS, rate_limits={"enabled": False}) as sim:
        yield sim


def plain_answers(sim: SimulatorHandle) -> dict[str, Any]:
    """Each fixed request twice: the second answer (cache warm) must equal the first."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=sim.url, timeout=30) as client:
        for spec in specs(sim.world):
            first = _send(client, spec)
            again = _send(client, spec)
            out[spec[0]] = {"request": _describe(spec), **first, "repeat_identical": first == again}
    return out


def fault_answers() -> dict[str, Any]:
    """Repeated requests under a 60% fault rate: faults are drawn per request (attempt), cached or not."""
    out: dict[str, Any] = {}
    with start_simulator(seed=SEED, accounts=ACCOUNTS, rate_limits={"enabled": False}, fault_rate=0.6,
                         slow_ms=1.0, timeout_s=0.01) as sim, httpx.Client(base_url=sim.url, timeout=30) as client:  # fmt: skip
        chosen = [s for s in specs(sim.world) if s[0] in FAULTED]
        for round_ in range(6):
            for spec in chosen:
                out[f"{spec[0]} #{round_}"] = _send(client, spec)
    return out


FAULTED = ("od match middle", "od player seed", "od matches project", "steam sequence", "stratz match", "stratz players")


def limit_answers() -> dict[str, Any]:
    """Rate limits on a frozen clock: refusals, remaining counts and Retry-After per request."""
    out: dict[str, Any] = {}
    limits = {"opendota_free_per_minute": 3, "opendota_free_per_day": 4, "opendota_premium_per_minute": 2,
              "stratz_per_second": 2, "steam_per_day": 2,
              "steam_sequence_every_seconds": 0}  # the day's refusal, not the feed's own pace (test_steam.py)  # fmt: skip
    with start_simulator(seed=SEED, accounts=ACCOUNTS, rate_limits=limits) as sim, \
            httpx.Client(base_url=sim.url, timeout=30) as client:  # fmt: skip
        sim.runtime.limiter._clock = lambda: FROZEN_CLOCK
        by_name = {s[0]: s for s in specs(sim.world)}
        sequence = ["od match middle free"] * 5 + ["od match middle"] * 3 + ["stratz match"] * 3 + ["steam sequence"] * 3
        for n, name in enumerate(sequence):
            out[f"{n:02d} {name}"] = _send(client, by_name[name], headers=(
                "x-rate-limit-remaining-minute", "x-rate-limit-remaining-day", "retry-after"))  # fmt: skip
    return out


def steam_details_answers() -> dict[str, Any]:
    """GetMatchDetails enabled, half of the calls failing: a deterministic draw per match and attempt."""
    out: dict[str, Any] = {}
    with start_simulator(seed=SEED, accounts=ACCOUNTS, rate_limits={"enabled": False}, steam_match_details_enabled=True,
                         steam_details_error_rate=0.5) as sim, httpx.Client(base_url=sim.url, timeout=30) as client:  # fmt: skip
        w = sim.world
        ids = [int(x) for x in w.match_id(np.array([0, 7, w.num_matches // 2, w.num_matches - 1]))] + [1]
        for round_ in range(4):
            for match_id in ids:
                spec = ("details", "GET", "/IDOTA2Match_570/GetMatchDetails/v1/",
                        {"params": {"key": STEAM_KEY, "match_id": str(match_id)}})  # fmt: skip
                out[f"{match_id} #{round_}"] = _send(client, spec)
        sim.configure(steam_match_details_enabled=False)  # a runtime switch must not serve stale answers
        out["after switching off"] = _send(client, spec)
    return out


def _describe(spec: Spec) -> str:
    _name, method, path, kwargs = spec
    params = kwargs.get("params")
    query = str(httpx.QueryParams(params)) if params else ""
    body = kwargs.get("json")
    text = f"{method} {path}" + (f"?{query}" if query else "")
    if body is not None:
        text += " " + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return text


def content_digests(world: World) -> dict[str, str]:
    """The derived content behind every answer, for the whole test world (any batch size gives the same)."""
    from crawl_pipeline.simulator import content, hashing

    def h(*parts: Any) -> str:
        blob = hashlib.sha256()
        for part in parts:
            blob.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
        return blob.hexdigest()[:24]

    out: dict[str, str] = {}
    everything = content.match_batch(world, np.arange(world.num_matches))
    for name in everything.__dataclass_fields__:
        out[f"batch.{name}"] = h(np.asarray(getattr(everything, name), dtype=np.int64))
    out["batch.average_rank"] = h(everything.average_rank())
    scattered = np.array([world.num_matches - 1, 3, 3, 17_001, 0, 999])  # any order, duplicates allowed
    small = content.match_batch(world, scattered)
    out["batch.scattered_equal"] = repr(all(np.array_equal(getattr(small, f), getattr(everything, f)[scattered])
                                            for f in ("hero_id", "kills", "gold_per_min", "position", "cluster")))  # fmt: skip
    accounts = range(0, world.num_accounts, 3)
    out["personaname"] = h([content.personaname(world, i) for i in accounts])
    out["avatar_urls"] = h([content.avatar_urls(world, i) for i in accounts])
    out["last_login"] = h([content.last_login(world, i) for i in accounts])
    out["country"] = h([content.country(world, i) for i in accounts])
    out["rank_tier"] = h([world.rank_tier(i) for i in accounts])
    out["leaderboard_rank"] = h([world.leaderboard_rank(i) for i in accounts])
    out["rank_history"] = h([world.rank_history(i) for i in range(0, world.num_accounts, 37)])
    part = content.match_batch(world, np.arange(0, world.num_matches, 41))
    out["inventory"] = h([content.inventory(world, part, r, s) for r in range(len(part)) for s in range(10)])
    keys = np.arange(5000, dtype=np.int64)
    out["hash64"] = h(hashing.hash64(7, keys, 3), hashing.hash64(1, keys[:, None], np.arange(4)[None, :], 0xD7))
    out["uniform"] = h(hashing.uniform(1, keys, 5), [float(hashing.uniform(1, int(k), 2, 0x5F1A)[0]) for k in keys[:50]])
    # rounded: numpy's log1p and cos differ in the last bits between CPUs (AVX-512 machines use other
    # SIMD kernels), and what the world derives from these floats is pinned exactly above
    out["normal"] = h(np.round(hashing.normal(3, keys, 9), 6))
    out["choice_index"] = h(hashing.choice_index(1, 10, keys, 2, 24))
    return out


def record() -> dict[str, Any]:
    with start_simulator(seed=SEED, accounts=ACCOUNTS, rate_limits={"enabled": False}) as sim:
        plain_part = plain_answers(sim)
    return {"plain": plain_part, "faults": fault_answers(), "limits": limit_answers(),
            "steam_details": steam_details_answers(), "content": content_digests(_world())}  # fmt: skip


def _diff(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    names = sorted(set(expected) | set(actual))
    return [f"{n}: expected {expected.get(n)} got {actual.get(n)}" for n in names if expected.get(n) != actual.get(n)]


def test_plain_answers_are_identical(plain: SimulatorHandle, golden: dict[str, Any]) -> None:
    actual = plain_answers(plain)
    assert all(a["repeat_identical"] for a in actual.values())
    assert not _diff(golden["plain"], actual)


def test_derived_content_is_identical(golden: dict[str, Any]) -> None:
    assert not _diff(golden["content"], content_digests(_world()))


def test_fault_sequences_are_identical(golden: dict[str, Any]) -> None:
    actual = fault_answers()
    assert len({json.dumps(v, sort_keys=True) for v in actual.values()}) > 5  # faults really happened
    assert not _diff(golden["faults"], actual)


def test_rate_limited_sequences_are_identical(golden: dict[str, Any]) -> None:
    assert not _diff(golden["limits"], limit_answers())


def test_steam_details_draws_are_identical(golden: dict[str, Any]) -> None:
    assert not _diff(golden["steam_details"], steam_details_answers())


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"recorded {GOLDEN}")
