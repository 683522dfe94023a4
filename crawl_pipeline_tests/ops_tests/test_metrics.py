"""The Prometheus endpoint: known rows in PostgreSQL come out as the expected samples."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline.ops.metrics import CrawlCollector, start_metrics_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` of one scrape, parsed by prometheus_client."""
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def insert_known_rows(db) -> None:
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO account_batches (batch_key, depth, batch_number, account_count)
               VALUES ('d00-000000', 0, 0, 2), ('d01-000000', 1, 0, 1), ('d01-000001', 1, 1, 1)"""
        )
        conn.execute(
            """INSERT INTO accounts (account_id, depth, batch_key, is_seed, profile_fetched_at, profile_error,
                                    hero_stats_at, hero_stats_error, matches_synced_at, matches_error) VALUES
               (1, 0, 'd00-000000', true, now(), NULL, now(), NULL, now(), NULL),
               (2, 0, 'd00-000000', true, now(), NULL, NULL, 'HTTP 500', NULL, NULL),
               (3, 1, 'd01-000000', false, NULL, 'timeout', NULL, NULL, NULL, NULL),
               (4, 1, 'd01-000001', false, now(), NULL, now(), NULL, NULL, NULL),
               (5, 2, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL)"""
        )
        conn.execute(
            """INSERT INTO matches (match_id, owner_batch, has_details, retry_count, details_fetched_at, stats_aggregated)
               VALUES (101, 'd00-000000', NULL, 0, NULL, false),
                      (102, 'd00-000000', NULL, 1, NULL, false),
                      (103, 'd00-000000', true, 0, now() - interval '90 seconds', false),
                      (104, 'd00-000000', true, 0, now() - interval '30 seconds', false),
                      (105, 'd00-000000', true, 0, now() - interval '1 hour', true),
                      (106, 'd01-000000', false, 1, NULL, false),
                      (107, 'd01-000000', false, 3, NULL, false)"""
        )
        conn.execute(
            """INSERT INTO smurf_scores (account_id, model_version, matches_used, total_score, threshold, is_smurf, weights)
               VALUES (1, 'v1', 20, 0.9, 0.6, true, '{}'), (1, 'v2', 20, 0.8, 0.6, true, '{}'),
                      (2, 'v1', 20, 0.1, 0.6, false, '{}'), (4, 'v1', 20, 0.7, 0.6, true, '{}')"""
        )
        conn.execute(
            """INSERT INTO api_requests (minute, provider, endpoint_group, status, requests, total_latency_ms) VALUES
               (date_trunc('minute', now()) - interval '2 minutes', 'opendota', 'matches', '200', 40, 4000),
               (date_trunc('minute', now()) - interval '1 minute', 'opendota', 'players', '200', 10, 1000),
               (date_trunc('minute', now()), 'opendota', 'matches', '429', 3, 30),
               (date_trunc('minute', now()), 'steam', 'match_details', '500', 2, 600),
               (date_trunc('minute', now()), 'steam', 'match_details', 'timeout', 1, 15000)"""
        )
        conn.execute(
            """INSERT INTO rate_limit_backoff (bucket, until, attempts, reason) VALUES
               ('opendota:matches:abc123', now() + interval '40 seconds', 2, '429'),
               ('stratz:graphql:def456', now() + interval '300 seconds', 1, 'exhausted'),
               ('steam:details:0000', now() - interval '10 seconds', 1, 'over')"""
        )
        conn.execute(
            """INSERT INTO rate_limit_windows (bucket, window_seconds, window_start, used, capacity) VALUES
               ('opendota:matches:abc123', 86400, date_trunc('day', now()), 500, 2000),
               ('opendota:matches:abc123', 60, date_trunc('day', now()) - interval '1 day', 60, 60)"""
        )


def test_metrics_match_the_database(db):
    insert_known_rows(db)
    server, collector = start_metrics_server(db, port=free_port(), cache_seconds=60)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        m = scrape(url)
    finally:
        server.shutdown()

    def value(name: str, **labels: str) -> float:
        return m[(name, tuple(sorted(labels.items())))]

    assert value("crawl_up") == 1
    # accounts by depth, batched, and per phase and state
    assert [value("crawl_accounts", depth=d) for d in "012"] == [2, 2, 1]
    assert [value("crawl_accounts_batched", depth=d) for d in "012"] == [2, 2, 0]
    assert value("crawl_account_phase", depth="0", phase="player_profiles", state="done") == 2
    assert value("crawl_account_phase", depth="0", phase="hero_stats", state="failed") == 1
    assert value("crawl_account_phase", depth="0", phase="match_stubs", state="pending") == 1
    assert value("crawl_account_phase", depth="1", phase="player_profiles", state="failed") == 1
    assert value("crawl_account_phase", depth="1", phase="hero_stats", state="done") == 1
    assert value("crawl_account_phase", depth="2", phase="player_profiles", state="pending") == 1
    for depth, total in (("0", 2), ("1", 2), ("2", 1)):
        for phase in ("player_profiles", "hero_stats", "match_stubs"):
            states = [value("crawl_account_phase", depth=depth, phase=phase, state=s) for s in ("done", "failed", "pending")]
            assert sum(states) == total
    assert value("crawl_batches", depth="0") == 1 and value("crawl_batches", depth="1") == 2
    # stubs by has_details, aggregation lag
    assert value("crawl_match_stubs", state="pending") == 2
    assert value("crawl_match_stubs", state="detailed") == 3
    assert value("crawl_match_stubs", state="failed") == 2
    assert value("crawl_match_details_gave_up") == 1
    assert value("crawl_aggregation_lag_matches") == 2
    assert 90 <= value("crawl_aggregation_lag_oldest_seconds") < 90 + 600  # oldest of 103 and 104, not 105
    assert value("crawl_smurfs_flagged") == 2  # account 1 counted once across model versions
    # API requests by provider and status; 429s; latency
    assert value("crawl_api_requests_total", provider="opendota", status="200") == 50
    assert value("crawl_api_requests_total", provider="opendota", status="429") == 3
    assert value("crawl_api_requests_total", provider="steam", status="500") == 2
    assert value("crawl_api_requests_total", provider="steam", status="timeout") == 1
    assert value("crawl_api_rate_limited_total", provider="opendota") == 3
    assert value("crawl_api_rate_limited_total", provider="steam") == 0
    assert value("crawl_api_latency_seconds_total", provider="steam") == pytest.approx(15.6)
    # backoffs: the expired one is gone; the smallest active one ends first
    assert value("crawl_rate_limit_backoffs_active") == 2
    assert 0 < value("crawl_rate_limit_smallest_backoff_seconds") <= 40
    assert 250 < value("crawl_rate_limit_backoff_seconds", bucket="stratz:graphql:def456") <= 300
    assert ("crawl_rate_limit_backoff_seconds", (("bucket", "steam:details:0000"),)) not in m
    # rate budget of the current windows only (yesterday's minute window is not current)
    bucket = "opendota:matches:abc123"
    assert value("crawl_rate_budget_used", bucket=bucket, window="day") == 500
    assert value("crawl_rate_budget_capacity", bucket=bucket, window="day") == 2000
    assert value("crawl_rate_budget_utilization_ratio", bucket=bucket, window="day") == 0.25
    assert not [k for k in m if k[0].startswith("crawl_rate_budget") and ("window", "minute") in k[1]]
    assert collector.queries == 1


def test_scrapes_are_cached_briefly_and_errors_answer_with_up_zero(db):
    insert_known_rows(db)
    clock = [100.0]
    collector = CrawlCollector(db, cache_seconds=5, clock=lambda: clock[0])
    first = {f.name: f for f in collector.collect()}
    with db.transaction() as conn:
        conn.execute("DELETE FROM smurf_scores")
    clock[0] += 4
    assert {f.name: f for f in collector.collect()}["crawl_smurfs_flagged"].samples[0].value == 2  # cached
    clock[0] += 2
    assert {f.name: f for f in collector.collect()}["crawl_smurfs_flagged"].samples[0].value == 0  # read again
    assert collector.queries == 2 and first["crawl_up"].samples[0].value == 1

    class Broken:
        def fetch_all(self, *a, **k):
            raise OSError("connection refused")

        fetch_value = fetch_all

    broken = list(CrawlCollector(Broken(), cache_seconds=0).collect())  # type: ignore[arg-type]
    assert [(f.name, f.samples[0].value) for f in broken] == [("crawl_up", 0)]


def test_metrics_command_serves_until_terminated(cli_env, db):
    """The click command end to end in a subprocess: it resolves the stack, serves, stops on SIGTERM."""
    insert_known_rows(db)
    port = free_port()
    code = "from crawl_pipeline.commands.metrics import metrics; metrics()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port), "--cache-seconds", "0"],
        cwd=PROJECT_ROOT, env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                m = scrape(f"http://127.0.0.1:{port}/metrics")
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "metrics server did not start"
                time.sleep(0.2)
        assert m[("crawl_up", ())] == 1
        assert m[("crawl_accounts", (("depth", "0"),))] == 2
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "/metrics" in err and "password" not in err.lower()


def test_every_family_is_exposed_with_zeros_on_an_empty_database(db):
    """Prometheus convention: families and their known series exist before anything happened."""
    import re

    from crawl_pipeline.ops import metrics as metrics_module
    from crawl_pipeline.sources.registry import PROVIDERS

    source = (PROJECT_ROOT / "crawl_pipeline" / "ops" / "metrics.py").read_text()
    declared = set(re.findall(r'MetricFamily\(\s*"(crawl_[a-z_]+)"', source))
    server, _ = start_metrics_server(db, port=free_port(), cache_seconds=0)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
    finally:
        server.shutdown()
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert declared - set(families) == set(), "families missing on an empty database"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("crawl_up", ())] == 1
    assert samples[("crawl_accounts", (("depth", "0"),))] == 0
    assert samples[("crawl_accounts_batched", (("depth", "0"),))] == 0
    assert samples[("crawl_batches", (("depth", "0"),))] == 0
    for phase in metrics_module.ACCOUNT_PHASES:
        for state in ("done", "failed", "pending"):
            assert samples[("crawl_account_phase", (("depth", "0"), ("phase", phase), ("state", state)))] == 0
    for state in ("pending", "detailed", "failed"):
        assert samples[("crawl_match_stubs", (("state", state),))] == 0
    for provider in PROVIDERS:
        assert samples[("crawl_api_requests_total", (("provider", provider), ("status", "200")))] == 0
        assert samples[("crawl_api_rate_limited_total", (("provider", provider),))] == 0
        assert samples[("crawl_api_latency_seconds_total", (("provider", provider),))] == 0
    for name in ("crawl_match_details_gave_up", "crawl_aggregation_lag_matches", "crawl_smurfs_flagged",
                 "crawl_rate_limit_backoffs_active", "crawl_rate_limit_smallest_backoff_seconds"):
        assert samples[(name, ())] == 0


def test_a_depth_without_batches_yet_reports_zero_batches(db):
    insert_known_rows(db)  # accounts at depth 2, no batch at depth 2
    families = {f.name: f for f in CrawlCollector(db, cache_seconds=0).collect()}
    batches = {s.labels["depth"]: s.value for s in families["crawl_batches"].samples}
    assert batches == {"0": 1, "1": 2, "2": 0}


def test_stubs_waiting_on_an_error_not_theirs_are_a_metric_of_their_own(db):
    """A Steam details outage (or a spent budget) leaves stubs pending with the error: visible."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO matches (match_id, fetch_error) VALUES (1, 'DetailsNotReady: steam HTTP 500'), (2, NULL)")
    server, _ = start_metrics_server(db, port=free_port(), cache_seconds=0)
    try:
        samples = scrape(f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
    assert samples[("crawl_match_details_waiting", ())] == 1
    assert samples[("crawl_match_stubs", (("state", "pending"),))] == 2
