"""Roles of tracked identities in a match and per-role aggregation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID
from crawl_pipeline.domain.roles import (
    ANON_OPPONENT,
    ANON_TEAMMATE,
    ME,
    OPPONENT,
    ROLES,
    TEAMMATE,
    match_roles,
    players_met,
    role_of,
    role_stats,
    side_of,
)

ME_ID, FRIEND, OTHER_FRIEND, STRANGER = 100, 200, 300, 400
FRIENDS = {FRIEND, OTHER_FRIEND}


@pytest.mark.parametrize(
    ("account_id", "radiant", "expected"),
    [
        (ME_ID, True, ME),
        (FRIEND, True, TEAMMATE),
        (STRANGER, True, TEAMMATE),
        (None, True, ANON_TEAMMATE),
        (ANONYMOUS_ACCOUNT_ID, True, ANON_TEAMMATE),
        (STRANGER, False, OPPONENT),
        (FRIEND, False, OPPONENT),  # a listed teammate on the other side is an opponent
        (None, False, ANON_OPPONENT),
        (ANONYMOUS_ACCOUNT_ID, False, ANON_OPPONENT),
    ],
)
def test_role_of_every_case(account_id, radiant, expected):
    assert role_of({"account_id": account_id, "is_radiant": radiant}, True, ME_ID, FRIENDS) == expected
    # the same relation seen from the dire side
    mirrored = {"account_id": account_id, "is_radiant": not radiant}
    assert role_of(mirrored, False, ME_ID, FRIENDS) == expected


def test_listed_only_makes_strangers_on_my_side_anonymous_to_us():
    stranger = {"account_id": STRANGER, "is_radiant": True}
    friend = {"account_id": FRIEND, "is_radiant": True}
    assert role_of(stranger, True, ME_ID, FRIENDS, listed_only=True) == ANON_TEAMMATE
    assert role_of(friend, True, ME_ID, FRIENDS, listed_only=True) == TEAMMATE


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


def test_side_from_slot_or_flag_and_objects_work():
    assert side_of(Row(1, 5, 3, True)) is True and side_of(Row(1, 5, 130, True)) is False
    assert side_of({"is_radiant": False, "player_slot": 1}) is False
    with pytest.raises(ValueError, match="is_radiant or player_slot"):
        side_of({"account_id": 1})


def match(mid: int, me_radiant: bool, me_won: bool, radiant_ids, dire_ids):
    rows = []
    for side, ids in ((True, radiant_ids), (False, dire_ids)):
        for j, aid in enumerate(ids):
            won = me_won if side == me_radiant else not me_won
            rows.append(Row(mid, aid, j if side else 128 + j, won, kills=j + 1, deaths=j, assists=2, hero_id=10 + j))
    return rows


def test_match_roles_need_me():
    rows = match(1, True, True, [ME_ID, FRIEND, None, 5, 6], [OTHER_FRIEND, None, 7, 8, 9])
    roles = [r for _, r in match_roles(rows, ME_ID, FRIENDS)]
    assert roles == [ME, TEAMMATE, ANON_TEAMMATE, TEAMMATE, TEAMMATE, OPPONENT, ANON_OPPONENT, OPPONENT, OPPONENT, OPPONENT]
    with pytest.raises(ValueError, match="did not play"):
        match_roles(match(2, True, True, [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), ME_ID, FRIENDS)


def test_role_stats_and_players_met():
    rows = (
        match(1, True, True, [ME_ID, FRIEND, None, 5, 6], [OTHER_FRIEND, None, 7, 8, 9])
        + match(2, False, False, [FRIEND, 5, 11, 12, 13], [ME_ID, OTHER_FRIEND, None, 14, 15])
        + match(3, True, True, [1, 2, 3, 4, 5], [6, 7, 8, 9, 10])  # me absent: skipped
    )
    stats = role_stats(rows, ME_ID, FRIENDS)
    assert set(stats) == set(ROLES)
    me = stats[ME]
    assert (me.games, me.wins, me.win_rate) == (2, 1, 0.5)
    assert me.kda == (1 + 1 + 2 + 2) / max(1, 0 + 0) and me.heroes == {10: 2}
    assert stats[ANON_TEAMMATE].games == 2 and stats[ANON_OPPONENT].games == 1
    assert stats[TEAMMATE].games == 3 + 3  # FRIEND, 5, 6 in match 1; OTHER_FRIEND, 14, 15 in match 2
    assert stats[OPPONENT].games == 4 + 5  # OTHER_FRIEND, 7, 8, 9; FRIEND, 5, 11, 12, 13
    assert role_stats([], ME_ID, FRIENDS)[ME].kda is None

    met = players_met(rows, ME_ID, FRIENDS)
    top = {m.account_id: m for m in met}
    assert met[0].games == 2 and {m.account_id for m in met[:3]} == {FRIEND, OTHER_FRIEND, 5}
    assert (top[FRIEND].with_games, top[FRIEND].against_games, top[FRIEND].with_wins, top[FRIEND].against_wins) == (1, 1, 1, 0)
    assert top[FRIEND].is_listed_teammate and not top[5].is_listed_teammate
    assert ME_ID not in top and None not in top and 1 not in top  # match 3 skipped
    assert len(players_met(rows, ME_ID, FRIENDS, top=2)) == 2
