"""Helpers of the feed tests (the match feed against the simulator: its Steam
GetMatchHistoryBySequenceNum is the ground truth). They use the root conftest's fixtures only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import numpy as np

from crawl_pipeline.definitions import build_definitions
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.feed import definitions as feed_definitions
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import Settings
from crawl_pipeline.simulator.world import MATCH_SEQ_BASE
from crawl_pipeline.sources.registry import open_sources

SIM_STEAM_KEY = "sim-steam-key"
# 10,000 sequence numbers hold 5,000 simulated matches (step 2); the base is a multiple of the width
FIRST_RANGE_START = MATCH_SEQ_BASE
FAST_STEAM = {"per_second": 10_000}  # the documented 5/s would make the tests slow, not different
# ... and so would the sequence feed's own 1 call per 5 s (the shared simulators enforce no limits)
FAST_FEED = {"steam": FAST_STEAM, "steam_sequence": FAST_STEAM}


def providers(sim_url: str, **fields) -> ProvidersResource:
    fields.setdefault("rate_limits", FAST_FEED)
    return ProvidersResource(
        opendota_api_url=sim_url, steam_api_url=sim_url, stratz_api_url=sim_url, steam_api_key=SIM_STEAM_KEY, **fields
    )


@contextmanager
def steam_source(sim_url: str, db, **limits) -> Iterator:
    """The Steam client on the simulator and its Sources (for the accounting snapshot)."""
    config = providers(sim_url, **({"rate_limits": {**FAST_FEED, "steam": limits}} if limits else {})).sources_config()
    with open_sources(config, db) as sources:
        yield sources.provider("steam"), sources


def definitions(database_url: str, sim_url: str, crawl: CrawlConfig | None = None) -> dg.Definitions:
    """The project's Definitions pointed at the simulator, with the feed merged in (whether or not
    crawl_pipeline/definitions.py registers it already)."""
    base = build_definitions(
        Settings.from_env({}), postgres=PostgresResource(database_url=database_url), providers=providers(sim_url),
        crawl=crawl or CrawlConfig(max_depth=2),
    )
    if any(dg.AssetKey("match_feed") in getattr(a, "keys", ()) for a in base.assets or []):
        return base
    return dg.Definitions.merge(base, feed_definitions.defs)


def truth(world, start: int, end: int) -> dict[int, int]:
    """match_id -> match_seq_num of every simulated match with a sequence number in [start, end)."""
    idx = np.arange(world.num_matches)
    seq = world.match_seq_num(idx)
    ids = world.match_id(idx)
    keep = (seq >= start) & (seq < end)
    return dict(zip(ids[keep].tolist(), seq[keep].tolist(), strict=True))


def stored(db, start: int, end: int) -> dict[int, int]:
    rows = db.fetch_all(
        "SELECT match_id, match_seq_num FROM matches WHERE has_details AND match_seq_num >= %s AND match_seq_num < %s",
        (start, end),
    )
    return {r["match_id"]: r["match_seq_num"] for r in rows}
