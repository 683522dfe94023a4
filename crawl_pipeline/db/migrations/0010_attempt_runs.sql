-- One run, one attempt: the run that last counted an attempt of each phase of an item. A step
-- retry inside the same run records the error again but does not spend another attempt.
ALTER TABLE accounts
    ADD COLUMN IF NOT EXISTS profile_attempt_run    text,
    ADD COLUMN IF NOT EXISTS hero_stats_attempt_run text,
    ADD COLUMN IF NOT EXISTS matches_attempt_run    text;
ALTER TABLE matches
    ADD COLUMN IF NOT EXISTS attempt_run text;
