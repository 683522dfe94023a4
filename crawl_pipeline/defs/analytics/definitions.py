"""The analytics subject's definitions (leaderboards, aggregates, the DuckDB copy, the report, their
automation and freshness checks), merged by ``crawl_pipeline/definitions.py``."""

import dagster as dg

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

defs = dg.Definitions(
    assets=[hero_top100, leaderboards_asset, player_match_type_stats, analytics_duckdb, analytics_report],
    asset_checks=[
        hero_top100_valid,
        leaderboards_valid,
        player_match_type_stats_lag,
        player_match_type_stats_consistent,
        analytics_duckdb_drift,
        *freshness_checks,
    ],
    jobs=[
        player_match_type_stats_job, player_match_type_stats_rebuild_job, leaderboards_job, analytics_export_job,
        freshness_checks_job,
    ],
    # no schedule: the aggregation's 5-minute clock is its automation condition
    sensors=[analytics_automation_sensor, freshness_checks_sensor],
)
