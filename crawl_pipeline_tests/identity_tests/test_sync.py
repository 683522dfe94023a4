"""``sync_account_history``: range syncs with coverage, against the simulator over HTTP."""


from crawl_pipeline.db import sync as sync_db
from crawl_pipeline_tests.support import analyzer_definitions

ACCOUNT = 293053907
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def sync(defs, instance, **config):
    job = defs.resolve_job_def("sync_account_history")
    return job.execute_in_process(
        instance=instance, raise_on_error=False,
        run_config={**QUIET, "ops": {"sync_range": {"config": {"account_id": ACCOUNT, **config}}}},
    )


def log_rows(db):
    with db.transaction() as conn:
        return sync_db.sync_rows(conn, ACCOUNT)


def stored_in(db, after, before):
    return db.fetch_value(
        """SELECT count(*) FROM matches m
           WHERE m.discovered_by = %s AND m.has_details AND m.start_time >= %s AND m.start_time <= %s""",
        (ACCOUNT, after, before),
    )


def test_range_sync_then_already_synced_without_api_calls(db, database_url, simulator, dagster_instance):
    defs = analyzer_definitions(database_url, simulator.url)
    simulator.reset()
    first = sync(defs, dagster_instance, date_after="2024-10-01", date_before="2024-10-31")
    assert first.success
    calls = simulator.stats()["requests_total"]
    assert calls > 0
    (row,) = log_rows(db)
    assert row["status"] == "completed" and row["completed_at"] is not None and row["error"] is None
    assert row["date_after"].isoformat().startswith("2024-10-01T00:00:00")
    assert row["date_before"].isoformat().startswith("2024-10-31T23:59:59")
    assert row["matches_found"] > 0 and row["matches_skipped"] == 0
    assert row["matches_fetched"] == row["matches_found"]
    assert row["run_id"] == first.run_id
    assert stored_in(db, row["date_after"], row["date_before"]) == row["matches_found"]
    assert db.fetch_value("SELECT count(*) FROM matches WHERE start_time < '2024-10-01' OR start_time > '2024-11-01'") == 0

    # a range inside the completed one: "Already synced", not a single request to any provider
    simulator.reset()
    inside = sync(defs, dagster_instance, date_after="2024-10-10", date_before="2024-10-20")
    assert inside.success
    assert simulator.stats()["requests_total"] == 0
    rows = log_rows(db)
    assert rows[-1]["status"] == "already_synced" and rows[-1]["completed_at"] is not None
    # the exact same range too
    simulator.reset()
    assert sync(defs, dagster_instance, date_after="2024-10-01", date_before="2024-10-31").success
    assert simulator.stats()["requests_total"] == 0 and log_rows(db)[-1]["status"] == "already_synced"

    # a wider range is not covered: it calls the providers and skips (and counts) what is stored
    simulator.reset()
    wider = sync(defs, dagster_instance, date_after="2024-09-15", date_before="2024-10-31")
    assert wider.success
    assert simulator.stats()["requests_total"] > 0
    last = log_rows(db)[-1]
    assert last["status"] == "completed"
    assert last["matches_skipped"] == row["matches_found"]
    assert last["matches_fetched"] == last["matches_found"] - last["matches_skipped"] > 0
    # no match was stored twice
    assert db.fetch_value(
        "SELECT count(*) FROM (SELECT match_id FROM match_players GROUP BY 1 HAVING count(*) <> 10) x"
    ) == 0


def test_open_bounds(db, database_url, simulator, dagster_instance):
    defs = analyzer_definitions(database_url, simulator.url)
    assert sync(defs, dagster_instance, date_after="2024-12-01").success  # open end: up to now
    simulator.reset()
    # "everything before 2024-12-20" is not covered by a sync that started on 2024-12-01
    assert sync(defs, dagster_instance, date_before="2024-12-20", max_matches=30).success
    assert simulator.stats()["requests_total"] > 0
    simulator.reset()
    # but from 2024-12-05 onwards is
    assert sync(defs, dagster_instance, date_after="2024-12-05").success
    assert simulator.stats()["requests_total"] == 0
    statuses = [r["status"] for r in log_rows(db)]
    assert statuses == ["completed", "completed", "already_synced"]
    first = log_rows(db)[0]
    assert first["date_before"] is None and first["date_after"] is not None


def test_failed_sync_is_logged_and_never_covers(db, database_url, simulator, dagster_instance):
    defs = analyzer_definitions(database_url, "http://127.0.0.1:9")  # nothing listens: connection refused
    result = sync(defs, dagster_instance, date_after="2024-10-01", date_before="2024-10-31")
    assert not result.success
    (row,) = log_rows(db)
    assert row["status"] == "failed" and "ConnectionFailed" in row["error"]
    # a failed sync does not cover: the next request calls the provider again
    defs = analyzer_definitions(database_url, simulator.url)
    simulator.reset()
    assert sync(defs, dagster_instance, date_after="2024-10-05", date_before="2024-10-06").success
    assert simulator.stats()["requests_total"] > 0


def test_invalid_range_fails_without_a_log_row(db, database_url, simulator, dagster_instance):
    defs = analyzer_definitions(database_url, simulator.url)
    result = sync(defs, dagster_instance, date_after="2024-10-31", date_before="2024-10-01")
    assert not result.success
    assert log_rows(db) == []
