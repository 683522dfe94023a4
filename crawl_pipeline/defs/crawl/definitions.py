"""The crawl subject's definitions (per-batch crawl, tracked accounts, discovery), merged by
``crawl_pipeline/definitions.py``; resources come from the object they are merged into."""

import dagster as dg

from crawl_pipeline.defs.crawl.assets import crawl_batch, crawl_batch_job
from crawl_pipeline.defs.crawl.checks import crawl_checks
from crawl_pipeline.defs.crawl.sensors import crawl_discovery_sensor, retry_failed_schedule, stale_recrawl_schedule
from crawl_pipeline.defs.crawl.tracked import tracked_accounts_job, tracked_accounts_schedule, tracked_matches

defs = dg.Definitions(
    assets=[crawl_batch, tracked_matches],
    asset_checks=[crawl_checks],
    jobs=[crawl_batch_job, tracked_accounts_job],
    sensors=[crawl_discovery_sensor],
    schedules=[retry_failed_schedule, stale_recrawl_schedule, tracked_accounts_schedule],
)
