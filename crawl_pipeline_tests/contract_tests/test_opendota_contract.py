"""OpenDota: the simulator's answers against odota/core's OpenAPI description and web.ts rules.

Schema: ``opendota_openapi_subset.json`` (transcribed from odota/core 8d0a715, svc/api/spec.ts
and svc/api/responses/*.ts). Behaviour: svc/web.ts (keys, limits), svc/api/api.ts (player
middleware, isPrivate), svc/api/playerFields.ts + svc/util/filter.ts + buildPlayer.ts (project).
"""

from __future__ import annotations

import httpx
import pytest

from crawl_pipeline.simulator import RateLimits, SimulatorConfig
from crawl_pipeline.simulator.opendota import (
    ALWAYS_FIELDS,
    DEFAULT_MATCH_FIELDS,
    KEY_FORMAT,
)
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

from .schema_check import check, load
from .support import OPENDOTA_KEY

SCHEMA = load("opendota_openapi_subset.json")
MATCHES = f"/api/players/{SEED_ACCOUNT}/matches"
ALWAYS = set(ALWAYS_FIELDS)


def private_account(sim) -> int:
    return int(sim.world.accounts.account_id[sim.world.accounts.private.argmax()])


def test_player_profile_matches_players_response(client: httpx.Client, sim) -> None:
    seed = client.get(f"/api/players/{SEED_ACCOUNT}").json()
    check(seed, SCHEMA, "PlayersResponse")
    assert seed["profile"]["fh_unavailable"] is False
    private = client.get(f"/api/players/{private_account(sim)}").json()
    check(private, SCHEMA, "PlayersResponse")
    assert private["profile"]["fh_unavailable"] is True  # match data not shared ...
    assert client.get(f"/api/players/{private_account(sim)}/matches").json() == []  # ... so no matches (api.ts isPrivate)


def test_default_match_list_is_always_plus_matches_cols(client: httpx.Client) -> None:
    rows = client.get(MATCHES).json()
    assert rows
    for row in rows[:20]:
        check(row, SCHEMA, "PlayerMatchesResponse")
        assert set(row) == ALWAYS | set(DEFAULT_MATCH_FIELDS)
    assert "skill" not in rows[0]  # not a default column (playerFields.ts matchesCols)
    assert [r["match_id"] for r in rows] == sorted((r["match_id"] for r in rows), reverse=True)


def test_project_only_as_repeated_keys(client: httpx.Client) -> None:
    repeated = client.get(MATCHES, params=[("project", "hero_id"), ("project", "kills"), ("significant", "0"), ("limit", "5")]).json()
    assert repeated and all(set(r) == ALWAYS | {"hero_id", "kills"} for r in repeated)
    # Express keeps "hero_id,kills" as one string: an unknown column, dropped by sanitizedProject;
    # and since a project was given, the default columns are not added either
    joined = client.get(MATCHES, params={"project": "hero_id,kills", "significant": 0, "limit": 5}).json()
    assert joined and all(set(r) == ALWAYS for r in joined)
    for row in repeated + joined:
        check(row, SCHEMA, "PlayerMatchesResponse")


def test_filters_project_the_columns_they_read(client: httpx.Client) -> None:
    significant = client.get(MATCHES, params={"project": "kills", "limit": 3}).json()
    assert all(set(r) == ALWAYS | {"kills", "duration", "game_mode", "lobby_type"} for r in significant)
    ranked = client.get(MATCHES, params={"project": "kills", "significant": 0, "lobby_type": 7, "date": 3650, "limit": 3}).json()
    assert ranked and all(set(r) == ALWAYS | {"kills", "lobby_type", "start_time"} and r["lobby_type"] == 7 for r in ranked)
    first_value = client.get(MATCHES, params=[("lobby_type", "7"), ("lobby_type", "0"), ("significant", "0")]).json()
    assert first_value and all(r["lobby_type"] == 7 for r in first_value)  # arrays: the first value filters
    assert client.get(MATCHES, params={"lobby_type": "ranked"}).json() == []  # a string equals no number


def test_significant_is_balanced_modes_longer_than_six_minutes(client: httpx.Client) -> None:
    rows = client.get(MATCHES).json()
    assert rows and all(r["duration"] > 360 and r["game_mode"] != 23 for r in rows)
    everything = client.get(MATCHES, params={"significant": 0}).json()
    assert len(everything) > len(rows)


def test_heroes_and_wl_shapes(client: httpx.Client, sim) -> None:
    for account in (SEED_ACCOUNT, private_account(sim), 12):
        heroes = client.get(f"/api/players/{account}/heroes").json()
        assert len(heroes) > 100  # every hero, played or not (spec.ts prefills them)
        for hero in heroes:
            check(hero, SCHEMA, "PlayerHeroesResponse")
        check(client.get(f"/api/players/{account}/wl").json(), SCHEMA, "PlayerWinLossResponse")


def test_match_matches_match_response(client: httpx.Client) -> None:
    for row in client.get(MATCHES, params={"limit": 5}).json():
        body = client.get(f"/api/matches/{row['match_id']}").json()
        check(body, SCHEMA, "MatchResponse")
        assert {p.get("account_id") for p in body["players"]} >= {SEED_ACCOUNT}


def test_not_found_and_invalid_ids(client: httpx.Client) -> None:
    assert client.get("/api/players/12").status_code == 404
    assert client.get("/api/players/12").json() == {"error": "Not Found"}
    assert client.get("/api/players/12/matches").json() == []
    r = client.get("/api/players/abc/matches")
    assert r.status_code == 400 and r.json() == {"error": "invalid account id"}
    assert client.get("/api/matches/abc").json() == {"error": "Not Found"}


@pytest.mark.parametrize(
    ("key", "status", "error"),
    [
        ("sim-opendota-key", 400, "Invalid API key format"),
        ("00000000-0000-0000-0000-000000000000", 400, "Invalid API key format"),  # version nibble 0
        ("12345678-1234-4234-8234-123456789abc", 400, "API key invalid. Please check the API dashboard or email support@opendota.com."),
        (OPENDOTA_KEY, 200, None),
    ],
)
def test_api_key_format_then_validity(client: httpx.Client, key: str, status: int, error: str | None) -> None:
    for how in ({"params": {"api_key": key}}, {"headers": {"Authorization": f"Bearer {key}"}}):
        r = client.get(f"/api/players/{SEED_ACCOUNT}", **how)
        assert r.status_code == status
        if error:
            assert r.json() == {"error": error}


def test_default_key_is_a_uuid() -> None:
    assert all(KEY_FORMAT.match(k) for k in SimulatorConfig().opendota_keys)


def test_default_limits_are_opendotas() -> None:
    limits = RateLimits()
    assert (limits.opendota_free_per_minute, limits.opendota_free_per_day, limits.opendota_premium_per_minute) == (60, 3000, 300)
    with start_simulator() as sim, httpx.Client(base_url=sim.url) as c:
        free = c.get(f"/api/players/{SEED_ACCOUNT}/wl")
        assert free.headers["X-Rate-Limit-Remaining-Minute"] == "59"
        assert free.headers["X-Rate-Limit-Remaining-Day"] == "2999"
        premium = c.get(f"/api/players/{SEED_ACCOUNT}/wl", headers={"Authorization": f"Bearer {OPENDOTA_KEY}"})
        assert premium.headers["X-Rate-Limit-Remaining-Minute"] == "299"
        assert "X-Rate-Limit-Remaining-Day" not in premium.headers


def test_refused_calls_still_count() -> None:
    with start_simulator(rate_limits={"opendota_free_per_minute": 2}) as sim, httpx.Client(base_url=sim.url) as c:
        answers = [c.get("/api/heroes") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 429, 429]
        assert [r.headers["X-Rate-Limit-Remaining-Minute"] for r in answers] == ["1", "0", "-1", "-2"]
        assert answers[-1].json() == {"error": "minute rate limit exceeded"}
        assert answers[-1].headers["X-Rate-Limit-Remaining-Day"] == str(3000 - 4)
