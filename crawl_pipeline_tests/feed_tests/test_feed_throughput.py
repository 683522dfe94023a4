"""Throughput of the feed with the simulator in a process of its own and ``latency_ms`` added to every
answer: figures printed (``-s``) for the sequential loop and with the next page fetched during the
commit. Only the matches per call are asserted; times depend on the machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from crawl_pipeline.crawl.feed import FeedOptions, SeqRange, read_range
from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline_tests.feed_tests.support import FIRST_RANGE_START, steam_source

LATENCY_MS = 100
CALLS = 20


@pytest.fixture
def slow_simulator():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "crawl_pipeline.cli", "simulator", "serve", "--port", str(port), "--accounts", "2000",
         "--latency-ms", str(LATENCY_MS), "--no-rate-limit"],
        cwd=PROJECT_ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/heroes", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_throughput_with_latency(db, slow_simulator):
    figures = {}
    for prefetch in (False, True):
        first = FIRST_RANGE_START + (20_000 if prefetch else 0)
        with steam_source(slow_simulator, db) as (steam, sources):
            run = read_range(db, steam, SeqRange(first, first + 10_000), options=FeedOptions(max_calls=CALLS,
                             prefetch=prefetch))
            latency = sources.snapshot()["mean_latency_ms"]
        assert run.calls == CALLS and run.matches_per_call >= 95
        figures[prefetch] = (run.calls / run.elapsed_seconds, run.matches_stored / run.elapsed_seconds, latency)
    for prefetch, (calls, matches, latency) in figures.items():
        print(f"\nlatency_ms={LATENCY_MS} prefetch={prefetch}: {calls:.2f} calls/s, {matches:.0f} matches/s "
              f"(mean call {latency} ms)")
