"""Incremental leaderboard builds give exactly the full rebuild's rows.

Seeded random hero_stats, a first (full) build, then rounds of random changes through every kind
of writer (the crawl's replace_hero_stats, INSERT, UPDATE, DELETE, an account deleted with its rows
by cascade): new accounts and heroes, increases, decreases, leaders dropping out, rows tied with the
boards' last rows, matches falling to 0 or below the thresholds. After each round the incremental
build's tables are compared, row for row (all but computed_at), with a full rebuild run in a
transaction that is rolled back, so the chain of incremental builds is never reset.
"""

from __future__ import annotations

import random
import threading

import dagster as dg
import psycopg
import pytest

from crawl_pipeline.db import leaderboards
from crawl_pipeline.db.crawl import replace_hero_stats
from crawl_pipeline.defs.analytics.assets import hero_top100, leaderboards_asset
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain.records import HeroStat, HeroStats

SIZE, MIN_GAMES, MIN_HERO_GAMES = 6, 40, 8
PARAMS = {"size": SIZE, "min_games": MIN_GAMES, "min_hero_games": MIN_HERO_GAMES}

BOARD_QUERIES = {
    "hero_top100": "SELECT hero_id, position, account_id, matches, wins, win_rate FROM hero_top100 ORDER BY 1, 2",
    "leaderboards": (
        "SELECT board, hero_id, position, account_id, matches, wins, win_rate, heroes_played, min_games "
        "FROM leaderboards ORDER BY 1, 2, 3"
    ),
    "totals": "SELECT * FROM leaderboard_account_totals ORDER BY account_id",
}


def _tables(conn) -> dict[str, list[tuple]]:
    return {name: conn.execute(query).fetchall() for name, query in BOARD_QUERIES.items()}


def _full_rebuild_rows(db) -> dict[str, list[tuple]]:
    """What a full rebuild gives now, without keeping it (the incremental chain goes on)."""
    with db.transaction() as conn, conn.transaction(force_rollback=True):
        leaderboards.rebuild_hero_top100(conn, SIZE)
        leaderboards.rebuild_leaderboards(conn, **PARAMS)
        return _tables(conn)


def _build(db, **kwargs) -> tuple[leaderboards.BuildResult, leaderboards.BuildResult]:
    with db.transaction() as conn:
        top = leaderboards.build_hero_top100(conn, SIZE, **kwargs)
    with db.transaction() as conn:
        boards = leaderboards.build_leaderboards(conn, **PARAMS, **kwargs)
    return top, boards


def _assert_same_as_full(db) -> None:
    with db.transaction() as conn:
        incremental = _tables(conn)
        assert leaderboards.hero_top100_violations(conn) == dict.fromkeys(
            ("over_100", "gaps", "out_of_order", "unknown_heroes"), 0)
        assert leaderboards.leaderboards_violations(conn) == {"gaps": 0, "below_threshold": 0, "out_of_order": 0}
    full = _full_rebuild_rows(db)
    for name in BOARD_QUERIES:
        assert incremental[name] == full[name], name


class World:
    """Random hero_stats over a few heroes: small counts so ties and threshold edges are common."""

    def __init__(self, db, seed: int):
        self.db, self.rng = db, random.Random(seed)
        with db.transaction() as conn:
            self.all_heroes = [r[0] for r in conn.execute("SELECT hero_id FROM heroes ORDER BY hero_id LIMIT 14")]
        self.heroes = self.all_heroes[:10]  # the other 4 appear later: new heroes
        self.next_account = 1

    def stat(self) -> tuple[int, int]:
        matches = self.rng.choice([0, 1, 5, 8, 8, 12, 20, 20, 30, 45])  # repeated values: ties
        return matches, self.rng.randint(0, matches)

    def new_accounts(self, conn, count: int) -> list[int]:
        ids = list(range(self.next_account, self.next_account + count))
        self.next_account += count
        conn.execute("INSERT INTO accounts (account_id, depth) SELECT unnest(%s::bigint[]), 1", (ids,))
        rows = [(a, h, *self.stat()) for a in ids for h in self.rng.sample(self.heroes, self.rng.randint(1, 6))]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO hero_stats (account_id, hero_id, matches, wins) VALUES (%s, %s, %s, %s)", rows)
        return ids

    def accounts(self, conn) -> list[int]:
        return [r[0] for r in conn.execute("SELECT account_id FROM accounts ORDER BY 1")]

    def board_members(self, conn) -> list[tuple[int, int]]:
        return [tuple(r) for r in conn.execute(
            "SELECT DISTINCT account_id, hero_id FROM leaderboards WHERE hero_id > 0 "
            "UNION SELECT account_id, hero_id FROM hero_top100 ORDER BY 1, 2")]

    def change(self) -> None:
        """One round of random changes, each in a transaction of its own."""
        rng = self.rng
        if rng.random() < 0.5 and len(self.heroes) < len(self.all_heroes):
            self.heroes.append(self.all_heroes[len(self.heroes)])
        with self.db.transaction() as conn:
            self.new_accounts(conn, rng.randint(0, 8))
        with self.db.transaction() as conn:  # the crawl's writer: replace an account's rows
            chosen = rng.sample(self.accounts(conn), 6)
            replace_hero_stats(conn, [
                HeroStats(account_id=a, source="test", heroes=[
                    HeroStat(hero_id=h, matches=m, wins=w)
                    for h in rng.sample(self.heroes, rng.randint(0, 5)) for m, w in [self.stat()]])
                for a in chosen])
        with self.db.transaction() as conn:  # increases and decreases of board members and others
            members = self.board_members(conn)
            targets = rng.sample(members, min(len(members), 8))
            rows = conn.execute("SELECT account_id, hero_id FROM hero_stats ORDER BY 1, 2").fetchall()
            targets += rng.sample(rows, min(len(rows), 8))
            for account, hero in targets:
                delta = rng.choice([-30, -10, -3, -1, 1, 2, 10, 40])
                conn.execute(
                    """UPDATE hero_stats SET matches = greatest(0, matches + %(d)s),
                              wins = least(greatest(0, matches + %(d)s), greatest(0, wins + %(w)s))
                       WHERE account_id = %(a)s AND hero_id = %(h)s""",
                    {"a": account, "h": hero, "d": delta, "w": rng.randint(-5, delta if delta > 0 else 0)},
                )
        with self.db.transaction() as conn:  # ties: copy the last row of a board onto another account
            last = conn.execute(
                "SELECT hero_id, matches, wins FROM leaderboards WHERE position = %s AND hero_id > 0 "
                "ORDER BY random() LIMIT 3", (SIZE,)).fetchall()
            for hero, matches, wins in last:
                account = rng.choice(self.accounts(conn))
                conn.execute(
                    """INSERT INTO hero_stats (account_id, hero_id, matches, wins) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (account_id, hero_id) DO UPDATE SET matches = EXCLUDED.matches, wins = EXCLUDED.wins""",
                    (account, hero, matches, wins))
        with self.db.transaction() as conn:  # leaders drop out: rows deleted, an account deleted (cascade)
            members = self.board_members(conn)
            for account, hero in rng.sample(members, min(len(members), 3)):
                conn.execute("DELETE FROM hero_stats WHERE account_id = %s AND hero_id = %s", (account, hero))
            if rng.random() < 0.5:
                leader = conn.execute(
                    "SELECT account_id FROM leaderboards WHERE hero_id = 0 ORDER BY random() LIMIT 1").fetchone()
                if leader:
                    conn.execute("UPDATE accounts SET discovered_from = NULL WHERE discovered_from = %s", leader)
                    conn.execute("DELETE FROM accounts WHERE account_id = %s", leader)


@pytest.mark.parametrize("seed", [3, 17, 2024])
def test_incremental_builds_equal_a_full_rebuild_after_random_changes(hero_db, seed):
    world = World(hero_db, seed)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 120)
    top, boards = _build(hero_db)
    assert (top.mode, top.reason) == ("full", "first build") and (boards.mode, boards.reason) == ("full", "first build")
    _assert_same_as_full(hero_db)
    modes, fallbacks, changed = set(), 0, []
    for _ in range(12):
        world.change()
        top, boards = _build(hero_db)
        modes |= {top.mode, boards.mode}
        fallbacks += boards.fallbacks
        changed.append(boards.changed_accounts)
        assert top.changed_accounts == boards.changed_accounts > 0
        _assert_same_as_full(hero_db)
    assert modes == {"incremental"}
    assert fallbacks > 0  # some win-rate boards lost rows the merge could not replace: recomputed in full
    # a build with nothing changed recomputes nothing but the two overall boards and writes nothing
    top, boards = _build(hero_db)
    assert (top.changed_accounts, top.recomputed, top.rows_written, top.removed) == (0, 0, 0, 0)
    assert (boards.changed_accounts, boards.recomputed, boards.rows_written, boards.removed) == (0, 2, 0, 0)
    _assert_same_as_full(hero_db)


def test_a_change_committed_after_a_build_began_is_picked_up_by_the_next(hero_db, database_url):
    world = World(hero_db, 5)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 80)
    _build(hero_db)
    leader = hero_db.fetch_value("SELECT account_id FROM leaderboards WHERE board = 'most_matches' AND hero_id = 0 "
                                 "AND position = 1")
    other = hero_db.fetch_value("SELECT min(account_id) FROM hero_stats WHERE account_id <> %s", (leader,))
    # A writer's transaction starts before the build and commits after it (and after a later writer).
    with psycopg.connect(database_url) as slow, psycopg.connect(database_url, autocommit=True) as fast:
        slow.execute("UPDATE hero_stats SET matches = matches + 1000, wins = wins + 900 WHERE account_id = %s "
                     "AND hero_id = (SELECT min(hero_id) FROM hero_stats WHERE account_id = %s)", (other, other))
        fast.execute("DELETE FROM hero_stats WHERE account_id = %s", (leader,))
        _, boards = _build(hero_db)
        assert boards.mode == "incremental" and boards.changed_accounts == 1
        slow.commit()
    _, boards = _build(hero_db)
    assert boards.changed_accounts == 1
    assert hero_db.fetch_value("SELECT account_id FROM leaderboards WHERE board = 'most_matches' AND hero_id = 0 "
                               "AND position = 1") == other
    _assert_same_as_full(hero_db)


def test_full_rebuild_when_asked_when_parameters_change_and_after_truncate(hero_db):
    world = World(hero_db, 11)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 60)
    _build(hero_db)
    world.change()
    top, boards = _build(hero_db, full_rebuild=True)
    assert (top.mode, top.reason, boards.mode, boards.reason) == ("full", "requested", "full", "requested")
    assert boards.changed_accounts > 0  # known from the stored build, reported even on a full rebuild
    _assert_same_as_full(hero_db)
    with hero_db.transaction() as conn:
        result = leaderboards.build_leaderboards(conn, size=SIZE, min_games=MIN_GAMES + 1, min_hero_games=MIN_HERO_GAMES)
        assert (result.mode, result.reason) == ("full", "parameters changed")
    with hero_db.transaction() as conn:
        assert leaderboards.build_leaderboards(conn, **PARAMS).reason == "parameters changed"
        assert leaderboards.build_leaderboards(conn, **PARAMS).mode == "incremental"
    with hero_db.transaction() as conn:
        conn.execute("TRUNCATE hero_stats")
    top, boards = _build(hero_db)
    assert (top.reason, boards.reason) == ("first build", "first build")
    assert hero_db.fetch_value("SELECT count(*) FROM leaderboards") == 0
    assert hero_db.fetch_value("SELECT count(*) FROM leaderboard_account_totals") == 0
    with hero_db.transaction() as conn:
        conn.execute("TRUNCATE leaderboards")
        assert leaderboards.build_leaderboards(conn, **PARAMS).reason == "first build"
        assert leaderboards.build_hero_top100(conn, SIZE).mode == "incremental"


def test_builds_forget_the_changes_every_stored_build_has_seen(hero_db):
    world = World(hero_db, 23)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 50)
        # a change by a transaction long over (xid 3 is older than any snapshot's xmin)
        conn.execute("INSERT INTO hero_stats_changes (account_id, changed_xid) VALUES (999999, '3')")
    assert hero_db.fetch_value("SELECT count(*) FROM hero_stats_changes") == 51  # one row per account
    with hero_db.transaction() as conn:
        assert leaderboards.prune_changes(conn) == 0  # no stored build yet: nothing is known to be seen
    with hero_db.transaction() as conn:  # the one stored build decides (a board never built is rebuilt in full)
        assert leaderboards.build_hero_top100(conn, SIZE).pruned >= 1
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 5)
    with hero_db.transaction() as conn:
        leaderboards.build_leaderboards(conn, **PARAMS)
    # Which other rows go depends on the transactions running on the (shared) server at the builds;
    # the old change is gone, and the changes the hero_top100 build has not seen are kept.
    remaining = {r["account_id"] for r in hero_db.fetch_all("SELECT account_id FROM hero_stats_changes")}
    assert 999999 not in remaining and set(range(51, 56)) <= remaining


def test_readers_never_see_an_empty_board_during_incremental_builds(hero_db):
    world = World(hero_db, 31)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 100)
    _build(hero_db)
    overall = hero_db.fetch_value("SELECT count(*) FROM leaderboards WHERE hero_id = 0")
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(hero_db.fetch_value("SELECT count(*) FROM leaderboards WHERE hero_id = 0"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(5):
            with hero_db.transaction() as conn:
                conn.execute("UPDATE hero_stats SET matches = matches + 1, wins = wins + 1 WHERE account_id % 7 = 0")
            _build(hero_db)
    finally:
        stop.set()
        thread.join()
    assert overall == 2 * SIZE and seen and set(seen) == {overall}


def test_assets_build_incrementally_and_report_the_mode(hero_db, dagster_instance, database_url):
    world = World(hero_db, 41)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 60)
    resources = {"postgres": PostgresResource(database_url=database_url)}

    def materialize(full_rebuild: bool = False) -> dict[str, dict]:
        config = {"full_rebuild": full_rebuild}
        result = dg.materialize([hero_top100, leaderboards_asset], instance=dagster_instance, resources=resources,
                                run_config={"ops": {"hero_top100": {"config": config},
                                                    "leaderboards": {"config": config}}})
        assert result.success
        return {key: dagster_instance.get_latest_materialization_event(dg.AssetKey(key)).asset_materialization.metadata
                for key in ("hero_top100", "leaderboards")}

    first = materialize()
    assert first["hero_top100"]["mode"].value == first["leaderboards"]["mode"].value == "full"
    assert "changed_accounts" not in first["leaderboards"]
    world.change()
    second = materialize()
    top, boards = second["hero_top100"], second["leaderboards"]
    assert top["mode"].value == boards["mode"].value == "incremental"
    assert top["changed_accounts"].value == boards["changed_accounts"].value > 0
    assert top["heroes_recomputed"].value > 0 and boards["boards_recomputed"].value >= 2
    assert boards["rows"].value == hero_db.fetch_value("SELECT count(*) FROM leaderboards")
    assert {"rows_written", "rows_removed", "ranked_accounts", "win_rate_boards_recomputed_in_full"} <= set(boards)
    third = materialize(full_rebuild=True)
    assert third["leaderboards"]["mode"].value == "full" and third["leaderboards"]["mode_reason"].value == "requested"


def test_changes_committed_between_the_count_and_the_build_read_the_whole_totals(hero_db, monkeypatch):
    """The overall boards read size + |changed| index entries, |changed| as counted just before the
    statement; should more changes have committed in between, the statement reads every total instead."""
    world = World(hero_db, 53)
    with hero_db.transaction() as conn:
        world.new_accounts(conn, 80)
    _build(hero_db)
    count_before = leaderboards._lock_last_build

    def undercounted(conn, board):
        params, _ = count_before(conn, board)
        return params, 0  # as if every change committed after the count

    monkeypatch.setattr(leaderboards, "_lock_last_build", undercounted)
    for _ in range(3):
        world.change()
        _build(hero_db)
        _assert_same_as_full(hero_db)
