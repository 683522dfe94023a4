"""Fuzzing the provider payload parsers with real-shaped JSON.

Each example starts from a payload the simulator really serves and mutates it (fields
dropped, wrong types, nulls, huge numbers, unicode). Served through ``httpx.MockTransport``
to the real client, the only acceptable outcomes are a valid normalized model or a typed
``APIError`` (``MalformedResponse`` naming the field, or the provider's own "not found" /
"bad request" meaning); anything else would crash a partition.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from crawl_pipeline.domain.records import DetailsRequest
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources import opendota
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import APIError, BadRequest, MalformedResponse, NotFound
from crawl_pipeline.sources.http import Problem, RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source

SEED = 293053907
KEYS = {"opendota": "00000000-0000-4000-8000-00000000da7a", "steam": "sim-steam-key", "stratz": "eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ"}
CALLS = {  # (provider, method, argument)
    "opendota.player_profile": ("opendota", "player_profile", SEED),
    "opendota.hero_stats": ("opendota", "hero_stats", SEED),
    "opendota.match_page": ("opendota", "match_page", SEED),
    "opendota.match_details": ("opendota", "match_details", None),
    "steam.match_page": ("steam", "match_page", SEED),
    "steam.match_details": ("steam", "match_details_group", None),  # the sequence feed (GetMatchDetails is broken)
    "steam.player_bans": ("steam", "player_bans", [SEED]),
    "stratz.player_profile": ("stratz", "player_profile", SEED),
    "stratz.hero_stats": ("stratz", "hero_stats", SEED),
    "stratz.match_page": ("stratz", "match_page", SEED),
    "stratz.match_details": ("stratz", "match_details", None),
}
ALLOWED = (MalformedResponse, NotFound, BadRequest)


def client(provider: str, base_url: str, transport: httpx.BaseTransport | None = None):
    config = SourcesConfig(
        opendota=ProviderConfig(base_url, (Secret(KEYS["opendota"]),)),
        steam=ProviderConfig(base_url, (Secret(KEYS["steam"]),)),
        stratz=ProviderConfig(base_url, (Secret(KEYS["stratz"]),)),
        retry=RetryPolicy(max_retries=0),
    )
    return build_source(provider, config, limiter=None, accounting=RequestAccounting(None), transport=transport)


def call(name: str, source, match: tuple[int, int]):
    """``match``: (match_id, match_seq_num) of a real match."""
    _, method, argument = CALLS[name]
    if method == "match_details_group":
        [(_, outcome)] = source.match_details_group([DetailsRequest(match_id=match[0], match_seq_num=match[1])])
        if isinstance(outcome, APIError):
            raise outcome
        return outcome
    return getattr(source, method)(match[0] if argument is None else argument)


@pytest.fixture(scope="module")
def real_payloads() -> dict[str, list[Any]]:
    """Every JSON body the simulator sends for each call (several for multi-request calls)."""
    recorded: dict[str, list[Any]] = {}
    with start_simulator(rate_limits={"enabled": False}) as sim:
        world = sim.world
        index = int(world.matches_of(world.account_index(SEED))[0])
        match = (int(world.match_id([index])[0]), int(world.match_seq_num([index])[0]))
        for name, (provider, _, _) in CALLS.items():
            bodies: list[Any] = []

            def record(request: httpx.Request, bodies=bodies) -> httpx.Response:
                with httpx.Client() as http:
                    response = http.send(request)
                    response.read()
                bodies.append(json.loads(response.content))
                return httpx.Response(response.status_code, content=response.content, headers=response.headers)

            call(name, client(provider, sim.url, httpx.MockTransport(record)), match)
            recorded[name] = bodies
    recorded["_match"] = [match]
    return recorded


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([2**31, 2**63, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(["Ünïcødé 名前 🎮", "\u202e\u0000", "", "null", "1e400", "9" * 40]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            found += paths(value, prefix + (i,))
    return found


@st.composite
def mutated(draw, payload: Any) -> Any:
    """``payload`` with one to three mutations at real paths: drop, replace, null."""
    payload = json.loads(json.dumps(payload))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(payload)))
        if not where:
            payload = draw(VALUES)
            continue
        parent = payload
        try:
            for step in where[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["drop", "replace", "null"]))
        try:
            if action == "drop":
                del parent[where[-1]]
            else:
                parent[where[-1]] = None if action == "null" else draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    return payload


@pytest.mark.parametrize("name", list(CALLS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_payloads_give_a_model_or_a_typed_error(name, real_payloads, data):
    originals = real_payloads[name]
    bodies = [data.draw(mutated(body), label=f"body {i}") for i, body in enumerate(originals)]
    served = iter(bodies)

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(next(served, bodies[-1])).encode())

    source = client(CALLS[name][0], "http://fuzz", httpx.MockTransport(serve))
    try:
        result = call(name, source, real_payloads["_match"][0])
    except ALLOWED as error:
        if isinstance(error, MalformedResponse):
            assert "field" in error.message or "JSON" in error.message, error.message
        return
    except APIError as error:
        pytest.fail(f"unexpected error class {type(error).__name__}: {error}")
    assert isinstance(result, BaseModel), type(result)


@pytest.mark.parametrize("name", list(CALLS))
def test_unmutated_payloads_parse(name, real_payloads):
    served = iter(real_payloads[name])
    source = client(CALLS[name][0], "http://fuzz", httpx.MockTransport(lambda r: httpx.Response(200, json=next(served))))
    assert isinstance(call(name, source, real_payloads["_match"][0]), BaseModel)


TIME_FIELDS = {"start_time", "last_played", "startDateTime", "lastPlayedDateTime", "last_login"}


def with_times(node: Any, value: Any) -> Any:
    if isinstance(node, dict):
        return {k: (value if k in TIME_FIELDS else with_times(v, value)) for k, v in node.items()}
    if isinstance(node, list):
        return [with_times(v, value) for v in node]
    return node


@pytest.mark.parametrize("name", [n for n in CALLS if "bans" not in n and "profile" not in n])
@pytest.mark.parametrize("epoch", [10**15, 2**62, 253402300800])
def test_out_of_range_timestamps_are_malformed_not_crashes(name, real_payloads, epoch):
    bodies = [with_times(body, epoch) for body in real_payloads[name]]
    served = iter(bodies)
    source = client(CALLS[name][0], "http://fuzz", httpx.MockTransport(lambda r: httpx.Response(200, json=next(served, bodies[-1]))))
    try:
        call(name, source, real_payloads["_match"][0])
    except ALLOWED:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_opendota_details_in_one_pass_equal_the_checked_way_or_step_aside(real_payloads, data):
    """The one-pass parse of OpenDota match details (strict, straight into the records) gives what
    the checked parse gives, value and type, or None, leaving the payload and its error to it."""
    [original] = real_payloads["opendota.match_details"]
    payload = data.draw(mutated(original), label="body")
    fast = opendota._well_typed_details(json.loads(json.dumps(payload)))
    try:
        checked = opendota._checked_details(payload)
    except (pydantic.ValidationError, Problem):
        assert fast is None
        return
    assert fast is None or repr(fast) == repr(checked)


def test_opendota_details_as_sent_take_the_one_pass_path(real_payloads):
    [original] = real_payloads["opendota.match_details"]
    assert repr(opendota._well_typed_details(original)) == repr(opendota._checked_details(original))
