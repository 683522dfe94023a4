"""`crawl-pipeline retry`: items that used every attempt are re-opened, per kind, filtered by error class."""

from __future__ import annotations

from click.testing import CliRunner

from crawl_pipeline.cli import main
from crawl_pipeline.db.frontier import batches_with_unfinished_work
from crawl_pipeline.db.item_states import MAX_ATTEMPTS


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def settle_some_failures(db) -> None:
    """Two batches whose phases ran; some items gave up, some still have attempts, some succeeded."""
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO account_batches (batch_key, depth, batch_number, account_count,
                                            heroes_requested_at, matches_requested_at)
               VALUES ('d00-000000', 0, 0, 3, now(), now()), ('d01-000000', 1, 0, 2, now(), now())"""
        )
        conn.execute(
            """INSERT INTO accounts (account_id, depth, batch_key, profile_fetched_at, profile_error, profile_attempts,
                                     hero_stats_at, hero_stats_error, hero_stats_attempts,
                                     matches_synced_at, matches_error, matches_attempts) VALUES
               (1, 0, 'd00-000000', NULL, 'NotFound: player 1', %(max)s, now(), NULL, 0, now(), NULL, 0),
               (2, 0, 'd00-000000', now(), NULL, 0, NULL, 'ServerError: HTTP 500', %(max)s, now(), NULL, 0),
               (3, 0, 'd00-000000', now(), NULL, 0, now(), NULL, 0, NULL, 'Timeout: read', 1),
               (4, 1, 'd01-000000', now(), NULL, 0, now(), NULL, 0, NULL, 'ServerError: HTTP 502', %(max)s),
               (5, 1, 'd01-000000', now(), NULL, 0, now(), NULL, 0, now(), NULL, 0)""",
            {"max": MAX_ATTEMPTS},
        )
        conn.execute(
            """INSERT INTO matches (match_id, owner_batch, has_details, retry_count, fetch_error) VALUES
               (101, 'd00-000000', false, %(max)s, 'NotFound: match 101'),
               (102, 'd01-000000', false, %(max)s, 'MalformedResponse: bad JSON'),
               (103, 'd01-000000', false, 1, 'ServerError: HTTP 500'),
               (104, 'd01-000000', true, 0, NULL)""",
            {"max": MAX_ATTEMPTS},
        )


def attempts(db) -> dict:
    rows = db.fetch_all(
        "SELECT account_id, profile_attempts, hero_stats_attempts, matches_attempts, "
        "profile_error, hero_stats_error, matches_error FROM accounts ORDER BY account_id"
    )
    stubs = db.fetch_all("SELECT match_id, retry_count, fetch_error FROM matches ORDER BY match_id")
    return {"accounts": rows, "matches": stubs}


def test_dry_run_counts_per_kind_and_changes_nothing(cli_env, db):
    settle_some_failures(db)
    before = attempts(db)
    result = run("retry", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "accounts: would re-open 3 account phase(s) (player_profiles 1, hero_stats 1, match_stubs 1)" in result.output
    assert "matches: would re-open 2 match(es) (details)" in result.output
    assert attempts(db) == before


def test_error_filter_and_kind_select_what_is_reopened(cli_env, db):
    settle_some_failures(db)
    result = run("retry", "--accounts", "--errors", "Server")
    assert result.exit_code == 0, result.output
    assert "re-opened 2 account phase(s) with errors Server* (player_profiles 0, hero_stats 1, match_stubs 1)" in result.output
    assert "matches:" not in result.output
    after = {r["account_id"]: r for r in attempts(db)["accounts"]}
    assert after[2]["hero_stats_attempts"] == 0 and after[4]["matches_attempts"] == 0
    assert after[1]["profile_attempts"] == MAX_ATTEMPTS  # NotFound: not selected
    assert after[3]["matches_attempts"] == 1  # still had attempts: untouched
    assert after[2]["hero_stats_error"] == "ServerError: HTTP 500"  # the error is kept until it succeeds

    result = run("retry", "--matches", "--errors", "NotFound")
    assert "matches: re-opened 1 match(es) with errors NotFound* (details)" in result.output
    assert "1 batch(es) have work again: d00-000000" in result.output
    stubs = {r["match_id"]: r["retry_count"] for r in attempts(db)["matches"]}
    assert stubs == {101: 0, 102: MAX_ATTEMPTS, 103: 1, 104: 0}


def test_everything_reopened_gives_its_batches_work_again(cli_env, db):
    settle_some_failures(db)
    with db.transaction() as conn:  # only the items that gave up are left unfinished
        conn.execute("UPDATE accounts SET matches_synced_at = now(), matches_error = NULL WHERE account_id = 3")
        conn.execute("UPDATE matches SET has_details = true, fetch_error = NULL WHERE match_id = 103")
    assert batches_with_unfinished_work(db) == []  # settled: nothing is retried on its own
    result = run("retry")
    assert result.exit_code == 0, result.output
    assert "re-opened 3 account phase(s)" in result.output and "re-opened 2 match(es)" in result.output
    assert "2 batch(es) have work" in result.output
    assert batches_with_unfinished_work(db) == ["d00-000000", "d01-000000"]
    assert run("retry", "--dry-run").output.count("would re-open 0") == 2  # nothing left to re-open


def test_a_bad_error_kind_is_a_usage_error(cli_env):
    result = run("retry", "--errors", "Not Found%")
    assert result.exit_code == 2 and "is not an error class name" in result.output
