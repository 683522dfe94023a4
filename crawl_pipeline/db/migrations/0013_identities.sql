-- Tracked identities of seed 002: "me" is one person with several accounts, teammates are named
-- (TRACKED_IDENTITIES). Roles are relative to the whole configuration, so identity_match_roles is
-- keyed by match and slot (me_account_id: the account of me that played the match) and names the
-- identity of me's and the teammates' rows. Every player on the other side is an anon_opponent:
-- the role `opponent` is gone. The rows are derived: dropped here, identity_role_stats rebuilds them.
DELETE FROM identity_match_roles;
ALTER TABLE identity_match_roles DROP CONSTRAINT identity_match_roles_pkey;
ALTER TABLE identity_match_roles ADD PRIMARY KEY (match_id, player_slot);
ALTER TABLE identity_match_roles DROP CONSTRAINT identity_match_roles_role_check;
ALTER TABLE identity_match_roles ADD CONSTRAINT identity_match_roles_role_check
    CHECK (role IN ('me', 'teammate', 'anon_teammate', 'anon_opponent'));
ALTER TABLE identity_match_roles ADD COLUMN identity text;  -- 'me', the teammate's name; NULL for anon_*
ALTER TABLE identity_match_roles ADD CONSTRAINT identity_match_roles_identity_check
    CHECK ((role IN ('me', 'teammate')) = (identity IS NOT NULL));
DROP INDEX identity_match_roles_role;
CREATE INDEX identity_match_roles_identity ON identity_match_roles (identity, role);
CREATE INDEX identity_match_roles_account ON identity_match_roles (account_id) WHERE account_id IS NOT NULL;

-- The configuration the roles were computed with (one row per configured account), for SQL and
-- the analysts' views; replaced with the roles.
CREATE TABLE tracked_identities (
    account_id  bigint PRIMARY KEY,
    identity    text NOT NULL,                               -- 'me' or the teammate's name
    kind        text NOT NULL CHECK (kind IN ('me', 'teammate')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'me') = (identity = 'me'))
);
