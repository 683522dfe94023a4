"""The HTML report: self-contained, readable from an empty and a populated copy."""

from __future__ import annotations

import re

from crawl_pipeline.analytics.duckdb_export import export_duckdb
from crawl_pipeline.analytics.report import write_report
from crawl_pipeline.db import aggregates, leaderboards


def _export(db, path):
    with db.transaction() as conn:
        export_duckdb(conn, path)


def test_report_of_an_empty_crawl_renders_without_plots(hero_db, tmp_path):
    _export(hero_db, tmp_path / "a.duckdb")
    result = write_report(tmp_path / "a.duckdb", tmp_path / "out" / "report.html")
    text = result.path.read_text()
    assert result.plots == 0 and "No rows yet" in text and "No data to plot yet" in text


def test_report_embeds_plots_and_leaderboards(crawled_db, tmp_path):
    with crawled_db.transaction() as conn:
        leaderboards.rebuild_hero_top100(conn)
        leaderboards.rebuild_leaderboards(conn, min_games=300)
        aggregates.rebuild_all(conn)
        leader = leaderboards.board_rows(conn, "most_matches", 0, 1)[0]["account_id"]
    _export(crawled_db, tmp_path / "a.duckdb")
    result = write_report(tmp_path / "a.duckdb", tmp_path / "report.html", min_games=300)
    text = result.path.read_text()
    assert result.plots == 3 and text.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=['\"]https?:", text)
    assert str(leader) in text and "at least 300 matches" in text and "ranked" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.duckdb", "report.html"]
