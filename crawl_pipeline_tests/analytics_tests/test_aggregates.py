"""player_match_type_stats: incremental batches == full rebuild; skips; concurrency; lag."""

from __future__ import annotations

import threading
from collections import defaultdict

from crawl_pipeline.db import aggregates
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.heroes import heroes as reference_heroes
from crawl_pipeline.domain.identity import is_anonymous
from crawl_pipeline.domain.match_types import match_types_for_lobby


def _drain(db, batch_size):
    batches = []
    while True:
        with db.transaction() as conn:
            result = aggregates.aggregate_batch(conn, batch_size)
        if result.matches == 0:
            return batches
        batches.append(result)


def _fingerprint(db):
    with db.transaction() as conn:
        return aggregates.table_fingerprint(conn)


def test_incremental_batches_equal_a_full_rebuild(crawled_db):
    batches = _drain(crawled_db, batch_size=37)
    assert len(batches) > 5
    incremental = _fingerprint(crawled_db)
    with crawled_db.transaction() as conn:
        rebuilt = aggregates.rebuild_all(conn)
    assert _fingerprint(crawled_db) == incremental
    assert rebuilt.matches == sum(b.matches for b in batches)
    assert sum(b.anonymous_players for b in batches) == rebuilt.anonymous_players > 0
    assert sum(b.unknown_hero_players for b in batches) == rebuilt.unknown_hero_players > 0


def test_values_match_a_python_reference(crawled_db):
    _drain(crawled_db, batch_size=1000)
    with crawled_db.transaction() as conn:
        players = conn.execute(
            """SELECT mp.account_id, mp.hero_id, m.lobby_type, mp.win, mp.kills, mp.deaths, mp.assists,
                      mp.gold_per_min, mp.xp_per_min, mp.last_hits, m.start_time
               FROM match_players mp JOIN matches m USING (match_id) WHERE m.has_details"""
        ).fetchall()
        stored = {row[:3]: row[3:] for row in aggregates.table_fingerprint(conn)}
    expected = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0, None, None])
    known = set(reference_heroes())
    for account, hero, lobby, win, k, d, a, gpm, xpm, lh, start in players:
        if is_anonymous(account) or hero not in known:
            continue
        for match_type in match_types_for_lobby(lobby):
            e = expected[(account, hero, match_type)]
            for i, v in enumerate((1, int(bool(win)), k, d, a, gpm, xpm, lh)):
                e[i] += v
            e[8] = start if e[8] is None else min(e[8], start)
            e[9] = start if e[9] is None else max(e[9], start)
    assert stored == {key: tuple(v) for key, v in expected.items()}
    assert {key[2] for key in stored} == {"all", "ranked", "normal"}


def test_batches_mark_matches_and_rerun_is_a_no_op(crawled_db):
    _drain(crawled_db, batch_size=100)
    before = _fingerprint(crawled_db)
    with crawled_db.transaction() as conn:
        assert aggregates.aggregate_batch(conn, 100).matches == 0
        unmarked = conn.execute(
            "SELECT count(*) FROM matches WHERE has_details AND (NOT stats_aggregated OR stats_aggregated_at IS NULL)"
        ).fetchone()[0]
        stubs_marked = conn.execute("SELECT count(*) FROM matches WHERE has_details IS NOT TRUE AND stats_aggregated").fetchone()[0]
    assert unmarked == 0 and stubs_marked == 0
    assert _fingerprint(crawled_db) == before


def test_a_failed_batch_leaves_its_matches_unaggregated(crawled_db):
    class Boom(Exception):
        pass

    try:
        with crawled_db.transaction() as conn:
            assert aggregates.aggregate_batch(conn, 50).matches == 50
            raise Boom
    except Boom:
        pass
    with crawled_db.transaction() as conn:
        assert conn.execute("SELECT count(*) FROM matches WHERE stats_aggregated").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM player_match_type_stats").fetchone()[0] == 0


def test_concurrent_runs_count_every_match_once(crawled_db, database_url):
    with crawled_db.transaction() as conn:
        aggregates.rebuild_all(conn)
    expected = _fingerprint(crawled_db)
    with crawled_db.transaction() as conn:
        conn.execute("DELETE FROM player_match_type_stats")
        conn.execute("UPDATE matches SET stats_aggregated = false, stats_aggregated_at = NULL")
    claimed: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with Database(database_url, max_size=1) as own:
                claimed.extend(b.matches for b in _drain(own, batch_size=13))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with crawled_db.transaction() as conn:
        detailed = conn.execute("SELECT count(*) FROM matches WHERE has_details").fetchone()[0]
    assert sum(claimed) == detailed
    assert _fingerprint(crawled_db) == expected


def test_lag_reports_count_and_age_of_the_oldest_pending_match(crawled_db):
    with crawled_db.transaction() as conn:
        lag = aggregates.aggregation_lag(conn)
        detailed = conn.execute("SELECT count(*) FROM matches WHERE has_details").fetchone()[0]
        assert lag.pending == detailed and lag.age_seconds > 60
        aggregates.rebuild_all(conn)
        after = aggregates.aggregation_lag(conn)
    assert after.pending == 0 and after.oldest is None and after.age_seconds == 0


def test_match_types_of_lobby_types():
    assert match_types_for_lobby(7) == ("all", "ranked")
    assert match_types_for_lobby(0) == ("all", "normal")
    for other in (None, 1, 2, 4, 6, 9, 12):
        assert match_types_for_lobby(other) == ("all",)
