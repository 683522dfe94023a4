-- Smurf analyzer bookkeeping and tracked-identity roles.

-- Phase 1 of the smurf analyzer: when an account's ranked history was last read, and whether it
-- ran out (fewer ranked matches than asked for), so exhausted accounts are not re-read every run.
CREATE TABLE smurf_history_fetches (
    account_id     bigint PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    fetched_at     timestamptz NOT NULL DEFAULT now(),
    matches_listed integer NOT NULL DEFAULT 0,   -- ranked matches the provider listed in the last read
    new_stubs      integer NOT NULL DEFAULT 0,   -- of those, matches not stored before
    exhausted      boolean NOT NULL DEFAULT false,
    fetches        integer NOT NULL DEFAULT 1
);

-- Phase 3 picks flagged accounts whose last check is missing or old.
CREATE INDEX ban_checks_checked_at ON ban_checks (checked_at);

-- Tracked identities (replay sync): every player of a match `me` played, with a role relative
-- to me and the configured teammates (me / teammate / anon_teammate / opponent / anon_opponent).
CREATE TABLE identity_match_roles (
    me_account_id  bigint NOT NULL,
    match_id       bigint NOT NULL REFERENCES matches (match_id) ON DELETE CASCADE,
    player_slot    smallint NOT NULL,
    account_id     bigint,                       -- NULL: anonymous
    role           text NOT NULL CHECK (role IN ('me', 'teammate', 'anon_teammate', 'opponent', 'anon_opponent')),
    hero_id        smallint,
    win            boolean,
    kills          smallint,
    deaths         smallint,
    assists        smallint,
    start_time     timestamptz,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (me_account_id, match_id, player_slot)
);
CREATE INDEX identity_match_roles_role ON identity_match_roles (me_account_id, role);

