"""Jobs and schedules of the analytics subject.

The aggregation has a clock of its own (fold new matches every 5 minutes): a schedule.
Leaderboards, the DuckDB copy and the report follow by declarative automation (see assets.py).
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

AGGREGATION_CRON = "*/5 * * * *"

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

player_match_type_stats_schedule = dg.ScheduleDefinition(
    name="player_match_type_stats_every_5_minutes",
    job=player_match_type_stats_job,
    cron_schedule=AGGREGATION_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Aggregate detailed matches every 5 minutes.",
)
