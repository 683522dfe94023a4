"""What `crawl-pipeline status` and the demo summary report, read in a few set-based queries."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def crawl_status(conn: psycopg.Connection) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    schema_version = cur.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()["v"]
    totals = cur.execute(
        """SELECT count(*) AS accounts,
                  count(*) FILTER (WHERE is_seed) AS seeds,
                  count(*) FILTER (WHERE is_tracked) AS tracked,
                  count(*) FILTER (WHERE batch_key IS NOT NULL) AS batched,
                  count(*) FILTER (WHERE profile_fetched_at IS NOT NULL) AS profiles,
                  count(*) FILTER (WHERE hero_stats_at IS NOT NULL) AS hero_stats_done,
                  count(*) FILTER (WHERE matches_synced_at IS NOT NULL) AS matches_synced,
                  count(*) FILTER (WHERE profile_error IS NOT NULL OR hero_stats_error IS NOT NULL
                                   OR matches_error IS NOT NULL) AS accounts_with_errors
           FROM accounts"""
    ).fetchone()
    by_depth = cur.execute(
        """SELECT depth, count(*) AS accounts,
                  count(*) FILTER (WHERE batch_key IS NOT NULL) AS batched,
                  count(*) FILTER (WHERE hero_stats_at IS NOT NULL) AS hero_stats_done,
                  count(*) FILTER (WHERE matches_synced_at IS NOT NULL) AS matches_synced
           FROM accounts GROUP BY depth ORDER BY depth"""
    ).fetchall()
    matches = cur.execute(
        """SELECT count(*) AS stubs,
                  count(*) FILTER (WHERE has_details) AS details,
                  count(*) FILTER (WHERE has_details IS NULL) AS pending,
                  count(*) FILTER (WHERE has_details = false) AS failed,
                  count(*) FILTER (WHERE has_details = false AND retry_count >= 3) AS failed_permanently,
                  count(*) FILTER (WHERE has_details AND NOT stats_aggregated) AS unaggregated
           FROM matches"""
    ).fetchone()
    counts = cur.execute(
        """SELECT (SELECT count(*) FROM heroes) AS heroes,
                  (SELECT count(*) FROM hero_stats) AS hero_stats,
                  (SELECT count(*) FROM match_players) AS match_players,
                  (SELECT count(*) FROM account_batches) AS batches,
                  (SELECT count(*) FROM smurf_scores WHERE is_smurf) AS smurfs_flagged"""
    ).fetchone()
    backoff = cur.execute(
        """SELECT bucket, extract(epoch FROM until - now()) AS seconds_left
           FROM rate_limit_backoff WHERE until > now() ORDER BY until LIMIT 1"""
    ).fetchone()
    return {
        "schema_version": schema_version,
        **totals,
        **counts,
        "matches": matches,
        "by_depth": by_depth,
        "smallest_active_backoff": (
            {"bucket": backoff["bucket"], "seconds_left": round(float(backoff["seconds_left"]), 1)} if backoff else None
        ),
    }
