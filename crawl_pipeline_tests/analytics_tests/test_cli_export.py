"""`crawl-pipeline export [--parquet DIR]` on the session database."""

from __future__ import annotations

from pathlib import Path

import duckdb
from click.testing import CliRunner

from crawl_pipeline.commands.export import export


def test_export_writes_duckdb_and_parquet(crawled_db, cli_env, tmp_path):
    result = CliRunner().invoke(export, ["--parquet", str(tmp_path / "pq")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    path = Path(cli_env["CRAWL_DATA_DIR"]) / "analytics.duckdb"
    assert str(path) in result.output and "match_players" in result.output
    with duckdb.connect(str(path), read_only=True) as duck:
        assert duck.execute("SELECT count(*) FROM matches").fetchall()[0][0] == crawled_db.counts["matches"]
    assert (tmp_path / "pq" / "matches.parquet").exists()


def test_unwritable_target_is_one_line_and_exit_2(crawled_db, cli_env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(export, ["--duckdb", str(blocker / "sub" / "a.duckdb")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "error" in result.output


def test_unreachable_database_is_one_line_and_exit_2(cli_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    result = CliRunner().invoke(export, [])
    assert result.exit_code == 2 and "error" in result.output and "Traceback" not in result.output
