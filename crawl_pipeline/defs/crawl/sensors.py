"""The BFS discovery sensor and the crawl's schedules."""

from datetime import timedelta

import dagster as dg

from crawl_pipeline.db import batches as batches_db
from crawl_pipeline.db import checks as checks_db
from crawl_pipeline.db import frontier
from crawl_pipeline.db.accounts import add_seeds
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.common import PARTITION_TAG
from crawl_pipeline.defs.crawl.assets import BATCH_ASSET_KEYS, PHASE_TAG, crawl_batch_job
from crawl_pipeline.defs.crawl.partitions import account_batches
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.ops.orphans import fail_orphaned_runs

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
STALE_AFTER = timedelta(days=7)


def batch_runs_in_flight(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Queued or running runs of a batch: crawl_batch_job runs and any other run whose asset selection
    covers the batch assets (a UI materialization or a backfill runs them as __ASSET_JOB)."""
    runs = instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT))
    return [
        run for run in runs
        if run.job_name == crawl_batch_job.name or (run.asset_selection and run.asset_selection & BATCH_ASSET_KEYS)
    ]


def runs_in_flight(instance: dg.DagsterInstance) -> int:
    return len(batch_runs_in_flight(instance))


def partitions_in_flight(instance: dg.DagsterInstance) -> set[str]:
    """Batches with a queued or running run (by the run's ``dagster/partition`` tag)."""
    return {run.tags[PARTITION_TAG] for run in batch_runs_in_flight(instance) if PARTITION_TAG in run.tags}


def discovery_tick(instance: dg.DagsterInstance, db: Database, crawl: CrawlConfig) -> dg.SensorResult:
    """Cut new batches from the frontier and request the phases that may run, within the in-flight cap.

    Everything it decides is written to PostgreSQL in one transaction (accounts.batch_key,
    account_batches.*_requested_at), so an account is batched once and a phase requested once;
    run keys make a repeated request harmless.
    """
    policy = crawl.policy()
    # runs whose worker died (a killed demo, a crashed daemon worker) would hold in-flight slots
    # and block their partitions for ever: failed first, so the retry schedule picks them up
    fail_orphaned_runs(instance, job_name=crawl_batch_job.name)
    in_flight = batch_runs_in_flight(instance)
    busy = {run.tags[PARTITION_TAG] for run in in_flight if PARTITION_TAG in run.tags}
    capacity = max(0, crawl.max_runs_in_flight - len(in_flight))
    with db.transaction() as conn:
        if checks_db.crawl_is_empty(conn):
            add_seeds(conn, crawl.seeds)
        new_batches = frontier.cut_batches(conn, policy, linger=timedelta(seconds=crawl.partial_batch_after_seconds))
        requests = frontier.runnable_phases(
            conn, policy, hero_phase_first=crawl.hero_phase_first, limit=capacity + len(busy) if capacity else 0
        )
        # a batch with a run queued or running (a backfill, a UI materialization) waits for the next tick
        requests = [r for r in requests if r.batch_key not in busy][:capacity]
        frontier.mark_requested(conn, requests)
    return dg.SensorResult(
        dynamic_partitions_requests=[account_batches.build_add_request([b.key for b in new_batches])]
        if new_batches
        else [],
        run_requests=[
            dg.RunRequest(
                partition_key=r.batch_key,
                run_key=f"{r.batch_key}:{r.phase}",
                tags={PHASE_TAG: r.phase, "crawl_pipeline/depth": str(r.depth)},
            )
            for r in requests
        ],
        cursor=None,
    )


@dg.sensor(
    job=crawl_batch_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "BFS discovery: turns newly discovered accounts into account_batches partitions in depth order and "
        "requests their runs, never more than max_runs_in_flight at once. Start it to crawl unattended."
    ),
)
def crawl_discovery_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, crawl: CrawlConfig
) -> dg.SensorResult:
    result = discovery_tick(context.instance, postgres.db, crawl)
    if result.run_requests:
        context.log.info("requesting %s batch phase run(s)", len(result.run_requests))
    return result


@dg.schedule(
    job=crawl_batch_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Hourly: re-run batches that left work behind (failures with attempts left, killed runs, "
        "Steam details not ready yet), unless a run of the batch is in flight."
    ),
)
def retry_failed_schedule(context: dg.ScheduleEvaluationContext, postgres: PostgresResource):
    busy = partitions_in_flight(context.instance)
    keys = [k for k in frontier.batches_with_unfinished_work(postgres.db) if k not in busy]
    tick = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
    return [dg.RunRequest(partition_key=k, run_key=f"{k}:retry:{tick}", tags={PHASE_TAG: "retry"}) for k in keys]


@dg.schedule(
    job=crawl_batch_job,
    cron_schedule="43 3 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Daily: re-crawl (refresh) batches with an account synced more than 7 days ago, or never synced 7 days "
        "after its match phase was requested (gave up on every attempt, or its run died)."
    ),
)
def stale_recrawl_schedule(context: dg.ScheduleEvaluationContext, postgres: PostgresResource):
    busy = partitions_in_flight(context.instance)
    keys = [k for k in batches_db.batches_to_recrawl(postgres.db, older_than=STALE_AFTER, limit=50) if k not in busy]
    tick = context.scheduled_execution_time.strftime("%Y%m%d")
    run_config = {"ops": {"crawl_batch": {"config": {"refresh": True}}}}
    return [
        dg.RunRequest(partition_key=k, run_key=f"{k}:stale:{tick}", run_config=run_config, tags={PHASE_TAG: "recrawl"})
        for k in keys
    ]
