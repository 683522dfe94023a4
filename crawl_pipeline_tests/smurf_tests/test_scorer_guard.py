"""Issue 17.3: the smurf scorer guards each account: one account whose scoring raises, and one whose
score could not be stored (a signal outside [0, 1] would fail the table's CHECK and roll back every
score), are recorded with their error; every other account is scored and stored."""

import dataclasses
import math

import dagster as dg

from crawl_pipeline.crawl import smurf as smurf_engine
from crawl_pipeline_tests.smurf_tests.test_analyzer_e2e import phase_metadata, run_analyzer
from crawl_pipeline_tests.support import analyzer_definitions


def test_one_bad_account_is_recorded_and_the_phase_goes_on(analyzed, simulator, dagster_instance, monkeypatch):
    url, db = analyzed
    before = {r["account_id"] for r in db.fetch_all("SELECT account_id FROM smurf_scores")}
    assert len(before) >= 3
    raising, broken, *_ = sorted(before)
    with db.transaction() as conn:
        conn.execute("DELETE FROM smurf_scores")
    real_score = smurf_engine.score

    def flaky_score(history, baselines, model, **kwargs):
        if history.account_id == raising:
            raise ZeroDivisionError("float division by zero")
        result = real_score(history, baselines, model, **kwargs)
        if history.account_id == broken:
            return dataclasses.replace(result, total_score=math.nan)
        return result

    monkeypatch.setattr(smurf_engine, "score", flaky_score)
    defs = analyzer_definitions(url, simulator.url)
    result = run_analyzer(defs, dagster_instance, asset_selection=[dg.AssetKey("smurf_scores")])
    assert result.success
    meta = phase_metadata(result, "smurf_scores")
    assert meta["players_failed"] == 2
    assert f"{raising}: ZeroDivisionError: float division by zero" in meta["error_sample"]
    assert f"{broken}: total_score nan outside [0, 1]" in meta["error_sample"]
    stored = {r["account_id"] for r in db.fetch_all("SELECT account_id FROM smurf_scores")}
    assert stored == before - {raising, broken}
    assert meta["scored"] == len(stored)
    assert dagster_instance.get_run_by_id(result.run_id).tags["smurf/players_failed_scores"] == "2"
