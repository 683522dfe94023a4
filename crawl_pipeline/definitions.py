"""The one Definitions object: assets, checks, sensors, schedules, jobs and resources."""

from __future__ import annotations

import dagster as dg

from crawl_pipeline.defs.reference import assets as reference_assets
from crawl_pipeline.defs.resources import build_resources
from crawl_pipeline.settings import get_settings

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([reference_assets]),
    asset_checks=dg.load_asset_checks_from_modules([reference_assets]),
    resources=build_resources(get_settings()),
)
