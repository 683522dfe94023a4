import multiprocessing

import psycopg
import pytest

from crawl_pipeline.db import migrate

DOMAIN_TABLES = {
    "accounts", "account_batches", "heroes", "hero_stats", "matches", "match_players", "players_encountered",
    "hero_top100", "player_match_type_stats", "smurf_scores", "ban_checks", "rank_snapshots", "sync_log",
    "rate_limit_windows", "rate_limit_backoff", "api_requests", "schema_migrations",
}


def _tables(url):
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}


def test_fresh_database_gets_every_table_and_records_versions(make_database):
    url = make_database("mig_fresh")
    applied = migrate.upgrade(url)
    assert [m.version for m in applied] == [m.version for m in migrate.available_migrations()]
    assert _tables(url) >= DOMAIN_TABLES
    assert migrate.current_version(url) == migrate.available_migrations()[-1].version


def test_rerun_applies_nothing(make_database):
    url = make_database("mig_rerun")
    migrate.upgrade(url)
    assert migrate.upgrade(url) == []


def _upgrade_in_process(url):
    return len(migrate.upgrade(url))


def test_concurrent_upgrades_apply_each_migration_once(make_database):
    url = make_database("mig_concurrent")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        counts = pool.map(_upgrade_in_process, [url] * 4)
    assert sum(counts) == len(migrate.available_migrations())
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, count(*) FROM schema_migrations GROUP BY version").fetchall()
    assert all(count == 1 for _, count in rows)


def test_edited_migration_is_refused(make_database):
    url = make_database("mig_edited")
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.upgrade(url)


def test_schema_rejects_anonymous_account_and_bad_batch_keys(db):
    with db.transaction() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO accounts (account_id, depth) VALUES (4294967295, 0)")
    with db.transaction() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES ('d1,2', 1, 2, 1)")
