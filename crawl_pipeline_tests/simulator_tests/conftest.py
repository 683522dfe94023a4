"""Fixtures for the simulator suite: each server runs on its own free port (xdist-safe)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crawl_pipeline.simulator import DEFAULT_OPENDOTA_KEYS, SimulatorConfig, World
from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator, world_for

STEAM_KEY = "sim-steam-key"
OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]
STRATZ_USER_AGENT = {"User-Agent": "crawl_pipeline/0.1 (STRATZ_API)"}  # what sources/http.py sends
STRATZ_AUTH = {"Authorization": "Bearer sim-stratz-token-1", **STRATZ_USER_AGENT}
SEED_ACCOUNT = 293053907


@pytest.fixture(scope="session")
def world() -> World:
    return world_for(SimulatorConfig(accounts=2_000))


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    """A fault-free, unlimited server shared by a module's shape tests."""
    with start_simulator(rate_limits={"enabled": False}) as handle:
        yield handle


@pytest.fixture()
def client(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def graphql(client: httpx.Client, query: str, **variables: object) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=STRATZ_AUTH)
