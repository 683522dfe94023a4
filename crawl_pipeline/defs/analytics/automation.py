"""Fresh by default: the automation sensor that keeps the downstream assets fresh, and the
freshness checks (with their sensor) that turn red when the analysts' copies are older than their policy.

Both sensors are RUNNING from the first deployment: they call no provider, so nothing needs an
operator's decision (the crawl's own sensor and schedules stay STOPPED until someone starts them).
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from crawl_pipeline.defs.analytics.assets import (
    EXPORT_FRESHNESS,
    LEADERBOARD_FRESHNESS,
    analytics_duckdb,
    analytics_report,
    hero_top100,
    leaderboards_asset,
    player_match_type_stats,
)

AUTOMATED_ASSETS = [hero_top100, leaderboards_asset, player_match_type_stats, analytics_duckdb, analytics_report]

# Policies: how old each analysts' copy may be before its freshness check fails (its rebuild
# clock plus slack for one missed or slow rebuild).
FRESHNESS_POLICIES: dict[str, timedelta] = {
    "hero_top100": LEADERBOARD_FRESHNESS.fail_window.to_timedelta(),  # rebuilt every 10 minutes
    "leaderboards": LEADERBOARD_FRESHNESS.fail_window.to_timedelta(),  # after each hero_top100 rebuild
    "analytics_duckdb": EXPORT_FRESHNESS.fail_window.to_timedelta(),  # rebuilt hourly
}

analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    target=dg.AssetSelection.assets(*AUTOMATED_ASSETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "Declarative automation of the downstream assets: hero_top100 every 10 minutes, leaderboards after it, "
        "player_match_type_stats every 5 minutes, analytics_duckdb hourly once its inputs were rebuilt, the "
        "report after each export. Running by default."
    ),
)

# Checks (a red check in the UI, a failed run of the checks job, testable in process) next to the
# assets' FreshnessPolicy (the UI's freshness status where the instance enables freshness). Dagster 1.13
# calls the check factories superseded by FreshnessPolicy; the policy alone shows nothing on an instance
# without `freshness: enabled`, so both are kept.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=Warning)
    freshness_checks = [
        check
        for asset, limit in FRESHNESS_POLICIES.items()
        for check in dg.build_last_update_freshness_checks(
            assets=[dg.AssetKey(asset)], lower_bound_delta=limit, severity=dg.AssetCheckSeverity.ERROR
        )
    ]
    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="analytics_freshness_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )

freshness_checks_job = dg.define_asset_job(
    "analytics_freshness_checks_job",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Evaluate the freshness checks of hero_top100, leaderboards and analytics_duckdb now.",
)
