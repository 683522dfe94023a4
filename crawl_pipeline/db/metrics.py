"""The queries behind ``crawl-pipeline metrics`` (crawl_pipeline/ops/metrics.py): set-based, read-only,
run once per scrape. Column names come from code, never from input.
"""

from __future__ import annotations

from crawl_pipeline.db.item_states import (
    PHASES,
    phase_failed,
    phase_pending,
    stub_gave_up,
    stub_pending,
    stub_waiting,
)

ACCOUNT_STATES = ("done", "failed", "pending")
ACCOUNT_PHASES = tuple(PHASES)


def _phase_columns() -> str:
    parts = []
    for phase, (done, _, _) in PHASES.items():
        parts.append(f"count(*) FILTER (WHERE {done} IS NOT NULL) AS {phase}_done")
        parts.append(f"count(*) FILTER (WHERE {phase_failed(phase)}) AS {phase}_failed")
        parts.append(f"count(*) FILTER (WHERE {phase_pending(phase)}) AS {phase}_pending")
    return ",\n                  ".join(parts)


ACCOUNTS_SQL = f"""SELECT depth, count(*) AS accounts,
                  count(*) FILTER (WHERE batch_key IS NOT NULL) AS batched,
                  {_phase_columns()}
           FROM accounts GROUP BY depth ORDER BY depth"""

BATCHES_SQL = "SELECT depth, count(*) AS batches FROM account_batches GROUP BY depth ORDER BY depth"

STUBS_SQL = f"""SELECT count(*) FILTER (WHERE {stub_pending()}) AS pending,
                      count(*) FILTER (WHERE {stub_waiting()}) AS waiting,
                      count(*) FILTER (WHERE has_details) AS detailed,
                      count(*) FILTER (WHERE has_details = false) AS failed,
                      count(*) FILTER (WHERE {stub_gave_up()}) AS gave_up,
                      count(*) FILTER (WHERE has_details AND NOT stats_aggregated) AS unaggregated,
                      coalesce(extract(epoch FROM now() - min(details_fetched_at)
                               FILTER (WHERE has_details AND NOT stats_aggregated)), 0)::float8 AS oldest_unaggregated
               FROM matches"""

SMURFS_SQL = "SELECT count(DISTINCT account_id) FROM smurf_scores WHERE is_smurf"

REQUESTS_SQL = """SELECT provider, status, sum(requests)::bigint AS requests,
                         sum(total_latency_ms)::bigint AS latency_ms
                  FROM api_requests GROUP BY provider, status ORDER BY provider, status"""

BACKOFFS_SQL = """SELECT bucket, extract(epoch FROM until - now())::float8 AS seconds_left
                  FROM rate_limit_backoff WHERE until > now() ORDER BY bucket"""

# Windows in force now: the budget the limiter is leasing from.
WINDOWS_SQL = """SELECT bucket, window_seconds, used, least(capacity, coalesce(announced, capacity)) AS capacity
                 FROM rate_limit_windows
                 WHERE window_start <= now() AND now() < window_start + window_seconds * interval '1 second'
                 ORDER BY bucket, window_seconds"""
