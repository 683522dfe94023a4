"""Request accounting: every call counted by provider, endpoint and status, with latency.

Counting happens in memory under a lock (nanoseconds per call); rows are upserted into
``api_requests`` per minute at most every ``flush_every`` seconds and at close, so a crawl
of millions of calls writes a few rows a minute. ``snapshot()`` is what Dagster run
metadata, ``crawl-pipeline status`` and the metrics endpoint show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from crawl_pipeline.db import api_requests as api_requests_db
from crawl_pipeline.db.pool import Database

log = logging.getLogger(__name__)

# status values besides HTTP codes
TIMEOUT, CONNECTION, MALFORMED = "timeout", "connection", "malformed"

_Key = tuple[int, str, str, str]  # minute (epoch seconds), provider, endpoint, status


class RequestAccounting:
    """Thread-safe counters with batched flushes to ``api_requests`` (``db`` None: memory only)."""

    def __init__(self, db: Database | None, *, flush_every: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._flush_every = flush_every
        self._clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[_Key, list[int]] = {}  # -> [requests, total latency ms]
        self._by_call: Counter[tuple[str, str, str]] = Counter()
        self._retries = 0
        self._latency_ms = 0
        self._last_flush = clock()

    def __repr__(self) -> str:
        return f"RequestAccounting(requests={sum(self._by_call.values())}, retries={self._retries})"

    def record(self, provider: str, endpoint: str, status: int | str, latency_s: float) -> None:
        now = self._clock()
        latency_ms = int(latency_s * 1000)
        key = (int(now // 60) * 60, provider, endpoint, str(status))
        with self._lock:
            entry = self._pending.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += latency_ms
            self._by_call[(provider, endpoint, str(status))] += 1
            self._latency_ms += latency_ms
            due = self._db is not None and now - self._last_flush >= self._flush_every
            if due:
                self._last_flush = now
        if due:
            self.flush()

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def flush(self) -> int:
        """Write pending counts; return the rows written. On a database error keep them."""
        if self._db is None:
            return 0
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return 0
            rows = [(minute, p, e, s, n, ms) for (minute, p, e, s), (n, ms) in pending.items()]
            try:
                with self._db.transaction() as conn:
                    api_requests_db.add_counts(conn, rows)
            except psycopg.Error as exc:
                log.warning("request accounting not flushed (%s); kept for the next flush", type(exc).__name__)
                with self._lock:
                    for key, (n, ms) in pending.items():
                        entry = self._pending.setdefault(key, [0, 0])
                        entry[0] += n
                        entry[1] += ms
                return 0
            return len(rows)

    def snapshot(self) -> dict[str, Any]:
        """Totals since this object was created, as plain JSON-able values."""
        with self._lock:
            by_call = dict(self._by_call)
            retries, latency_ms = self._retries, self._latency_ms
        by_status: Counter[str] = Counter()
        by_provider: Counter[str] = Counter()
        for (provider, _, status), n in by_call.items():
            by_status[status] += n
            by_provider[provider] += n
        total = sum(by_call.values())
        return {
            "api_calls": total,
            "api_calls_by_status": dict(sorted(by_status.items())),
            "api_calls_by_provider": dict(sorted(by_provider.items())),
            "api_calls_by_endpoint": {f"{p}/{e}/{s}": n for (p, e, s), n in sorted(by_call.items())},
            "rate_limited_429": by_status.get("429", 0),
            "retries": retries,
            "mean_latency_ms": round(latency_ms / total, 1) if total else None,
        }


def snapshot_delta(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """What happened between two snapshots (per asset or per run metadata)."""
    out: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, int) and isinstance(old, int):
            out[key] = value - old
        elif isinstance(value, Mapping):
            old_map = old if isinstance(old, Mapping) else {}
            changed = {k: v - old_map.get(k, 0) for k, v in value.items() if v - old_map.get(k, 0)}
            out[key] = changed
        else:
            out[key] = value
    return out
