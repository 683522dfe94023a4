"""Stratz GraphQL dialect over real HTTP: schema, variables, errors, auth."""

from __future__ import annotations

import httpx

from crawl_pipeline_tests.support import SEED_ACCOUNT, graphql

from .support import STRATZ_USER_AGENT

PLAYER_QUERY = """
query Player($id: Long!, $take: Int!) {
  player(steamAccountId: $id) {
    steamAccountId
    steamAccount { id name smurfFlag seasonRank isAnonymous }
    matchCount winCount
    ranks { rank asOfDateTime }
    heroesPerformance(request: {take: 100}, take: 5) { heroId matchCount winCount kDA }
    matches(request: {take: $take, skip: 0, lobbyTypeIds: [7]}) {
      id startDateTime durationSeconds lobbyType gameMode didRadiantWin
      players { steamAccountId heroId kills deaths assists goldPerMinute experiencePerMinute
                numLastHits networth isRadiant isVictory lane role position }
    }
  }
}
"""


def test_player_query_shape(client: httpx.Client) -> None:
    r = graphql(client, PLAYER_QUERY, id=SEED_ACCOUNT, take=3)
    assert r.status_code == 200
    body = r.json()
    assert "errors" not in body
    player = body["data"]["player"]
    assert player["steamAccountId"] == SEED_ACCOUNT
    account = player["steamAccount"]
    assert account["id"] == SEED_ACCOUNT and isinstance(account["name"], str)
    assert isinstance(account["seasonRank"], int) and account["isAnonymous"] is False
    assert account["smurfFlag"] in (0, 1)
    assert isinstance(player["matchCount"], int) and player["winCount"] <= player["matchCount"]
    assert player["ranks"] and isinstance(player["ranks"][0]["asOfDateTime"], int)
    perf = player["heroesPerformance"]
    assert len(perf) <= 5 and set(perf[0]) == {"heroId", "matchCount", "winCount", "kDA"}
    matches = player["matches"]
    assert len(matches) == 3 and all(m["lobbyType"] == "RANKED" for m in matches)
    starts = [m["startDateTime"] for m in matches]
    assert starts == sorted(starts, reverse=True)
    first = matches[0]["players"]
    assert len(first) == 10 and sum(p["isRadiant"] for p in first) == 5
    assert {p["lane"] for p in first} <= {"SAFE_LANE", "MID_LANE", "OFF_LANE", "JUNGLE"}
    assert {p["position"] for p in first} <= {f"POSITION_{i}" for i in range(1, 6)}
    assert SEED_ACCOUNT in {p["steamAccountId"] for p in first}


def test_match_query_agrees_with_opendota(client: httpx.Client) -> None:
    od = client.get(f"/api/players/{SEED_ACCOUNT}/matches", params={"limit": 1}).json()[0]
    r = graphql(client, f"query M($id: Long!) {{ match(id: $id) {{ id didRadiantWin durationSeconds players(steamAccountId: {SEED_ACCOUNT}) {{ kills heroId }} }} }}", id=od["match_id"])
    match = r.json()["data"]["match"]
    assert match["id"] == od["match_id"] and match["didRadiantWin"] == od["radiant_win"]
    assert match["durationSeconds"] == od["duration"]
    assert match["players"] == [{"kills": od["kills"], "heroId": od["hero_id"]}]


def test_errors_follow_graphql(client: httpx.Client) -> None:
    missing = graphql(client, "{ player(steamAccountId: 5) { steamAccountId } }").json()
    assert missing["data"] == {"player": None} and "not found" in missing["errors"][0]["message"]
    invalid = graphql(client, "{ player(steamAccountId: 5) { noSuchField } }").json()
    assert invalid["data"] is None and invalid["errors"][0]["message"]
    too_many = graphql(client, PLAYER_QUERY, id=SEED_ACCOUNT, take=500).json()
    assert any("take" in e["message"] for e in too_many["errors"])


def test_token_required(client: httpx.Client) -> None:
    """As probed live: no token, or a JWT that does not verify, is Kong's 403 JSON; a token that is
    not a JWT at all breaks the gateway: 500 JSON "An unexpected error occurred"."""
    query = {"query": "{ player(steamAccountId: 1) { steamAccountId } }"}
    missing = client.post("/graphql", json=query, headers=STRATZ_USER_AGENT)
    assert missing.status_code == 403 and missing.headers["www-authenticate"] == 'Key realm="kong"'
    unknown = client.post("/graphql", json=query,
                          headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.dW5rbm93bg.bm9wZQ", **STRATZ_USER_AGENT})
    assert unknown.status_code == 403 and unknown.json() == {"message": "Unauthorized"}
    bad = client.post("/graphql", json=query, headers={"Authorization": "Bearer nope", **STRATZ_USER_AGENT})
    assert bad.status_code == 500 and bad.json() == {"message": "An unexpected error occurred"}
