"""`crawl-pipeline dev`: the UI and daemon come up on the stack, and Ctrl-C stops all of it."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil

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
