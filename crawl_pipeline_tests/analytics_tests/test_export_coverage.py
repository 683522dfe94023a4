"""Every domain table reaches the analysts: after a simulator crawl and a smurf analyzer run (scores and
ban checks), the analytics_duckdb asset on a dagster-postgres instance copies every domain table of the
migrations, the smurf-to-ban views answer, and the data dictionary has a heading for every table."""

from __future__ import annotations

import re

import dagster as dg

from crawl_pipeline.analytics.duckdb_export import EXPORT_TABLES, OPERATIONAL_TABLES, open_analytics
from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline.defs.analytics import definitions as analytics
from crawl_pipeline_tests.smurf_tests.conftest import (  # noqa: F401 - fixtures
    analyzed,
    analyzed_template,
    crawl_template,
    simulator,
)
from crawl_pipeline_tests.support import QUIET, analyzer_definitions


def _pg_tables(db) -> set[str]:
    return {r["tablename"] for r in db.fetch_all("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_every_postgres_table_is_exported_or_declared_operational(session_db):
    tables = _pg_tables(session_db)
    assert set(EXPORT_TABLES) <= tables
    assert tables - set(EXPORT_TABLES) - set(OPERATIONAL_TABLES) == set(), "classify the new table(s)"


def test_data_dictionary_has_a_heading_for_every_table(session_db):
    text = (PROJECT_ROOT / "docs" / "data-dictionary.md").read_text()
    headed = {name.strip() for line in re.findall(r"^## (.+)$", text, re.MULTILINE) for name in line.split(",")}
    assert _pg_tables(session_db) - headed == set()


def test_duckdb_copy_holds_every_domain_table_with_smurf_ban_views(analyzed, dagster_instance, simulator, tmp_path,  # noqa: F811
                                                                   monkeypatch):
    url, db = analyzed
    assert db.fetch_value("SELECT count(*) FROM ban_checks") > 0  # the analyzer checked its flagged accounts
    path = tmp_path / "analytics.duckdb"
    monkeypatch.setenv("DUCKDB_PATH", str(path))
    defs = analyzer_definitions(url, simulator.url)
    result = dg.materialize(
        analytics.defs.assets, selection=["analytics_duckdb"], instance=dagster_instance, resources=defs.resources,
        run_config=QUIET,
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    pg_rows = {t: db.fetch_value(f'SELECT count(*) FROM "{t}"') for t in _pg_tables(db) - set(OPERATIONAL_TABLES)}
    with open_analytics(path) as duck:
        duck_tables = {r[0] for r in duck.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()}
        assert set(pg_rows) <= duck_tables
        assert {t: duck.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in pg_rows} == pg_rows
        for table in ("ban_checks", "players_encountered", "rank_snapshots", "account_batches"):
            assert pg_rows[table] > 0, table
        outcomes = dict(duck.execute(
            "SELECT ban_outcome, count(*) FROM v_smurf_ban_outcomes GROUP BY 1").fetchall())
        assert sum(outcomes.values()) == pg_rows["smurf_scores"]
        checked = duck.execute(
            "SELECT count(*) FROM v_smurf_ban_outcomes WHERE ban_outcome <> 'not checked'").fetchall()[0][0]
        assert checked == duck.execute(
            "SELECT count(*) FROM smurf_scores JOIN ban_checks USING (account_id)").fetchall()[0][0] > 0
        summary = duck.execute(
            "SELECT sum(accounts), sum(checked), sum(banned) FROM v_smurf_ban_summary").fetchall()[0]
        assert summary[0] == pg_rows["smurf_scores"] and summary[1] == checked
        assert summary[2] == outcomes.get("banned", 0)
    materialization = dagster_instance.get_latest_materialization_event(dg.AssetKey("analytics_duckdb"))
    metadata = materialization.asset_materialization.metadata
    assert metadata["rows_ban_checks"].value == pg_rows["ban_checks"]
