"""Each typed error from what the simulated servers really do."""

from __future__ import annotations

import socket

import httpx
import pytest

from crawl_pipeline.domain.records import DetailsRequest
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import (
    ConnectionFailed,
    DetailsNotReady,
    MalformedResponse,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    Unauthorized,
)
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source, open_sources

from .support import SEED, STEAM_KEY, first_seq, sim_config, some_match_ids

NO_RETRY = RetryPolicy(max_retries=0, max_budget_wait=1.0)


def test_not_found(sim):
    with open_sources(sim_config(sim), None) as sources:
        for provider in ("opendota", "stratz"):
            with pytest.raises(NotFound) as info:
                sources.provider(provider).match_details(123)
            assert not info.value.retriable and info.value.provider == provider
        with pytest.raises(NotFound):
            sources.provider("opendota").player_profile(5)
        # Steam's details come from the sequence feed: a match not at its sequence number is not found
        [(match_id, outcome)] = sources.provider("steam").match_details_group(
            [DetailsRequest(match_id=123, match_seq_num=first_seq(sim))]
        )
        assert match_id == 123 and isinstance(outcome, NotFound) and "sequence feed" in outcome.message


@pytest.mark.parametrize("provider", ["opendota", "steam", "stratz"])
def test_bad_key_is_disabled_and_reported(sim, provider):
    config = sim_config(sim, steam_key="wrong-steam-key-123", opendota_key="wrong-opendota-key", stratz_tokens=("eyJhbGciOiJIUzI1NiJ9.d3Jvbmc.wrong-stratz-token-9",))
    with open_sources(config, None) as sources:
        client = sources.provider(provider)
        with pytest.raises(Unauthorized, match=r"no usable key or token \((key|token)#1 \(…"):
            client.match_details(some_match_ids(sim, 1)[0])
        [disabled] = sources.disabled_credentials()
        assert disabled.startswith(f"{provider} ") and "#1 (…" in disabled and "HTTP 4" in disabled
        assert [c.healthy for c in client.http.credentials.credentials] == [False]
        requests = sim.stats()["requests_total"]
        with pytest.raises(Unauthorized):  # a disabled key is not used again
            client.match_details(some_match_ids(sim, 1)[0])
        assert sim.stats()["requests_total"] == requests


def test_429_with_remaining_headers_gives_the_servers_wait(sim):
    """OpenDota without a key: 60/min by address; the 429 says 'minute' via its headers."""
    sim.configure(rate_limits={"opendota_free_per_minute": 2})
    with open_sources(sim_config(sim, opendota_key=None, retry=NO_RETRY), None) as sources:
        client = sources.provider("opendota")
        client.player_profile(SEED)
        client.player_profile(SEED)
        with pytest.raises(RateLimited) as info:
            client.player_profile(SEED)
        assert 0 < info.value.retry_after <= 60 and info.value.status_code == 429
        assert sources.snapshot()["rate_limited_429"] == 1


def test_429_with_retry_after_is_retried(sim):
    """Stratz answers 429 with Retry-After: the call waits that long and then succeeds."""
    sim.configure(rate_limits={"stratz_per_second": 1})
    retry = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.02, max_budget_wait=5.0)
    with open_sources(sim_config(sim, stratz_tokens=("eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ",), retry=retry), None) as sources:
        client = sources.provider("stratz")
        # Three calls, not two: the server's second is epoch-aligned, and two calls a few ms
        # apart can straddle its edge; three cannot without taking over a second
        for _ in range(3):
            assert client.player_profile(SEED).account_id == SEED
        snapshot = sources.snapshot()
    assert snapshot["rate_limited_429"] >= 1 and snapshot["retries"] >= 1


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503"])
def test_server_errors_retried_then_raised(kind):
    with start_simulator(fault_rate=1.0, fault_mix={kind: 1.0}) as sim:
        with open_sources(sim_config(sim), None) as sources:
            with pytest.raises(ServerError) as info:
                sources.provider("opendota").match_details(some_match_ids(sim, 1)[0])
            assert info.value.status_code == int(kind[5:]) and info.value.retriable
            assert sources.snapshot()["retries"] == 4
            assert sim.stats()["requests_total"] == 5


def test_timeout():
    with start_simulator(fault_rate=1.0, fault_mix={"timeout": 1.0}, timeout_s=3.0) as sim:
        config = sim_config(sim, retry=RetryPolicy(max_retries=1, base_delay=0.01), http=HTTPSettings(timeout=0.2))
        with open_sources(config, None) as sources:
            with pytest.raises(RequestTimeout):
                sources.provider("stratz").match_details(some_match_ids(sim, 1)[0])
            assert sources.snapshot()["api_calls_by_status"] == {"timeout": 2}


def _refused_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_names_the_address_and_its_variable():
    """A wrong STEAM_API_URL: the error says which address could not be reached and which
    variable set it (never the key, which travels in the query)."""
    port = _refused_port()
    config = SourcesConfig(
        opendota=ProviderConfig(f"http://127.0.0.1:{port}/api-prefix"),
        steam=ProviderConfig(f"http://127.0.0.1:{port}/steam", (Secret(STEAM_KEY),)),
        stratz=ProviderConfig(f"http://127.0.0.1:{port}"),
        retry=NO_RETRY,
    )
    with open_sources(config, None) as sources:
        with pytest.raises(ConnectionFailed) as info:
            sources.provider("steam").match_page(SEED)
        with pytest.raises(ConnectionFailed) as opendota:
            sources.provider("opendota").player_profile(SEED)
    assert str(info.value).startswith(
        f"steam match_page: cannot connect to http://127.0.0.1:{port} (STEAM_API_URL): ConnectError: "
    )
    assert STEAM_KEY not in str(info.value) and "/steam" not in str(info.value)
    assert f"cannot connect to http://127.0.0.1:{port} (OPENDOTA_API_URL)" in str(opendota.value)


def test_a_timeout_names_the_address_and_its_variable():
    def hang(request):
        raise httpx.ReadTimeout("timed out", request=request)

    url = "https://stratz.example:8443"
    config = SourcesConfig(opendota=ProviderConfig(url), steam=ProviderConfig(url),
                           stratz=ProviderConfig(url, (Secret("a-stratz-token-0001"),)), retry=NO_RETRY)
    source = build_source("stratz", config, limiter=None, accounting=RequestAccounting(None),
                          transport=httpx.MockTransport(hang))
    with pytest.raises(RequestTimeout) as info:
        source.player_profile(SEED)
    assert info.value.message == "timed out waiting for https://stratz.example:8443 (STRATZ_API_URL): ReadTimeout: timed out"


def test_dropped_connection():
    with start_simulator(fault_rate=1.0, fault_mix={"drop": 1.0}) as sim:
        with open_sources(sim_config(sim, retry=RetryPolicy(max_retries=1, base_delay=0.01)), None) as sources:
            with pytest.raises(ConnectionFailed):
                sources.provider("steam").match_details(some_match_ids(sim, 1)[0])


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_cut_bodies(kind):
    with start_simulator(fault_rate=1.0, fault_mix={kind: 1.0}) as sim:
        with open_sources(sim_config(sim, retry=RetryPolicy(max_retries=1, base_delay=0.01)), None) as sources:
            with pytest.raises(MalformedResponse if kind == "malformed" else ConnectionFailed) as info:
                sources.provider("opendota").match_details(some_match_ids(sim, 1)[0])
            assert info.value.retriable


def test_retries_get_through_intermittent_faults():
    with start_simulator(fault_rate=0.4, fault_mix={"http_500": 1, "drop": 1, "malformed": 1}) as sim:
        retry = RetryPolicy(max_retries=8, base_delay=0.005, max_delay=0.01)
        with open_sources(sim_config(sim, retry=retry), None) as sources:
            for match_id in some_match_ids(sim, 10):
                assert sources.provider("opendota").match_details(match_id).match_id == match_id
            assert sources.snapshot()["retries"] > 0


def test_steam_details_not_ready_is_not_retried():
    with start_simulator(steam_match_details_enabled=True, steam_details_error_rate=1.0) as sim:
        with open_sources(sim_config(sim), None) as sources:
            with pytest.raises(DetailsNotReady) as info:
                sources.provider("steam").match_details(some_match_ids(sim, 1)[0])
            assert not info.value.retriable and info.value.status_code == 500
        assert sim.stats()["requests_total"] == 1
