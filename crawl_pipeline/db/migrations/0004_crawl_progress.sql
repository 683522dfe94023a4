-- Crawl bookkeeping the discovery sensor needs: when each phase of a batch was requested.
ALTER TABLE account_batches
    ADD COLUMN heroes_requested_at  timestamptz,
    ADD COLUMN matches_requested_at timestamptz;

-- Accounts waiting to be batched, oldest first per depth (the sensor's linger rule).
CREATE INDEX accounts_unbatched_age ON accounts (depth, discovered_at) WHERE batch_key IS NULL;
