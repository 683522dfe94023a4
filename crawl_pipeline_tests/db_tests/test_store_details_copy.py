"""store_details' players go by COPY through a session-local staging table (issue 15): every value
as stored before, idempotent on a re-run, nothing left staged, and a value PostgreSQL refuses is
still a DataError (so the engine's one-record-at-a-time fallback still sees it)."""

from __future__ import annotations

import psycopg
import pytest

from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.domain.records import MatchDetails, MatchPlayer

SLOTS = (0, 1, 2, 3, 4, 128, 129, 130, 131, 132)


def _details(match_id: int, **player_fields) -> MatchDetails:
    players = [
        MatchPlayer(player_slot=s, account_id=None if i == 9 else 7000 + match_id % 100 * 10 + i, hero_id=1 + i,
                    is_radiant=s < 128, win=(s < 128) == (match_id % 2 == 0), kills=i, deaths=None, assists=3,
                    gold_per_min=500 + i, xp_per_min=600, last_hits=100, denies=5, net_worth=20000,
                    hero_damage=30000, lane_role=1 + i % 4, rank_tier=None if i % 3 else 55, **player_fields)
        for i, s in enumerate(SLOTS)
    ]
    return MatchDetails(match_id=match_id, source="opendota", players=players, duration=2100, lobby_type=7,
                        game_mode=22, radiant_win=match_id % 2 == 0, region=3)


def _players(db) -> list[tuple]:
    with db.transaction() as conn:
        return conn.execute(
            f"SELECT match_id, {', '.join(crawl_db.PLAYER_COLUMNS)} FROM match_players ORDER BY match_id, player_slot"
        ).fetchall()


def test_players_stored_value_for_value_and_once(db):
    details = [_details(m) for m in (11, 12, 13)]
    with db.transaction() as conn:
        written = crawl_db.store_details(conn, details, discovery_depth=1)
    assert (written.stored, written.players) == (3, 30)
    expected = [(d.match_id, *(getattr(p, c) for c in crawl_db.PLAYER_COLUMNS)) for d in details for p in d.players]
    assert _players(db) == expected  # NULLs, booleans and numbers as sent
    with db.transaction() as conn:  # a re-run (an overlapping writer got there first) writes nothing
        again = crawl_db.store_details(conn, details, discovery_depth=1)
    assert (again.stored, again.players, again.new_accounts) == (0, 0, 0)
    assert _players(db) == expected


def test_the_staging_table_is_empty_after_each_transaction(db):
    with db.transaction() as conn:
        crawl_db.store_details(conn, [_details(21)], discovery_depth=1)
        assert conn.execute("SELECT count(*) FROM staged_match_players").fetchone()[0] == 10
        conn.commit()
        assert conn.execute("SELECT count(*) FROM staged_match_players").fetchone()[0] == 0
        # a transaction that fails leaves nothing behind either, staged or stored
        with pytest.raises(RuntimeError), conn.transaction():
            crawl_db.store_details(conn, [_details(22)], discovery_depth=1)
            raise RuntimeError("dies mid-chunk")
        assert conn.execute("SELECT count(*) FROM staged_match_players").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM match_players WHERE match_id = 22").fetchone()[0] == 0
        assert conn.execute("SELECT has_details FROM matches WHERE match_id = 22").fetchone() is None


def test_a_value_out_of_its_column_is_a_data_error(db):
    """Records check ranges first; were one to slip through, PostgreSQL refuses it (text COPY parses
    each value against its column), never stores it wrapped around."""
    good = _details(31)
    bad = good.model_copy(update={"match_id": 32, "players": [
        p.model_copy(update={"kills": 40000}) if p.player_slot == 0 else p for p in good.players
    ]})
    with pytest.raises(psycopg.errors.DataError), db.transaction() as conn:
        crawl_db.store_details(conn, [bad], discovery_depth=1)
    assert _players(db) == []
    with db.transaction() as conn:
        assert crawl_db.store_details(conn, [good], discovery_depth=1).players == 10


def test_a_match_value_out_of_its_column_is_a_data_error_from_the_pipeline(db):
    """The claim goes in a pipeline with the statements after it; PostgreSQL's refusal still
    arrives as the DataError the one-record fallback catches, and nothing of the chunk stays."""
    bad = _details(41).model_copy(update={"region": 40000})
    with pytest.raises(psycopg.errors.DataError), db.transaction() as conn:
        crawl_db.store_details(conn, [bad, _details(42)], discovery_depth=1)
    assert _players(db) == []
    assert db.fetch_value("SELECT count(*) FROM matches") == 0


def test_a_match_twice_in_one_chunk_is_stored_once(db):
    details = _details(51)
    with db.transaction() as conn:
        written = crawl_db.store_details(conn, [details, _details(52), details], discovery_depth=1)
    assert (written.stored, written.players) == (2, 20)
    assert [r[0] for r in _players(db)].count(51) == 10


def test_a_match_without_a_stub_is_stored_whole(db):
    """A tracked account's match may come with no stub: the claim inserts it with every field."""
    with db.transaction() as conn:
        assert crawl_db.store_details(conn, [_details(61)], discovery_depth=1).stored == 1
    row = db.fetch_all("SELECT has_details, duration, lobby_type, game_mode, region, details_source, discovered_by, "
                       "details_fetched_at IS NOT NULL AS fetched FROM matches WHERE match_id = 61")[0]
    assert row == {"has_details": True, "duration": 2100, "lobby_type": 7, "game_mode": 22, "region": 3,
                   "details_source": "opendota", "discovered_by": None, "fetched": True}


def test_two_calls_in_one_transaction_count_each_encounter_once(db):
    """The staging tables are emptied at each call, not only at commit: a second chunk written in
    the same transaction does not count the first chunk's encounters again."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO accounts (account_id, depth) VALUES (7110, 0), (7120, 0)")
        conn.execute("INSERT INTO matches (match_id, discovered_by) VALUES (11, 7110), (12, 7120)")
    with db.transaction() as conn:
        crawl_db.store_details(conn, [_details(11)], discovery_depth=1)
        crawl_db.store_details(conn, [_details(12)], discovery_depth=1)
    met = db.fetch_all("SELECT account_id, sum(teammate_games + opponent_games) AS games FROM players_encountered "
                       "GROUP BY 1 ORDER BY 1")
    assert [(r["account_id"], r["games"]) for r in met] == [(7110, 8), (7120, 8)]  # 8 known others each


def test_storing_a_detailed_match_again_locks_nothing(db):
    """A match already detailed is not claimed, and its row is not locked either (ON CONFLICT DO
    UPDATE would lock it even with a false WHERE): a re-read feed range stays out of the aggregator's way."""
    with db.transaction() as conn:
        crawl_db.store_details(conn, [_details(71)], discovery_depth=1)
        conn.execute("INSERT INTO matches (match_id) VALUES (72)")  # a stub, claimed below
    with db.transaction() as writer:
        assert crawl_db.store_details(writer, [_details(71), _details(72)], discovery_depth=1).stored == 1
        with db.transaction() as other:  # another session, while the writer's transaction is open
            assert other.execute("SELECT match_id FROM matches WHERE match_id = 71 FOR UPDATE NOWAIT").fetchone() == (71,)
            with pytest.raises(psycopg.errors.LockNotAvailable), other.transaction():
                other.execute("SELECT match_id FROM matches WHERE match_id = 72 FOR UPDATE NOWAIT")
