"""Every fault kind, observed by a real httpx client over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from crawl_pipeline.simulator.faults import FaultInjector
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

PATH = f"/api/players/{SEED_ACCOUNT}"


def only(kind: str, **extra: object):
    return start_simulator(fault_rate=1.0, fault_mix={kind: 1.0}, rate_limits={"enabled": False}, **extra)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(status: int) -> None:
    with only(f"http_{status}") as sim:
        r = httpx.get(sim.url + PATH)
        assert r.status_code == status
        assert sim.stats()["faults"] == {f"http_{status}": 1}


def test_drop_closes_without_a_response() -> None:
    with only("drop") as sim:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(sim.url + PATH)
        assert sim.stats()["faults"] == {"drop": 1}


def test_truncated_body_breaks_mid_stream() -> None:
    with only("truncated") as sim, pytest.raises(httpx.RemoteProtocolError):
        httpx.get(sim.url + PATH)


def test_malformed_json() -> None:
    with only("malformed") as sim:
        r = httpx.get(sim.url + PATH)
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            r.json()


def test_timeout_exceeds_client_timeout() -> None:
    with only("timeout", timeout_s=1.5) as sim, pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.url + PATH, timeout=0.2)


def test_slow_response_still_answers() -> None:
    with only("slow", slow_ms=300) as sim:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(sim.url + PATH, timeout=0.05)
        assert httpx.get(sim.url + PATH, timeout=5).status_code == 200


def test_fault_sequence_is_deterministic_and_retries_get_through() -> None:
    def run() -> list[int]:
        with (
            start_simulator(fault_rate=0.5, fault_mix={"http_503": 1.0}, rate_limits={"enabled": False}) as sim,
            httpx.Client(base_url=sim.url) as c,
        ):
            return [c.get(f"/api/players/{SEED_ACCOUNT}/wl").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert {200, 503} == set(first)


def test_injector_rate_and_mix() -> None:
    injector = FaultInjector(seed=1, rate=0.2, mix={"http_500": 1.0, "drop": 3.0}, latency_ms=10)
    fates = [injector.decide(f"GET /x/{i}".encode()) for i in range(4000)]
    kinds = [f.kind for f in fates if f.kind]
    assert 0.17 < len(kinds) / 4000 < 0.23
    assert 2.0 < kinds.count("drop") / kinds.count("http_500") < 4.5
    assert all(0.005 <= f.latency_s <= 0.015 for f in fates)


def test_latency_is_added_and_sim_routes_are_exempt() -> None:
    with only("http_500", latency_ms=1) as sim:
        assert httpx.get(sim.url + "/_sim/stats").status_code == 200
        assert httpx.post(sim.url + "/_sim/config", json={"fault_rate": 0.0}).status_code == 200
        assert httpx.get(sim.url + PATH).status_code == 200
        assert httpx.post(sim.url + "/_sim/config", json={"nonsense": 1}).status_code == 400
