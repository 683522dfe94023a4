"""fetch_concurrently: every item comes back once, with its result or its typed error."""

from __future__ import annotations

import threading
import time

import pytest

from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import NotFound
from crawl_pipeline.sources.registry import open_sources

from .conftest import sim_config, some_match_ids


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
