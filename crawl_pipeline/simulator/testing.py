"""Start a simulator for a test: ``with start_simulator(accounts=2000) as sim: sim.url``.

Worlds are cached per world-defining settings, so many fixtures (and parametrised tests)
share one generation; each ``start_simulator`` still gets its own server, port, counters,
limits and fault state, which keeps parallel test workers independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from .config import SimulatorConfig
from .server import SimulatorHandle, run_in_thread
from .world import World

TEST_ACCOUNTS = 2_000  # small enough to generate in well under a second


@lru_cache(maxsize=8)
def _cached_world(world_key: tuple[Any, ...]) -> World:
    return World.generate(SimulatorConfig(**dict(zip(SimulatorConfig.WORLD_FIELDS, world_key, strict=True))))


def world_for(config: SimulatorConfig) -> World:
    """The (cached) world for ``config``'s world fields."""
    return _cached_world(config.world_key())


@contextmanager
def start_simulator(**overrides: Any) -> Iterator[SimulatorHandle]:
    """Run a simulator server for the duration of the block.

    ``overrides`` are ``SimulatorConfig`` fields (``rate_limits`` may be a dict of
    ``RateLimits`` fields). Defaults differ from production in one way only: the world has
    ``TEST_ACCOUNTS`` accounts unless ``accounts`` is given.
    """
    overrides.setdefault("accounts", TEST_ACCOUNTS)
    config = SimulatorConfig().with_overrides(**overrides)
    handle = run_in_thread(config, world_for(config))
    try:
        yield handle
    finally:
        handle.stop()
