"""Request accounting: counted in memory, flushed in batches to api_requests."""

from __future__ import annotations

from crawl_pipeline.sources.accounting import RequestAccounting, snapshot_delta
from crawl_pipeline.sources.registry import open_sources

from .support import SEED, first_seq, sim_config, some_match_ids


def test_flush_at_close_writes_per_minute_rows(sim, db):
    with open_sources(sim_config(sim, accounting_flush_seconds=3600), db) as sources:
        sources.provider("opendota").player_profile(SEED)
        sources.provider("opendota").match_details(some_match_ids(sim, 1)[0])
        sources.provider("steam").matches_by_sequence(first_seq(sim), 1)
        assert db.fetch_value("SELECT count(*) FROM api_requests") == 0  # nothing written per call
        before_close = sources.snapshot()
    rows = db.fetch_all("SELECT provider, endpoint_group, status, requests, total_latency_ms FROM api_requests ORDER BY 1, 2")
    assert [(r["provider"], r["endpoint_group"], r["status"], r["requests"]) for r in rows] == [
        ("opendota", "match_details", "200", 1),
        ("opendota", "player_profile", "200", 1),
        ("steam", "matches_by_sequence", "200", 1),
    ]
    assert before_close["api_calls"] == 3 and before_close["api_calls_by_status"] == {"200": 3}


def test_periodic_flush_adds_to_existing_rows(db):
    clock = [1_800_000_000.0]
    accounting = RequestAccounting(db, flush_every=10, clock=lambda: clock[0])
    accounting.record("stratz", "match_details", 200, 0.05)
    clock[0] += 11
    accounting.record("stratz", "match_details", 200, 0.05)  # due: flushes both
    accounting.record("stratz", "match_details", 429, 0.01)
    accounting.record_retry()
    accounting.flush()
    rows = db.fetch_all("SELECT status, requests, total_latency_ms FROM api_requests ORDER BY status")
    assert [(r["status"], r["requests"], r["total_latency_ms"]) for r in rows] == [("200", 2, 100), ("429", 1, 10)]
    snap = accounting.snapshot()
    assert snap["rate_limited_429"] == 1 and snap["retries"] == 1 and snap["api_calls"] == 3


def test_snapshot_delta():
    accounting = RequestAccounting(None)
    accounting.record("opendota", "hero_stats", 200, 0.01)
    before = accounting.snapshot()
    accounting.record("opendota", "hero_stats", 503, 0.01)
    accounting.record_retry()
    delta = snapshot_delta(accounting.snapshot(), before)
    assert delta["api_calls"] == 1 and delta["retries"] == 1 and delta["api_calls_by_status"] == {"503": 1}
