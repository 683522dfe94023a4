"""Set-based crawl writes: idempotent, atomic, and never double counting."""

from datetime import UTC, datetime
from threading import Barrier, Thread

from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.domain.records import (
    HeroStat,
    HeroStats,
    MatchDetails,
    MatchPlayer,
    MatchStub,
    PlayerProfile,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _accounts(db, *ids, batch="d00-000000", depth=0):
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (batch, depth, int(batch[4:]), len(ids)),
        )
        conn.execute(
            "INSERT INTO accounts (account_id, depth, batch_key) SELECT unnest(%s::bigint[]), %s, %s",
            (list(ids), depth, batch),
        )


def _details(match_id, radiant, dire, *, radiant_win=True, anonymous_slot=None):
    players = []
    for slot, account in enumerate(radiant + dire):
        player_slot = slot if slot < 5 else 128 + slot - 5
        is_radiant = slot < 5
        players.append(
            MatchPlayer(
                player_slot=player_slot,
                account_id=None if slot == anonymous_slot else account,
                hero_id=slot + 1,
                is_radiant=is_radiant,
                win=is_radiant == radiant_win,
                kills=slot, deaths=1, assists=2, gold_per_min=400, xp_per_min=500, last_hits=100,
            )
        )
    return MatchDetails(match_id=match_id, source="test", start_time=T0, lobby_type=7, radiant_win=radiant_win, players=players)


def test_profiles_update_and_snapshot_only_rank_changes(db):
    _accounts(db, 1, 2)
    profile = PlayerProfile(account_id=1, source="test", personaname="Ana", rank_tier=45)
    with db.transaction() as conn:
        assert crawl_db.store_profiles(conn, [profile, PlayerProfile(account_id=2, source="test")]) == (2, 2)
        assert crawl_db.store_profiles(conn, [profile]) == (1, 0)  # unchanged rank: no snapshot
        assert crawl_db.store_profiles(conn, [profile.model_copy(update={"rank_tier": 51})]) == (1, 1)
    assert db.fetch_value("SELECT rank_tier FROM accounts WHERE account_id = 1") == 51
    assert db.fetch_value("SELECT count(*) FROM rank_snapshots WHERE account_id = 1") == 2


def test_hero_stats_replace_atomically_and_skip_unknown_heroes(db):
    _accounts(db, 1)
    first = HeroStats(account_id=1, source="test", heroes=[HeroStat(hero_id=1, matches=5, wins=3), HeroStat(hero_id=2, matches=1, wins=0)])
    with db.transaction() as conn:
        assert crawl_db.replace_hero_stats(conn, [first]) == (2, 0)
    second = HeroStats(
        account_id=1, source="test", unknown_heroes_skipped=1,
        heroes=[HeroStat(hero_id=1, matches=6, wins=4), HeroStat(hero_id=24, matches=2, wins=1)],  # 24: no such hero
    )
    with db.transaction() as conn:
        assert crawl_db.replace_hero_stats(conn, [second]) == (1, 2)
    assert db.fetch_all("SELECT hero_id, matches, wins FROM hero_stats") == [{"hero_id": 1, "matches": 6, "wins": 4}]
    assert db.fetch_value("SELECT hero_stats_at IS NOT NULL FROM accounts WHERE account_id = 1")


def test_stubs_are_never_duplicated_and_keep_their_first_owner(db):
    _accounts(db, 1)
    _accounts(db, 2, batch="d00-000001")
    stubs = [MatchStub(match_id=m, start_time=T0, lobby_type=7) for m in (100, 101)]
    with db.transaction() as conn:
        assert crawl_db.store_stubs(conn, stubs, owner_batch="d00-000000", discovered_by=1) == 2
        assert crawl_db.store_stubs(conn, stubs + [MatchStub(match_id=102)], owner_batch="d00-000001", discovered_by=2) == 1
    rows = db.fetch_all("SELECT match_id, owner_batch, has_details FROM matches ORDER BY match_id")
    assert [(r["owner_batch"], r["has_details"]) for r in rows] == [("d00-000000", None), ("d00-000000", None), ("d00-000001", None)]


def test_details_store_players_discover_accounts_and_count_encounters_once(db):
    _accounts(db, 1)
    with db.transaction() as conn:
        crawl_db.store_stubs(conn, [MatchStub(match_id=100)], owner_batch="d00-000000", discovered_by=1)
    details = _details(100, [1, 2, 3, 4, 5], [6, 7, 8, 9, 10], anonymous_slot=9)
    with db.transaction() as conn:
        written = crawl_db.store_details(conn, [details], discovery_depth=1)
    assert (written.stored, written.players, written.new_accounts) == (1, 10, 8)  # 1 known, 1 anonymous
    with db.transaction() as conn:  # an overlapping run storing the same match changes nothing
        assert crawl_db.store_details(conn, [details], discovery_depth=1).stored == 0
    assert db.fetch_value("SELECT count(*) FROM match_players") == 10
    assert db.fetch_value("SELECT count(*) FROM match_players WHERE account_id IS NULL") == 1
    new = db.fetch_all("SELECT DISTINCT depth, discovered_from FROM accounts WHERE account_id <> 1")
    assert new == [{"depth": 1, "discovered_from": 1}]
    encounters = db.fetch_all(
        "SELECT sum(teammate_games) AS t, sum(teammate_wins) AS tw, sum(opponent_games) AS o, sum(opponent_wins) AS ow "
        "FROM players_encountered WHERE account_id = 1"
    )[0]
    assert encounters == {"t": 4, "tw": 4, "o": 4, "ow": 4}  # one opponent slot is anonymous


def test_concurrent_writers_of_the_same_matches_do_not_double_insert(session_db, db):
    _accounts(db, 1)
    matches = [_details(m, [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) for m in range(200, 230)]
    with db.transaction() as conn:
        crawl_db.store_stubs(conn, [MatchStub(match_id=m.match_id) for m in matches], owner_batch="d00-000000", discovered_by=1)
    barrier = Barrier(2)
    stored = []

    def writer():
        barrier.wait()
        with session_db.transaction() as conn:
            stored.append(crawl_db.store_details(conn, matches, discovery_depth=1).stored)

    threads = [Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(stored) == [0, 30]
    assert db.fetch_value("SELECT sum(teammate_games) FROM players_encountered WHERE account_id = 1") == 4 * 30


def test_failures_count_attempts_except_pending_and_give_up_spends_all(db):
    _accounts(db, 1)
    with db.transaction() as conn:
        crawl_db.store_stubs(conn, [MatchStub(match_id=m) for m in (1, 2, 3)], owner_batch="d00-000000", discovered_by=1)
        crawl_db.record_detail_failures(conn, [(1, "ServerError: 503", "retry"), (2, "DetailsNotReady", "pending"), (3, "NotFound", "give_up")])
        crawl_db.record_detail_failures(conn, [(1, "RequestTimeout", "retry")])
    rows = {r["match_id"]: r for r in db.fetch_all("SELECT match_id, has_details, retry_count, fetch_error FROM matches")}
    assert (rows[1]["has_details"], rows[1]["retry_count"], rows[1]["fetch_error"]) == (False, 2, "RequestTimeout")
    assert (rows[2]["has_details"], rows[2]["retry_count"]) == (None, 0)
    assert (rows[3]["has_details"], rows[3]["retry_count"]) == (False, 3)
    with db.transaction() as conn:
        assert crawl_db.stubs_to_fetch(conn, "d00-000000") == [1, 2]
        crawl_db.record_account_failures(conn, "hero_stats", [(1, "ServerError", "retry")])
        assert [a.account_id for a in crawl_db.accounts_to_fetch(conn, "d00-000000", "hero_stats", refresh=False)] == [1]
