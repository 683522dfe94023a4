"""``identity_role_stats``: every player of me's matches gets a role; stats per role in metadata."""

import dagster as dg

from crawl_pipeline.defs.identity import identity_role_stats
from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.resources import PostgresResource

ME, MATE, OTHER_MATE, UNLISTED = 100, 200, 300, 301
ANON = None


def add_match(conn, match_id, start, players):
    """players: (slot, account_id, hero_id, win, k, d, a)."""
    conn.execute("INSERT INTO matches (match_id, start_time, lobby_type, game_mode, duration, has_details) "
                 "VALUES (%s, to_timestamp(%s), 7, 22, 2000, true)", (match_id, start))
    for slot, account, hero, win, k, d, a in players:
        conn.execute(
            "INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant, win, kills, deaths, assists) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (match_id, slot, account, hero, slot < 128, win, k, d, a),
        )


def team(first_slot, accounts, heroes, win):
    return [(first_slot + i, a, h, win, 5, 2, 7) for i, (a, h) in enumerate(zip(accounts, heroes))]


def seed_matches(db):
    with db.transaction() as conn:
        # me radiant with a teammate, an anonymous player and an unlisted known player; the other
        # listed teammate plays against me (an opponent)
        add_match(conn, 1, 1_730_000_000, team(0, [ME, MATE, ANON, UNLISTED, 401], [1, 2, 3, 4, 5], True)
                  + team(128, [OTHER_MATE, ANON, 501, 502, 503], [6, 7, 8, 9, 10], False))
        # me dire with both teammates; the radiant side wins
        add_match(conn, 2, 1_730_100_000, team(0, [601, 602, 603, ANON, 501], [11, 12, 13, 14, 15], True)
                  + team(128, [ME, MATE, OTHER_MATE, 604, 605], [1, 16, 17, 18, 19], False))
        # a match me did not play: ignored
        add_match(conn, 3, 1_730_200_000, team(0, [701, 702, 703, 704, 705], [1, 2, 3, 4, 5], True)
                  + team(128, [706, 707, 708, 709, 710], [6, 7, 8, 9, 10], False))


def materialize(database_url, instance, identities):
    return dg.materialize(
        [identity_role_stats], instance=instance,
        resources={"postgres": PostgresResource(database_url=database_url), "identities": identities},
    )


def test_roles_and_stats_per_role(db, database_url, dagster_instance):
    seed_matches(db)
    result = materialize(database_url, dagster_instance, TrackedIdentities(me=ME, teammates=[MATE, OTHER_MATE]))
    assert result.success
    rows = db.fetch_all("SELECT match_id, account_id, role FROM identity_match_roles ORDER BY match_id, player_slot")
    assert len(rows) == 20 and {r["match_id"] for r in rows} == {1, 2}
    roles = {(r["match_id"], r["account_id"]): r["role"] for r in rows if r["account_id"] is not None}
    assert roles[(1, ME)] == roles[(2, ME)] == "me"
    assert roles[(1, MATE)] == "teammate" and roles[(1, UNLISTED)] == "teammate"
    assert roles[(1, OTHER_MATE)] == "opponent"  # a listed teammate on the other side
    assert roles[(2, OTHER_MATE)] == "teammate" and roles[(2, 601)] == "opponent"
    anon = sorted((r["match_id"], r["role"]) for r in rows if r["account_id"] is None)
    assert anon == [(1, "anon_opponent"), (1, "anon_teammate"), (2, "anon_opponent")]

    metadata = result.asset_materializations_for_node("identity_role_stats")[0].metadata
    assert metadata["matches"].value == 2 and metadata["role_rows_stored"].value == 20
    per_role = metadata["per_role"].value
    assert "| me | 2 | 1 | 0.50 | 10/4/14 | 6.00 |" in per_role  # games, wins, win rate, K/D/A, KDA
    assert "| opponent |" in per_role and "| anon_teammate | 1 | 1 |" in per_role
    assert per_role.count("\n") >= 6
    per_match = metadata["per_match"].value
    assert per_match.splitlines()[2].startswith("| 2 |")  # newest first
    met = metadata["players_met"].value.splitlines()
    # MATE and OTHER_MATE met twice, first by games then by id; with / against and me's wins
    assert met[2] == f"| {MATE} | 2 | 2 | 1 | 0 | 0 |"
    assert met[3] == f"| {OTHER_MATE} | 2 | 1 | 0 | 1 | 1 |"


def test_listed_only_and_rematerializing_replaces_rows(db, database_url, dagster_instance):
    seed_matches(db)
    identities = TrackedIdentities(me=ME, teammates=[MATE], listed_only=True)
    assert materialize(database_url, dagster_instance, identities).success
    assert materialize(database_url, dagster_instance, identities).success
    assert db.fetch_value("SELECT count(*) FROM identity_match_roles") == 20
    role = db.fetch_value("SELECT role FROM identity_match_roles WHERE match_id = 1 AND account_id = %s", (UNLISTED,))
    assert role == "anon_teammate"  # known, but not one of ours


def test_without_me_nothing_happens(db, database_url, dagster_instance):
    seed_matches(db)
    result = materialize(database_url, dagster_instance, TrackedIdentities())
    assert result.success
    assert db.fetch_value("SELECT count(*) FROM identity_match_roles") == 0
