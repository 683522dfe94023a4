"""The crawl checks' queries: a batch run's checks read that batch's matches, a check executed
alone reads the whole crawl (the batch-scoped form keeps each batch's checks from growing with
the crawl)."""

from crawl_pipeline.db import checks
from crawl_pipeline.db.item_states import MAX_ATTEMPTS


def _crawl_with_faults_in_two_batches(db) -> None:
    """Batch a: match 1 has account 7 twice, match 2 is detailed without players, match 3 gave
    up; batch b: match 4 waits on an outage's error, match 5 gave up; match 6 is clean."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) "
            "VALUES ('d00-000000', 0, 0, 1), ('d00-000001', 0, 1, 1)"
        )
        conn.execute(
            """INSERT INTO matches (match_id, owner_batch, has_details, retry_count, fetch_error) VALUES
               (1, 'd00-000000', true, 0, NULL), (2, 'd00-000000', true, 0, NULL),
               (3, 'd00-000000', false, %(gave_up)s, 'MalformedResponse: x'),
               (4, 'd00-000001', NULL, 0, 'ProviderUnavailable: y'),
               (5, 'd00-000001', false, %(gave_up)s, 'MalformedResponse: z'), (6, 'd00-000001', true, 0, NULL)""",
            {"gave_up": MAX_ATTEMPTS},
        )
        conn.execute(
            """INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant) VALUES
               (1, 0, 7, 1, true), (1, 128, 7, 2, false), (6, 0, 8, 1, true)"""
        )


def test_checks_of_a_batch_read_only_its_matches(db):
    _crawl_with_faults_in_two_batches(db)
    assert checks.match_player_violations(db, "d00-000000") == {"duplicate_players": 1, "detailed_matches_without_players": 1}
    assert checks.match_player_violations(db, "d00-000001") == {"duplicate_players": 0, "detailed_matches_without_players": 0}
    first, second = checks.gave_up_details(db, "d00-000000"), checks.gave_up_details(db, "d00-000001")
    assert (first["stubs"], first["gave_up"], [r["match_id"] for r in first["sample"]]) == (3, 1, [3])
    assert (second["stubs"], second["gave_up"], [r["match_id"] for r in second["sample"]]) == (3, 1, [5])
    assert checks.waiting_details(db, "d00-000000")["waiting"] == 0
    waiting = checks.waiting_details(db, "d00-000001")
    assert waiting["waiting"] == 1 and waiting["sample"][0]["fetch_error"] == "ProviderUnavailable: y"


def test_checks_executed_alone_read_the_whole_crawl(db):
    _crawl_with_faults_in_two_batches(db)
    assert checks.match_player_violations(db) == {"duplicate_players": 1, "detailed_matches_without_players": 1}
    every = checks.gave_up_details(db)
    assert (every["stubs"], every["gave_up"], sorted(r["match_id"] for r in every["sample"])) == (6, 2, [3, 5])
    assert checks.waiting_details(db)["waiting"] == 1
