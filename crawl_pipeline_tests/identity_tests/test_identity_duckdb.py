"""The analysts' identity views in the DuckDB copy: after identity_role_stats ran (real database, real
Dagster instance), v_players_by_frequency lists what `players --frequent` lists, v_identity_stats has
one row per identity, v_players_met every account's encounters."""

from __future__ import annotations

import duckdb

from crawl_pipeline.analytics.duckdb_export import export_duckdb
from crawl_pipeline.db import identity as identity_db
from crawl_pipeline_tests.identity_tests.matches import (
    ALICE_1,
    ALICE_2,
    BOB,
    MAIN,
    SMURF,
    seed_matches,
)
from crawl_pipeline_tests.identity_tests.test_roles_asset import SEED_002, materialize


def test_identity_views_after_the_asset(db, database_url, dagster_instance, tmp_path):
    seed_matches(db)
    assert materialize(database_url, dagster_instance, SEED_002).success
    with db.transaction() as conn:
        export_duckdb(conn, tmp_path / "analytics.duckdb")
        listed = identity_db.players_by_frequency(conn, [MAIN, SMURF], limit=None)
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as duck:
        frequency = duck.execute(
            "SELECT frequency_rank, account_id, identity, games, teammate_games, opponent_games, wins_with, "
            "wins_against, last_played FROM v_players_by_frequency ORDER BY frequency_rank"
        ).fetchall()
        assert [r[1:3] for r in frequency[:2]] == [(BOB, "bob"), (501, None)]
        assert [r[0] for r in frequency] == list(range(1, len(frequency) + 1))
        assert [(r[1], r[3], r[4], r[5], r[6], r[7], r[8]) for r in frequency] == [
            (r["account_id"], r["games"], r["teammate_games"], r["opponent_games"], r["wins_with"], r["wins_against"],
             r["last_played"]) for r in listed
        ]

        stats = {r[0]: r[1:] for r in duck.execute(
            "SELECT identity, kind, accounts, games, wins, win_rate, kills, deaths, assists, kda, top_hero, "
            "games_against FROM v_identity_stats"
        ).fetchall()}
        assert set(stats) == {"me", "alice", "bob"}
        assert stats["me"] == ("me", 2, 2, 1, 0.5, 6, 11, 10, 16 / 11, "Anti-Mage", 0)
        assert stats["alice"][:8] == ("teammate", 2, 2, 1, 0.5, 6, 11, 10)
        assert stats["bob"][:5] == ("teammate", 1, 1, 0, 0.0) and stats["bob"][-1] == 1  # one game against me

        met = duck.execute(
            "SELECT other_account_id, other_identity, games, teammate_games, opponent_games FROM v_players_met "
            "WHERE account_id = ? ORDER BY games DESC, other_account_id", [ALICE_1],
        ).fetchall()
        # ALICE_1 played 1 (with MAIN, against BOB) and 4 (with BOB): BOB twice, once on each side
        assert met[0] == (BOB, "bob", 2, 1, 1)
        assert (MAIN, "me", 1, 1, 0) in met and ALICE_2 not in [m[0] for m in met]
        roles = duck.execute("SELECT DISTINCT role FROM identity_match_roles ORDER BY role").fetchall()
        assert [r[0] for r in roles] == ["anon_opponent", "anon_teammate", "me", "teammate"]
