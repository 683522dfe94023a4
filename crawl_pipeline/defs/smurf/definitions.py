"""The smurf subject's definitions (ranked history, scores, ban checks on the account_batches
partitions), merged by ``crawl_pipeline/definitions.py``."""

import dagster as dg

from crawl_pipeline.defs.smurf.assets import (
    ban_checks,
    smurf_analyzer_job,
    smurf_analyzer_schedule,
    smurf_match_history,
    smurf_scores,
    smurf_verdicts_consistent,
)

defs = dg.Definitions(
    assets=[smurf_match_history, smurf_scores, ban_checks],
    asset_checks=[smurf_verdicts_consistent],
    jobs=[smurf_analyzer_job],
    schedules=[smurf_analyzer_schedule],
)
