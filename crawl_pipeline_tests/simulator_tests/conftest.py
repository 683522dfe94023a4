"""Fixtures for the simulator suite (``sim`` and ``client``, a server on its own free port per
module, are in ``crawl_pipeline_tests/conftest.py``). Constants are in ``support.py``."""

from __future__ import annotations

import pytest

from crawl_pipeline.simulator import SimulatorConfig, World
from crawl_pipeline.simulator.testing import world_for


@pytest.fixture(scope="session")
def world() -> World:
    return world_for(SimulatorConfig(accounts=2_000))
