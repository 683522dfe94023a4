"""Runs whose worker process is gone: found and marked failed, so nothing counts them as in flight.

A run executed in-process (``crawl-pipeline demo``, the local runner) and killed with SIGKILL, or a
run of ``crawl-pipeline dev`` whose process group was stopped, stays STARTED in the instance for
ever: the discovery sensor counts it against ``max_runs_in_flight`` and the retry schedule skips
its partition. Every run we start records where its worker lives:

- in-process runs carry ``crawl_pipeline/worker_pid`` and ``crawl_pipeline/worker_host`` tags
  (:func:`worker_tags`, added by the local runner and the demo);
- runs launched by the daemon carry ``crawl_pipeline/worker_host`` (added by
  :class:`crawl_pipeline.ops.run_launcher.LocalRunLauncher`) and their worker logs
  "Started process for run (pid: N)" as its first engine event.

:func:`fail_orphaned_runs` marks a NOT_STARTED/STARTING/STARTED run of this host whose worker pid is
no longer alive (or now belongs to a younger process) as FAILURE through the instance API. Runs of
other hosts, and runs without these tags, are never touched: we cannot see their processes.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

import dagster as dg
import psutil

log = logging.getLogger(__name__)

WORKER_PID_TAG = "crawl_pipeline/worker_pid"
WORKER_HOST_TAG = "crawl_pipeline/worker_host"
WORKER_STARTED_TAG = "crawl_pipeline/worker_started"  # the worker process's start time (Unix seconds)
# QUEUED runs have no worker yet (the daemon starts them); CANCELING ones are dagster's run monitoring's.
ORPHAN_CANDIDATE_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
_STARTED_PROCESS = "Started process for run (pid: "
_CLOCK_SLACK_SECONDS = 2.0  # create_time and run timestamps come from different clocks' roundings


def this_host() -> str:
    return socket.gethostname()


def worker_tags() -> dict[str, str]:
    """Tags naming this process (pid, host, start time) as the worker of a run executed in-process."""
    return {
        WORKER_PID_TAG: str(os.getpid()),
        WORKER_HOST_TAG: this_host(),
        WORKER_STARTED_TAG: f"{psutil.Process().create_time():.2f}",
    }


def process_alive(pid: int, *, existed_at: float | None = None, started_at: float | None = None) -> bool:
    """Is ``pid`` a live process, and the one that was the worker?

    ``started_at`` (the worker's own start time) must match; else a process created after
    ``existed_at`` (a Unix time when the worker certainly lived) is a reuse of the pid. A zombie is
    dead. A process we may not inspect counts as alive: never fail a run on a guess.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
    if started_at is not None:
        return abs(created - started_at) < _CLOCK_SLACK_SECONDS
    return existed_at is None or created <= existed_at + _CLOCK_SLACK_SECONDS


@dataclass(frozen=True)
class Worker:
    pid: int
    existed_at: float | None = None  # a Unix time (this host's clock) at which the worker certainly lived
    started_at: float | None = None  # the worker's start time, as its tag recorded it


def run_worker(instance: dg.DagsterInstance, record) -> Worker | None:
    """The worker of a run record on this host, or None when unknown (another host, not started yet)."""
    run = record.dagster_run
    if run.tags.get(WORKER_HOST_TAG) != this_host():
        return None
    pid = run.tags.get(WORKER_PID_TAG)
    if pid is not None:  # in-process: the worker tagged the run with its pid and start time
        if not pid.isdigit():
            return None
        try:
            started = float(run.tags.get(WORKER_STARTED_TAG, ""))
        except ValueError:
            started = None  # tagged by an older version: the pid alone decides
        return Worker(int(pid), started_at=started)
    # launched by the daemon: the run worker names its pid in an engine event once it runs (the
    # latest such event wins, should a worker ever be replaced)
    worker = None
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        message = entry.dagster_event.message if entry.dagster_event else None
        if message and message.startswith(_STARTED_PROCESS):
            digits = message[len(_STARTED_PROCESS):].split(")", 1)[0]
            if digits.isdigit():
                worker = Worker(int(digits), existed_at=entry.timestamp)  # the worker's own clock
    return worker


def orphan_reason(instance: dg.DagsterInstance, record) -> str | None:
    """Why the run's worker is known to be gone, or None while it may be alive."""
    worker = run_worker(instance, record)
    if worker is None or process_alive(worker.pid, existed_at=worker.existed_at, started_at=worker.started_at):
        return None
    return (
        f"worker process {worker.pid} on {this_host()} is gone (killed, or its `crawl-pipeline` command stopped) "
        f"while the run was {record.dagster_run.status.value}: marked failed by crawl_pipeline's orphaned-run "
        "check; re-execute it from failure (or let retry_failed_schedule re-run the batch)"
    )


def fail_orphaned_runs(instance: dg.DagsterInstance, *, job_name: str | None = None) -> list[str]:
    """Mark runs of this host whose worker process is gone as FAILURE; return their run ids.

    Cheap enough for every sensor tick: one query for this host's unfinished runs (usually a
    handful), a process lookup each, and an event-log read for daemon-launched ones.
    """
    filters = dg.RunsFilter(
        job_name=job_name, statuses=ORPHAN_CANDIDATE_STATUSES, tags={WORKER_HOST_TAG: this_host()}
    )
    failed = []
    for record in instance.get_run_records(filters):
        reason = orphan_reason(instance, record)
        if reason is None:
            continue
        current = instance.get_run_by_id(record.dagster_run.run_id)
        if current is None or current.status not in ORPHAN_CANDIDATE_STATUSES:
            continue  # it finished (or was failed by someone else) meanwhile
        instance.report_run_failed(current, reason)
        log.warning("run %s: %s", current.run_id, reason)
        failed.append(current.run_id)
    return failed
