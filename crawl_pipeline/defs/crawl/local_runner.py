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

While it runs, the instance's PostgreSQL storages keep their connections (``reused_storage_connections``):
dagster-postgres opens a new connection for every event it stores and every run it reads, which
cost more than the event itself (docs/architecture.md, "Dagster overhead of a batch").
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import dagster as dg
import psycopg
import sqlalchemy
from sqlalchemy.pool import NullPool

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
    with reused_storage_connections(instance):
        return _crawl(
            defs, instance, db, crawl, retry_rounds=retry_rounds, max_rounds=max_rounds, on_run=on_run,
            reconnect_attempts=reconnect_attempts,
        )


def _crawl(
    defs: dg.Definitions, instance: dg.DagsterInstance, db: Database, crawl: CrawlConfig, *, retry_rounds: int,
    max_rounds: int, on_run, reconnect_attempts: int,
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


@contextmanager
def reused_storage_connections(instance: dg.DagsterInstance) -> Iterator[None]:
    """For the block, the instance's dagster-postgres storages (runs, events, schedules) reuse
    one connection each instead of opening a new one per operation; restored after.

    dagster-postgres engines use ``NullPool`` (no connection held between operations), so every
    stored event and every run read is a new PostgreSQL connection: about 300 per batch, each
    several times the cost of the INSERT it carries. A pool of one removes that; a connection idle
    for a second is pinged as it is handed out (a restarted server costs a reconnect, not an error).
    It replaces the storages' ``_engine`` (dagster-postgres 0.29), so a storage without one, one
    already pooled (the webserver's) or one with a token provider (its connect hook would be lost)
    is left alone.
    """
    swapped = []
    for storage in {id(s): s for s in (instance.run_storage, instance.event_log_storage, instance.schedule_storage)}.values():
        engine = getattr(storage, "_engine", None)
        if (
            not isinstance(engine, sqlalchemy.engine.Engine)
            or not isinstance(engine.pool, NullPool)
            or getattr(storage, "_token_provider", None) is not None
        ):
            continue
        pooled = sqlalchemy.create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=4)
        sqlalchemy.event.listen(pooled, "checkin", _checked_in)
        sqlalchemy.event.listen(pooled, "checkout", _ping_if_idle)
        storage._engine = pooled
        swapped.append((storage, engine, pooled))
    try:
        yield
    finally:
        for storage, engine, pooled in swapped:
            storage._engine = engine
            pooled.dispose()


IDLE_PING_SECONDS = 1.0  # a connection idle this long is pinged before use (a server restart takes longer)


def _checked_in(dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, proxy) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for idle connections only: within a run the
    storage checks a connection out several times per event, and a ping each time would cost a
    third of the storage's time. A dead connection raises ``DisconnectionError``, and the pool
    replaces it with a new one."""
    if time.monotonic() - record.info.get("checked_in", float("-inf")) < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    except Exception as exc:
        raise sqlalchemy.exc.DisconnectionError() from exc
