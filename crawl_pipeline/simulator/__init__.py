"""A deterministic Dota 2 world served in the OpenDota, Steam Web API and Stratz dialects.

``World.generate(config)`` builds the world, ``create_app(world, config)`` serves it as an
ASGI app, ``run_in_thread(config)`` runs it on a free local port, and
``crawl_pipeline.simulator.testing.start_simulator`` wraps that for tests.
"""

from .config import (
    DEFAULT_OPENDOTA_KEYS,
    DEFAULT_STEAM_KEYS,
    DEFAULT_STRATZ_TOKENS,
    FAULT_KINDS,
    SEED_ACCOUNT_ID,
    RateLimits,
    SimulatorConfig,
)
from .server import SimulatorApp, SimulatorHandle, create_app, run_in_thread
from .world import World, rank_tier_from_mmr

__all__ = [
    "DEFAULT_OPENDOTA_KEYS",
    "DEFAULT_STEAM_KEYS",
    "DEFAULT_STRATZ_TOKENS",
    "FAULT_KINDS",
    "SEED_ACCOUNT_ID",
    "RateLimits",
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorHandle",
    "World",
    "create_app",
    "rank_tier_from_mmr",
    "run_in_thread",
]
