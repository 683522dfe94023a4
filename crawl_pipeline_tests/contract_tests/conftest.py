"""Contract tests: the simulator's default answers against the real providers' published shapes.

Each module starts its own simulator on a free port (xdist-safe) with the simulator's
defaults, which are meant to be what the real services do today; only the server-side
rate limits are off where a test is not about them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crawl_pipeline.simulator import (
    DEFAULT_OPENDOTA_KEYS,
    DEFAULT_STEAM_KEYS,
    DEFAULT_STRATZ_TOKENS,
)
from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator

SEED_ACCOUNT = 293053907
OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]
STEAM_KEY = DEFAULT_STEAM_KEYS[0]
CLIENT_USER_AGENT = "crawl_pipeline/0.1 (STRATZ_API)"  # what crawl_pipeline/sources/http.py sends
STRATZ_HEADERS = {"Authorization": f"Bearer {DEFAULT_STRATZ_TOKENS[0]}", "User-Agent": CLIENT_USER_AGENT}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(rate_limits={"enabled": False}) as handle:
        yield handle


@pytest.fixture()
def client(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def graphql(client: httpx.Client, query: str, headers: dict[str, str] | None = None, **variables: object) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or STRATZ_HEADERS)
