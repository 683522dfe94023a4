"""The BFS discovery sensor and the crawl's schedules."""

from datetime import timedelta

import dagster as dg

from crawl_pipeline.db import frontier
from crawl_pipeline.db.accounts import add_seeds
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.assets import HERO_PHASE, MATCH_PHASE, crawl_batch_job
from crawl_pipeline.defs.crawl.partitions import account_batches
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.resources import PostgresResource

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
PHASE_SELECTION = {"heroes": HERO_PHASE, "matches": MATCH_PHASE, "all": None}


def runs_in_flight(instance: dg.DagsterInstance) -> int:
    return instance.get_runs_count(dg.RunsFilter(job_name=crawl_batch_job.name, statuses=IN_FLIGHT))


def partitions_in_flight(instance: dg.DagsterInstance) -> set[str]:
    runs = instance.get_runs(dg.RunsFilter(job_name=crawl_batch_job.name, statuses=IN_FLIGHT))
    return {run.tags.get("dagster/partition") for run in runs}


def discovery_tick(instance: dg.DagsterInstance, db: Database, crawl: CrawlConfig) -> dg.SensorResult:
    """Cut new batches from the frontier and request the phases that may run, within the in-flight cap.

    Everything it decides is written to PostgreSQL in one transaction (accounts.batch_key,
    account_batches.*_requested_at), so an account is batched once and a phase requested once;
    run keys make a repeated request harmless.
    """
    policy = crawl.policy()
    capacity = max(0, crawl.max_runs_in_flight - runs_in_flight(instance))
    with db.transaction() as conn:
        if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM accounts)").fetchone()[0]:
            add_seeds(conn, crawl.seeds)
        new_batches = frontier.cut_batches(conn, policy, linger=timedelta(seconds=crawl.partial_batch_after_seconds))
        requests = frontier.runnable_phases(conn, policy, hero_phase_first=crawl.hero_phase_first, limit=capacity)
        frontier.mark_requested(conn, requests)
    return dg.SensorResult(
        dynamic_partitions_requests=[account_batches.build_add_request([b.key for b in new_batches])]
        if new_batches
        else [],
        run_requests=[
            dg.RunRequest(
                partition_key=r.batch_key,
                run_key=f"{r.batch_key}:{r.phase}",
                asset_selection=PHASE_SELECTION[r.phase],
                tags={"crawl_pipeline/phase": r.phase, "crawl_pipeline/depth": str(r.depth)},
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
    return [dg.RunRequest(partition_key=k, run_key=f"{k}:retry:{tick}", tags={"crawl_pipeline/phase": "retry"}) for k in keys]


@dg.schedule(
    job=crawl_batch_job,
    cron_schedule="43 3 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily: re-crawl batches whose accounts were last synced more than stale_after_days ago.",
)
def stale_recrawl_schedule(context: dg.ScheduleEvaluationContext, postgres: PostgresResource):
    keys = frontier.stale_batches(postgres.db, older_than=timedelta(days=7), limit=50)
    tick = context.scheduled_execution_time.strftime("%Y%m%d")
    refresh = {"config": {"refresh": True}}
    run_config = {"ops": {"player_profiles": refresh, "hero_stats": refresh, "match_stubs": refresh}}
    return [
        dg.RunRequest(partition_key=k, run_key=f"{k}:stale:{tick}", run_config=run_config, tags={"crawl_pipeline/phase": "recrawl"})
        for k in keys
    ]
