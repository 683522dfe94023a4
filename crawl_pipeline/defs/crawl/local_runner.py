"""Run the crawl in this process, through a real Dagster instance, the way the daemon would.

Each round evaluates the discovery sensor's logic, adds the new partitions and executes
the requested batch runs; when nothing is left to request, batches with retriable failures
are re-run like a backfill of failed partitions. Used by `crawl-pipeline demo`, the
end-to-end tests and the benchmarks; unattended deployments use the sensor and the daemon.

Each run is tagged with this process's pid and host (``ops.orphans.worker_tags``), and runs of
this host whose worker is gone (a killed earlier demo) are marked failed before the first round,
so they neither count against ``max_runs_in_flight`` nor block their partition. A database
connection lost between rounds (PostgreSQL restarted) is replaced, not fatal: the pool checks
connections as it hands them out, and a round that still meets a dead one is tried again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import dagster as dg
import psycopg

from crawl_pipeline.db import frontier
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.assets import crawl_batch_job
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.crawl.sensors import discovery_tick
from crawl_pipeline.ops.orphans import fail_orphaned_runs, worker_tags

log = logging.getLogger(__name__)
T = TypeVar("T")
RECONNECT_PAUSE_SECONDS = 1.0

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
    reconnect_attempts: int = 2,
) -> CrawlRuns:
    job = defs.resolve_job_def(crawl_batch_job.name)
    outcome = CrawlRuns()
    retries_left = retry_rounds
    orphans = fail_orphaned_runs(instance)
    if orphans:
        log.warning("marked %d run(s) failed whose worker process is gone: %s", len(orphans), ", ".join(orphans))
    for _ in range(max_rounds):
        tick = _reconnecting(lambda: discovery_tick(instance, db, crawl), reconnect_attempts)
        for request in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        requests = list(tick.run_requests)
        if not requests:
            failed = _reconnecting(lambda: frontier.batches_with_unfinished_work(db), reconnect_attempts)
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
                tags={**request.tags, "crawl_pipeline/trigger": "local", **worker_tags()},
                run_config=QUIET_LOGGING,
                raise_on_error=False,
            )
            outcome.runs[f"{phase}:{'success' if result.success else 'failure'}"] += 1
            outcome.run_ids.append(result.run_id)
            if on_run is not None:
                on_run(request.partition_key, phase, result.success)
    return outcome


def _reconnecting(step: Callable[[], T], attempts: int) -> T:
    """Run ``step``; on a lost connection (``OperationalError``) try again, up to ``attempts`` times in all.

    The pool discards the dead connection and waits (its ``timeout``) for a new one, so a restarted
    server is reconnected; a server that stays down raises after the last attempt.
    """
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except psycopg.OperationalError as exc:
            if attempt == attempts:
                raise
            log.warning("lost the database connection (%s); reconnecting", type(exc).__name__)
            time.sleep(RECONNECT_PAUSE_SECONDS)
    raise AssertionError("unreachable")
