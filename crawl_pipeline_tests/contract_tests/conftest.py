"""Contract tests: the simulator's default answers against the real providers' published shapes.

Each module starts its own simulator on a free port (xdist-safe) with the simulator's
defaults, which are meant to be what the real services do today; only the server-side
rate limits are off where a test is not about them. Constants are in ``support.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(rate_limits={"enabled": False}) as handle:
        yield handle


@pytest.fixture()
def client(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c
