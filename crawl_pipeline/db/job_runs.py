"""The job ledger (``job_runs``): per run of a ledgered job, API requests, records written, failures
by kind and how it ended; ``crawl-pipeline status`` shows the latest runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

STATUSES = ("running", "succeeded", "failed", "rate_limited")


def start_run(conn: psycopg.Connection, run_id: str, job_name: str) -> None:
    """A row for the run (a re-execution of the same run id starts it again)."""
    conn.execute(
        """INSERT INTO job_runs (run_id, job_name) VALUES (%s, %s)
           ON CONFLICT (run_id) DO UPDATE SET started_at = now(), finished_at = NULL, status = 'running',
               api_requests = 0, records_written = 0, failures = '{}', rate_limited = NULL, error = NULL""",
        (run_id, job_name),
    )


def finish_run(
    conn: psycopg.Connection, run_id: str, *, status: str, api_requests: int, records_written: int,
    failures: Mapping[str, int], rate_limited: str | None = None, error: str | None = None,
) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown job run status {status!r}")
    conn.execute(
        """UPDATE job_runs SET finished_at = now(), status = %s, api_requests = %s, records_written = %s,
               failures = %s::jsonb, rate_limited = %s, error = %s
           WHERE run_id = %s""",
        (status, int(api_requests), int(records_written), json.dumps(dict(sorted(failures.items()))), rate_limited,
         error, run_id),
    )


def recent_runs(conn: psycopg.Connection, *, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ledgered runs, newest first, with times as ISO strings (JSON-ready)."""
    rows = conn.cursor(row_factory=dict_row).execute(
        """SELECT run_id, job_name, status, started_at, finished_at, api_requests, records_written, failures,
                  rate_limited, error
           FROM job_runs ORDER BY started_at DESC, run_id LIMIT %s""",
        (limit,),
    ).fetchall()
    for row in rows:
        for key in ("started_at", "finished_at"):
            row[key] = row[key].isoformat() if row[key] is not None else None
    return rows
