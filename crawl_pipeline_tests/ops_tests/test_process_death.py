"""Process death leaves nothing that never clears (issue 18.8).

- a run executed in-process by a killed process (SIGKILL of the demo / local runner) is marked
  failed at the next local run, and stops counting against max_runs_in_flight;
- a run launched by the daemon whose worker died is failed by Dagster's run monitoring through
  the project's run launcher (dagster.yaml);
- after PostgreSQL drops every connection, the pool and the local runner reconnect.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._core.test_utils import create_run_for_test

from crawl_pipeline.db import urls
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import (
    PROJECT_ROOT,
    initialize_database,
    write_instance_config,
)
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline.defs.crawl.sensors import partitions_in_flight, runs_in_flight
from crawl_pipeline.ops.orphans import (
    WORKER_HOST_TAG,
    WORKER_PID_TAG,
    WORKER_STARTED_TAG,
    fail_orphaned_runs,
    process_alive,
    this_host,
    worker_tags,
)
from crawl_pipeline.ops.run_launcher import LocalRunLauncher
from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions

WORKER = """
import sys
import dagster as dg
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions
url, dagster_url, sim_url, home = sys.argv[1:5]
with Database(url, max_size=4) as db, dg.instance_for_test(
    overrides={"storage": {"postgres": {"postgres_url": dagster_url}}}, temp_dir=home
) as instance:
    crawl_locally(crawl_definitions(url, sim_url, SMALL_CRAWL), instance, db, SMALL_CRAWL)
"""


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return events[-1].dagster_event.message if events else ""


@pytest.fixture
def slow_simulator():
    """Slow answers: a crawl run stays STARTED long enough to be killed in the middle."""
    from crawl_pipeline.simulator.testing import start_simulator

    with start_simulator(rate_limits={"enabled": False}, latency_ms=200) as sim:
        yield sim


def test_a_sigkilled_local_run_is_marked_failed_and_stops_counting_as_in_flight(
    db, database_url, dagster_postgres_url, dagster_instance, slow_simulator, tmp_path
):
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, dagster_postgres_url, slow_simulator.url, str(tmp_path)],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        started = []
        while not started:
            assert worker.poll() is None, "the worker ended before a run started"
            assert time.monotonic() < deadline, "no run started"
            started = dagster_instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    run = dagster_instance.get_run_by_id(started[0].run_id)
    assert run.status == dg.DagsterRunStatus.STARTED  # nothing else will ever finish it
    assert run.tags[WORKER_PID_TAG] == str(worker.pid) and run.tags[WORKER_HOST_TAG] == this_host()
    assert float(run.tags[WORKER_STARTED_TAG]) > 0
    assert runs_in_flight(dagster_instance) == 1
    assert run.tags["dagster/partition"] in partitions_in_flight(dagster_instance)

    # the next local run (demo, tests, benchmarks) clears it before its first round
    defs = crawl_definitions(database_url, slow_simulator.url, SMALL_CRAWL)
    crawl_locally(defs, dagster_instance, db, SMALL_CRAWL, max_rounds=0)
    run = dagster_instance.get_run_by_id(run.run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert f"worker process {worker.pid}" in failure_message(dagster_instance, run.run_id)
    assert runs_in_flight(dagster_instance) == 0 and partitions_in_flight(dagster_instance) == set()
    assert fail_orphaned_runs(dagster_instance) == []  # nothing left to do


def test_only_runs_of_this_host_with_a_dead_worker_are_failed(dagster_instance):
    dead = create_run_for_test(
        dagster_instance, status=dg.DagsterRunStatus.STARTED,
        tags={WORKER_PID_TAG: str(dead_pid()), WORKER_HOST_TAG: this_host()},
    )
    alive = create_run_for_test(
        dagster_instance, status=dg.DagsterRunStatus.STARTED,
        tags={WORKER_PID_TAG: str(os.getpid()), WORKER_HOST_TAG: this_host()},
    )
    elsewhere = create_run_for_test(
        dagster_instance, status=dg.DagsterRunStatus.STARTED,
        tags={WORKER_PID_TAG: str(dead_pid()), WORKER_HOST_TAG: "another-host.example"},
    )
    untagged = create_run_for_test(dagster_instance, status=dg.DagsterRunStatus.STARTED)
    finished = create_run_for_test(
        dagster_instance, status=dg.DagsterRunStatus.SUCCESS,
        tags={WORKER_PID_TAG: str(dead_pid()), WORKER_HOST_TAG: this_host()},
    )
    assert fail_orphaned_runs(dagster_instance) == [dead.run_id]
    statuses = {r.run_id: dagster_instance.get_run_by_id(r.run_id).status for r in (dead, alive, elsewhere, untagged, finished)}
    assert statuses == {
        dead.run_id: dg.DagsterRunStatus.FAILURE,
        alive.run_id: dg.DagsterRunStatus.STARTED,
        elsewhere.run_id: dg.DagsterRunStatus.STARTED,
        untagged.run_id: dg.DagsterRunStatus.STARTED,
        finished.run_id: dg.DagsterRunStatus.SUCCESS,
    }


def test_a_reused_pid_does_not_keep_a_run_alive(dagster_instance):
    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), existed_at=time.time() - 10 * 86_400)  # this process is younger
    assert not process_alive(dead_pid())
    # an in-process run whose pid now belongs to another process (this one, started at another time)
    mine = worker_tags()
    assert process_alive(os.getpid(), started_at=float(mine[WORKER_STARTED_TAG]))
    reused = create_run_for_test(
        dagster_instance, status=dg.DagsterRunStatus.STARTED,
        tags={**mine, WORKER_STARTED_TAG: f"{float(mine[WORKER_STARTED_TAG]) - 3600:.2f}"},
    )
    live = create_run_for_test(dagster_instance, status=dg.DagsterRunStatus.STARTED, tags=mine)
    assert fail_orphaned_runs(dagster_instance) == [reused.run_id]
    assert dagster_instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED


def test_run_monitoring_fails_a_daemon_launched_run_whose_worker_died(make_database, tmp_path, monkeypatch):
    """The project's dagster.yaml: the launcher health-checks workers; monitoring fails the dead one."""
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    monkeypatch.setenv("DAGSTER_POSTGRES_URL", urls.to_sqlalchemy(make_database("monitoring")))
    home = tmp_path / "home"
    write_instance_config(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_launcher, LocalRunLauncher)
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_settings["poll_interval_seconds"] <= 30
        runs = {}
        for name, pid in (("dead", dead_pid()), ("alive", os.getpid())):
            run = create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED, tags={WORKER_HOST_TAG: this_host()})
            # what the run worker of DefaultRunLauncher logs first
            instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
            runs[name] = run
        not_started_yet = create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED, tags={WORKER_HOST_TAG: this_host()})
        for run in (*runs.values(), not_started_yet):
            monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
        assert instance.get_run_by_id(runs["dead"].run_id).status == dg.DagsterRunStatus.FAILURE
        assert "is gone" in failure_message(instance, runs["dead"].run_id)
        assert instance.get_run_by_id(runs["alive"].run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.get_run_by_id(not_started_yet.run_id).status == dg.DagsterRunStatus.STARTED


def _drop_connections(url: str) -> int:
    """What a PostgreSQL restart does to every open connection of the database."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def test_the_pool_hands_out_live_connections_after_postgres_dropped_them(make_database):
    url = make_database("pool_check")
    with Database(url, min_size=2, max_size=2) as db:
        assert db.fetch_value("SELECT 1") == 1
        assert _drop_connections(url) >= 1
        for _ in range(4):  # every pooled connection was dead: each is replaced, none is handed out
            assert db.fetch_value("SELECT 1") == 1


def test_the_local_runner_reconnects_after_postgres_dropped_its_connections(
    make_database, dagster_instance, clean_simulator
):
    url = make_database("runner_reconnect")
    initialize_database(url)
    crawl = SMALL_CRAWL.model_copy(update={"max_depth": 0})  # the seed's batch only
    defs = crawl_definitions(url, clean_simulator.url, crawl)
    with Database(url, min_size=2, max_size=4) as db:
        assert db.fetch_value("SELECT 1") == 1
        assert _drop_connections(url) >= 1
        runs = crawl_locally(defs, dagster_instance, db, crawl)
        assert runs.failed_partitions == []
        assert db.fetch_value("SELECT count(*) FROM matches WHERE has_details") > 0


def test_dagster_yaml_run_monitoring_settings():
    import yaml

    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] and monitoring["max_resume_run_attempts"] == 0
    assert monitoring["poll_interval_seconds"] <= 30 and monitoring["start_timeout_seconds"] <= 120
    assert config["run_launcher"] == {"module": "crawl_pipeline.ops.run_launcher", "class": "LocalRunLauncher"}
    assert Path(PROJECT_ROOT / "crawl_pipeline" / "ops" / "run_launcher.py").exists()
