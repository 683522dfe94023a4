-- Incremental leaderboards (db/leaderboards.py): which accounts' hero_stats changed since each board
-- was last built, the state of the last build, and the per-account totals the overall boards rank.
--
-- The boards read hero_stats (and heroes, which hero_stats references), nothing else. Triggers on
-- hero_stats note every account whose rows are inserted, updated or deleted (writers, COPY and
-- ON DELETE CASCADE from accounts alike) with the id of the writing transaction; a build stores its
-- statement's snapshot, and the next build takes the accounts whose transaction that snapshot did
-- not see. Transactions still running at a build are therefore picked up by the next one, whatever
-- order they commit in (a counter would miss a change committed after a later one was read).

-- One row per account changed since the oldest stored build; pruned by the builds.
CREATE TABLE hero_stats_changes (
    account_id   bigint PRIMARY KEY,
    changed_xid  xid8 NOT NULL DEFAULT pg_current_xact_id()   -- the last transaction that changed its rows
);
CREATE INDEX hero_stats_changes_xid ON hero_stats_changes (changed_xid);

-- The last build of each board: its parameters and the snapshot it read hero_stats in.
CREATE TABLE leaderboard_builds (
    board             text PRIMARY KEY CHECK (board IN ('hero_top100', 'leaderboards')),
    params            jsonb NOT NULL,                 -- size / thresholds: a change forces a full rebuild
    snapshot          pg_snapshot NOT NULL,           -- pg_current_snapshot() of the build's statement
    mode              text NOT NULL CHECK (mode IN ('full', 'incremental')),
    changed_accounts  integer NOT NULL DEFAULT 0,
    built_at          timestamptz NOT NULL DEFAULT now()
);

-- Per account with matches: the sums the overall boards rank (hero_id 0), kept by the leaderboards build.
CREATE TABLE leaderboard_account_totals (
    account_id     bigint PRIMARY KEY,
    matches        bigint NOT NULL CHECK (matches > 0),
    wins           bigint NOT NULL,
    heroes_played  smallint NOT NULL
);
-- The two overall orders: an incremental build reads the first size + |changed| entries of each.
CREATE INDEX leaderboard_account_totals_matches
    ON leaderboard_account_totals (matches DESC, wins DESC, account_id);
CREATE INDEX leaderboard_account_totals_win_rate
    ON leaderboard_account_totals ((wins::float8 / matches) DESC, matches DESC, account_id);

CREATE FUNCTION hero_stats_note_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO hero_stats_changes AS c (account_id)
        SELECT DISTINCT account_id FROM new_rows ORDER BY account_id
        ON CONFLICT (account_id) DO UPDATE SET changed_xid = EXCLUDED.changed_xid
        WHERE c.changed_xid <> EXCLUDED.changed_xid;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO hero_stats_changes AS c (account_id)
        SELECT DISTINCT account_id FROM old_rows ORDER BY account_id
        ON CONFLICT (account_id) DO UPDATE SET changed_xid = EXCLUDED.changed_xid
        WHERE c.changed_xid <> EXCLUDED.changed_xid;
    END IF;
    RETURN NULL;
END
$$;

-- A trigger with transition tables takes one event each.
CREATE TRIGGER hero_stats_changes_insert AFTER INSERT ON hero_stats
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hero_stats_note_changes();
CREATE TRIGGER hero_stats_changes_update AFTER UPDATE ON hero_stats
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hero_stats_note_changes();
CREATE TRIGGER hero_stats_changes_delete AFTER DELETE ON hero_stats
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hero_stats_note_changes();

-- TRUNCATE names no rows: forget the builds it invalidates, so the next build is a full rebuild.
CREATE FUNCTION leaderboard_builds_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_NARGS = 0 THEN
        DELETE FROM leaderboard_builds;
    ELSE
        DELETE FROM leaderboard_builds WHERE board = ANY (TG_ARGV);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER hero_stats_truncate_resets_builds AFTER TRUNCATE ON hero_stats
    FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_builds_reset();
CREATE TRIGGER hero_stats_changes_truncate_resets_builds AFTER TRUNCATE ON hero_stats_changes
    FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_builds_reset();
CREATE TRIGGER hero_top100_truncate_resets_build AFTER TRUNCATE ON hero_top100
    FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_builds_reset('hero_top100');
CREATE TRIGGER leaderboards_truncate_resets_build AFTER TRUNCATE ON leaderboards
    FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_builds_reset('leaderboards');
CREATE TRIGGER leaderboard_account_totals_truncate_resets_build AFTER TRUNCATE ON leaderboard_account_totals
    FOR EACH STATEMENT EXECUTE FUNCTION leaderboard_builds_reset('leaderboards');
