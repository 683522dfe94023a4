"""Steam Web API dialect over real HTTP: shapes, keys, the 500-match window, bans."""

from __future__ import annotations

import httpx
import numpy as np

from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID, to_steamid64
from crawl_pipeline.simulator.content import match_batch
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

from .support import STEAM_KEY

HISTORY = "/IDOTA2Match_570/GetMatchHistory/v1/"
DETAILS = "/IDOTA2Match_570/GetMatchDetails/v1/"
BY_SEQ = "/IDOTA2Match_570/GetMatchHistoryBySequenceNum/v1/"
BANS = "/ISteamUser/GetPlayerBans/v1/"
DETAIL_PLAYER_FIELDS = (
    "account_id", "player_slot", "team_number", "team_slot", "hero_id", "kills", "deaths", "assists",
    "leaver_status", "last_hits", "denies", "gold_per_min", "xp_per_min", "level", "net_worth", "hero_damage",
)  # fmt: skip


def test_key_is_required_on_every_endpoint(client: httpx.Client) -> None:
    for path in (HISTORY, DETAILS, BY_SEQ, BANS):
        for params in ({}, {"key": "wrong"}):
            r = client.get(path, params=params)
            assert r.status_code == 403 and "Forbidden" in r.text


def test_match_history_shape_and_paging(client: httpx.Client) -> None:
    r = client.get(HISTORY, params={"key": STEAM_KEY, "account_id": SEED_ACCOUNT, "matches_requested": 5})
    result = r.json()["result"]
    assert result["status"] == 1
    assert set(result) == {"status", "num_results", "total_results", "results_remaining", "matches"}
    assert result["num_results"] == 5 and result["total_results"] <= 500
    assert result["results_remaining"] == result["total_results"] - 5
    match = result["matches"][0]
    assert set(match) == {"match_id", "match_seq_num", "start_time", "lobby_type", "radiant_team_id", "dire_team_id", "players"}
    assert len(match["players"]) == 10
    assert set(match["players"][0]) >= {"account_id", "player_slot", "team_number", "team_slot", "hero_id"}
    ids = [m["match_id"] for m in result["matches"]]
    assert ids == sorted(ids, reverse=True)
    nxt = client.get(HISTORY, params={"key": STEAM_KEY, "account_id": SEED_ACCOUNT, "matches_requested": 5,
                                      "start_at_match_id": ids[-1] - 1}).json()["result"]  # fmt: skip
    assert nxt["matches"][0]["match_id"] < ids[-1]
    steamid = client.get(HISTORY.rstrip("/"), params={"key": STEAM_KEY, "account_id": to_steamid64(SEED_ACCOUNT), "matches_requested": 5})
    assert steamid.json()["result"]["matches"] == result["matches"]


def test_history_is_capped_at_500() -> None:
    with start_simulator(accounts=200, matches=20_000, rate_limits={"enabled": False}) as sim:
        busiest = int(sim.world.accounts.account_id[(sim.world.csr_offsets[1:] - sim.world.csr_offsets[:-1]).argmax()])
        params = {"key": STEAM_KEY, "account_id": busiest, "start_at_match_id": 0}
        seen = 0
        start = None
        with httpx.Client(base_url=sim.url) as c:
            while True:
                if start is not None:
                    params["start_at_match_id"] = start
                else:
                    params.pop("start_at_match_id")
                result = c.get(HISTORY, params=params).json()["result"]
                assert result["total_results"] == 500
                seen += result["num_results"]
                if not result["results_remaining"]:
                    break
                start = result["matches"][-1]["match_id"] - 1
        assert seen == 500


def test_private_account_gets_status_15(client: httpx.Client, world) -> None:
    private = int(world.accounts.account_id[world.accounts.private.argmax()])
    body = client.get(HISTORY, params={"key": STEAM_KEY, "account_id": private}).json()
    assert body == {"result": {"status": 15, "statusDetail": "Cannot get match history for a user that hasn't allowed it"}}


def test_match_details_shape_and_anonymous_players(world) -> None:
    """The pre-2024 endpoint, behind ``steam_match_details_enabled`` (real Steam answers 500)."""
    batch = match_batch(world, np.arange(2_000))
    row = int(np.flatnonzero((batch.account_id < 0).any(axis=1))[0])
    with (
        start_simulator(steam_match_details_enabled=True, rate_limits={"enabled": False}) as sim,
        httpx.Client(base_url=sim.url) as client,
    ):
        body = client.get(DETAILS, params={"key": STEAM_KEY, "match_id": int(batch.match_id[row])}).json()["result"]
        missing = client.get(DETAILS, params={"key": STEAM_KEY, "match_id": 5}).json()
    for name in ("match_id", "match_seq_num", "start_time", "duration", "lobby_type", "game_mode", "cluster"):
        assert isinstance(body[name], int), name
    assert isinstance(body["radiant_win"], bool)
    for p in body["players"]:
        assert all(name in p for name in DETAIL_PLAYER_FIELDS)
    assert ANONYMOUS_ACCOUNT_ID in [p["account_id"] for p in body["players"]]
    assert missing == {"result": {"error": "Match ID not found"}}


def test_history_by_sequence_number(client: httpx.Client, world) -> None:
    seq = int(world.match_seq_num(np.array([10]))[0])
    result = client.get(BY_SEQ, params={"key": STEAM_KEY, "start_at_match_seq_num": seq, "matches_requested": 3}).json()["result"]
    assert result["status"] == 1 and len(result["matches"]) == 3
    assert result["matches"][0]["match_seq_num"] == seq
    assert len(result["matches"][0]["players"]) == 10


def test_the_sequence_feed_answers_one_call_per_five_seconds_per_key() -> None:
    """odota/core's scanner: "limited to something like 1 request every 5 seconds". The key's other
    endpoints are not held to that pace."""
    with start_simulator(accounts=200) as sim, httpx.Client(base_url=sim.url, timeout=30) as client:
        now = [1_750_000_000.5]  # early in an aligned 5 s window
        sim.runtime.limiter._clock = lambda: now[0]
        seq = int(sim.world.match_seq_num(np.array([0]))[0])
        page = {"key": STEAM_KEY, "start_at_match_seq_num": seq, "matches_requested": 2}
        first, second = client.get(BY_SEQ, params=page), client.get(BY_SEQ, params=page)
        bans = client.get(BANS, params={"key": STEAM_KEY, "steamids": str(to_steamid64(SEED_ACCOUNT))})
        now[0] += 5.0  # the next window
        third = client.get(BY_SEQ, params=page)
    assert (first.status_code, second.status_code, bans.status_code, third.status_code) == (200, 429, 200, 200)
    assert "Too Many Requests" in second.text


def test_player_bans_shape_and_unknown_ids_omitted(client: httpx.Client, world) -> None:
    banned = int(world.accounts.account_id[(world.accounts.vac_bans > 0).argmax()])
    ids = f"{to_steamid64(SEED_ACCOUNT)},{to_steamid64(banned)},76561197960265729"
    players = client.get(BANS, params={"key": STEAM_KEY, "steamids": ids}).json()["players"]
    assert len(players) == 2
    expected = {"SteamId": str, "CommunityBanned": bool, "VACBanned": bool, "NumberOfVACBans": int,
                "DaysSinceLastBan": int, "NumberOfGameBans": int, "EconomyBan": str}  # fmt: skip
    for p in players:
        assert set(p) == set(expected) and all(isinstance(p[k], t) for k, t in expected.items())
    assert players[1]["VACBanned"] and players[1]["NumberOfVACBans"] >= 1


def test_match_details_500_rate_is_deterministic() -> None:
    with start_simulator(steam_match_details_enabled=True, steam_details_error_rate=0.5, rate_limits={"enabled": False}) as sim:
        match_ids = [int(x) for x in sim.world.match_id(np.arange(30))]
        with httpx.Client(base_url=sim.url) as c:
            first = [c.get(DETAILS, params={"key": STEAM_KEY, "match_id": m}) for m in match_ids]
            assert {r.status_code for r in first} == {200, 500}
            assert all(r.json() == {} for r in first if r.status_code == 500)
            sim.reset()
            again = [c.get(DETAILS, params={"key": STEAM_KEY, "match_id": m}).status_code for m in match_ids]
        assert again == [r.status_code for r in first]
