"""Fixtures for the provider clients: a simulator per test (configs pointing at it: ``support.sim_config``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawl_pipeline.simulator.server import SimulatorHandle
from crawl_pipeline.simulator.testing import start_simulator


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[SimulatorHandle]:
    """One simulator for read-only tests that do not look at its counters."""
    with start_simulator(rate_limits={"enabled": False}) as handle:
        yield handle
