"""OpenDota dialect over real HTTP: shapes, filters, errors, determinism."""

from __future__ import annotations

from datetime import datetime

import httpx

from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

from .support import OPENDOTA_KEY

PROFILE_FIELDS = {
    "account_id": int, "personaname": str, "name": type(None), "plus": bool, "cheese": int, "steamid": str,
    "avatar": str, "avatarmedium": str, "avatarfull": str, "profileurl": str, "is_contributor": bool,
    "is_subscriber": bool,
}  # fmt: skip
MATCH_LIST_FIELDS = {
    "match_id": int, "player_slot": int, "radiant_win": bool, "duration": int, "game_mode": int,
    "lobby_type": int, "hero_id": int, "start_time": int, "kills": int, "deaths": int, "assists": int,
    "leaver_status": int, "party_size": int,
}  # fmt: skip
MATCH_PLAYER_FIELDS = {
    "player_slot": int, "hero_id": int, "kills": int, "deaths": int, "assists": int, "gold_per_min": int,
    "xp_per_min": int, "last_hits": int, "denies": int, "net_worth": int, "hero_damage": int,
    "isRadiant": bool, "win": int,
}  # fmt: skip


def assert_shape(obj: dict, fields: dict) -> None:
    for name, kind in fields.items():
        assert name in obj, name
        assert isinstance(obj[name], kind), (name, obj[name])


def test_player_profile_shape(client: httpx.Client) -> None:
    r = client.get(f"/api/players/{SEED_ACCOUNT}")
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"profile", "rank_tier", "leaderboard_rank"}
    assert_shape(body["profile"], PROFILE_FIELDS)
    assert body["profile"]["account_id"] == SEED_ACCOUNT
    assert body["profile"]["steamid"] == str(SEED_ACCOUNT + 76561197960265728)
    assert isinstance(body["rank_tier"], int) and 11 <= body["rank_tier"] <= 80
    assert body["profile"]["loccountrycode"] is None or len(body["profile"]["loccountrycode"]) == 2


def test_unknown_and_invalid_accounts(client: httpx.Client) -> None:
    assert client.get("/api/players/12").status_code == 404
    assert client.get("/api/players/12").json() == {"error": "Not Found"}
    assert client.get("/api/players/12/matches").json() == []  # list routes: no matches, no 404
    assert client.get("/api/players/12/wl").json() == {"win": 0, "lose": 0}
    assert all(h["games"] == 0 for h in client.get("/api/players/12/heroes").json())
    assert client.get("/api/players/1.5/matches").json() == {"error": "invalid account id"}
    assert client.get("/api/matches/abc").status_code == 404
    r = client.get("/api/players/abc")
    assert r.status_code == 400 and r.json() == {"error": "invalid account id"}
    assert client.get("/api/nothing/here").json() == {"error": "Not Found"}


def test_player_matches_shape_order_and_paging(client: httpx.Client) -> None:
    page = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"significant": 0}).json()
    assert len(page) > 20
    for item in page[:5]:
        assert_shape(item, MATCH_LIST_FIELDS)
        assert item["player_slot"] in {0, 1, 2, 3, 4, 128, 129, 130, 131, 132}
    starts = [m["start_time"] for m in page]
    assert starts == sorted(starts, reverse=True)
    second = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"significant": 0, "limit": 3, "offset": 2}).json()
    assert [m["match_id"] for m in second] == [m["match_id"] for m in page[2:5]]
    ranked = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"lobby_type": 7}).json()
    assert ranked and all(m["lobby_type"] == 7 for m in ranked)
    significant = client.get(f"/api/players/{SEED_ACCOUNT}/matches").json()
    assert all(m["game_mode"] != 23 for m in significant) and len(significant) < len(page)
    projected = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"project": "hero_id", "limit": 1}).json()
    # significant=1 (the default) projects the columns its filter reads (filterDeps)
    assert set(projected[0]) == {"match_id", "player_slot", "radiant_win", "hero_id", "duration", "game_mode", "lobby_type"}
    bare = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"project": "hero_id", "limit": 1, "significant": 0}).json()
    assert set(bare[0]) == {"match_id", "player_slot", "radiant_win", "hero_id"}


def test_private_profile_lists_nothing(client: httpx.Client, world) -> None:
    private = int(world.accounts.account_id[world.accounts.private.argmax()])
    profile = client.get(f"/api/players/{private}").json()["profile"]
    assert profile["account_id"] == private and profile["fh_unavailable"] is True
    assert client.get(f"/api/players/{SEED_ACCOUNT}").json()["profile"]["fh_unavailable"] is False
    assert client.get(f"/api/players/{private}/matches").json() == []
    heroes = client.get(f"/api/players/{private}/heroes").json()  # every hero, never played
    assert len(heroes) > 100 and all(h["games"] == 0 for h in heroes)
    assert client.get(f"/api/players/{private}/wl").json() == {"win": 0, "lose": 0}


def test_ratings_are_the_medal_history_in_time_order(client: httpx.Client, world) -> None:
    """/players/{id}/ratings: rank_tier_history rows, ``time`` an ISO timestamp (node-postgres),
    the last one the profile's medal; [] where OpenDota has none to show."""
    climbed = next(i for i in range(world.num_accounts)
                   if not world.accounts.private[i] and len(world.rank_history(i)) >= 3)
    account_id = int(world.accounts.account_id[climbed])
    rows = client.get(f"/api/players/{account_id}/ratings").json()
    assert len(rows) >= 3 and all(set(r) == {"time", "rank_tier"} for r in rows)
    times = [datetime.fromisoformat(r["time"]) for r in rows]
    assert all(r["time"].endswith("Z") and t.tzinfo is not None for r, t in zip(rows, times, strict=True))
    assert times == sorted(times)
    assert [r["rank_tier"] for r in rows] == [tier for _, tier in world.rank_history(climbed)]
    assert rows[-1]["rank_tier"] == client.get(f"/api/players/{account_id}").json()["rank_tier"]
    private = int(world.accounts.account_id[world.accounts.private.argmax()])
    assert client.get(f"/api/players/{private}/ratings").json() == []
    assert client.get("/api/players/12/ratings").json() == []
    assert client.get("/api/players/abc/ratings").json() == {"error": "invalid account id"}


def test_wl_and_heroes_agree_with_match_list(client: httpx.Client) -> None:
    matches = client.get(f"/api/players/{SEED_ACCOUNT}/matches").json()
    wins = sum((m["player_slot"] < 128) == m["radiant_win"] for m in matches)
    assert client.get(f"/api/players/{SEED_ACCOUNT}/wl").json() == {"win": wins, "lose": len(matches) - wins}
    stats = client.get(f"/api/players/{SEED_ACCOUNT}/heroes").json()
    keys = {"hero_id", "last_played", "games", "win", "with_games", "with_win", "against_games", "against_win"}
    assert all(set(h) == keys and all(isinstance(v, int) for v in h.values()) for h in stats)
    assert sum(h["games"] for h in stats) == len(matches)
    assert stats[0]["games"] >= stats[-1]["games"]


def test_match_details_shape(client: httpx.Client) -> None:
    match_id = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"limit": 1}).json()[0]["match_id"]
    body = client.get(f"/api/matches/{match_id}").json()
    for name in ("match_id", "match_seq_num", "start_time", "duration", "lobby_type", "game_mode", "cluster", "region"):
        assert isinstance(body[name], int), name
    assert isinstance(body["radiant_win"], bool)
    assert len(body["players"]) == 10
    assert [p["player_slot"] for p in body["players"]] == [0, 1, 2, 3, 4, 128, 129, 130, 131, 132]
    for p in body["players"]:
        assert_shape(p, MATCH_PLAYER_FIELDS)
        # anonymous: no account_id, and none of the fields getPlayerDetails joins per account
        assert isinstance(p.get("account_id"), int) or not {"account_id", "rank_tier", "personaname"} & set(p)
        assert p.get("rank_tier") is None or isinstance(p["rank_tier"], int)
        assert p["isRadiant"] == (p["player_slot"] < 128)
        assert "lane_role" not in p  # an unparsed match: computeMatchData derives it from lane_pos only
    assert SEED_ACCOUNT in {p.get("account_id") for p in body["players"]}
    assert client.get("/api/matches/1").status_code == 404


def test_heroes_and_rankings(client: httpx.Client) -> None:
    heroes = client.get("/api/heroes").json()
    assert len(heroes) > 100 and {"id", "name", "localized_name", "primary_attr", "attack_type", "roles"} <= set(heroes[0])
    ranking = client.get("/api/rankings", params={"hero_id": 1}).json()
    assert ranking["hero_id"] == 1 and 0 < len(ranking["rankings"]) <= 100
    assert {"account_id", "score", "personaname", "rank_tier"} <= set(ranking["rankings"][0])
    scores = [r["score"] for r in ranking["rankings"]]
    assert scores == sorted(scores, reverse=True)


def test_payloads_deterministic_across_servers_and_seeds() -> None:
    paths = [f"/api/players/{SEED_ACCOUNT}", f"/api/players/{SEED_ACCOUNT}/matches?limit=5"]
    bodies = []
    for seed in (3, 3, 4):
        with start_simulator(seed=seed, accounts=400) as sim:
            bodies.append([httpx.get(sim.url + p).text for p in paths])
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_invalid_premium_key_is_rejected(client: httpx.Client) -> None:
    r = client.get(f"/api/players/{SEED_ACCOUNT}", params={"api_key": "nope"})
    assert r.status_code == 400 and r.json() == {"error": "Invalid API key format"}
    unknown = client.get(f"/api/players/{SEED_ACCOUNT}", params={"api_key": "12345678-1234-4234-8234-123456789abc"})
    assert unknown.status_code == 400 and "API key invalid" in unknown.json()["error"]
    assert client.get(f"/api/players/{SEED_ACCOUNT}", params={"api_key": OPENDOTA_KEY}).status_code == 200
    assert client.get(f"/api/players/{SEED_ACCOUNT}", headers={"Authorization": f"Bearer {OPENDOTA_KEY}"}).status_code == 200
