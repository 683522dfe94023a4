"""What `crawl-pipeline status` and the demo summary report, read in a few set-based queries."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from crawl_pipeline.db import job_runs
from crawl_pipeline.db.item_states import PHASES, phase_failed, stub_gave_up
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.rate_limits import smallest_active_backoff

ANY_PHASE_FAILED = "(" + " OR ".join(phase_failed(phase) for phase in PHASES) + ")"


def crawl_status(db: Database) -> dict[str, Any]:
    with db.transaction() as conn:
        cur = conn.cursor(row_factory=dict_row)
        schema_version = cur.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()["v"]
        totals = cur.execute(
            f"""SELECT count(*) AS accounts,
                      count(*) FILTER (WHERE is_seed) AS seeds,
                      count(*) FILTER (WHERE is_tracked) AS tracked,
                      count(*) FILTER (WHERE batch_key IS NOT NULL) AS batched,
                      count(*) FILTER (WHERE profile_fetched_at IS NOT NULL) AS profiles,
                      count(*) FILTER (WHERE hero_stats_at IS NOT NULL) AS hero_stats_done,
                      count(*) FILTER (WHERE matches_synced_at IS NOT NULL) AS matches_synced,
                      count(*) FILTER (WHERE {ANY_PHASE_FAILED}) AS accounts_with_errors
               FROM accounts"""
        ).fetchone()
        by_depth = cur.execute(
            f"""SELECT a.depth, count(*) AS accounts,
                      (SELECT count(*) FROM account_batches b WHERE b.depth = a.depth) AS batches,
                      count(*) FILTER (WHERE batch_key IS NOT NULL) AS batched,
                      count(*) FILTER (WHERE hero_stats_at IS NOT NULL) AS hero_stats_done,
                      count(*) FILTER (WHERE matches_synced_at IS NOT NULL) AS matches_synced,
                      count(*) FILTER (WHERE {ANY_PHASE_FAILED}) AS failed
               FROM accounts a GROUP BY a.depth ORDER BY a.depth"""
        ).fetchall()
        matches = cur.execute(
            f"""SELECT count(*) AS stubs,
                      count(*) FILTER (WHERE has_details) AS details,
                      count(*) FILTER (WHERE has_details IS NULL) AS pending,
                      count(*) FILTER (WHERE has_details = false) AS failed,
                      count(*) FILTER (WHERE {stub_gave_up()}) AS failed_permanently,
                      count(*) FILTER (WHERE has_details AND NOT stats_aggregated) AS unaggregated,
                      coalesce(extract(epoch FROM now() - min(details_fetched_at)
                               FILTER (WHERE has_details AND NOT stats_aggregated)), 0)::float8
                          AS aggregation_oldest_seconds
               FROM matches"""
        ).fetchone()
        counts = cur.execute(
            """SELECT (SELECT count(*) FROM heroes) AS heroes,
                      (SELECT count(*) FROM hero_stats) AS hero_stats,
                      (SELECT count(*) FROM match_players) AS match_players,
                      (SELECT count(*) FROM account_batches) AS batches,
                      (SELECT count(*) FROM smurf_scores WHERE is_smurf) AS smurfs_flagged"""
        ).fetchone()
        recent_job_runs = job_runs.recent_runs(conn, limit=10)
        api_last_hour = {
            r["status"]: r["requests"]
            for r in cur.execute(
                """SELECT status, sum(requests)::bigint AS requests FROM api_requests
                   WHERE minute > now() - interval '1 hour' GROUP BY status ORDER BY status"""
            ).fetchall()
        }
    matches["aggregation_oldest_seconds"] = round(matches["aggregation_oldest_seconds"], 1)
    return {
        "schema_version": schema_version,
        **totals,
        **counts,
        "matches": matches,
        "by_depth": by_depth,
        "api_calls_last_hour": api_last_hour,
        "smallest_active_backoff": smallest_active_backoff(db),
        # the job ledger: per run, API requests, records written, failures by kind (newest first)
        "job_runs": recent_job_runs,
    }
