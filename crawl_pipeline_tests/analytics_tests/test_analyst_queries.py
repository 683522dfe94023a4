"""Every SQL block of docs/analyst-queries.md runs against a freshly built DuckDB file."""

from __future__ import annotations

import re

import duckdb
import pytest

from crawl_pipeline.analytics.duckdb_export import export_duckdb
from crawl_pipeline.analytics.views import VIEWS
from crawl_pipeline.db import aggregates, leaderboards
from crawl_pipeline.db.stack import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "analyst-queries.md"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)
QUERIES = SQL_BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_guide_has_at_least_five_queries_and_documents_every_view_and_table():
    assert len(QUERIES) >= 5
    text = DOC.read_text(encoding="utf-8")
    for name in [*VIEWS, "player_match_type_stats", "hero_top100", "leaderboards", "smurf_scores", "heroes"]:
        assert f"`{name}`" in text, name


@pytest.fixture
def analytics_file(crawled_db, tmp_path):
    with crawled_db.transaction() as conn:
        leaderboards.rebuild_hero_top100(conn)
        leaderboards.rebuild_leaderboards(conn, min_games=300)
        aggregates.rebuild_all(conn)
        conn.execute("UPDATE smurf_scores SET is_smurf = true WHERE account_id IN (1010, 1020)")
    with crawled_db.transaction() as conn:
        export_duckdb(conn, tmp_path / "analytics.duckdb")
    return tmp_path / "analytics.duckdb"


def test_every_documented_query_runs_and_returns_rows(analytics_file):
    with duckdb.connect(str(analytics_file), read_only=True) as duck:
        for number, query in enumerate(QUERIES, start=1):
            rows = duck.execute(query).fetchall()
            assert rows, f"query {number} returned no rows:\n{query}"
