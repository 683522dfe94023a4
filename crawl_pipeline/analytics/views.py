"""Friendly DuckDB views for analysts (documented in docs/analyst-queries.md)."""

from __future__ import annotations

VIEWS: dict[str, str] = {
    "v_player_hero_stats": """
        SELECT p.account_id, a.personaname, p.hero_id, h.localized_name AS hero, p.match_type,
               p.games, p.wins, p.wins / p.games AS win_rate,
               p.kills / p.games AS avg_kills, p.deaths / p.games AS avg_deaths,
               p.assists / p.games AS avg_assists,
               (p.kills + p.assists) / greatest(p.deaths, 1) AS kda,
               p.gold_per_min_sum / p.games AS avg_gpm, p.xp_per_min_sum / p.games AS avg_xpm,
               p.last_hits / p.games AS avg_last_hits, p.first_match_at, p.last_match_at
        FROM player_match_type_stats p
        JOIN heroes h USING (hero_id)
        LEFT JOIN accounts a USING (account_id)
        WHERE p.games > 0""",
    "v_leaderboard_top": """
        SELECT l.board, l.hero_id, coalesce(h.localized_name, 'All heroes') AS hero, l.position,
               l.account_id, a.personaname, a.rank_tier, l.matches, l.wins, l.win_rate, l.min_games,
               l.computed_at
        FROM leaderboards l
        LEFT JOIN heroes h ON h.hero_id = l.hero_id
        LEFT JOIN accounts a ON a.account_id = l.account_id""",
    "v_hero_top100": """
        SELECT t.hero_id, h.localized_name AS hero, t.position, t.account_id, a.personaname,
               t.matches, t.wins, t.win_rate, t.computed_at
        FROM hero_top100 t
        JOIN heroes h USING (hero_id)
        LEFT JOIN accounts a USING (account_id)""",
    "v_matches": """
        SELECT m.match_id, m.start_time, m.duration, m.duration / 60.0 AS duration_minutes, m.lobby_type,
               lt.name AS lobby_type_name,
               CASE m.lobby_type WHEN 7 THEN 'ranked' WHEN 0 THEN 'normal' ELSE 'other' END AS match_type,
               m.game_mode, gm.name AS game_mode_name, m.region, r.name AS region_name, m.radiant_win,
               m.has_details, m.stats_aggregated
        FROM matches m
        LEFT JOIN lobby_types lt ON lt.lobby_type = m.lobby_type
        LEFT JOIN game_modes gm ON gm.game_mode = m.game_mode
        LEFT JOIN regions r ON r.region = m.region""",
    "v_match_players_named": """
        SELECT mp.match_id, m.start_time, m.match_type, m.lobby_type_name, mp.player_slot, mp.is_radiant,
               mp.account_id, a.personaname, mp.hero_id,
               coalesce(h.localized_name, 'unknown hero ' || mp.hero_id) AS hero, mp.win, mp.kills, mp.deaths,
               mp.assists, mp.gold_per_min, mp.xp_per_min, mp.last_hits, mp.denies, mp.net_worth,
               mp.hero_damage, mp.lane_role, mp.rank_tier
        FROM match_players mp
        JOIN v_matches m USING (match_id)
        LEFT JOIN heroes h USING (hero_id)
        LEFT JOIN accounts a USING (account_id)""",
    "v_smurf_suspects": """
        SELECT s.account_id, a.personaname, a.rank_tier, s.model_version, s.total_score, s.threshold,
               s.matches_used, s.scored_at
        FROM smurf_scores s
        LEFT JOIN accounts a USING (account_id)
        WHERE s.is_smurf""",
    "v_smurf_ban_outcomes": """
        SELECT s.account_id, a.personaname, a.rank_tier, s.model_version, s.total_score, s.threshold, s.is_smurf,
               s.matches_used, s.scored_at, b.checked_at, b.vac_banned, b.number_of_vac_bans,
               b.number_of_game_bans, b.community_banned, b.economy_ban, b.days_since_last_ban, b.not_found,
               CASE WHEN b.account_id IS NULL THEN 'not checked'
                    WHEN b.not_found THEN 'account gone'
                    WHEN coalesce(b.vac_banned, false) OR coalesce(b.number_of_vac_bans, 0) > 0
                         OR coalesce(b.number_of_game_bans, 0) > 0 THEN 'banned'
                    ELSE 'not banned' END AS ban_outcome
        FROM smurf_scores s
        LEFT JOIN ban_checks b USING (account_id)
        LEFT JOIN accounts a USING (account_id)""",
    "v_smurf_ban_summary": """
        SELECT model_version, is_smurf, count(*) AS accounts,
               count(*) FILTER (WHERE ban_outcome <> 'not checked') AS checked,
               count(*) FILTER (WHERE ban_outcome = 'banned') AS banned,
               count(*) FILTER (WHERE ban_outcome = 'banned')
                   / nullif(count(*) FILTER (WHERE ban_outcome IN ('banned', 'not banned')), 0) AS ban_rate
        FROM v_smurf_ban_outcomes
        GROUP BY model_version, is_smurf""",
    # Tracked identities (TRACKED_IDENTITIES; tables tracked_identities and identity_match_roles, written by
    # the identity_role_stats asset). The same listing as `crawl-pipeline players --frequent`
    # (db/identity.py FREQUENT_SQL): a match counts once for me; one with me's accounts on both sides is left out.
    "v_players_by_frequency": """
        WITH me AS (SELECT account_id FROM tracked_identities WHERE kind = 'me'),
        my_matches AS (
            SELECT p.match_id, bool_or(p.is_radiant) AS me_radiant, bool_or(p.win) AS me_won,
                   min(m.start_time) AS start_time
            FROM match_players p JOIN matches m ON m.match_id = p.match_id
            WHERE m.has_details AND p.account_id IN (SELECT account_id FROM me)
            GROUP BY p.match_id
            HAVING bool_or(p.is_radiant) = bool_and(p.is_radiant))
        SELECT row_number() OVER (ORDER BY count(*) DESC, max(mm.start_time) DESC NULLS LAST, o.account_id)
                   AS frequency_rank,
               o.account_id, a.personaname, t.identity, count(*) AS games,
               count(*) FILTER (WHERE o.is_radiant = mm.me_radiant) AS teammate_games,
               count(*) FILTER (WHERE o.is_radiant <> mm.me_radiant) AS opponent_games,
               count(*) FILTER (WHERE o.is_radiant = mm.me_radiant AND mm.me_won) AS wins_with,
               count(*) FILTER (WHERE o.is_radiant <> mm.me_radiant AND mm.me_won) AS wins_against,
               max(mm.start_time) AS last_played
        FROM my_matches mm
        JOIN match_players o ON o.match_id = mm.match_id
        LEFT JOIN accounts a ON a.account_id = o.account_id
        LEFT JOIN tracked_identities t ON t.account_id = o.account_id
        WHERE o.account_id BETWEEN 1 AND 4294967294 AND o.account_id NOT IN (SELECT account_id FROM me)
        GROUP BY o.account_id, a.personaname, t.identity""",
    "v_players_met": """
        SELECT p.account_id, o.account_id AS other_account_id, a.personaname AS other_personaname,
               t.identity AS other_identity, count(*) AS games,
               count(*) FILTER (WHERE o.is_radiant = p.is_radiant) AS teammate_games,
               count(*) FILTER (WHERE o.is_radiant <> p.is_radiant) AS opponent_games,
               count(*) FILTER (WHERE o.is_radiant = p.is_radiant AND p.win) AS wins_with,
               count(*) FILTER (WHERE o.is_radiant <> p.is_radiant AND p.win) AS wins_against,
               max(m.start_time) AS last_played
        FROM match_players p
        JOIN matches m ON m.match_id = p.match_id AND m.has_details
        JOIN match_players o ON o.match_id = p.match_id AND o.account_id <> p.account_id
        LEFT JOIN accounts a ON a.account_id = o.account_id
        LEFT JOIN tracked_identities t ON t.account_id = o.account_id
        WHERE p.account_id BETWEEN 1 AND 4294967294 AND o.account_id BETWEEN 1 AND 4294967294
        GROUP BY p.account_id, o.account_id, a.personaname, t.identity""",
    "v_identity_stats": """
        SELECT s.*, s.wins / nullif(s.games, 0) AS win_rate,
               (s.kills + s.assists) / greatest(s.deaths, 1) AS kda, h.localized_name AS top_hero
        FROM (SELECT t.identity, min(t.kind) AS kind, count(DISTINCT t.account_id) AS accounts,
                     count(DISTINCT r.match_id) FILTER (WHERE r.identity IS NOT NULL) AS games,
                     count(DISTINCT r.match_id) FILTER (WHERE r.identity IS NOT NULL AND r.win) AS wins,
                     coalesce(sum(r.kills) FILTER (WHERE r.identity IS NOT NULL), 0) AS kills,
                     coalesce(sum(r.deaths) FILTER (WHERE r.identity IS NOT NULL), 0) AS deaths,
                     coalesce(sum(r.assists) FILTER (WHERE r.identity IS NOT NULL), 0) AS assists,
                     mode(r.hero_id) FILTER (WHERE r.identity IS NOT NULL) AS top_hero_id,
                     count(DISTINCT r.match_id) FILTER (WHERE r.role = 'anon_opponent') AS games_against,
                     max(r.start_time) FILTER (WHERE r.identity IS NOT NULL) AS last_played
              FROM tracked_identities t
              LEFT JOIN identity_match_roles r ON r.account_id = t.account_id
              GROUP BY t.identity) s
        LEFT JOIN heroes h ON h.hero_id = s.top_hero_id""",
}
