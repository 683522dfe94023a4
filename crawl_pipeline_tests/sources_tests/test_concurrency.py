"""fetch_concurrently: every item comes back once, with its result or its typed error."""

from __future__ import annotations

import threading
import time

import pytest

from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import NotFound
from crawl_pipeline.sources.registry import open_sources

from .support import sim_config, some_match_ids


def test_results_and_errors_for_every_item(sim):
    ids = some_match_ids(sim, 12) + [1, 2]
    with open_sources(sim_config(sim, max_concurrency=4), None) as sources:
        client = sources.for_call("match_details")
        results = dict(sources.fetch_concurrently(client.match_details, ids))
    assert set(results) == set(ids)
    assert all(isinstance(results[i], NotFound) for i in (1, 2))
    assert all(results[i].match_id == i for i in ids[:12])


def test_requests_overlap_under_latency(sim, db):
    """At 100 ms latency several calls are in flight at once, all inside the budget."""
    sim.configure(latency_ms=100)
    active, peak, lock = [0], [0], threading.Lock()
    with open_sources(sim_config(sim), db) as sources:
        client = sources.provider("stratz")

        def fetch(match_id: int):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                return client.match_details(match_id)
            finally:
                with lock:
                    active[0] -= 1

        results = list(fetch_concurrently(fetch, some_match_ids(sim, 16), max_workers=8))
    assert len(results) == 16 and peak[0] > 1
    assert sim.stats()["rate_limited_total"] == 0


def test_bugs_are_not_swallowed():
    def broken(item: int) -> int:
        raise KeyError(item)

    with pytest.raises(KeyError):
        list(fetch_concurrently(broken, range(3), max_workers=2))


def test_lazy_consumption():
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield i

    iterator = fetch_concurrently(lambda i: (time.sleep(0.001), i)[1], items(), max_workers=2)
    next(iterator)
    iterator.close()
    assert len(taken) < 20


def _wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return condition()


def test_fetchers_go_on_while_the_consumer_is_busy_up_to_the_buffer():
    """The consumer holds the first outcome (as while it writes a chunk): the workers keep calling until
    ``buffer`` outcomes wait, then stop; nothing is lost once it takes them."""
    calls, lock = [0], threading.Lock()

    def call(item: int) -> int:
        with lock:
            calls[0] += 1
        return item * 2

    iterator = fetch_concurrently(call, range(100), max_workers=2, buffer=10)
    first = next(iterator)
    # 1 taken + 10 waiting + at most 2 blocked in put: far more than the 2 workers alone
    assert _wait_until(lambda: calls[0] >= 11)
    time.sleep(0.05)
    assert calls[0] <= 1 + 10 + 2  # bounded: the rest waits for the consumer
    rest = list(iterator)
    assert sorted([first, *rest]) == [(i, i * 2) for i in range(100)]


def test_closing_early_starts_nothing_more_and_ends_the_workers():
    started = []

    def call(item: int) -> int:
        started.append(item)
        return item

    iterator = fetch_concurrently(call, range(1000), max_workers=3, buffer=4)
    next(iterator)
    iterator.close()
    count = len(started)
    time.sleep(0.02)
    assert len(started) == count < 20
    assert not [t for t in threading.enumerate() if t.name.startswith("fetch_")]


def test_a_broken_source_iterator_is_raised():
    def items():
        yield 1
        raise ValueError("bad source")

    with pytest.raises(ValueError, match="bad source"):
        list(fetch_concurrently(lambda i: i, items(), max_workers=2))
