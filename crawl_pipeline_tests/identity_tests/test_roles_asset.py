"""``identity_role_stats`` on the real database and a real Dagster instance: several accounts for me,
named teammates (on my side and against me), anonymous players; stats per identity in metadata."""

import dagster as dg

from crawl_pipeline.defs.identity.assets import identity_role_stats
from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline_tests.identity_tests.matches import (
    ALICE_1,
    ALICE_2,
    BOB,
    MAIN,
    SMURF,
    seed_matches,
)

SEED_002 = TrackedIdentities(me=[MAIN, SMURF], teammates={"alice": [ALICE_1, ALICE_2], "bob": [BOB]})


def materialize(database_url, instance, identities):
    return dg.materialize(
        [identity_role_stats], instance=instance,
        resources={"postgres": PostgresResource(database_url=database_url), "identities": identities},
    )


def metadata_of(result):
    return result.asset_materializations_for_node("identity_role_stats")[0].metadata


def test_roles_of_several_me_accounts_and_named_teammates(db, database_url, dagster_instance):
    seed_matches(db)
    result = materialize(database_url, dagster_instance, SEED_002)
    assert result.success
    rows = db.fetch_all(
        "SELECT me_account_id, match_id, player_slot, account_id, role, identity FROM identity_match_roles "
        "ORDER BY match_id, player_slot"
    )
    assert len(rows) == 20 and {r["match_id"] for r in rows} == {1, 2}
    assert {r["match_id"]: r["me_account_id"] for r in rows} == {1: MAIN, 2: SMURF}
    got = {(r["match_id"], r["player_slot"]): (r["role"], r["identity"]) for r in rows}
    assert got[(1, 0)] == ("me", "me") and got[(2, 128)] == ("me", "me")
    assert got[(1, 1)] == ("teammate", "alice") and got[(2, 129)] == ("teammate", "alice")  # either of her accounts
    assert got[(2, 130)] == ("teammate", "bob")
    assert got[(1, 128)] == ("anon_opponent", None)  # bob against me
    assert got[(1, 2)] == got[(1, 3)] == got[(1, 4)] == ("anon_teammate", None)  # anonymous, hidden, unlisted
    assert got[(2, 131)] == ("anon_teammate", None)
    assert {got[(2, s)] for s in range(5)} == {("anon_opponent", None)}
    assert [r["account_id"] for r in rows if r["match_id"] == 1 and r["player_slot"] == 3] == [None]  # hidden: NULL
    configured = db.fetch_all("SELECT account_id, identity, kind FROM tracked_identities ORDER BY account_id")
    assert [tuple(r.values()) for r in configured] == [
        (MAIN, "me", "me"), (SMURF, "me", "me"), (ALICE_1, "alice", "teammate"), (ALICE_2, "alice", "teammate"),
        (BOB, "bob", "teammate"),
    ]

    metadata = metadata_of(result)
    assert metadata["matches"].value == 2 and metadata["ambiguous_matches"].value == 1
    assert metadata["role_rows_stored"].value == 20
    assert metadata["identities"].value == {"me": [MAIN, SMURF], "teammates": {"alice": [ALICE_1, ALICE_2], "bob": [BOB]}}
    per_identity = metadata["per_identity"].value.splitlines()
    # identity, accounts (games), games with me, wins, win rate, K/D/A, KDA, top heroes, games against me, last played
    assert per_identity[2].startswith(f"| me | {MAIN} (1), {SMURF} (1) | 2 | 1 | 0.50 | 6/11/10 | 1.45 | Anti-Mage (2) |")
    assert per_identity[3].startswith(f"| alice | {ALICE_1} (1), {ALICE_2} (1) | 2 | 1 | 0.50 | 6/11/10 |")
    assert per_identity[4].startswith(f"| bob | {BOB} (1) | 1 | 0 | 0.00 | 1/9/3 | 0.44 |")
    assert per_identity[4].endswith("| 1 | 2024-10-28 |")  # one game against me; last game with me
    per_role = metadata["per_role"].value
    assert "| anon_teammate | 5 | 3 | 0.60 |" in per_role and "| anon_opponent | 10 |" in per_role
    assert "opponent |" not in per_role.replace("anon_opponent |", "")
    per_match = metadata["per_match"].value.splitlines()
    assert per_match[2].startswith(f"| 2 | 2024-10-28 | {SMURF} | Anti-Mage | loss | 1/9/3 | alice, bob | 2 | 5 |")
    assert per_match[3].startswith(f"| 1 | 2024-10-27 | {MAIN} | Anti-Mage | win | 5/2/7 | alice | 3 | 5 |")
    met = metadata["players_met"].value.splitlines()
    # bob and 501 met twice (bob: against in 1, with in 2), both last in match 2: the lower id first
    assert met[2] == f"| {BOB} | bob | 2 | 1 | 0 | 1 | 1 |"
    assert met[3] == "| 501 |  | 2 | 0 | 0 | 2 | 1 |"


def test_rematerializing_replaces_every_row_with_the_new_configuration(db, database_url, dagster_instance):
    seed_matches(db)
    assert materialize(database_url, dagster_instance, SEED_002).success
    simple = TrackedIdentities(me=[MAIN], teammates={str(BOB): [BOB]})  # the TRACKED_ME form
    assert materialize(database_url, dagster_instance, simple).success
    rows = db.fetch_all("SELECT match_id, account_id, role, identity FROM identity_match_roles ORDER BY match_id, player_slot")
    assert {r["match_id"] for r in rows} == {1, 3}  # 3 is MAIN's alone now; SMURF is an unlisted player
    roles = {(r["match_id"], r["account_id"]): (r["role"], r["identity"]) for r in rows}
    assert roles[(1, ALICE_1)] == ("anon_teammate", None) and roles[(1, BOB)] == ("anon_opponent", None)
    assert roles[(3, SMURF)] == ("anon_opponent", None)
    assert db.fetch_value("SELECT count(*) FROM tracked_identities") == 2


def test_without_me_nothing_happens(db, database_url, dagster_instance):
    seed_matches(db)
    result = materialize(database_url, dagster_instance, TrackedIdentities())
    assert result.success and metadata_of(result)["configured"].value is False
    assert db.fetch_value("SELECT count(*) FROM identity_match_roles") == 0


def test_an_invalid_resource_configuration_fails_with_the_settings_message(db, database_url, dagster_instance):
    seed_matches(db)
    result = dg.materialize(
        [identity_role_stats], instance=dagster_instance, raise_on_error=False,
        resources={"postgres": PostgresResource(database_url=database_url),
                   "identities": TrackedIdentities(me=[MAIN], teammates={"alice": [MAIN]})},
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "account 100 is listed in both me and teammates.alice" in failure.message
