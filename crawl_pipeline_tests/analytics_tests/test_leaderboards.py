"""hero_top100 and leaderboards against a Python reference, atomic for readers."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from crawl_pipeline.db import leaderboards


def _hero_stats(conn):
    return conn.execute("SELECT account_id, hero_id, matches, wins FROM hero_stats").fetchall()


def test_hero_top100_matches_a_python_reference(crawled_db):
    with crawled_db.transaction() as conn:
        result = leaderboards.rebuild_hero_top100(conn, size=5)
        stored = conn.execute("SELECT hero_id, position, account_id, matches, wins, win_rate FROM hero_top100").fetchall()
        stats = _hero_stats(conn)
    per_hero = defaultdict(list)
    for account, hero, matches, wins in stats:
        if matches > 0:
            per_hero[hero].append((-matches, -wins, account, matches, wins))
    expected = set()
    for hero, rows in per_hero.items():
        for position, (_, _, account, matches, wins) in enumerate(sorted(rows)[:5], start=1):
            expected.add((hero, position, account, matches, wins, wins / matches))
    assert set(stored) == expected
    assert result.rows == len(expected) and result.extra == len(per_hero)


def test_rebuild_replaces_old_rows_and_is_idempotent(crawled_db):
    with crawled_db.transaction() as conn:
        leaderboards.rebuild_hero_top100(conn)
        first = conn.execute("SELECT hero_id, position, account_id FROM hero_top100 ORDER BY 1, 2").fetchall()
        leaderboards.rebuild_hero_top100(conn)
        assert conn.execute("SELECT hero_id, position, account_id FROM hero_top100 ORDER BY 1, 2").fetchall() == first
        conn.execute("DELETE FROM hero_stats WHERE hero_id = 1")
        result = leaderboards.rebuild_hero_top100(conn)
        assert result.removed > 0
        assert conn.execute("SELECT count(*) FROM hero_top100 WHERE hero_id = 1").fetchone()[0] == 0
        assert leaderboards.hero_top100_violations(conn) == dict.fromkeys(
            ("over_100", "gaps", "out_of_order", "unknown_heroes"), 0
        )


def test_board_size_is_bounded():
    with pytest.raises(ValueError):
        leaderboards._check_size(101)


def test_leaderboards_overall_and_per_hero(crawled_db):
    with crawled_db.transaction() as conn:
        leaderboards.rebuild_leaderboards(conn, size=10, min_games=500, min_hero_games=100)
        stats = _hero_stats(conn)
        most = leaderboards.board_rows(conn, "most_matches", 0, 10)
        best = leaderboards.board_rows(conn, "best_win_rate", 0, 10)
        per_hero_best = conn.execute(
            "SELECT hero_id, min(matches), count(*) FROM leaderboards WHERE board = 'best_win_rate' AND hero_id > 0 "
            "GROUP BY hero_id"
        ).fetchall()
        assert leaderboards.leaderboards_violations(conn) == {"gaps": 0, "below_threshold": 0, "out_of_order": 0}
    totals = defaultdict(lambda: [0, 0])
    for account, _, matches, wins in stats:
        totals[account][0] += matches
        totals[account][1] += wins
    expected_most = sorted(((-m, -w, a) for a, (m, w) in totals.items() if m > 0))[:10]
    assert [(r["account_id"], r["matches"]) for r in most] == [(a, -m) for m, w, a in expected_most]
    eligible = sorted((-(w / m), -m, a) for a, (m, w) in totals.items() if m >= 500)[:10]
    assert [r["account_id"] for r in best] == [a for _, _, a in eligible]
    assert all(r["min_games"] == 500 and r["matches"] >= 500 for r in best)
    assert per_hero_best and all(low >= 100 and n <= 10 for _, low, n in per_hero_best)


def test_readers_never_see_an_empty_board(crawled_db):
    with crawled_db.transaction() as conn:
        leaderboards.rebuild_hero_top100(conn)
        full = conn.execute("SELECT count(*) FROM hero_top100").fetchone()[0]
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(crawled_db.fetch_value("SELECT count(*) FROM hero_top100"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(15):
            with crawled_db.transaction() as conn:
                leaderboards.rebuild_hero_top100(conn)
                leaderboards.rebuild_leaderboards(conn)
    finally:
        stop.set()
        thread.join()
    assert seen and set(seen) == {full}
