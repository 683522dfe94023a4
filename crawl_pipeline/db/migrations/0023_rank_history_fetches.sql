-- OpenDota's medal history is read once per scorable account (crawl/smurf.fetch_rank_histories).
-- An answer with no rows stores no rank_snapshots, so the read itself is remembered here: without
-- it such an account was asked again on every run.
CREATE TABLE rank_history_fetches (
    account_id  bigint PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    source      text NOT NULL,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    changes     integer NOT NULL CHECK (changes >= 0)  -- medal changes the answer held
);

-- The limit a provider announced for a window (Stratz's X-RateLimit-Limit-*), kept apart from the
-- configured capacity: the least any process heard caps the window for all, while a configured
-- tier raised mid-window still takes effect at the next lease.
ALTER TABLE rate_limit_windows ADD COLUMN announced integer CHECK (announced > 0);
