"""Provider faults: 5xx, timeouts, malformed JSON and a 429 storm; the crawl converges."""

from __future__ import annotations

import pytest

from crawl_pipeline.definitions import build_definitions
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import Settings
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.fault_tests.support import CRAWL, assert_converged, crawl_config
from crawl_pipeline_tests.support import crawl_definitions, fingerprint

pytestmark = pytest.mark.fault

SCENARIOS = {
    "5xx_20pct": {"sim": {"fault_rate": 0.2, "fault_mix": {"http_500": 2, "http_502": 1, "http_503": 1}}, "client": {}},
    "timeouts_5pct": {"sim": {"fault_rate": 0.05, "fault_mix": {"timeout": 1}, "timeout_s": 3.0},
                          "client": {"timeout_seconds": 0.5}},
    # batched calls make a crawl a few dozen requests: a rate that still hits some of them
    "malformed_10pct": {"sim": {"fault_rate": 0.1, "fault_mix": {"malformed": 1}}, "client": {}},
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_provider_faults_lose_nothing_and_converge(scenario, db, database_url, dagster_instance, fault_baseline):
    setup = SCENARIOS[scenario]
    with start_simulator(rate_limits={"enabled": False}, **setup["sim"]) as sim:
        defs = crawl_definitions(database_url, sim.url, CRAWL, max_retries=1, **setup["client"])
        runs = crawl_locally(defs, dagster_instance, db, CRAWL, retry_rounds=8)
        faults = sim.stats()["faults_total"]
    assert faults > 0, "no fault was injected"
    assert runs.failed_partitions == []
    assert_converged(db, fault_baseline)


def test_429_storm_is_waited_out(db, database_url, dagster_instance, clean_simulator, fresh_database):
    """The server allows 1 call/s and 2/min on the one Stratz token, the client is told 1000/s: the
    crawl (the seed's batch) still ends whole. Stratz announces its limits (X-RateLimit-Limit-*), so
    after its first answers the client keeps to them; what it sent before that may be refused, and
    Retry-After is honoured. (Stratz answers 10 matches a request: the batch is a handful of requests.)"""
    tiny = crawl_config(max_depth=0)
    baseline_url, baseline = fresh_database("storm_baseline")
    crawl_locally(crawl_definitions(baseline_url, clean_simulator.url, tiny), dagster_instance, baseline, tiny)
    # 2 a minute as well: the batch's 4+ requests meet a refusal however slowly a loaded machine sends them
    limits = {"enabled": True, "stratz_per_second": 1, "stratz_per_minute": 2, "stratz_per_hour": 10**7}
    with start_simulator(rate_limits=limits) as sim:
        providers = ProvidersResource(
            opendota_api_url=sim.url, steam_api_url=sim.url, stratz_api_url=sim.url,
            stratz_tokens="eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ", steam_api_key="sim-steam-key",
            profiles="stratz", hero_stats="stratz", match_history="stratz", match_details="stratz",
            rate_limits={"stratz": {"per_second": 1000, "per_minute": 10**6, "per_hour": 10**7}},  # wrongly high
        )
        defs = build_definitions(
            Settings.from_env({}), postgres=PostgresResource(database_url=database_url), providers=providers, crawl=tiny
        )
        runs = crawl_locally(defs, dagster_instance, db, tiny, retry_rounds=8)
    assert runs.failed_partitions == []
    assert_converged(db, fingerprint(baseline))
