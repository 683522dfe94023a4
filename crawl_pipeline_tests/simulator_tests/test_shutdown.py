"""Stopping the server is quick and quiet, even with requests held by slow/timeout faults."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

from .support import STRATZ_AUTH


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("kind", ["timeout", "slow"])
def test_stop_with_held_requests_logs_no_error(kind: str) -> None:
    logger = logging.getLogger("uvicorn.error")
    handler = _Records()
    saved = list(logger.filters)
    outcomes: list[str] = []
    with start_simulator(fault_rate=1.0, fault_mix={kind: 1.0}, timeout_s=30, slow_ms=30_000, rate_limits={"enabled": False}) as sim:
        for f in saved:  # prove shutdown is graceful, not merely filtered
            logger.removeFilter(f)
        logger.addHandler(handler)

        def call(timeout: float) -> None:
            try:
                httpx.get(f"{sim.url}/api/players/{SEED_ACCOUNT}/wl", timeout=timeout)
                outcomes.append("answered")
            except httpx.HTTPError as exc:
                outcomes.append(type(exc).__name__)

        gave_up = threading.Thread(target=call, args=(0.3,))  # a client that times out and leaves
        waiting = threading.Thread(target=call, args=(20.0,))  # one still waiting when the server stops
        gave_up.start()
        waiting.start()
        gave_up.join()
        time.sleep(0.2)
        started = time.monotonic()
    try:
        stopped_in = time.monotonic() - started
        waiting.join(timeout=5)
        assert stopped_in < 3.0  # no wait for timeout_graceful_shutdown
        assert not waiting.is_alive() and len(outcomes) == 2 and "answered" not in outcomes
        errors = [r.getMessage() for r in handler.records if r.levelno >= logging.ERROR]
        assert not [m for m in errors if "graceful shutdown" in m or "Cancel" in m], errors
    finally:
        logger.removeHandler(handler)
        for f in saved:
            logger.addFilter(f)


def test_stop_ends_the_stratz_query_thread() -> None:
    """Every simulator a test suite starts would otherwise leave its GraphQL thread behind."""
    query = {"query": f"{{ player(steamAccountId: {SEED_ACCOUNT}) {{ steamAccountId }} }}"}
    with start_simulator(rate_limits={"enabled": False}) as sim:
        assert httpx.post(f"{sim.url}/graphql", json=query, headers=STRATZ_AUTH).status_code == 200
        executor = sim.runtime.dialect_for("/graphql")._executor
        threads = list(executor._threads)
        assert threads and all(t.is_alive() for t in threads)
    for thread in threads:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in threads)
