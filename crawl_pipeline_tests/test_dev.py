"""`crawl-pipeline dev`: the UI and daemon come up on the stack, and Ctrl-C stops all of it."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from crawl_pipeline.db.stack import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dev_serves_the_ui_and_ctrl_c_stops_everything_it_started(cli_env):
    port = _free_port()
    dev = subprocess.Popen(
        [sys.executable, "-m", "crawl_pipeline.cli", "dev", "--port", str(port)],
        cwd=PROJECT_ROOT, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert dev.poll() is None, dev.stdout.read()
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the UI did not come up"
                time.sleep(1)
        assert info["dagster_version"]
        started = psutil.Process(dev.pid).children(recursive=True)
        assert len(started) >= 3  # dagster dev, its webserver, daemon and code server
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=90) == 130
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.cmdline()[:4] for p in alive]
    finally:
        if dev.poll() is None:
            dev.kill()


def _wait_for_ui(dev: subprocess.Popen, port: int, lines: list[str]) -> None:
    """Read dev's output (kept in ``lines``) until the UI answers."""
    import threading

    def pump() -> None:
        lines.extend(dev.stdout)  # appended line by line as they arrive

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 120
    while True:
        assert dev.poll() is None, "".join(lines)
        try:
            httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the UI did not come up"
            time.sleep(1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_stops_dev_like_ctrl_c_quietly(cli_env, dagster_instance, stop_signal):
    """A service manager's SIGTERM or a closed terminal's SIGHUP stops the whole group, with no
    traceback; dev serves the simulator with the world options given; and runs of an earlier dev
    whose workers are gone are marked failed when dev starts."""
    import re

    import dagster as dg
    from dagster._core.test_utils import create_run_for_test

    from crawl_pipeline.ops.orphans import WORKER_HOST_TAG, WORKER_PID_TAG, this_host

    gone = subprocess.Popen(["true"])
    gone.wait()
    interrupted = [
        create_run_for_test(
            dagster_instance, status=dg.DagsterRunStatus.STARTED,
            tags={WORKER_PID_TAG: str(gone.pid), WORKER_HOST_TAG: this_host()},
        )
        for _ in range(2)
    ]
    port = _free_port()
    dev = subprocess.Popen(
        [sys.executable, "-m", "crawl_pipeline.cli", "dev", "--port", str(port), "--simulator",
         "--world-accounts", "1000", "--seed", "7", "--fault-rate", "0.25", "--latency-ms", "3",
         "--fault-kinds", "http_500=2,drop=1"],
        cwd=PROJECT_ROOT, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        _wait_for_ui(dev, port, lines)
        output = "".join(lines)
        assert "marked 2 earlier run(s) failed" in output
        assert {dagster_instance.get_run_by_id(r.run_id).status for r in interrupted} == {dg.DagsterRunStatus.FAILURE}
        sim_url = re.search(r"simulated OpenDota, Steam and Stratz on (http://\S+)", output).group(1)
        health = httpx.get(f"{sim_url}/_sim/health", timeout=5).json()
        settings = httpx.get(f"{sim_url}/_sim/stats", timeout=5).json()["settings"]
        assert health["accounts"] == 1000
        assert settings["fault_rate"] == 0.25 and settings["latency_ms"] == 3
        assert settings["fault_mix"] == {"http_500": 2.0, "drop": 1.0}
        started = psutil.Process(dev.pid).children(recursive=True)
        assert len(started) >= 3
        dev.send_signal(stop_signal)
        assert dev.wait(timeout=90) == 128 + stop_signal
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.cmdline()[:4] for p in alive]
        time.sleep(0.5)  # the reader thread drains the pipe
        output = "".join(lines)
        assert "Traceback" not in output, output[-3000:]
    finally:
        if dev.poll() is None:
            dev.kill()


def test_simulator_options_need_simulator():
    from click.testing import CliRunner

    from crawl_pipeline.cli import main

    result = CliRunner().invoke(main, ["dev", "--fault-rate", "0.1"])
    assert result.exit_code == 2 and "need --simulator" in result.output


LAUNCH_RUN = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def test_ctrl_c_of_dev_during_two_runs_marks_them_failed(cli_env, db, dagster_instance):
    """Runs launched by dev's daemon and cut off by Ctrl-C are failed, not left STARTED for ever."""
    import dagster as dg

    from crawl_pipeline.db.accounts import add_seeds

    keys = ["d00-000000", "d00-000001"]
    with db.transaction() as conn:
        add_seeds(conn, [293053907, 293053908])
        for number, (key, account) in enumerate(zip(keys, (293053907, 293053908), strict=True)):
            conn.execute(
                "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, %s, 1)",
                (key, number),
            )
            conn.execute("UPDATE accounts SET batch_key = %s WHERE account_id = %s", (key, account))
    dagster_instance.add_dynamic_partitions("account_batches", keys)
    port = _free_port()
    dev = subprocess.Popen(  # every provider answer takes seconds: the runs are still going at Ctrl-C
        [sys.executable, "-m", "crawl_pipeline.cli", "dev", "--port", str(port), "--simulator",
         "--world-accounts", "1000", "--latency-ms", "8000"],
        cwd=PROJECT_ROOT, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        _wait_for_ui(dev, port, lines)
        run_ids = []
        for key in keys:
            params = {
                "selector": {"repositoryLocationName": "crawl_pipeline", "repositoryName": "__repository__",
                             "jobName": "crawl_batch_job"},
                "runConfigData": {"ops": {"crawl_batch": {"config": {"refresh": True}}}},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": key}]},
            }
            answer = httpx.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": LAUNCH_RUN, "variables": {"p": params}}, timeout=60
            ).json()["data"]["launchRun"]
            assert answer["__typename"] == "LaunchRunSuccess", answer
            run_ids.append(answer["run"]["runId"])
        deadline = time.monotonic() + 180
        while {dagster_instance.get_run_by_id(r).status for r in run_ids} != {dg.DagsterRunStatus.STARTED}:
            assert time.monotonic() < deadline, [dagster_instance.get_run_by_id(r).status for r in run_ids]
            time.sleep(0.5)
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=120) == 130
        time.sleep(0.5)  # the reader thread drains the pipe
        output = "".join(lines)
        assert "Traceback" not in output, output[-3000:]
        statuses = [dagster_instance.get_run_by_id(r).status for r in run_ids]
        # none is left STARTED; on a loaded machine one may have finished during the graceful stop
        assert set(statuses) <= {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS}, statuses
        cut_off = [r for r, s in zip(run_ids, statuses, strict=True) if s == dg.DagsterRunStatus.FAILURE]
        assert cut_off, "both runs finished before Ctrl-C took effect: make them slower"
        assert f"marked {len(cut_off)} interrupted run(s) failed" in output
        for run_id in cut_off:
            failure = dagster_instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1]
            assert "is gone" in failure.dagster_event.message
    finally:
        if dev.poll() is None:
            dev.kill()
