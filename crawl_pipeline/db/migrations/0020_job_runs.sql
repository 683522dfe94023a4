-- The job ledger: one row per run of a ledgered job (the tracked-accounts job), with what it cost and
-- did: API requests, records written, failures by kind, and whether a rate limit ended it early.
CREATE TABLE job_runs (
    run_id          text PRIMARY KEY,
    job_name        text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'rate_limited')),
    api_requests    integer NOT NULL DEFAULT 0,
    records_written integer NOT NULL DEFAULT 0,
    failures        jsonb NOT NULL DEFAULT '{}',   -- kind (e.g. "history:RateLimited") -> count
    rate_limited    text,                          -- the rate limit that ended the run before it finished
    error           text
);
CREATE INDEX job_runs_recent ON job_runs (job_name, started_at DESC);
