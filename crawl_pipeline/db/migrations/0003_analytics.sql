-- Analytics: leaderboards beside hero_top100, and the index the aggregation-lag check reads.

-- Boards rebuilt in one statement by db/leaderboards.py:
--   most_matches   hero_id 0: accounts with the most matches over all heroes;
--                  hero_id N: the same per hero (the first `size` rows of hero_top100's order).
--   best_win_rate  hero_id 0 / N: highest win rate among accounts with at least `min_games`
--                  matches (over all heroes / on that hero); ties by matches, then account_id.
CREATE TABLE leaderboards (
    board          text NOT NULL CHECK (board IN ('most_matches', 'best_win_rate')),
    hero_id        smallint NOT NULL CHECK (hero_id >= 0),   -- 0 = all heroes (no FK: not a hero)
    position       smallint NOT NULL CHECK (position >= 1),
    account_id     bigint NOT NULL,
    matches        integer NOT NULL CHECK (matches > 0),
    wins           integer NOT NULL CHECK (wins >= 0 AND wins <= matches),
    win_rate       double precision NOT NULL,
    heroes_played  smallint,                                 -- overall boards: heroes with matches > 0
    min_games      integer NOT NULL DEFAULT 0,               -- threshold the row qualified under
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (board, hero_id, position)
);

-- Aggregation lag: count and age of detailed matches not yet folded into player_match_type_stats.
CREATE INDEX matches_unaggregated_age ON matches (details_fetched_at)
    WHERE has_details AND NOT stats_aggregated;
