"""Issue 18.7 / 18.9 / 17.9: DuckDB SQL never built from raw paths; a full disk is one clear line with the
old file intact; the report prints account ids plain."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from crawl_pipeline.analytics import duckdb_export
from crawl_pipeline.analytics.duckdb_sql import sql_quote
from crawl_pipeline.analytics.report import html_table, write_report
from crawl_pipeline.commands.export import export
from crawl_pipeline.defs.analytics import definitions as analytics
from crawl_pipeline_tests.smurf_tests.conftest import (  # noqa: F401 - fixtures
    crawl_template,
    crawled,
    simulator,
)
from crawl_pipeline_tests.support import QUIET, analyzer_definitions

NASTY = [
    "it's",
    "back\\slash\\",
    "new\nline",
    "ünïcødé 名前 🐉",
    "''; DROP TABLE accounts; --",
    'double "quotes"',
    "x' (FORMAT csv); COPY accounts TO '/tmp/pwned.csv'; --",
]
CRAFTED_DIR = "pq' (FORMAT csv); COPY accounts TO 'PWNED.csv' (FORMAT csv); --"


@pytest.mark.parametrize("value", NASTY)
def test_sql_quote_round_trips_literals_and_identifiers(value, tmp_path):
    with duckdb.connect(":memory:") as duck:
        assert duck.execute(f"SELECT {sql_quote(value)}").fetchall()[0][0] == value
        duck.execute(f"CREATE TABLE {sql_quote(value, identifier=True)} AS SELECT 1 AS x")
        assert duck.execute("SELECT table_name FROM information_schema.tables").fetchall() == [(value,)]
    # DuckDB reads a backslash in a database path as a separator (export_duckdb refuses such paths)
    path = tmp_path / value.replace("/", "_").replace("\\", "_").join(("db ", ".duckdb"))
    with duckdb.connect(str(path)) as duck:
        duck.execute("CREATE TABLE t AS SELECT 42 AS answer")
    with duckdb.connect(":memory:") as duck:  # a path that is not a parameter: ATTACH
        duck.execute(f"ATTACH {sql_quote(path)} AS a (READ_ONLY)")
        assert duck.execute("SELECT answer FROM a.t").fetchall() == [(42,)]


def test_sql_quote_refuses_nul():
    with pytest.raises(ValueError):
        sql_quote("a\x00b")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_cli_with_crafted_parquet_dir_and_apostrophe_path(crawled, cli_env, tmp_path, monkeypatch):  # noqa: F811
    url, _db = crawled
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    parquet = tmp_path / CRAFTED_DIR / "new\nline ünï's back\\slash"
    target = tmp_path / "it's a dir" / "analytics 名前\n.duckdb"
    result = CliRunner().invoke(export, ["--parquet", str(parquet), "--duckdb", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (parquet / "accounts.parquet").exists() and (parquet / "ban_checks.parquet").exists()
    assert not list(tmp_path.rglob("PWNED.csv")) and not Path("/tmp/pwned.csv").exists()
    with duckdb_export.open_analytics(target) as duck:
        accounts = duck.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    assert accounts == _db.fetch_value("SELECT count(*) FROM accounts") > 0
    with duckdb.connect(":memory:") as duck:
        assert duck.execute("SELECT count(*) FROM read_parquet(?)", [str(parquet / "accounts.parquet")]).fetchall()[0][0] == accounts
    backslash = CliRunner().invoke(export, ["--duckdb", str(tmp_path / "a\\b" / "x.duckdb")])
    assert backslash.exit_code == 2 and len(backslash.output.strip().splitlines()) == 1
    assert "backslash" in backslash.output and "Traceback" not in backslash.output


def test_asset_parquet_dir_crafted_and_full_disk_fails_clearly_with_old_file_intact(
    crawled, dagster_instance, simulator, tmp_path, monkeypatch  # noqa: F811
):
    url, _db = crawled
    target = tmp_path / "o'brien" / "analytics.duckdb"
    parquet = tmp_path / CRAFTED_DIR
    monkeypatch.setenv("CRAWL_DATA_DIR", str(tmp_path / "data"))
    defs = analyzer_definitions(url, simulator.url)
    config = {**QUIET, "ops": {"analytics_duckdb": {"config": {"path": str(target), "parquet_dir": str(parquet)}}}}

    def materialize():
        return dg.materialize(analytics.defs.assets, selection=["analytics_duckdb"], instance=dagster_instance,
                              resources=defs.resources, run_config=config, raise_on_error=False)

    assert materialize().success
    assert (parquet / "matches.parquet").exists() and not list(tmp_path.rglob("PWNED.csv"))
    before = _digest(target)
    real_copy = duckdb_export.copy_table
    copied = []

    def disk_fills(conn, duck, table, *args, **kwargs):
        if len(copied) == 3:
            raise duckdb.IOException('IO Error: Could not write file "x.tmp": No space left on device')
        copied.append(table)
        return real_copy(conn, duck, table, *args, **kwargs)

    monkeypatch.setattr(duckdb_export, "copy_table", disk_fills)
    failed = materialize()
    assert not failed.success
    message = failed.get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert "\n" not in message and message.startswith("analytics_duckdb: cannot write")
    assert "No space left on device" in message and "previous file is unchanged" in message
    assert _digest(target) == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["analytics.duckdb"]  # no temporary file left


@pytest.mark.parametrize("error", [duckdb.IOException("IO Error: No space left on device"),
                                   duckdb.FatalException("FATAL Error: failed to flush: No space left on device")])
def test_cli_full_disk_is_one_line_and_exit_2(crawled, cli_env, tmp_path, monkeypatch, error):  # noqa: F811
    url, _db = crawled
    monkeypatch.setenv("DATABASE_URL", url)
    target = tmp_path / "analytics.duckdb"
    assert CliRunner().invoke(export, ["--duckdb", str(target)]).exit_code == 0
    before = _digest(target)

    def full(conn, duck, table, *args, **kwargs):
        raise error

    monkeypatch.setattr(duckdb_export, "copy_table", full)
    result = CliRunner().invoke(export, ["--duckdb", str(target)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("crawl-pipeline: error: cannot write") and "No space left on device" in lines[0]
    assert _digest(target) == before and sorted(p.name for p in tmp_path.iterdir() if "duckdb" in p.name) == [
        "analytics.duckdb"]


def test_report_prints_every_account_id_plain():
    page = html_table(["account_id", "leader", "games", "match_id"], [(1234567890, 98765432, 123456, 7123456789)])
    assert "<td>1234567890</td>" in page and "<td>98765432</td>" in page and "<td>7123456789</td>" in page
    assert "<td>123,456</td>" in page  # counts keep their separators


def test_report_from_a_crawl_has_no_id_with_separators(crawled, dagster_instance, simulator, tmp_path, monkeypatch):  # noqa: F811
    url, db = crawled
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "analytics.duckdb"))
    monkeypatch.setenv("CRAWL_DATA_DIR", str(tmp_path))
    defs = analyzer_definitions(url, simulator.url)
    assert dg.materialize(analytics.defs.assets, instance=dagster_instance, resources=defs.resources, run_config=QUIET,
                          selection=["hero_top100", "leaderboards", "player_match_type_stats", "analytics_duckdb"]).success
    result = write_report(tmp_path / "analytics.duckdb", tmp_path / "report.html")
    page = result.path.read_text()
    ids = [r["account_id"] for r in db.fetch_all("SELECT DISTINCT account_id FROM leaderboards UNION "
                                                "SELECT account_id FROM hero_top100 WHERE position = 1")]
    shown = [i for i in ids if f"<td>{i}</td>" in page]
    assert shown and all(f"{i:,}" not in page for i in shown if i >= 1000)
