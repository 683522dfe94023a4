"""The DuckDB copy: complete, typed, swapped in atomically, readable while replaced."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from crawl_pipeline.analytics import duckdb_export
from crawl_pipeline.analytics.duckdb_export import EXPORT_TABLES, duckdb_row_counts, export_duckdb, open_analytics
from crawl_pipeline.analytics.views import VIEWS
from crawl_pipeline.db import aggregates, leaderboards


@pytest.fixture
def analytics_db(crawled_db):
    with crawled_db.transaction() as conn:
        leaderboards.rebuild_hero_top100(conn)
        leaderboards.rebuild_leaderboards(conn, min_games=300)
        aggregates.rebuild_all(conn)
    return crawled_db


def _export(db, path, **kwargs):
    with db.transaction() as conn:
        return export_duckdb(conn, path, **kwargs)


def test_every_table_and_view_arrives_with_postgres_row_counts(analytics_db, tmp_path):
    path = tmp_path / "analytics.duckdb"
    result = _export(analytics_db, path)
    with analytics_db.transaction() as conn:
        pg = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in EXPORT_TABLES}
    # the synthetic crawl fills the tables the views read; the others may be empty here
    # (test_export_coverage.py copies every one of them from a simulator crawl)
    filled = ("heroes", "accounts", "hero_stats", "hero_top100", "leaderboards", "matches", "match_players",
              "player_match_type_stats", "smurf_scores")
    assert result.rows == pg and all(pg[t] > 0 for t in filled)
    with duckdb.connect(str(path), read_only=True) as duck:
        counts = duckdb_row_counts(duck)
        assert {t: c["duckdb"] for t, c in counts.items()} == pg
        assert all(c["duckdb"] == c["postgres"] for c in counts.values())
        for view in VIEWS:
            duck.execute(f"SELECT * FROM {view} LIMIT 5").fetchall()
        types = dict(duck.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 'matches'").fetchall())
        assert types["start_time"] == "TIMESTAMP WITH TIME ZONE" and types["has_details"] == "BOOLEAN"
        assert types["match_id"] == "BIGINT" and types["lobby_type"] == "SMALLINT"
        roles = duck.execute("SELECT roles FROM heroes WHERE hero_id = 1").fetchall()[0][0]
        assert isinstance(roles, list) and "Carry" in roles
        weights = duck.execute("SELECT weights->>'win_rate' FROM smurf_scores LIMIT 1").fetchall()[0][0]
        assert float(weights) == 0.2
        # NULLs stay NULL, values survive the CSV hop exactly
        nulls = duck.execute("SELECT count(*) FROM match_players WHERE account_id IS NULL").fetchall()[0][0]
    with analytics_db.transaction() as conn:
        assert nulls == conn.execute("SELECT count(*) FROM match_players WHERE account_id IS NULL").fetchone()[0]
        pg_sum = conn.execute("SELECT sum(gold_per_min), sum(extract(epoch FROM start_time)) FROM match_players "
                              "JOIN matches USING (match_id)").fetchone()
    with open_analytics(path) as duck:
        dd_sum = duck.execute("SELECT sum(gold_per_min), sum(epoch(start_time)) FROM match_players "
                              "JOIN matches USING (match_id)").fetchall()[0]
    assert dd_sum[0] == pg_sum[0] and float(dd_sum[1]) == pytest.approx(float(pg_sum[1]))


def test_old_reader_keeps_working_while_the_file_is_replaced(analytics_db, tmp_path):
    path = tmp_path / "analytics.duckdb"
    _export(analytics_db, path)
    old = duckdb.connect(str(path), read_only=True)
    old_accounts = old.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    with analytics_db.transaction() as conn:
        conn.execute("DELETE FROM accounts WHERE account_id > 1100")
    _export(analytics_db, path)
    # The analyst's open connection still reads the old file ...
    assert old.execute("SELECT count(*) FROM accounts").fetchall()[0][0] == old_accounts
    assert old.execute("SELECT count(*) FROM v_player_hero_stats").fetchall()[0][0] > 0
    # ... and a new reader sees the new one.
    with open_analytics(path) as new:
        assert new.execute("SELECT count(*) FROM accounts").fetchall()[0][0] == 100
    old.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb"]  # no temporary files left


def test_a_failed_export_leaves_the_old_file_untouched(analytics_db, tmp_path, monkeypatch):
    path = tmp_path / "analytics.duckdb"
    _export(analytics_db, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("connection lost mid-copy")

    monkeypatch.setattr(duckdb_export, "_reference_tables", broken)
    with pytest.raises(RuntimeError):
        _export(analytics_db, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb"]


def test_empty_tables_and_parquet_export(hero_db, tmp_path):
    result = _export(hero_db, tmp_path / "a.duckdb", parquet_dir=tmp_path / "parquet")
    assert result.rows["matches"] == 0 and result.rows["heroes"] == 127
    files = {p.name for p in (tmp_path / "parquet").iterdir()}
    assert {f"{t}.parquet" for t in EXPORT_TABLES} <= files
    assert pq.read_table(tmp_path / "parquet" / "heroes.parquet").num_rows == 127
    assert pq.read_table(tmp_path / "parquet" / "match_players.parquet").num_rows == 0
