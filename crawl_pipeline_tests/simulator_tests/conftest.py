"""Fixtures for the simulator suite: each server runs on its own free port (xdist-safe).
Constants are in ``support.py``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crawl_pipeline.simulator import SimulatorConfig, World
from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator, world_for


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
