"""Smurf analyzer: ranked history, scores and ban checks on the account_batches partitions."""

from crawl_pipeline.defs.smurf.assets import (
    SMURF_ASSETS,
    smurf_analyzer_job,
    smurf_analyzer_schedule,
    smurf_verdicts_consistent,
)

assets = list(SMURF_ASSETS)
asset_checks = [smurf_verdicts_consistent]
jobs = [smurf_analyzer_job]
schedules = [smurf_analyzer_schedule]
sensors: list = []
