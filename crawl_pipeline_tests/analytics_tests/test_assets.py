"""Real Dagster materializations of the analytics assets on a dagster-postgres instance."""

from __future__ import annotations

import dagster as dg
import duckdb

from crawl_pipeline.defs.analytics import definitions as analytics
from crawl_pipeline.defs.analytics.assets import (
    analytics_duckdb,
    analytics_duckdb_drift,
    analytics_report,
    hero_top100,
    hero_top100_valid,
    leaderboards_asset,
    leaderboards_valid,
    player_match_type_stats,
    player_match_type_stats_consistent,
    player_match_type_stats_lag,
)
from crawl_pipeline.defs.pools import POOL_LIMITS, ensure_pool_limits
from crawl_pipeline.defs.reference.assets import heroes
from crawl_pipeline.defs.resources import PostgresResource


def _materialize(assets, instance, database_url, run_config=None, selection=None):
    result = dg.materialize(
        assets,
        instance=instance,
        resources={"postgres": PostgresResource(database_url=database_url)},
        run_config=run_config,
        selection=selection,
    )
    assert result.success
    return result


def _metadata(instance, key):
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    return event.asset_materialization.metadata


def _checks(result):
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


ALL = [hero_top100, leaderboards_asset, player_match_type_stats, analytics_duckdb, analytics_report,
       hero_top100_valid, leaderboards_valid, player_match_type_stats_lag, player_match_type_stats_consistent,
       analytics_duckdb_drift]


def test_the_whole_analytics_group_materializes_with_passing_checks(
    crawled_db, dagster_instance, database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("CRAWL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "data" / "analytics.duckdb"))
    result = _materialize(
        ALL,
        dagster_instance,
        database_url,
        run_config={"ops": {"player_match_type_stats": {"config": {"batch_size": 50}},
                            "leaderboards": {"config": {"min_games": 300}}}},
    )
    checks = _checks(result)
    assert len(checks) == 8
    assert all(c.passed for c in checks.values()), {k: c.passed for k, c in checks.items()}

    top = _metadata(dagster_instance, "hero_top100")
    assert top["heroes"].value == 127 and top["rows"].value > 0 and "Anti-Mage" in top["per_hero"].value
    boards = _metadata(dagster_instance, "leaderboards")
    assert boards["min_games"].value == 300 and "Most matches" in boards["preview"].value
    agg = _metadata(dagster_instance, "player_match_type_stats")
    assert agg["batches"].value > 3 and agg["pending_matches"].value == 0 and agg["unknown_hero_players"].value > 0
    export = _metadata(dagster_instance, "analytics_duckdb")
    assert export["path"].value == str(tmp_path / "data" / "analytics.duckdb")
    assert export["rows_match_players"].value == crawled_db.counts["match_players"]
    report = _metadata(dagster_instance, "analytics_report")
    html = (tmp_path / "data" / "report.html").read_text()
    assert report["path"].value == str(tmp_path / "data" / "report.html") and report["plots"].value == 3
    assert "Most matches (all heroes)" in html and html.count("data:image/png;base64,") == 3
    with duckdb.connect(export["path"].value, read_only=True) as duck:
        assert duck.execute("SELECT count(*) FROM player_match_type_stats").fetchall()[0][0] > 0


def test_full_rebuild_job_config_gives_the_same_table(crawled_db, dagster_instance, database_url):
    _materialize([heroes, player_match_type_stats], dagster_instance, database_url,
                 run_config={"ops": {"player_match_type_stats": {"config": {"batch_size": 41}}}},
                 selection=[player_match_type_stats])
    with crawled_db.transaction() as conn:
        incremental = conn.execute("SELECT * FROM player_match_type_stats ORDER BY 1, 2, 3").fetchall()
    _materialize([player_match_type_stats], dagster_instance, database_url,
                 run_config={"ops": {"player_match_type_stats": {"config": {"full_rebuild": True}}}})
    with crawled_db.transaction() as conn:
        rebuilt = conn.execute("SELECT * FROM player_match_type_stats ORDER BY 1, 2, 3").fetchall()
    strip = lambda rows: [r[:-1] for r in rows]
    assert strip(rebuilt) == strip(incremental)
    assert _metadata(dagster_instance, "player_match_type_stats")["mode"].value == "full rebuild"


def test_lag_check_fails_on_old_pending_matches(crawled_db, dagster_instance, database_url):
    result = dg.materialize(
        [player_match_type_stats, player_match_type_stats_lag],
        instance=dagster_instance,
        resources={"postgres": PostgresResource(database_url=database_url)},
        selection=dg.AssetSelection.checks(player_match_type_stats_lag),
        run_config={"ops": {"player_match_type_stats_player_match_type_stats_lag": {"config": {"max_age_minutes": 5}}}},
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["pending_matches"].value > 0


def test_hero_top100_check_catches_a_gap(crawled_db, dagster_instance, database_url):
    _materialize([hero_top100], dagster_instance, database_url)
    with crawled_db.transaction() as conn:
        conn.execute("DELETE FROM hero_top100 WHERE position = 2")
    result = dg.materialize([hero_top100, hero_top100_valid], instance=dagster_instance,
                            resources={"postgres": PostgresResource(database_url=database_url)},
                            selection=dg.AssetSelection.checks(hero_top100_valid), raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.metadata["gaps"].value > 0


def test_definitions_wire_jobs_schedules_pool_and_automation():
    defs = dg.Definitions.merge(
        analytics.defs,
        dg.Definitions(assets=[heroes], resources={"postgres": PostgresResource(database_url="postgresql://unused/none")}),
    )
    graph = defs.resolve_asset_graph()
    assert {"hero_top100", "leaderboards", "player_match_type_stats", "analytics_duckdb", "analytics_report"} <= {
        k.to_user_string() for k in graph.get_all_asset_keys()
    }
    for job in analytics.defs.jobs:
        defs.resolve_job_def(job.name)
    assert not analytics.defs.schedules  # the aggregation's 5-minute clock is its automation condition
    assert "*/5 * * * *" in str(graph.get(dg.AssetKey("player_match_type_stats")).automation_condition)
    assert analytics_duckdb.op.pool == "duckdb_writer"
    for asset in analytics.defs.assets:
        spec = next(iter(asset.specs))
        assert spec.group_name == "analytics" and spec.kinds and spec.description
    assert graph.get(dg.AssetKey("analytics_report")).automation_condition is not None


def test_pool_limits_are_set_on_the_instance(dagster_instance):
    ensure_pool_limits(dagster_instance)
    assert dagster_instance.event_log_storage.get_concurrency_info("duckdb_writer").slot_count == 1
    assert dagster_instance.event_log_storage.get_concurrency_info("provider_api").slot_count == POOL_LIMITS["provider_api"]
