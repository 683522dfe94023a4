"""Dagster wiring of the analytics subject, as lists for the one Definitions object.

    from crawl_pipeline.defs import analytics
    dg.Definitions(assets=[..., *analytics.assets], asset_checks=[..., *analytics.asset_checks],
                   jobs=[..., *analytics.jobs], schedules=[..., *analytics.schedules],
                   sensors=[..., *analytics.sensors], ...)
"""

from __future__ import annotations

from crawl_pipeline.defs.analytics.assets import (
    analytics_duckdb,
    analytics_duckdb_drift,
    analytics_report,
    hero_top100,
    hero_top100_valid,
    leaderboards_asset,
    leaderboards_valid,
    player_match_type_stats,
    player_match_type_stats_consistent,
    player_match_type_stats_lag,
)
from crawl_pipeline.defs.analytics.automation import (
    analytics_automation_sensor,
    freshness_checks,
    freshness_checks_job,
    freshness_checks_sensor,
)
from crawl_pipeline.defs.analytics.jobs import (
    analytics_export_job,
    leaderboards_job,
    player_match_type_stats_job,
    player_match_type_stats_rebuild_job,
)

assets = [hero_top100, leaderboards_asset, player_match_type_stats, analytics_duckdb, analytics_report]
asset_checks = [
    hero_top100_valid,
    leaderboards_valid,
    player_match_type_stats_lag,
    player_match_type_stats_consistent,
    analytics_duckdb_drift,
    *freshness_checks,
]
jobs = [
    player_match_type_stats_job, player_match_type_stats_rebuild_job, leaderboards_job, analytics_export_job,
    freshness_checks_job,
]
schedules: list = []  # the aggregation's 5-minute clock is its automation condition now
sensors = [analytics_automation_sensor, freshness_checks_sensor]

__all__ = ["asset_checks", "assets", "jobs", "schedules", "sensors"]
