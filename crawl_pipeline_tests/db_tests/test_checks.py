"""The crawl checks' queries and their scope: what a batch run's checks read must not grow with
the crawl, and a failure found in one batch stays red until that batch is fixed."""

import dagster as dg

from crawl_pipeline.db import checks
from crawl_pipeline.db import feed as feed_db
from crawl_pipeline.db.item_states import MAX_ATTEMPTS

FIRST, SECOND = "d00-000000", "d00-000001"
CONSISTENT = dg.AssetCheckKey(dg.AssetKey("match_details"), "match_players_consistent")


def _crawl_with_faults_in_two_batches(db) -> None:
    """First batch: match 1 has account 7 twice, match 2 is detailed without players, match 3
    gave up; second batch: match 4 waits on an outage's error, match 5 gave up; match 6 is clean."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) "
            "VALUES (%s, 0, 0, 1), (%s, 0, 1, 1)",
            (FIRST, SECOND),
        )
        conn.execute(
            """INSERT INTO matches (match_id, owner_batch, has_details, retry_count, fetch_error) VALUES
               (1, %(a)s, true, 0, NULL), (2, %(a)s, true, 0, NULL), (3, %(a)s, false, %(gave_up)s, 'MalformedResponse: x'),
               (4, %(b)s, NULL, 0, 'ProviderUnavailable: y'), (5, %(b)s, false, %(gave_up)s, 'MalformedResponse: z'),
               (6, %(b)s, true, 0, NULL)""",
            {"a": FIRST, "b": SECOND, "gave_up": MAX_ATTEMPTS},
        )
        conn.execute(
            """INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant) VALUES
               (1, 0, 7, 1, true), (1, 128, 7, 2, false), (6, 0, 8, 1, true)"""
        )


def test_player_checks_of_named_batches_read_only_their_matches(db):
    _crawl_with_faults_in_two_batches(db)
    assert checks.match_player_violations(db, [FIRST]) == {
        "duplicate_players": 1, "detailed_matches_without_players": 1, "batches": [FIRST],
    }
    assert checks.match_player_violations(db, [SECOND])["batches"] == []
    assert checks.match_player_violations(db) == {  # executed alone: every match
        "duplicate_players": 1, "detailed_matches_without_players": 1, "batches": [FIRST],
    }


def test_stub_checks_read_the_whole_crawl(db):
    _crawl_with_faults_in_two_batches(db)
    gave_up = checks.gave_up_details(db)
    assert (gave_up["gave_up"], gave_up["stubs"], gave_up["stubs_estimated"]) == (2, 6, False)
    assert sorted(r["match_id"] for r in gave_up["sample"]) == [3, 5]
    waiting = checks.waiting_details(db)
    assert waiting["waiting"] == 1 and waiting["sample"][0]["fetch_error"] == "ProviderUnavailable: y"


def _run_checks(instance: dg.DagsterInstance, database_url: str, batch: str | None) -> dg.AssetCheckEvaluation:
    """The crawl's check step as a batch run executes it (its partition tag), or executed alone."""
    from crawl_pipeline.defs.crawl.checks import crawl_checks
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.resources import PostgresResource

    defs = dg.Definitions(
        asset_checks=[crawl_checks],
        jobs=[dg.define_asset_job("checks", selection=dg.AssetSelection.checks(CONSISTENT))],
        resources={"postgres": PostgresResource(database_url=database_url), "crawl": CrawlConfig()},
    )
    result = defs.resolve_job_def("checks").execute_in_process(
        instance=instance, tags={"dagster/partition": batch} if batch else {}, raise_on_error=False
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_a_batch_found_failing_stays_failing_until_it_is_fixed(db, database_url):
    _crawl_with_faults_in_two_batches(db)
    with dg.instance_for_test() as instance:
        first = _run_checks(instance, database_url, FIRST)
        assert not first.passed and first.metadata["scope"].value == [FIRST]
        # the next batch is clean, but its run looks at the first batch again: still red
        second = _run_checks(instance, database_url, SECOND)
        assert not second.passed and second.metadata["scope"].value == [FIRST, SECOND]
        assert second.metadata["failing_batches"].value == [FIRST]
        with db.transaction() as conn:  # the first batch repaired
            conn.execute("DELETE FROM match_players WHERE match_id = 1 AND player_slot = 128")
            conn.execute("DELETE FROM matches WHERE match_id = 2")
        assert _run_checks(instance, database_url, SECOND).passed
        assert _run_checks(instance, database_url, SECOND).metadata["scope"].value == [SECOND]  # the first is no longer read
        alone = _run_checks(instance, database_url, None)
        assert alone.passed and alone.metadata["scope"].value == "all batches"


def test_a_check_that_raises_is_reported_failed_and_the_others_still_run(db, database_url, monkeypatch):
    from crawl_pipeline.defs.crawl.checks import crawl_checks
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.resources import PostgresResource

    def broken(db):
        raise RuntimeError("statement timeout")

    monkeypatch.setattr(checks, "orphan_stubs", broken)
    _crawl_with_faults_in_two_batches(db)
    result = dg.materialize(
        [crawl_checks], resources={"postgres": PostgresResource(database_url=database_url), "crawl": CrawlConfig()},
        selection=dg.AssetSelection.all_asset_checks(), raise_on_error=False,
    )
    evaluations = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == 5
    broken_one = evaluations["pending_stubs_have_owner"]
    assert not broken_one.passed and broken_one.metadata["error"].value == "RuntimeError: statement timeout"
    assert not evaluations["no_details_waiting_on_errors"].passed  # match 4, evaluated after the broken one


def test_matches_the_feed_could_not_read_are_not_orphans(db):
    """The feed keeps a match it could not read (sequence number, error) and fetches it again
    itself: no batch owns it, yet something will fetch it. A stub nothing will fetch is an orphan."""
    with db.transaction() as conn:
        feed_db.record_unread(conn, [feed_db.UnreadMatch(11, 9011, "MalformedResponse: kills", "retry")], run_id=None)
    assert checks.orphan_stubs(db) == 0
    with db.transaction() as conn:
        conn.execute("INSERT INTO matches (match_id, match_seq_num) VALUES (12, 9012), (13, NULL)")
    assert checks.orphan_stubs(db) == 2
