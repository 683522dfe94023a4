"""The one Definitions object: assets, checks, sensors, schedules, jobs and resources."""

from __future__ import annotations

import dagster as dg

from crawl_pipeline.defs import analytics, identity, smurf
from crawl_pipeline.defs.crawl import assets as crawl_assets
from crawl_pipeline.defs.crawl import checks as crawl_checks
from crawl_pipeline.defs.crawl import sensors as crawl_sensors
from crawl_pipeline.defs.crawl import tracked
from crawl_pipeline.defs.feed import definitions as feed
from crawl_pipeline.defs.reference import assets as reference_assets
from crawl_pipeline.defs.resources import build_resources
from crawl_pipeline.settings import Settings, get_settings


def build_definitions(settings: Settings, **resource_overrides: dg.ConfigurableResource) -> dg.Definitions:
    """Everything Dagster loads, with resources configured from ``settings`` (and overrides,
    which the demo and the tests use to point the crawl at a simulator)."""
    return dg.Definitions(
        assets=[
            *dg.load_assets_from_modules([reference_assets, crawl_assets, tracked]),
            *analytics.assets,
            *smurf.assets,
            *identity.assets,
            *feed.assets,
        ],
        asset_checks=[
            *dg.load_asset_checks_from_modules([reference_assets]),
            *crawl_checks.CRAWL_CHECKS,
            *analytics.asset_checks,
            *smurf.asset_checks,
            *identity.asset_checks,
        ],
        jobs=[crawl_assets.crawl_batch_job, tracked.tracked_accounts_job, *analytics.jobs, *smurf.jobs, *identity.jobs, *feed.jobs],
        sensors=[crawl_sensors.crawl_discovery_sensor, *analytics.sensors, *smurf.sensors, *identity.sensors, *feed.sensors],
        schedules=[
            crawl_sensors.retry_failed_schedule,
            crawl_sensors.stale_recrawl_schedule,
            tracked.tracked_accounts_schedule,
            *analytics.schedules,
            *smurf.schedules,
            *identity.schedules,
        ],
        resources={**build_resources(settings), **resource_overrides},
    )


defs = build_definitions(get_settings())
