"""Run the crawl in this process, through a real Dagster instance, the way the daemon would.

Each round evaluates the discovery sensor's logic, adds the new partitions and executes
the requested batch runs; when nothing is left to request, batches with retriable failures
are re-run like a backfill of failed partitions. Used by `crawl-pipeline demo`, the
end-to-end tests and the benchmarks; unattended deployments use the sensor and the daemon.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import dagster as dg

from crawl_pipeline.db import frontier
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.assets import crawl_batch_job
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.crawl.sensors import discovery_tick

log = logging.getLogger(__name__)

QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class CrawlRuns:
    runs: Counter = field(default_factory=Counter)  # by phase and outcome
    failed_partitions: list[str] = field(default_factory=list)  # still failed at the end
    run_ids: list[str] = field(default_factory=list)


def crawl_locally(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    db: Database,
    crawl: CrawlConfig,
    *,
    retry_rounds: int = 3,
    max_rounds: int = 200,
    on_run=None,
) -> CrawlRuns:
    job = defs.resolve_job_def(crawl_batch_job.name)
    outcome = CrawlRuns()
    retries_left = retry_rounds
    for _ in range(max_rounds):
        tick = discovery_tick(instance, db, crawl)
        for request in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        requests = list(tick.run_requests)
        if not requests:
            failed = frontier.batches_with_unfinished_work(db)
            if not failed or retries_left == 0:
                outcome.failed_partitions = failed
                break
            retries_left -= 1
            requests = [dg.RunRequest(partition_key=k, tags={"crawl_pipeline/phase": "retry"}) for k in failed]
        for request in requests:
            phase = request.tags.get("crawl_pipeline/phase", "all")
            result = job.execute_in_process(
                partition_key=request.partition_key,
                instance=instance,
                asset_selection=request.asset_selection,
                tags={**request.tags, "crawl_pipeline/trigger": "local"},
                run_config=QUIET_LOGGING,
                raise_on_error=False,
            )
            outcome.runs[f"{phase}:{'success' if result.success else 'failure'}"] += 1
            outcome.run_ids.append(result.run_id)
            if on_run is not None:
                on_run(request.partition_key, phase, result.success)
    return outcome
