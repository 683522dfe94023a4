"""Jobs and schedules of the analytics subject.

Every downstream asset is kept fresh by declarative automation (automation.py: the aggregation
every 5 minutes, leaderboards, the DuckDB copy and the report); these jobs are for running them by hand.
"""

from __future__ import annotations

import dagster as dg

from crawl_pipeline.defs.analytics.assets import (
    analytics_duckdb,
    analytics_report,
    hero_top100,
    leaderboards_asset,
    player_match_type_stats,
)

player_match_type_stats_job = dg.define_asset_job(
    "player_match_type_stats_job",
    selection=dg.AssetSelection.assets(player_match_type_stats),
    description="Fold newly detailed matches into player_match_type_stats (incremental, batched).",
)

player_match_type_stats_rebuild_job = dg.define_asset_job(
    "player_match_type_stats_rebuild_job",
    selection=dg.AssetSelection.assets(player_match_type_stats),
    config={"ops": {"player_match_type_stats": {"config": {"full_rebuild": True}}}},
    description="Recompute player_match_type_stats from every detailed match (same result as the increments).",
)

leaderboards_job = dg.define_asset_job(
    "leaderboards_job",
    selection=dg.AssetSelection.assets(hero_top100, leaderboards_asset),
    description="Rebuild hero_top100 and leaderboards.",
)

analytics_export_job = dg.define_asset_job(
    "analytics_export_job",
    selection=dg.AssetSelection.assets(analytics_duckdb, analytics_report),
    description="Rebuild the DuckDB copy for analysts, then the HTML report.",
)
