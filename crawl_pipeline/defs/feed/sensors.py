"""``match_feed_sensor``: keeps reading the feed, one run at a time. Off by default (STOPPED).

Each tick: runs of this host whose worker died are failed first (``ops.orphans``); then nothing
while a feed run is queued or running, or for ``FAILURE_BACKOFF`` after a failed one; else the head range again while it is incomplete, or the next range (added as a
partition) once it is done. With an empty feed it begins at the newest ``match_seq_num`` the
database knows (passed as ``start_at_match_seq_num``); a database that knows none is skipped with
the reason shown on the tick (crawl first, or materialize a partition with a start by hand).
"""


import time

import dagster as dg

from crawl_pipeline.crawl import feed as feed_engine
from crawl_pipeline.db import feed as feed_db
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.common import PARTITION_TAG
from crawl_pipeline.defs.feed.assets import (
    ASSET,
    RANGE_WIDTH,
    match_feed_job,
    match_feed_ranges,
)
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.ops.orphans import fail_orphaned_runs

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FAILURE_BACKOFF = 300.0  # seconds after a failed feed run before the next one (a bad key must not spin)
INTERVAL = 30  # seconds between ticks: past the live end of the feed this is the scanner's wait
FEED_ASSET_KEY = dg.AssetKey(ASSET)


def _is_feed_run(run: dg.DagsterRun) -> bool:
    return run.job_name == match_feed_job.name or bool(run.asset_selection and FEED_ASSET_KEY in run.asset_selection)


def feed_runs_in_flight(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Queued or running feed runs: the sensor's, a UI materialization's, a backfill's."""
    return [run for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)) if _is_feed_run(run)]


def _recent_failure(instance: dg.DagsterInstance, now: float, backoff: float) -> dg.RunRecord | None:
    records = instance.get_run_records(dg.RunsFilter(job_name=match_feed_job.name), limit=1)
    if records and records[0].dagster_run.status == dg.DagsterRunStatus.FAILURE:
        ended = records[0].end_time or 0.0
        if now - ended < backoff:
            return records[0]
    return None


def feed_tick(
    instance: dg.DagsterInstance, db: Database, *, width: int = RANGE_WIDTH, backoff: float = FAILURE_BACKOFF,
    now: float | None = None,
) -> dg.SensorResult | dg.SkipReason:
    fail_orphaned_runs(instance, job_name=match_feed_job.name)  # a killed worker's run must not block the feed
    busy = feed_runs_in_flight(instance)
    if busy:
        return dg.SkipReason(f"feed run {busy[0].run_id} ({busy[0].tags.get(PARTITION_TAG, '?')}) is in flight")
    now = time.time() if now is None else now
    failed = _recent_failure(instance, now, backoff)
    if failed is not None:
        return dg.SkipReason(
            f"the last feed run {failed.dagster_run.run_id} failed; the next one starts "
            f"{backoff:.0f} s after it ended"
        )
    with db.transaction() as conn:
        head = feed_db.head_range(conn)
        newest = feed_db.newest_known_seq_num(conn) if head is None else None
    plan = feed_engine.plan_next(head, newest, width)
    if plan is None:
        return dg.SkipReason(
            "the feed has no cursor and the database knows no match_seq_num: crawl some matches first, or add a "
            "match_feed_ranges partition (seq-<start>-<end>) and materialize it with start_at_match_seq_num"
        )
    key = plan.seq_range.key
    run_config = (
        {"ops": {ASSET: {"config": {"start_at_match_seq_num": plan.start_at}}}} if plan.start_at is not None else {}
    )
    return dg.SensorResult(
        dynamic_partitions_requests=[match_feed_ranges.build_add_request([key])] if plan.new_range else [],
        run_requests=[
            dg.RunRequest(partition_key=key, run_config=run_config, tags={"crawl_pipeline/feed_range": key})
        ],
    )


@dg.sensor(
    job=match_feed_job,
    minimum_interval_seconds=INTERVAL,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Reads Steam's public match feed unattended: one match_feed run at a time, the head range until it is "
        "complete, then the next range (added as a partition). Off by default; start it from the UI."
    ),
)
def match_feed_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    result = feed_tick(context.instance, postgres.db)
    if isinstance(result, dg.SensorResult):
        context.log.info("requesting match_feed %s", result.run_requests[0].partition_key)
    return result
