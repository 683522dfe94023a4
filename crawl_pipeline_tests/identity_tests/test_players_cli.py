"""``crawl-pipeline players [--frequent]`` on the real database: the accounts met most often with me
(over all of me's accounts), to build TRACKED_IDENTITIES from."""

from __future__ import annotations

import json

from click.testing import CliRunner

from crawl_pipeline.cli import main
from crawl_pipeline.db import identity as identity_db
from crawl_pipeline_tests.identity_tests.matches import (
    ALICE_1,
    BOB,
    MAIN,
    SMURF,
    add_match,
    seed_matches,
    team,
)

SEED_002 = json.dumps({"me": [MAIN, SMURF], "teammates": {"alice": [ALICE_1, 201], "bob": [BOB]}})


def run(*args: str):
    return CliRunner().invoke(main, ["players", *args], catch_exceptions=False)


def extra_matches(db):
    """Two more matches of MAIN: 501 with me twice (so met 3 times in all), 601 once more."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO accounts (account_id, depth, personaname) VALUES (501, 1, 'five-o-one')")
        add_match(conn, 10, 1_730_400_000, team(0, [MAIN, 501, 601, 901, 902], [1, 2, 3, 4, 5], True)
                  + team(128, [903, 904, 905, 906, 907], [6, 7, 8, 9, 10], False))
        add_match(conn, 11, 1_730_500_000, team(0, [908, 909, 910, 911, 912], [1, 2, 3, 4, 5], True)
                  + team(128, [MAIN, 501, 913, 914, 915], [6, 7, 8, 9, 10], False))


def test_frequency_listing_order_and_counts(db):
    seed_matches(db)
    extra_matches(db)
    with db.transaction() as conn:
        rows = identity_db.players_by_frequency(conn, [MAIN, SMURF], limit=None)
        assert identity_db.my_match_count(conn, [MAIN, SMURF]) == 5  # 1, 2, 3 (ambiguous), 10, 11
        assert identity_db.players_by_frequency(conn, [SMURF, MAIN], limit=3) == rows[:3]
    by_id = {r["account_id"]: r for r in rows}
    # 501: against in 1 (won), against in 2 (lost), with in 10 (won), with in 11 (lost)
    assert [r["account_id"] for r in rows[:3]] == [501, 601, BOB]
    assert {k: by_id[501][k] for k in ("games", "teammate_games", "opponent_games", "wins_with", "wins_against")} == {
        "games": 4, "teammate_games": 2, "opponent_games": 2, "wins_with": 1, "wins_against": 1,
    }
    assert by_id[501]["personaname"] == "five-o-one" and by_id[501]["last_played"].timestamp() == 1_730_500_000
    # 601 (2: against, 10: with) and BOB (1, 2) twice each: 601 met more recently
    assert by_id[601]["games"] == by_id[BOB]["games"] == 2
    # me's accounts, anonymous and hidden players, and the ambiguous match 3 are left out
    assert MAIN not in by_id and SMURF not in by_id and None not in by_id and 4294967295 not in by_id
    assert 702 not in by_id and 803 not in by_id  # 4 is not me's match
    # equal games and equal last match: the lower id first
    ones = [r["account_id"] for r in rows if r["games"] == 1]
    assert ones[:5] == [908, 909, 910, 911, 912]


def test_players_frequent_json_and_text(cli_env, db, monkeypatch):
    seed_matches(db)
    extra_matches(db)
    monkeypatch.setenv("TRACKED_IDENTITIES", SEED_002)
    result = run("--frequent", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["me"] == [MAIN, SMURF] and report["matches"] == 5
    assert [(p["account_id"], p["identity"]) for p in report["players"]] == [(501, None), (601, None), (BOB, "bob")]
    assert report["players"][0]["games"] == 4 and report["players"][0]["personaname"] == "five-o-one"

    text = run("--frequent", "--limit", "3").output.splitlines()
    assert text[0] == f"accounts met most often in 5 detailed match(es) of me ({MAIN}, {SMURF}):"
    assert text[1].split() == ["account", "games", "with", "against", "wins", "with", "last", "played", "identity", "name"]
    assert text[2].split() == ["501", "4", "2", "2", "1", "2024-11-01", "five-o-one"]
    assert text[4].split()[:2] == [str(BOB), "2"] and text[4].split()[-1] == "bob"


def test_players_without_frequent_shows_the_configuration(cli_env, monkeypatch):
    monkeypatch.setenv("TRACKED_IDENTITIES", SEED_002)
    assert run().output.splitlines() == [f"me: {MAIN}, {SMURF}", f"teammate alice: {ALICE_1}, 201", f"teammate bob: {BOB}"]
    assert json.loads(run("--json").output) == json.loads(SEED_002)


def test_me_on_the_command_line_and_the_simple_form(cli_env, db, monkeypatch):
    seed_matches(db)
    monkeypatch.setenv("TRACKED_ME", str(SMURF))
    monkeypatch.setenv("TRACKED_TEAMMATES", str(BOB))
    report = json.loads(run("--frequent", "--json").output)
    assert report["me"] == [SMURF] and report["matches"] == 2  # 2 and 3 (3 is SMURF's alone now)
    assert {p["account_id"]: p["identity"] for p in report["players"]}[BOB] == str(BOB)
    report = json.loads(run("--frequent", "--json", "--me", str(MAIN)).output)
    assert report["me"] == [MAIN] and report["matches"] == 2  # 1 and 3


def test_user_errors_are_one_line(cli_env, monkeypatch):
    monkeypatch.delenv("TRACKED_IDENTITIES", raising=False)
    monkeypatch.delenv("TRACKED_ME", raising=False)
    result = CliRunner().invoke(main, ["players", "--frequent"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "crawl-pipeline: error: no 'me' configured: set TRACKED_IDENTITIES (or TRACKED_ME), or give --me ACCOUNT_ID"
    ]
    monkeypatch.setenv("TRACKED_IDENTITIES", '{"me": [1, 1]}')
    result = CliRunner().invoke(main, ["players", "--frequent"])
    assert result.exit_code == 2
    assert result.output.strip() == "crawl-pipeline: error: TRACKED_IDENTITIES: account 1 is listed twice in me; an account belongs to one identity"
    result = CliRunner().invoke(main, ["players", "--frequent", "--me", "abc"])
    assert result.exit_code == 2 and "invalid account id 'abc'" in result.output


def test_the_sql_listing_and_the_pure_one_agree(db):
    """db.identity.players_by_frequency (CLI, view) and domain.roles.players_met (asset metadata)."""
    from crawl_pipeline.domain.roles import Identities, players_met

    seed_matches(db)
    extra_matches(db)
    identities = Identities((MAIN, SMURF), {"bob": (BOB,)})
    with db.transaction() as conn:
        listed = identity_db.players_by_frequency(conn, identities.me, limit=None)
        rows = identity_db.players_of_matches_with(conn, identities.me)
    pure = players_met(rows, identities, top=None)
    assert [(r["account_id"], r["games"], r["teammate_games"], r["wins_with"], r["opponent_games"], r["wins_against"],
             r["last_played"]) for r in listed] == [
        (m.account_id, m.games, m.with_games, m.with_wins, m.against_games, m.against_wins, m.last_played) for m in pure
    ]
