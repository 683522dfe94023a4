"""``crawl-pipeline metrics --port 9108``: Prometheus metrics read from PostgreSQL at scrape time.

A custom collector runs a handful of set-based queries when Prometheus scrapes and keeps the
result for ``cache_seconds`` (default 5), so several scrapers or a dashboard refresh storm cost
one round of queries, and nothing runs between scrapes (no background loop). Every process of the
crawl writes its progress to PostgreSQL (the system of record), so one exporter shows the whole
deployment, however many run workers there are.

Metric names (all prefixed ``crawl_``) are listed in docs/operations.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crawl_pipeline.db.metrics import (
    ACCOUNT_PHASES,
    ACCOUNT_STATES,
    ACCOUNTS_SQL,
    BACKOFFS_SQL,
    BATCHES_SQL,
    REQUESTS_SQL,
    SMURFS_SQL,
    STUBS_SQL,
    WINDOWS_SQL,
)
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.rate_limits import smallest_active_backoff
from crawl_pipeline.sources.ratelimit import WINDOW_NAMES
from crawl_pipeline.sources.registry import PROVIDERS

log = logging.getLogger(__name__)

DEFAULT_PORT = 9108
DEFAULT_CACHE_SECONDS = 5.0

@dataclass
class _Cached:
    at: float
    families: list[Metric]


class CrawlCollector(Collector):
    """Reads the crawl's state from PostgreSQL when scraped; results are cached briefly."""

    def __init__(
        self, db: Database, *, cache_seconds: float = DEFAULT_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: _Cached | None = None
        self.queries = 0  # rounds of queries run (tests check the cache with it)

    def describe(self) -> list[Metric]:
        return []  # families depend on the data; registering must not query the database

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # concurrent scrapes wait for one round of queries
            now = self._clock()
            if self._cached is None or now - self._cached.at >= self._cache_seconds:
                self._cached = _Cached(now, self._read())
            families = self._cached.families
        yield from families

    def _read(self) -> list[Metric]:
        started = time.perf_counter()
        self.queries += 1
        up = GaugeMetricFamily("crawl_up", "1 when the last scrape could read the crawl database.")
        try:
            families = self._families()
        except Exception as exc:
            log.warning("metrics: could not read the crawl database: %s", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily("crawl_scrape_duration_seconds", "Time the metrics queries took.")
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *families]

    def _families(self) -> list[Metric]:
        db = self._db
        accounts = GaugeMetricFamily("crawl_accounts", "Accounts known, by BFS depth.", labels=["depth"])
        batched = GaugeMetricFamily("crawl_accounts_batched", "Accounts assigned to a batch, by depth.", labels=["depth"])
        phases = GaugeMetricFamily(
            "crawl_account_phase",
            "Accounts per crawl phase (player_profiles, hero_stats, match_stubs) and state (done, failed, pending), by depth.",
            labels=["depth", "phase", "state"],
        )
        # Prometheus convention: every known series is present, with 0 when there is nothing to count
        # (an empty crawl shows depth 0 with zeros, a depth without batches yet shows crawl_batches 0).
        by_depth = {row["depth"]: row for row in db.fetch_all(ACCOUNTS_SQL)}
        batch_rows = {row["depth"]: row["batches"] for row in db.fetch_all(BATCHES_SQL)}
        depths = sorted(set(by_depth) | set(batch_rows) | {0})
        for depth in depths:
            row = by_depth.get(depth, {})
            accounts.add_metric([str(depth)], row.get("accounts", 0))
            batched.add_metric([str(depth)], row.get("batched", 0))
            for phase in ACCOUNT_PHASES:
                for state in ACCOUNT_STATES:
                    phases.add_metric([str(depth), phase, state], row.get(f"{phase}_{state}", 0))

        batches = GaugeMetricFamily("crawl_batches", "Account batches (dynamic partitions), by depth.", labels=["depth"])
        for depth in depths:
            batches.add_metric([str(depth)], batch_rows.get(depth, 0))

        s = db.fetch_all(STUBS_SQL)[0]
        stubs = GaugeMetricFamily(
            "crawl_match_stubs", "Match stubs by details state: pending (NULL), detailed (true), failed (false).",
            labels=["state"],
        )
        for state in ("pending", "detailed", "failed"):
            stubs.add_metric([state], s[state])
        gave_up = GaugeMetricFamily("crawl_match_details_gave_up", "Stubs whose details failed on every attempt.")
        gave_up.add_metric([], s["gave_up"])
        waiting = GaugeMetricFamily(
            "crawl_match_details_waiting",
            "Pending stubs carrying an error that was not theirs (an outage, a spent budget, a bad key, Steam's "
            "GetMatchDetails 500): no attempt spent, retried by the next run; a value that stays up needs a look.",
        )
        waiting.add_metric([], s["waiting"])
        lag = GaugeMetricFamily(
            "crawl_aggregation_lag_matches", "Detailed matches not yet folded into player_match_type_stats."
        )
        lag.add_metric([], s["unaggregated"])
        lag_age = GaugeMetricFamily(
            "crawl_aggregation_lag_oldest_seconds", "Age of the oldest detailed but unaggregated match (0 when none)."
        )
        lag_age.add_metric([], s["oldest_unaggregated"])

        smurfs = GaugeMetricFamily("crawl_smurfs_flagged", "Accounts flagged as smurfs by any model version.")
        smurfs.add_metric([], db.fetch_value(SMURFS_SQL) or 0)

        requests = CounterMetricFamily(
            "crawl_api_requests", "Provider API calls by provider and status (HTTP code or timeout/connection/malformed).",
            labels=["provider", "status"],
        )
        limited = CounterMetricFamily("crawl_api_rate_limited", "Provider API calls answered 429.", labels=["provider"])
        latency = CounterMetricFamily(
            "crawl_api_latency_seconds", "Summed latency of provider API calls (divide by crawl_api_requests_total).",
            labels=["provider"],
        )
        by_provider: dict[str, list[int]] = {provider: [0, 0] for provider in PROVIDERS}
        seen = set()
        for row in db.fetch_all(REQUESTS_SQL):
            requests.add_metric([row["provider"], row["status"]], row["requests"])
            seen.add(row["provider"])
            entry = by_provider.setdefault(row["provider"], [0, 0])
            entry[0] += row["latency_ms"]
            if row["status"] == "429":
                entry[1] += row["requests"]
        for provider in PROVIDERS:
            if provider not in seen:  # a provider never called yet: its 200 series starts at 0
                requests.add_metric([provider, "200"], 0)
        for provider, (latency_ms, rate_limited) in sorted(by_provider.items()):
            latency.add_metric([provider], latency_ms / 1000)
            limited.add_metric([provider], rate_limited)

        active = db.fetch_all(BACKOFFS_SQL)
        backoff = GaugeMetricFamily(
            "crawl_rate_limit_backoff_seconds", "Seconds left of each active backoff (a 429 pauses a bucket everywhere).",
            labels=["bucket"],
        )
        for row in active:
            backoff.add_metric([row["bucket"]], max(0.0, row["seconds_left"]))
        smallest = smallest_active_backoff(db)
        smallest_family = GaugeMetricFamily(
            "crawl_rate_limit_smallest_backoff_seconds", "Seconds until the first active backoff ends (0 when none)."
        )
        smallest_family.add_metric([], smallest["seconds_left"] if smallest else 0.0)
        active_family = GaugeMetricFamily("crawl_rate_limit_backoffs_active", "Buckets paused by a backoff now.")
        active_family.add_metric([], len(active))

        used = GaugeMetricFamily(
            "crawl_rate_budget_used", "Permits leased in the current window of each bucket.", labels=["bucket", "window"]
        )
        capacity = GaugeMetricFamily(
            "crawl_rate_budget_capacity", "Capacity of the current window of each bucket.", labels=["bucket", "window"]
        )
        ratio = GaugeMetricFamily(
            "crawl_rate_budget_utilization_ratio", "used / capacity of the current window.", labels=["bucket", "window"]
        )
        for row in db.fetch_all(WINDOWS_SQL):
            labels = [row["bucket"], WINDOW_NAMES.get(row["window_seconds"], f"{row['window_seconds']}s")]
            used.add_metric(labels, row["used"])
            capacity.add_metric(labels, row["capacity"])
            ratio.add_metric(labels, row["used"] / row["capacity"])

        return [
            accounts, batched, phases, batches, stubs, gave_up, waiting, lag, lag_age, smurfs, requests, limited, latency,
            backoff, smallest_family, active_family, used, capacity, ratio,
        ]


def build_registry(db: Database, *, cache_seconds: float = DEFAULT_CACHE_SECONDS) -> tuple[CollectorRegistry, CrawlCollector]:
    registry = CollectorRegistry(auto_describe=False)
    collector = CrawlCollector(db, cache_seconds=cache_seconds)
    registry.register(collector)
    return registry, collector


def start_metrics_server(db: Database, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                         cache_seconds: float = DEFAULT_CACHE_SECONDS):
    """Serve ``/metrics`` from a daemon thread; returns ``(server, collector)``; ``server.shutdown()`` stops it."""
    registry, collector = build_registry(db, cache_seconds=cache_seconds)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, collector
