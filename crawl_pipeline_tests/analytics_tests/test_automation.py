"""Fresh by default: the automation sensor (RUNNING from the first deployment) brings every downstream
asset up to date after a crawl of the simulator, on a dagster-postgres instance; the freshness checks
go red once the copies are older than their policy; the runbook lists every sensor and schedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline.definitions import defs as project_defs
from crawl_pipeline.defs.analytics import definitions as analytics
from crawl_pipeline.defs.analytics.automation import FRESHNESS_POLICIES, freshness_checks_job
from crawl_pipeline_tests.smurf_tests.conftest import (  # noqa: F401 - fixtures
    crawl_template,
    crawled,
    simulator,
)
from crawl_pipeline_tests.support import QUIET, analyzer_definitions

DOWNSTREAM = {"hero_top100", "leaderboards", "player_match_type_stats", "analytics_duckdb", "analytics_report"}


def test_downstream_automation_and_freshness_sensors_run_by_default():
    sensors = {s.name: s for s in project_defs.sensors}
    automation = sensors["analytics_automation_sensor"]
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    graph = project_defs.resolve_asset_graph()
    targeted = {k.to_user_string() for k in automation.asset_selection.resolve(graph)}
    assert targeted == DOWNSTREAM
    assert all(graph.get(dg.AssetKey(k)).automation_condition is not None for k in DOWNSTREAM)
    assert sensors["analytics_freshness_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    # no asset with an automation condition is left to Dagster's default (stopped) automation sensor
    automated = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition}
    assert automated == DOWNSTREAM


def test_runbook_lists_every_sensor_and_schedule_with_its_default_status():
    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Turning the crawl on", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z0-9_]+)` \| [^|]+ \| [^|]+ \| \*\*(RUNNING|STOPPED)\*\*", section, re.MULTILINE)}
    expected = {s.name: s.default_status.value for s in project_defs.sensors}
    expected.update({s.name: s.default_status.value for s in project_defs.schedules})
    assert rows == expected


def _run_requested(defs, instance, keys, evaluations):
    assets = [a for a in analytics.defs.assets if a.key in keys]
    result = dg.materialize(
        analytics.defs.assets, selection=list(keys), instance=instance, resources=defs.resources, run_config=QUIET,
    )
    assert result.success, keys
    evaluations.append(sorted(k.to_user_string() for k in keys))
    return assets


def test_automation_brings_every_downstream_asset_up_to_date_and_freshness_goes_red(
    crawled, dagster_instance, simulator, tmp_path, monkeypatch  # noqa: F811
):
    url, db = crawled
    monkeypatch.setenv("CRAWL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "data" / "analytics.duckdb"))
    defs = analyzer_definitions(url, simulator.url)
    selection = dg.AssetSelection.assets(*DOWNSTREAM)
    now = datetime.now(UTC)
    tick = now.replace(minute=0, second=0, microsecond=0)  # the last hourly tick (also a 5- and 10-minute tick)
    # the daemon's first evaluation, just before the tick: nothing yet
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=dagster_instance, asset_selection=selection, evaluation_time=tick - timedelta(seconds=30)
    )
    assert result.total_requested == 0
    evaluations: list[list[str]] = []
    cursor = result.cursor
    for _ in range(8):  # then evaluations after it, running what each one requests, as the sensor's runs would
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=dagster_instance, asset_selection=selection, cursor=cursor,
            evaluation_time=datetime.now(UTC),
        )
        cursor = result.cursor
        requested = {dg.AssetKey(k) for k in DOWNSTREAM if result.get_requested_partitions(dg.AssetKey(k))}
        if not requested:
            break
        _run_requested(defs, dagster_instance, requested, evaluations)
    assert {"hero_top100", "player_match_type_stats"} <= set(evaluations[0])
    assert {a for step in evaluations for a in step} == DOWNSTREAM
    assert result.total_requested == 0, evaluations  # settled: nothing more until the next tick
    for key in DOWNSTREAM:
        assert dagster_instance.get_latest_materialization_event(dg.AssetKey(key)) is not None, key
    assert (tmp_path / "data" / "analytics.duckdb").exists() and (tmp_path / "data" / "report.html").exists()
    assert db.fetch_value("SELECT count(*) FROM hero_top100") > 0

    def run_checks(at: datetime) -> dict[str, bool]:
        with freeze_time(at):
            checks = defs.resolve_job_def(freshness_checks_job.name).execute_in_process(
                instance=dagster_instance, run_config=QUIET, raise_on_error=False
            )
        return {e.asset_key.to_user_string(): e.passed for e in checks.get_asset_check_evaluations()}

    assert run_checks(datetime.now(UTC)) == dict.fromkeys(FRESHNESS_POLICIES, True)
    # 45 minutes on, without rebuilds: the leaderboards are stale, the hourly DuckDB copy not yet
    assert run_checks(datetime.now(UTC) + timedelta(minutes=45)) == {
        "hero_top100": False, "leaderboards": False, "analytics_duckdb": True,
    }
    assert run_checks(datetime.now(UTC) + timedelta(hours=3)) == dict.fromkeys(FRESHNESS_POLICIES, False)


@pytest.mark.parametrize("path", [Path("docs") / "operations.md"])
def test_runbook_names_the_freshness_policies(path):
    text = (PROJECT_ROOT / path).read_text()
    for asset in FRESHNESS_POLICIES:
        assert f"`{asset}`" in text
