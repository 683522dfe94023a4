-- Initial schema: the whole crawl domain. Later changes come as new numbered files.
-- account_id is the 32-bit Steam account id everywhere (bigint: 4294967295 does not fit int4).

CREATE TABLE heroes (
    hero_id         smallint PRIMARY KEY,
    name            text NOT NULL UNIQUE,          -- npc_dota_hero_*
    localized_name  text NOT NULL,
    primary_attr    text NOT NULL,
    attack_type     text NOT NULL,
    roles           text[] NOT NULL DEFAULT '{}'
);

-- One row per dynamic partition of the crawl; keys look like d02-000153 (no commas: UI backfills).
CREATE TABLE account_batches (
    batch_key       text PRIMARY KEY CHECK (batch_key ~ '^d[0-9]{2}-[0-9]{6}$'),
    depth           smallint NOT NULL CHECK (depth >= 0),
    batch_number    integer NOT NULL CHECK (batch_number >= 0),
    account_count   integer NOT NULL CHECK (account_count > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (depth, batch_number)
);

CREATE TABLE accounts (
    account_id          bigint PRIMARY KEY CHECK (account_id > 0 AND account_id < 4294967295),
    depth               smallint NOT NULL CHECK (depth >= 0),
    discovered_from     bigint REFERENCES accounts (account_id) ON DELETE SET NULL,
    discovered_at       timestamptz NOT NULL DEFAULT now(),
    batch_key           text REFERENCES account_batches (batch_key),
    is_seed             boolean NOT NULL DEFAULT false,
    is_tracked          boolean NOT NULL DEFAULT false,
    is_active           boolean NOT NULL DEFAULT true,
    is_private          boolean,                    -- NULL until the match history was asked for
    -- profile
    personaname         text,
    avatar              text,
    loccountrycode      text,
    plus                boolean,
    last_login          timestamptz,
    rank_tier           smallint CHECK (rank_tier IS NULL OR rank_tier BETWEEN 0 AND 80),
    leaderboard_rank    integer,
    profile_fetched_at  timestamptz,
    -- phase progress: *_at is set on success; *_error/*_attempts record failures (nothing lost)
    profile_error       text,
    profile_attempts    smallint NOT NULL DEFAULT 0,
    hero_stats_at       timestamptz,
    hero_stats_error    text,
    hero_stats_attempts smallint NOT NULL DEFAULT 0,
    matches_synced_at   timestamptz,
    matches_error       text,
    matches_attempts    smallint NOT NULL DEFAULT 0,
    matches_total       integer,                    -- size of the history when the provider tells it
    newest_match_id     bigint,                     -- incremental stub sync stops here
    last_match_time     timestamptz
);
CREATE INDEX accounts_unbatched ON accounts (depth, account_id) WHERE batch_key IS NULL;
CREATE INDEX accounts_batch ON accounts (batch_key, account_id);
CREATE INDEX accounts_tracked ON accounts (account_id) WHERE is_tracked;
CREATE INDEX accounts_discovered_from ON accounts (discovered_from);

CREATE TABLE rank_snapshots (
    account_id       bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    observed_at      timestamptz NOT NULL,
    rank_tier        smallint,
    leaderboard_rank integer,
    source           text NOT NULL,
    PRIMARY KEY (account_id, observed_at)
);

CREATE TABLE hero_stats (
    account_id   bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    hero_id      smallint NOT NULL REFERENCES heroes (hero_id),
    matches      integer NOT NULL CHECK (matches >= 0),
    wins         integer NOT NULL CHECK (wins >= 0 AND wins <= matches),
    last_played  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, hero_id)
);
-- Serves the per-hero top-100 window query without a sort of the whole table.
CREATE INDEX hero_stats_leaderboard ON hero_stats (hero_id, matches DESC, wins DESC, account_id);

-- A match is a stub (has_details NULL) until phase 2 stores its players.
CREATE TABLE matches (
    match_id            bigint PRIMARY KEY CHECK (match_id > 0),
    match_seq_num       bigint,
    start_time          timestamptz,
    duration            integer CHECK (duration IS NULL OR duration >= 0),
    lobby_type          smallint,
    game_mode           smallint,
    radiant_win         boolean,
    region              smallint,
    owner_batch         text REFERENCES account_batches (batch_key),
    discovered_by       bigint,                     -- account whose history listed it first
    has_details         boolean,                    -- NULL pending, TRUE stored, FALSE failed
    retry_count         smallint NOT NULL DEFAULT 0,
    last_fetch_attempt  timestamptz,
    fetch_error         text,
    details_source      text,
    details_fetched_at  timestamptz,
    stats_aggregated    boolean NOT NULL DEFAULT false,
    stats_aggregated_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX matches_owner_pending ON matches (owner_batch, match_id) WHERE has_details IS NOT TRUE;
CREATE INDEX matches_owner ON matches (owner_batch);
CREATE INDEX matches_unaggregated ON matches (match_id) WHERE has_details AND NOT stats_aggregated;
CREATE INDEX matches_start_time ON matches (start_time);

CREATE TABLE match_players (
    match_id      bigint NOT NULL REFERENCES matches (match_id) ON DELETE CASCADE,
    player_slot   smallint NOT NULL,                -- 0-4 radiant, 128-132 dire
    account_id    bigint,                           -- NULL for an anonymous player
    hero_id       smallint NOT NULL,                -- as sent; unknown ids are kept here, never joined as heroes
    is_radiant    boolean NOT NULL,
    win           boolean,
    kills         smallint,
    deaths        smallint,
    assists       smallint,
    gold_per_min  integer,
    xp_per_min    integer,
    last_hits     integer,
    denies        integer,
    net_worth     integer,
    hero_damage   integer,
    lane_role     smallint,
    rank_tier     smallint,
    PRIMARY KEY (match_id, player_slot)
);
CREATE INDEX match_players_account ON match_players (account_id, match_id) WHERE account_id IS NOT NULL;

CREATE TABLE players_encountered (
    account_id        bigint NOT NULL,
    other_account_id  bigint NOT NULL,
    teammate_games    integer NOT NULL DEFAULT 0,
    teammate_wins     integer NOT NULL DEFAULT 0,
    opponent_games    integer NOT NULL DEFAULT 0,
    opponent_wins     integer NOT NULL DEFAULT 0,
    last_match_id     bigint,
    last_played       timestamptz,
    PRIMARY KEY (account_id, other_account_id),
    CHECK (account_id <> other_account_id)
);

CREATE TABLE hero_top100 (
    hero_id      smallint NOT NULL REFERENCES heroes (hero_id),
    position     smallint NOT NULL CHECK (position BETWEEN 1 AND 100),
    account_id   bigint NOT NULL,
    matches      integer NOT NULL,
    wins         integer NOT NULL,
    win_rate     double precision NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hero_id, position)
);

CREATE TABLE player_match_type_stats (
    account_id          bigint NOT NULL,
    hero_id             smallint NOT NULL REFERENCES heroes (hero_id),
    match_type          text NOT NULL CHECK (match_type IN ('ranked', 'normal', 'all')),
    games               integer NOT NULL DEFAULT 0,
    wins                integer NOT NULL DEFAULT 0,
    kills               bigint NOT NULL DEFAULT 0,   -- sums: averages are sum / games
    deaths              bigint NOT NULL DEFAULT 0,
    assists             bigint NOT NULL DEFAULT 0,
    gold_per_min_sum    bigint NOT NULL DEFAULT 0,
    xp_per_min_sum      bigint NOT NULL DEFAULT 0,
    last_hits           bigint NOT NULL DEFAULT 0,
    first_match_at      timestamptz,
    last_match_at       timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, hero_id, match_type)
);

-- One row per account and model version: re-scoring replaces, a new version keeps history.
CREATE TABLE smurf_scores (
    account_id               bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    model_version            text NOT NULL,
    batch_key                text,
    scored_at                timestamptz NOT NULL DEFAULT now(),
    matches_used             integer NOT NULL,
    win_rate                 double precision CHECK (win_rate BETWEEN 0 AND 1),
    kda                      double precision CHECK (kda BETWEEN 0 AND 1),
    account_level            double precision CHECK (account_level BETWEEN 0 AND 1),
    rank_discrepancy         double precision CHECK (rank_discrepancy BETWEEN 0 AND 1),
    rank_progression         double precision CHECK (rank_progression BETWEEN 0 AND 1),
    win_rate_trend           double precision CHECK (win_rate_trend BETWEEN 0 AND 1),
    performance_consistency  double precision CHECK (performance_consistency BETWEEN 0 AND 1),
    performance_trends       double precision CHECK (performance_trends BETWEEN 0 AND 1),
    role_performance         double precision CHECK (role_performance BETWEEN 0 AND 1),
    total_score              double precision NOT NULL,
    threshold                double precision NOT NULL,
    is_smurf                 boolean NOT NULL,
    weights                  jsonb NOT NULL,
    PRIMARY KEY (account_id, model_version)
);
CREATE INDEX smurf_scores_flagged ON smurf_scores (model_version, account_id) WHERE is_smurf;

CREATE TABLE ban_checks (
    account_id          bigint PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    checked_at          timestamptz NOT NULL,
    vac_banned          boolean,
    number_of_vac_bans  smallint,
    number_of_game_bans smallint,
    community_banned    boolean,
    economy_ban         text,
    days_since_last_ban integer,
    not_found           boolean NOT NULL DEFAULT false  -- the provider no longer knows the account
);

CREATE TABLE sync_log (
    id               bigserial PRIMARY KEY,
    account_id       bigint NOT NULL,
    date_after       timestamptz,
    date_before      timestamptz,
    started_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    status           text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'already_synced')),
    matches_found    integer NOT NULL DEFAULT 0,
    matches_fetched  integer NOT NULL DEFAULT 0,
    matches_skipped  integer NOT NULL DEFAULT 0,
    error            text,
    run_id           text
);
CREATE INDEX sync_log_account ON sync_log (account_id, status);

-- Shared rate budget: one row per (bucket, window); processes lease slices of `used` atomically.
CREATE TABLE rate_limit_windows (
    bucket         text NOT NULL,       -- provider:endpoint_group:key fingerprint (never the key)
    window_seconds integer NOT NULL CHECK (window_seconds > 0),
    window_start   timestamptz NOT NULL,
    used           integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    capacity       integer NOT NULL CHECK (capacity > 0),
    PRIMARY KEY (bucket, window_seconds, window_start)
);

-- A 429 or an exhausted key pauses a bucket for every process until `until`.
CREATE TABLE rate_limit_backoff (
    bucket      text PRIMARY KEY,
    until       timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 1,
    reason      text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Request accounting, flushed in batches: per minute, provider, endpoint group and status.
CREATE TABLE api_requests (
    minute            timestamptz NOT NULL,
    provider          text NOT NULL,
    endpoint_group    text NOT NULL,
    status            text NOT NULL,       -- HTTP status code, or timeout / connection / malformed
    requests          integer NOT NULL DEFAULT 0,
    total_latency_ms  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, provider, endpoint_group, status)
);
