"""Migration 0013 on a database holding rows of the old identity model, and concurrent replacements."""

from __future__ import annotations

import threading

import psycopg
import pytest

from crawl_pipeline.db import identity as identity_db
from crawl_pipeline.db import migrate
from crawl_pipeline.db.pool import Database
from crawl_pipeline_tests.identity_tests.matches import MAIN, add_match, team


def test_0013_upgrades_a_database_with_old_role_rows(make_database):
    url = make_database("identity_0013")
    before = [m for m in migrate.available_migrations() if m.version < 13]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                     "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for m in before:
            with conn.transaction():
                conn.execute(m.sql)
                conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                             (m.version, m.name, m.checksum))
        conn.execute("INSERT INTO matches (match_id, has_details) VALUES (1, true)")
        conn.execute("INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, account_id, role) "
                     "VALUES (100, 1, 0, 100, 'me'), (100, 1, 128, 200, 'opponent'), (999, 1, 0, 100, 'teammate')")
    applied = [m.version for m in migrate.upgrade(url)]
    assert 13 in applied
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM identity_match_roles").fetchone()[0] == 0  # derived: rebuilt
        refused = [
            "INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, role) VALUES (100, 1, 128, 'opponent')",
            # an anon role names no identity; me and teammate rows name one
            ("INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, role, identity) "
             "VALUES (100, 1, 128, 'anon_opponent', 'alice')"),
            "INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, role) VALUES (100, 1, 0, 'me')",
            "INSERT INTO tracked_identities (account_id, identity, kind) VALUES (5, 'me', 'teammate')",
        ]
        for statement in refused:
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(statement)
        conn.execute("INSERT INTO identity_match_roles (me_account_id, match_id, player_slot, role, identity) "
                     "VALUES (100, 1, 0, 'me', 'me'), (100, 1, 1, 'teammate', 'alice')")


def test_concurrent_replacements_wait_for_each_other(db, database_url):
    with db.transaction() as conn:
        add_match(conn, 1, 1_730_000_000, team(0, [MAIN, 2, 3, 4, 5], [1, 2, 3, 4, 5], True)
                  + team(128, [6, 7, 8, 9, 10], [6, 7, 8, 9, 10], False))
    rows = [(MAIN, 1, slot, None, "anon_opponent" if slot >= 128 else "anon_teammate", None, 1, True, 1, 1, 1, None)
            for slot in (1, 2, 3, 4, 128, 129, 130, 131, 132)]
    rows.insert(0, (MAIN, 1, 0, MAIN, "me", "me", 1, True, 1, 1, 1, None))
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def replace(database: Database) -> None:
        try:
            with database.transaction() as conn:
                barrier.wait(timeout=10)
                identity_db.replace_roles(conn, rows)
                identity_db.replace_tracked_identities(conn, [(MAIN, "me", "me")])
        except BaseException as exc:
            errors.append(exc)

    with Database(database_url, max_size=2) as other:
        threads = [threading.Thread(target=replace, args=(d,)) for d in (db, other)]
        for t in threads:
            t.start()
        barrier.wait(timeout=10)
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert db.fetch_value("SELECT count(*) FROM identity_match_roles") == 10
    assert db.fetch_value("SELECT count(*) FROM tracked_identities") == 1
