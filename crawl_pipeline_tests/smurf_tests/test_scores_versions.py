"""Re-scoring is idempotent, each model version keeps its own rows, and a database error in
scoring rolls back and fails the run (ban checks are then skipped)."""

import dagster as dg
import pytest

from crawl_pipeline_tests.smurf_tests.test_analyzer_e2e import phase_metadata, run_analyzer
from crawl_pipeline_tests.support import analyzer_definitions


def test_rescoring_is_idempotent_and_history_is_kept_per_model_version(analyzed, simulator, dagster_instance):
    url, db = analyzed
    defs = analyzer_definitions(url, simulator.url)
    columns = ("account_id, model_version, win_rate, kda, account_level, rank_discrepancy, rank_progression, "
               "win_rate_trend, performance_consistency, performance_trends, role_performance, total_score, threshold, "
               "is_smurf, weights, matches_used, batch_key")
    v1 = db.fetch_all(f"SELECT {columns} FROM smurf_scores ORDER BY account_id")
    assert v1

    scores_only = run_analyzer(defs, dagster_instance, asset_selection=[dg.AssetKey("smurf_scores")])
    assert scores_only.success
    meta = phase_metadata(scores_only, "smurf_scores")
    assert meta["records_created"] == 0 and meta["records_updated"] == len(v1)
    assert db.fetch_all(f"SELECT {columns} FROM smurf_scores ORDER BY account_id") == v1

    v2_config = {"ops": {"smurf_scores": {"config": {"model_version": "smurf-v2-test", "threshold": 0.4,
                                                      "weights": {"win_rate": 1.0, "kda": 1.0}}}}}
    v2 = run_analyzer(defs, dagster_instance, run_config=v2_config, asset_selection=[dg.AssetKey("smurf_scores")])
    assert v2.success
    assert phase_metadata(v2, "smurf_scores")["records_created"] == len(v1)
    assert db.fetch_all(f"SELECT {columns} FROM smurf_scores WHERE model_version = 'smurf-v1' ORDER BY account_id") == v1
    versions = db.fetch_all("SELECT model_version, count(*) AS n, min(threshold) AS t FROM smurf_scores GROUP BY 1 ORDER BY 1")
    assert [(r["model_version"], r["n"]) for r in versions] == [("smurf-v1", len(v1)), ("smurf-v2-test", len(v1))]
    assert versions[1]["t"] == pytest.approx(0.4)
    weights = db.fetch_value("SELECT weights FROM smurf_scores WHERE model_version = 'smurf-v2-test' LIMIT 1")
    assert weights["win_rate"] == pytest.approx(0.5) and weights["role_performance"] == 0


def test_database_error_fails_the_run_and_rolls_back(analyzed, simulator, dagster_instance):
    url, db = analyzed
    defs = analyzer_definitions(url, simulator.url)
    before = db.fetch_value("SELECT count(*) FROM smurf_scores")
    assert before > 0
    # a constraint the upsert violates: the whole scoring transaction must roll back
    with db.transaction() as conn:
        conn.execute("DELETE FROM smurf_scores")
        conn.execute("ALTER TABLE smurf_scores ADD CONSTRAINT test_no_scores CHECK (total_score < 0)")
    result = run_analyzer(defs, dagster_instance, asset_selection=[dg.AssetKey("smurf_scores"), dg.AssetKey("ban_checks")])
    assert not result.success
    assert db.fetch_value("SELECT count(*) FROM smurf_scores") == 0
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed and "test_no_scores" in str(failed[0].step_failure_data.error.cause or failed[0].step_failure_data.error)
    # ban checks depend on the scores: they did not run
    assert not [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("ban_checks")]
    assert not [e for e in result.all_events if e.event_type_value == "STEP_SUCCESS" and e.step_key == "ban_checks"]
