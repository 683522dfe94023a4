"""Stratz: the simulator's GraphQL schema against Stratz's, and its gatekeeping rules.

``stratz_schema_subset.json`` holds Stratz's own type, field, argument and enum names for
the types the simulator serves (transcribed from 7kruger/stratz_models_ts types.ts at
6584d26, generated from Stratz's published schema). The simulator's schema is read by
introspection over HTTP, as any GraphQL client would read Stratz's.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crawl_pipeline.simulator import RateLimits, SimulatorConfig
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT, graphql

from .schema_check import load
from .support import CLIENT_USER_AGENT, STRATZ_HEADERS

REAL = load("stratz_schema_subset.json")
INTROSPECTION = """
query {
  __schema {
    queryType { name }
    types {
      kind name
      fields { name type { ...Ref } args { name type { ...Ref } } }
      inputFields { name type { ...Ref } }
      enumValues { name }
    }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
"""
PLAYER = "player(steamAccountId: %d) { steamAccountId matchCount }"


def sdl(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return sdl(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return "[" + sdl(ref["ofType"]) + "]"
    return ref["name"]


@pytest.fixture(scope="module")
def served(sim) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=sim.url) as c:
        body = graphql(c, INTROSPECTION).json()
    assert "errors" not in body, body.get("errors")
    schema = body["data"]["__schema"]
    assert schema["queryType"]["name"] == "DotaQuery"
    return {t["name"]: t for t in schema["types"] if not t["name"].startswith("__")}


def test_every_object_field_and_argument_is_stratzs(served: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, kind in served.items():
        if kind["kind"] != "OBJECT":
            continue
        real = REAL["types"].get(name)
        if real is None:
            problems.append(f"type {name} is not one of Stratz's")
            continue
        for f in kind["fields"]:
            if real.get(f["name"]) != sdl(f["type"]):
                problems.append(f"{name}.{f['name']}: {sdl(f['type'])}, Stratz {real.get(f['name'])}")
            real_args = REAL["args"].get(f"{name}.{f['name']}", {})
            args = {a["name"]: sdl(a["type"]) for a in f["args"]}
            for arg, ref in args.items():
                if real_args.get(arg) != ref:
                    problems.append(f"{name}.{f['name']}({arg}: {ref}), Stratz {real_args.get(arg)}")
            for arg, ref in real_args.items():
                if ref.endswith("!") and arg not in args:
                    problems.append(f"{name}.{f['name']} lacks the required argument {arg}")
    assert not problems, problems


def test_input_types_and_enums_are_stratzs(served: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, kind in served.items():
        if kind["kind"] == "INPUT_OBJECT":
            real = REAL["inputs"].get(name)
            if real is None:
                problems.append(f"input {name} is not one of Stratz's")
                continue
            problems += [f"{name}.{f['name']}" for f in kind["inputFields"] if real.get(f["name"]) != sdl(f["type"])]
        elif kind["kind"] == "ENUM":
            real_values = set(REAL["enums"].get(name, []))
            problems += [f"{name}.{v['name']}" for v in kind["enumValues"] if v["name"] not in real_values]
    assert not problems, problems


def test_the_fields_the_crawl_batches_with(served: dict[str, dict[str, Any]]) -> None:
    root = {f["name"]: f for f in served["DotaQuery"]["fields"]}
    assert sdl(root["players"]["type"]) == "[PlayerType]"
    assert {a["name"]: sdl(a["type"]) for a in root["players"]["args"]} == {"steamAccountIds": "[Long]!"}
    assert sdl(root["matches"]["type"]) == "[MatchType]"
    assert {a["name"]: sdl(a["type"]) for a in root["matches"]["args"]} == {"ids": "[Long]!"}
    player = {f["name"]: f for f in served["PlayerType"]["fields"]}
    request = next(a for a in player["heroesPerformance"]["args"] if a["name"] == "request")
    assert sdl(request["type"]) == "PlayerHeroPerformanceMatchesRequestType"  # optional, as on Stratz


def test_heroes_performance_without_request(client: httpx.Client) -> None:
    q = f"{{ player(steamAccountId: {SEED_ACCOUNT}) {{ heroesPerformance {{ heroId matchCount winCount goldPerMinute }} }} }}"
    body = graphql(client, q).json()
    assert "errors" not in body and body["data"]["player"]["heroesPerformance"]


def test_players_and_matches_batch_many_ids(client: httpx.Client, sim) -> None:
    ids = [int(x) for x in sim.world.accounts.account_id[:60]] + [12]
    body = graphql(client, "query P($ids: [Long]!) { players(steamAccountIds: $ids) { steamAccountId matchCount } }", ids=ids).json()
    assert "errors" not in body
    players = body["data"]["players"]
    assert [p and p["steamAccountId"] for p in players] == ids[:-1] + [None]  # in order; unknown -> null
    match_ids = [int(x) for x in sim.world.match_id(sim.world.matches_of(0))][:50]
    body = graphql(client, "query M($ids: [Long]!) { matches(ids: $ids) { id sequenceNum players { steamAccountId } } }", ids=match_ids).json()
    assert "errors" not in body and [m["id"] for m in body["data"]["matches"]] == match_ids
    assert all(len(m["players"]) == 10 for m in body["data"]["matches"])


def test_batches_are_capped_at_100_ids(client: httpx.Client, sim) -> None:
    ids = [int(x) for x in sim.world.accounts.account_id[:101]]
    body = graphql(client, "query P($ids: [Long]!) { players(steamAccountIds: $ids) { steamAccountId } }", ids=ids).json()
    assert body["data"] == {"players": None} and "at most 100" in body["errors"][0]["message"]
    assert "errors" not in graphql(client, "query P($ids: [Long]!) { players(steamAccountIds: $ids) { steamAccountId } }", ids=ids[:100]).json()
    matches = graphql(client, "query M($ids: [Long]!) { matches(ids: $ids) { id } }", ids=list(range(1, 102))).json()
    assert matches["data"] == {"matches": None} and "at most 100" in matches["errors"][0]["message"]


def test_more_than_ten_aliases_is_too_complex(client: httpx.Client, sim) -> None:
    ids = [int(x) for x in sim.world.accounts.account_id[:11]]
    ten = "{ " + " ".join(f"p{i}: " + PLAYER % a for i, a in enumerate(ids[:10])) + " }"
    body = graphql(client, ten).json()
    assert "errors" not in body and len(body["data"]) == 10
    eleven = "{ " + " ".join(f"p{i}: " + PLAYER % a for i, a in enumerate(ids)) + " }"
    body = graphql(client, eleven).json()
    assert body["data"] is None and "too complex" in body["errors"][0]["message"]
    pages = " ".join(f"h{i}: heroesPerformance(request: {{take: 100, skip: {i * 100}}}) {{ heroId }}" for i in range(11))
    body = graphql(client, f"{{ player(steamAccountId: {SEED_ACCOUNT}) {{ {pages} }} }}").json()
    assert body["data"] is None and "too complex" in body["errors"][0]["message"]  # nested aliases count too
    assert SimulatorConfig().stratz_max_aliases == 10 and SimulatorConfig().stratz_max_ids == 100


@pytest.mark.parametrize(
    ("agent", "status"),
    [(None, 403), ("python-httpx/0.28", 403), ("STRATZ_API", 200), (CLIENT_USER_AGENT, 200)],
)
def test_user_agent_must_say_stratz_api(client: httpx.Client, agent: str | None, status: int) -> None:
    headers = {"Authorization": STRATZ_HEADERS["Authorization"]}
    query = {"query": "{ " + PLAYER % SEED_ACCOUNT + " }"}
    request = client.build_request("POST", "/graphql", json=query, headers=headers)
    if agent is None:
        del request.headers["User-Agent"]
    else:
        request.headers["User-Agent"] = agent
    assert client.send(request).status_code == status


def test_user_agent_rule_can_be_switched_off() -> None:
    with start_simulator(stratz_require_user_agent=False, rate_limits={"enabled": False}) as sim:
        r = httpx.post(sim.url + "/graphql", json={"query": "{ " + PLAYER % SEED_ACCOUNT + " }"},
                       headers={"Authorization": STRATZ_HEADERS["Authorization"]})  # fmt: skip
        assert r.status_code == 200


def test_daily_window_per_token() -> None:
    limits = RateLimits()
    assert (limits.stratz_per_second, limits.stratz_per_minute, limits.stratz_per_hour, limits.stratz_per_day) == (20, 250, 2000, 10_000)
    query = {"query": "{ " + PLAYER % SEED_ACCOUNT + " }"}
    with start_simulator(rate_limits={"stratz_per_day": 2}) as sim, httpx.Client(base_url=sim.url) as c:
        answers = [c.post("/graphql", json=query, headers=STRATZ_HEADERS) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert "(day)" in answers[-1].json()["errors"][0]["message"]
        assert int(answers[-1].headers["Retry-After"]) <= 86_400
