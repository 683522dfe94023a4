"""Steam Web API: the simulator's answers against Valve's documented result fields.

Schema: ``steam_webapi_subset.json`` (Valve's WebAPI pages for GetMatchHistory,
GetMatchHistoryBySequenceNum, GetMatchDetails and ISteamUser/GetPlayerBans). GetMatchDetails
answers HTTP 500 ``{}`` for every match since 2024 (ValveSoftware/Dota-2 #2715,
Dota2-Gameplay #17910 and #33427); full matches come from GetMatchHistoryBySequenceNum.
"""

from __future__ import annotations

import json
from importlib import resources
from itertools import pairwise

import httpx
import numpy as np

from crawl_pipeline.domain.identity import to_steamid64
from crawl_pipeline.simulator import SimulatorConfig
from crawl_pipeline.simulator.content import CLUSTER_REGION
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

from .schema_check import check, load
from .support import STEAM_KEY

SCHEMA = load("steam_webapi_subset.json")
HISTORY = "/IDOTA2Match_570/GetMatchHistory/v1/"
BY_SEQ = "/IDOTA2Match_570/GetMatchHistoryBySequenceNum/v1/"
DETAILS = "/IDOTA2Match_570/GetMatchDetails/v1/"
BANS = "/ISteamUser/GetPlayerBans/v1/"
REGIONS = {int(k) for k in json.loads(resources.files("crawl_pipeline.reference").joinpath("region.json").read_text("utf-8"))}


def test_match_history_matches_documented_fields(client: httpx.Client) -> None:
    body = client.get(HISTORY, params={"key": STEAM_KEY, "account_id": SEED_ACCOUNT}).json()
    check(body, SCHEMA, "GetMatchHistory")
    result = body["result"]
    assert result["num_results"] == len(result["matches"]) == 25  # matches_requested defaults to 25
    assert all(isinstance(m["match_seq_num"], int) for m in result["matches"])
    hundred = client.get(HISTORY, params={"key": STEAM_KEY, "account_id": SEED_ACCOUNT, "matches_requested": 500}).json()
    assert len(hundred["result"]["matches"]) == min(100, hundred["result"]["total_results"])
    private = client.get(HISTORY, params={"key": STEAM_KEY, "account_id": 12}).json()
    check(private, SCHEMA, "GetMatchHistory")
    assert private["result"]["status"] == 15


def test_history_by_sequence_number_is_full_ordered_and_dense(client: httpx.Client, sim) -> None:
    start = int(sim.world.match_seq_num(np.array([50]))[0]) - 1
    body = client.get(BY_SEQ, params={"key": STEAM_KEY, "start_at_match_seq_num": start, "matches_requested": 100}).json()
    check(body, SCHEMA, "GetMatchHistoryBySequenceNum")
    matches = body["result"]["matches"]
    assert len(matches) == 100
    seqs = [m["match_seq_num"] for m in matches]
    assert seqs[0] >= start and all(0 < b - a <= 3 for a, b in pairwise(seqs))  # increasing, no big gaps
    starts = [m["start_time"] for m in matches]
    assert starts == sorted(starts)  # sequence follows time, so near numbers mean near matches
    assert all(len(m["players"]) == 10 for m in matches)
    more = client.get(BY_SEQ, params={"key": STEAM_KEY, "start_at_match_seq_num": seqs[-1] + 1, "matches_requested": 1000}).json()
    assert len(more["result"]["matches"]) == 100 and more["result"]["matches"][0]["match_seq_num"] > seqs[-1]
    zero = client.get(BY_SEQ, params={"key": STEAM_KEY, "matches_requested": 0}).json()
    check(zero, SCHEMA, "GetMatchHistoryBySequenceNum")
    assert zero["result"]["status"] == 8


def test_cluster_is_a_real_cluster_of_the_match_region(client: httpx.Client) -> None:
    matches = client.get(BY_SEQ, params={"key": STEAM_KEY, "matches_requested": 100}).json()["result"]["matches"]
    for m in matches[:20]:
        assert m["cluster"] in CLUSTER_REGION
        od = client.get(f"/api/matches/{m['match_id']}").json()
        assert od["cluster"] == m["cluster"] and od["region"] == CLUSTER_REGION[m["cluster"]]
        assert od["region"] in REGIONS
        assert od["match_seq_num"] == m["match_seq_num"]


def test_match_details_is_500_for_every_match_by_default(client: httpx.Client, sim) -> None:
    assert SimulatorConfig().steam_match_details_enabled is False
    known = int(sim.world.match_id(np.array([7]))[0])
    for match_id in (known, 5):
        r = client.get(DETAILS, params={"key": STEAM_KEY, "match_id": match_id})
        assert r.status_code == 500 and r.json() == {}


def test_match_details_flag_brings_the_old_endpoint_back(sim) -> None:
    known = int(sim.world.match_id(np.array([7]))[0])
    with start_simulator(steam_match_details_enabled=True, rate_limits={"enabled": False}) as on, httpx.Client(base_url=on.url) as c:
        body = c.get(DETAILS, params={"key": STEAM_KEY, "match_id": known}).json()
        check(body["result"], SCHEMA, "MatchDetails")
        seq = c.get(BY_SEQ, params={"key": STEAM_KEY, "start_at_match_seq_num": body["result"]["match_seq_num"],
                                     "matches_requested": 1}).json()["result"]["matches"][0]  # fmt: skip
        assert seq == body["result"]  # the same shape and content from both methods
        assert c.get(DETAILS, params={"key": STEAM_KEY, "match_id": 5}).json() == {"result": {"error": "Match ID not found"}}
    with start_simulator(steam_match_details_enabled=True, steam_details_error_rate=1.0, rate_limits={"enabled": False}) as bad:
        r = httpx.get(bad.url + DETAILS, params={"key": STEAM_KEY, "match_id": known})
        assert r.status_code == 500 and r.json() == {}


def test_player_bans_match_documented_fields(client: httpx.Client, sim) -> None:
    banned = int(sim.world.accounts.account_id[(sim.world.accounts.vac_bans > 0).argmax()])
    body = client.get(BANS, params={"key": STEAM_KEY, "steamids": f"{to_steamid64(SEED_ACCOUNT)},{to_steamid64(banned)}"}).json()
    check(body, SCHEMA, "GetPlayerBans")
    assert len(body["players"]) == 2 and body["players"][1]["VACBanned"] is True


def test_default_daily_limit_per_key() -> None:
    assert SimulatorConfig().rate_limits.steam_per_day == 100_000
