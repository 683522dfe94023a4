"""Beyond one machine: the partitioned crawl through dagster-celery with two worker processes.

The broker is the machine's RabbitMQ; each test gets a vhost of its own (created with
rabbitmqctl, deleted at the end), so parallel test runs and other sessions never share a queue.
The result must equal the single-process crawl of the same world (``crawled_stack``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crawl_pipeline.db import frontier, urls
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import PROJECT_ROOT, initialize_database, write_instance_config
from crawl_pipeline_tests.crawl_tests.test_crawl_e2e import fingerprint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning"),  # dagster-celery registers per run
]

RABBITMQ = "127.0.0.1:5672"
WORKERS = ("w1", "w2")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def broker_url():
    """amqp URL of a fresh vhost on the local RabbitMQ (guest/guest); deleted afterwards."""
    import socket

    if not shutil.which("rabbitmqctl"):
        pytest.skip("rabbitmqctl not found: the celery test needs the machine's RabbitMQ")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 5672)) != 0:
            pytest.skip(f"RabbitMQ is not listening on {RABBITMQ}")
    vhost = f"crawl_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@{RABBITMQ}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def celery_workers(broker_url, tmp_path, request):
    """Two `celery -A dagster_celery.app worker` processes: (env, worker names, broker URL); stopped at the end."""
    config_dir = tmp_path / "celery_config"
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(
        f"broker_url = {broker_url!r}\n"
        "result_backend = 'rpc://'\n"
        "worker_prefetch_multiplier = 1  # a busy worker leaves waiting steps to the other\n"
    )
    env = dict(request.getfixturevalue("celery_env"))
    env["PYTHONPATH"] = os.pathsep.join([str(config_dir), str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    tag = uuid.uuid4().hex[:6]
    names = [f"{w}-{tag}" for w in WORKERS]
    procs, logs = [], []
    celery = str(Path(sys.executable).with_name("celery"))
    try:
        for name in names:
            log = tmp_path / f"{name}.log"
            logs.append(log)
            procs.append(subprocess.Popen(
                [celery, "-A", "dagster_celery.app", "worker", "--loglevel", "INFO", "--hostname", f"{name}@%h",
                 "--concurrency", "1", "--queues", "dagster", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"],
                cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
            ))
        deadline = time.monotonic() + 60
        while not all("ready." in log.read_text() for log in logs):
            for proc, log in zip(procs, logs, strict=True):
                assert proc.poll() is None, f"celery worker exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "celery workers did not start: " + logs[0].read_text()[-2000:]
            time.sleep(0.3)
        yield env, names, broker_url
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGQUIT)  # cold shutdown: the runs are over, nothing to finish
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def celery_env(make_database, simulator_url, tmp_path):
    """A new crawl database and Dagster instance (project dagster.yaml on dagster-postgres)."""
    url = make_database("celery_crawl")
    initialize_database(url)
    home = tmp_path / "dagster_home"
    write_instance_config(home)
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DAGSTER_POSTGRES_URL": urls.to_sqlalchemy(make_database("celery_dagster")),
        "DAGSTER_HOME": str(home),
        "CRAWL_TEST_SIM_URL": simulator_url,
    }


@pytest.fixture
def simulator_url():
    from crawl_pipeline.simulator.testing import start_simulator

    with start_simulator(rate_limits={"enabled": False}) as sim:
        yield sim.url


def crawl_through_celery(instance, db, recon_job, run_config, max_rounds: int = 60) -> list:
    """The discovery loop of crawl_locally, each batch run executed by the celery executor."""
    import dagster as dg

    from crawl_pipeline.defs.crawl.sensors import discovery_tick
    from crawl_pipeline_tests.support import SMALL_CRAWL

    def run(request):
        return dg.execute_job(
            recon_job, instance=instance, run_config=run_config, asset_selection=request.asset_selection,
            tags={**request.tags, "dagster/partition": request.partition_key, "crawl_pipeline/trigger": "celery-test"},
        )

    results = []
    for _ in range(max_rounds):
        tick = discovery_tick(instance, db, SMALL_CRAWL)
        for add in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        if not tick.run_requests:
            break
        # One run at a time, as crawl_locally does: each run's ready steps still go to the workers at
        # once. (Runs in threads of one process would share the rpc:// result queue, which is not
        # thread-safe; in production each run has a run worker process of its own.)
        for request in tick.run_requests:
            result = run(request)
            assert result.success, f"run {result.run_id} of {request.partition_key} failed"
            results.append(result)
    return results


def test_partitioned_crawl_on_two_celery_workers_equals_single_process(crawled_stack, celery_workers, monkeypatch):
    import dagster as dg

    env, worker_names, broker_url = celery_workers
    for key in ("DATABASE_URL", "DAGSTER_POSTGRES_URL", "DAGSTER_HOME", "CRAWL_TEST_SIM_URL"):
        monkeypatch.setenv(key, env[key])
    from crawl_pipeline_tests.ops_tests import celery_defs

    recon_job = dg.reconstructable(celery_defs.celery_crawl_batch_job)
    run_config = {"execution": {"config": {"broker": broker_url, "backend": "rpc://"}}}
    with Database(env["DATABASE_URL"], max_size=4) as db, dg.DagsterInstance.get() as instance:
        results = crawl_through_celery(instance, db, recon_job, run_config)
        assert frontier.batches_with_unfinished_work(db) == []
        assert fingerprint(db) == fingerprint(crawled_stack.db)

        # every step ran in a celery worker, and both workers took steps
        hosts = set()
        for result in results:
            for event in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                data = event.dagster_event.event_specific_data
                worker = (data.metadata or {}).get("Celery worker") if data else None
                if worker is not None:
                    hosts.add(worker.value.split("@")[0])
        assert hosts == set(worker_names)
        keys = instance.get_dynamic_partitions("account_batches")
        assert instance.get_materialized_partitions(dg.AssetKey("match_details")) == set(keys)

