"""A small, deterministic crawl-shaped data set written with set-based SQL (generate_series).

Holds what the analytics must cope with: anonymous players (NULL and 4294967295), unknown
hero ids (999), lobby types other than ranked/normal (and NULL), stubs and failed details.
"""

from __future__ import annotations

import psycopg

UNKNOWN_HERO_ID = 999
ANONYMOUS = 4294967295


def populate(conn: psycopg.Connection, *, accounts: int = 300, matches: int = 400, seed: float = 0.42) -> dict:
    conn.execute("SELECT setseed(%s)", (seed,))
    conn.execute(
        """INSERT INTO accounts (account_id, depth, is_seed, personaname, rank_tier, loccountrycode)
           SELECT 1000 + g, CASE WHEN g = 1 THEN 0 ELSE 1 END, g = 1, 'player_' || g,
                  (10 * (1 + g %% 7) + 1 + g %% 5)::smallint, (ARRAY['DE','US','RU','BR','SE'])[1 + g %% 5]
           FROM generate_series(1, %s) g""",
        (accounts,),
    )
    # hero_stats: every account plays ~12 of the heroes; some rows with 0 matches.
    conn.execute(
        """INSERT INTO hero_stats (account_id, hero_id, matches, wins, last_played)
           SELECT account_id, hero_id, matches, (matches * (0.3 + random() * 0.4))::int,
                  now() - (random() * interval '90 days')
           FROM (SELECT a.account_id, h.hero_id, (random() ^ 2 * 300)::int AS matches
                 FROM accounts a CROSS JOIN heroes h
                 WHERE (a.account_id * 7 + h.hero_id * 13) % 10 = 0) m"""
    )
    conn.execute(
        """INSERT INTO matches (match_id, start_time, duration, lobby_type, game_mode, radiant_win, region,
                                has_details, details_fetched_at, details_source)
           SELECT 7000000000 + g,
                  timestamptz '2025-01-01 00:00:00+00' + g * interval '37 minutes',
                  1800 + (random() * 1200)::int,
                  CASE g %% 10 WHEN 0 THEN 0 WHEN 1 THEN 0 WHEN 2 THEN 4 WHEN 3 THEN NULL WHEN 4 THEN 2
                              ELSE 7 END,
                  22, random() < 0.5, 3,
                  CASE WHEN g %% 17 = 0 THEN NULL WHEN g %% 23 = 0 THEN false ELSE true END,
                  CASE WHEN g %% 17 = 0 OR g %% 23 = 0 THEN NULL
                       ELSE now() - (%s - g) * interval '1 minute' END,
                  'simulator'
           FROM generate_series(1, %s) g""",
        (matches, matches),
    )
    conn.execute(
        """INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant, win,
                                      kills, deaths, assists, gold_per_min, xp_per_min, last_hits, denies,
                                      net_worth, hero_damage, lane_role, rank_tier)
           SELECT m.match_id, s.slot, p.account_id, p.hero_id, s.slot < 128,
                  (s.slot < 128) = m.radiant_win,
                  (random() * 15)::int, (random() * 12)::int, (random() * 20)::int,
                  300 + (random() * 500)::int, 350 + (random() * 550)::int, (random() * 300)::int,
                  (random() * 20)::int, 5000 + (random() * 20000)::int, (random() * 40000)::int,
                  1 + (random() * 3)::int, 40
           FROM matches m
           CROSS JOIN (SELECT unnest(ARRAY[0,1,2,3,4,128,129,130,131,132]) AS slot) s
           CROSS JOIN LATERAL (
               SELECT CASE WHEN random() < 0.1 THEN NULL
                           WHEN random() < 0.05 THEN 4294967295
                           ELSE 1001 + ((m.match_id * 31 + s.slot * 7) %% %s) END AS account_id,
                      CASE WHEN random() < 0.03 THEN 999
                           ELSE (SELECT hero_id FROM heroes ORDER BY hero_id
                                 OFFSET ((m.match_id + s.slot) %% 40) LIMIT 1) END AS hero_id
           ) p
           WHERE m.has_details""",
        (accounts,),
    )
    conn.execute(
        """INSERT INTO smurf_scores (account_id, model_version, matches_used, win_rate, kda, total_score,
                                     threshold, is_smurf, weights)
           SELECT account_id, 'v1', 20, random(), random(), random(), 0.7, random() > 0.8, '{"win_rate": 0.2}'
           FROM accounts WHERE account_id % 10 = 0"""
    )
    counts = {}
    for table in ("accounts", "hero_stats", "matches", "match_players", "smurf_scores"):
        counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return counts
