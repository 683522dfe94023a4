"""Matches of the identity tests: several accounts for me, named teammates on both sides, anonymous players."""

MAIN, SMURF = 100, 101
ALICE_1, ALICE_2, BOB = 200, 201, 300
UNLISTED = 301
ANON, HIDDEN = None, 4294967295


def add_match(conn, match_id, start, players, *, has_details=True):
    """players: (slot, account_id, hero_id, win, k, d, a)."""
    conn.execute("INSERT INTO matches (match_id, start_time, lobby_type, game_mode, duration, has_details) "
                 "VALUES (%s, to_timestamp(%s), 7, 22, 2000, %s)", (match_id, start, has_details))
    for slot, account, hero, win, k, d, a in players:
        conn.execute(
            "INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant, win, kills, deaths, assists) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (match_id, slot, account, hero, slot < 128, win, k, d, a),
        )


def team(first_slot, accounts, heroes, win, kda=(5, 2, 7)):
    return [(first_slot + i, a, h, win, *kda) for i, (a, h) in enumerate(zip(accounts, heroes, strict=True))]


def seed_matches(db):
    with db.transaction() as conn:
        # 1: MAIN radiant wins with alice's first account, an anonymous player, a hidden one (4294967295)
        # and an unlisted known player; bob plays against me
        add_match(conn, 1, 1_730_000_000, team(0, [MAIN, ALICE_1, ANON, HIDDEN, UNLISTED], [1, 2, 3, 4, 5], True)
                  + team(128, [BOB, ANON, 501, 502, 503], [6, 7, 8, 9, 10], False))
        # 2: SMURF dire with alice's second account and bob; the radiant side wins
        add_match(conn, 2, 1_730_100_000, team(0, [601, 602, 603, ANON, 501], [11, 12, 13, 14, 15], True)
                  + team(128, [SMURF, ALICE_2, BOB, 604, 605], [1, 16, 17, 18, 19], False, kda=(1, 9, 3)))
        # 3: MAIN and SMURF on both sides: ambiguous, no roles
        add_match(conn, 3, 1_730_150_000, team(0, [MAIN, 702, 703, 704, 705], [1, 2, 3, 4, 5], True)
                  + team(128, [SMURF, 707, 708, 709, 710], [6, 7, 8, 9, 10], False))
        # 4: a match none of me's accounts played: ignored
        add_match(conn, 4, 1_730_200_000, team(0, [ALICE_1, BOB, 803, 804, 805], [1, 2, 3, 4, 5], True)
                  + team(128, [806, 807, 808, 809, 810], [6, 7, 8, 9, 10], False))
        # 5: a stub of MAIN (no details yet): ignored
        add_match(conn, 5, 1_730_300_000, team(0, [MAIN], [1], True), has_details=None)
