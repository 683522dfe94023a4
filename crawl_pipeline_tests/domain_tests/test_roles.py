"""Roles of the tracked identities in a match (several accounts for me, named teammates) and the
aggregation per role, per identity and per player met."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID
from crawl_pipeline.domain.roles import (
    ANON_OPPONENT,
    ANON_TEAMMATE,
    ME,
    ROLES,
    TEAMMATE,
    AmbiguousMatch,
    Identities,
    NotMyMatch,
    assign_all,
    identity_stats,
    match_roles,
    players_met,
    role_of,
    role_stats,
    side_of,
)

MAIN, SMURF = 100, 101
ALICE_1, ALICE_2, BOB = 200, 201, 300
STRANGER = 400
IDS = Identities((MAIN, SMURF), {"alice": (ALICE_1, ALICE_2), "bob": (BOB,)})


@pytest.mark.parametrize(
    ("account_id", "radiant", "expected"),
    [
        (MAIN, True, (ME, "me")),
        (SMURF, True, (ME, "me")),
        (ALICE_1, True, (TEAMMATE, "alice")),
        (ALICE_2, True, (TEAMMATE, "alice")),
        (BOB, True, (TEAMMATE, "bob")),
        (STRANGER, True, (ANON_TEAMMATE, None)),  # known id, not one of ours
        (None, True, (ANON_TEAMMATE, None)),
        (ANONYMOUS_ACCOUNT_ID, True, (ANON_TEAMMATE, None)),
        (STRANGER, False, (ANON_OPPONENT, None)),
        (ALICE_1, False, (ANON_OPPONENT, None)),  # a named teammate against me is an anon_opponent
        (BOB, False, (ANON_OPPONENT, None)),
        (None, False, (ANON_OPPONENT, None)),
        (ANONYMOUS_ACCOUNT_ID, False, (ANON_OPPONENT, None)),
    ],
)
def test_role_of_every_case(account_id, radiant, expected):
    assert role_of({"account_id": account_id, "is_radiant": radiant}, True, IDS) == expected
    mirrored = {"account_id": account_id, "is_radiant": not radiant}  # the same relation from the dire side
    assert role_of(mirrored, False, IDS) == expected


def test_roles_are_the_four_of_the_issue():
    assert ROLES == ("me", "teammate", "anon_teammate", "anon_opponent")


def test_identities_lookups_and_the_simple_form():
    assert IDS.name_of(SMURF) == "me" and IDS.name_of(ALICE_2) == "alice" and IDS.name_of(STRANGER) is None
    assert IDS.name_of(None) is None and IDS.names == ("me", "alice", "bob")
    assert IDS.accounts() == [(MAIN, "me", "me"), (SMURF, "me", "me"), (ALICE_1, "alice", "teammate"),
                              (ALICE_2, "alice", "teammate"), (BOB, "bob", "teammate")]
    assert IDS.as_config() == {"me": [MAIN, SMURF], "teammates": {"alice": [ALICE_1, ALICE_2], "bob": [BOB]}}
    simple = Identities.simple(7, [8, 9])
    assert simple.me == (7,) and simple.teammates == {"8": (8,), "9": (9,)} and simple.name_of(9) == "9"


@dataclass
class Row:
    match_id: int
    account_id: int | None
    player_slot: int
    win: bool
    kills: int = 1
    deaths: int = 1
    assists: int = 1
    hero_id: int = 1
    start_time: datetime | None = None


def test_side_from_slot_or_flag_and_objects_work():
    assert side_of(Row(1, 5, 3, True)) is True and side_of(Row(1, 5, 130, True)) is False
    assert side_of({"is_radiant": False, "player_slot": 1}) is False
    with pytest.raises(ValueError, match="is_radiant or player_slot"):
        side_of({"account_id": 1})


def match(mid: int, me_radiant: bool, me_won: bool, radiant_ids, dire_ids, day: int = 1):
    rows = []
    for side, ids in ((True, radiant_ids), (False, dire_ids)):
        for j, aid in enumerate(ids):
            won = me_won if side == me_radiant else not me_won
            rows.append(Row(mid, aid, j if side else 128 + j, won, kills=j + 1, deaths=j, assists=2, hero_id=10 + j,
                            start_time=datetime(2026, 1, day, tzinfo=UTC)))
    return rows


def test_match_roles_with_either_of_my_accounts():
    rows = match(1, False, True, [ALICE_2, None, STRANGER, 6, 7], [SMURF, ALICE_1, BOB, None, 8])
    assigned = match_roles(rows, IDS)
    assert [(a.role, a.identity) for a in assigned] == [
        (ANON_OPPONENT, None), (ANON_OPPONENT, None), (ANON_OPPONENT, None), (ANON_OPPONENT, None),
        (ANON_OPPONENT, None),
        (ME, "me"), (TEAMMATE, "alice"), (TEAMMATE, "bob"), (ANON_TEAMMATE, None), (ANON_TEAMMATE, None),
    ]
    with pytest.raises(NotMyMatch, match="none of me's accounts"):
        match_roles(match(2, True, True, [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), IDS)
    with pytest.raises(AmbiguousMatch, match="both sides"):
        match_roles(match(3, True, True, [MAIN, 2, 3, 4, 5], [SMURF, 7, 8, 9, 10]), IDS)


def games():
    return (
        # 1: main radiant, wins, with alice (her first account) and bob
        match(1, True, True, [MAIN, ALICE_1, BOB, None, STRANGER], [6, None, 7, 8, 9], day=1)
        # 2: smurf dire, loses, with alice's second account; bob plays against me
        + match(2, False, False, [BOB, STRANGER, 11, 12, 13], [SMURF, ALICE_2, None, 14, 15], day=2)
        # 3: main and smurf on the same side (one person, two accounts listed: counted once for me), wins
        + match(3, True, True, [MAIN, SMURF, ALICE_1, 16, 17], [18, 19, 20, 21, 22], day=3)
        # 4: me's accounts on both sides: ambiguous, left out everywhere
        + match(4, True, True, [MAIN, ALICE_1, BOB, STRANGER, 23], [SMURF, 24, 25, 26, 27], day=4)
        # 5: none of me's accounts: skipped
        + match(5, True, True, [ALICE_1, BOB, STRANGER, 28, 29], [30, 31, 32, 33, 34], day=5)
    )


def test_assign_all_sets_ambiguous_matches_apart():
    assigned, ambiguous = assign_all(games(), IDS)
    assert sorted(assigned) == [1, 2, 3] and ambiguous == [4]


def test_stats_per_identity_me_over_all_accounts_and_each_named_teammate():
    stats = identity_stats(games(), IDS)
    assert list(stats) == ["me", "alice", "bob"]
    me = stats["me"]
    assert (me.games, me.wins, me.win_rate) == (3, 2, 2 / 3)  # match 3 counts once
    assert me.accounts == {MAIN: 2, SMURF: 2}
    # rows: main slot 0 in 1 and 3 (1/0/2 each), smurf dire slot 0 in 2 (1/0/2) and radiant slot 1 in 3 (2/1/2)
    assert (me.kills, me.deaths, me.assists) == (5, 1, 8) and me.kda == 13.0
    assert me.heroes == {10: 3, 11: 1}
    assert me.last_played == datetime(2026, 1, 3, tzinfo=UTC)
    alice = stats["alice"]
    assert (alice.games, alice.wins, alice.games_against) == (3, 2, 0)
    assert alice.accounts == {ALICE_1: 2, ALICE_2: 1} and alice.heroes == {11: 2, 12: 1}
    bob = stats["bob"]
    assert (bob.games, bob.wins, bob.games_against) == (1, 1, 1)  # with me in 1, against me in 2
    assert bob.kda == (3 + 2) / 2
    empty = identity_stats([], IDS)
    assert empty["alice"].games == 0 and empty["alice"].kda is None and empty["me"].win_rate is None


def test_role_stats_count_player_rows():
    stats = role_stats(games(), IDS)
    assert set(stats) == set(ROLES)
    assert stats[ME].games == 4  # two accounts in match 3
    assert stats[TEAMMATE].games == 2 + 1 + 1  # alice+bob in 1, alice in 2, alice in 3
    assert stats[ANON_TEAMMATE].games == 2 + 3 + 2  # None, stranger; None, 14, 15; 16, 17
    assert stats[ANON_OPPONENT].games == 5 + 5 + 5  # bob and the stranger against me in 2 among them


def test_players_met_order_and_counts():
    met = players_met(games(), IDS, top=None)
    by_id = {m.account_id: m for m in met}
    assert MAIN not in by_id and SMURF not in by_id and None not in by_id and 28 not in by_id  # match 5 skipped
    assert 24 not in by_id  # match 4 is ambiguous
    # BOB and STRANGER met twice (with in 1, against in 2); ALICE_1 twice (1, 3): most recent first
    assert [m.account_id for m in met[:3]] == [ALICE_1, BOB, STRANGER]
    assert by_id[ALICE_1].last_played == datetime(2026, 1, 3, tzinfo=UTC) and by_id[ALICE_1].identity == "alice"
    bob = by_id[BOB]
    assert (bob.games, bob.with_games, bob.with_wins, bob.against_games, bob.against_wins) == (2, 1, 1, 1, 0)
    assert by_id[STRANGER].identity is None and by_id[ALICE_2].games == 1
    # equal games and equal last match: lower id first
    assert [m.account_id for m in met if m.games == 1][:3] == [16, 17, 18]
    assert len(players_met(games(), IDS, top=2)) == 2
