-- The stub checks (db/checks.py) run after every batch: they must read the stubs in an error state
-- only, not every stub still without details (matches_owner_pending holds every one of those, and
-- reading it took 0.85 s per check with 300k of them). Both sets are small: failed details
-- (retriable or gave up), and stubs left pending by an error that was not their own.
CREATE INDEX matches_failed_details ON matches (match_id) WHERE has_details = false;
CREATE INDEX matches_waiting_on_errors ON matches (last_fetch_attempt) WHERE has_details IS NULL AND fetch_error IS NOT NULL;
