"""Helpers of the provider-client tests: the simulator's credentials and configs pointing at a
simulator (the simulators themselves are fixtures, in conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig

SEED = 293053907
STEAM_KEY = "sim-steam-key"
OPENDOTA_KEY = "00000000-0000-4000-8000-00000000da7a"
STRATZ_TOKENS = ("eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ", "eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg")
FAST_RETRY = RetryPolicy(max_retries=4, base_delay=0.01, max_delay=0.05, max_budget_wait=5.0)
# the sequence feed's own pace (1 call per 5 s) would make these tests slow, not different; the
# simulators here enforce no limits (test_ratelimit.py keeps the real pace)
FAST_SEQUENCE = {"matches_by_sequence": RateTier.of("steam-sequence-test", per_second=10_000)}


def sim_config(
    sim: SimulatorHandle,
    *,
    steam_key: str = STEAM_KEY,
    opendota_key: str | None = OPENDOTA_KEY,
    stratz_tokens: tuple[str, ...] = STRATZ_TOKENS,
    steam_paces: Mapping[str, RateTier] = FAST_SEQUENCE,
    **overrides: Any,
) -> SourcesConfig:
    overrides.setdefault("retry", FAST_RETRY)
    overrides.setdefault("http", HTTPSettings(timeout=2.0, connect_timeout=2.0))
    return SourcesConfig(
        opendota=ProviderConfig(sim.url, (Secret(opendota_key),) if opendota_key else ()),
        steam=ProviderConfig(sim.url, (Secret(steam_key),), paces=steam_paces),
        stratz=ProviderConfig(sim.url, tuple(Secret(t) for t in stratz_tokens)),
        **overrides,
    )


def some_match_ids(sim: SimulatorHandle, count: int) -> list[int]:
    """Match ids that exist in the simulated world (the newest ``count``)."""
    world = sim.world
    return [int(m) for m in world.match_id(list(range(world.num_matches - count, world.num_matches)))]


def first_seq(sim: SimulatorHandle) -> int:
    """The sequence number of the world's first match (the start of Steam's feed)."""
    return int(sim.world.match_seq_num([0])[0])
