"""Normalized records from real-shaped payloads: the simulator's, and recorded edge cases."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from crawl_pipeline.domain.heroes import heroes
from crawl_pipeline.domain.identity import ANONYMOUS_ACCOUNT_ID
from crawl_pipeline.domain.records import DetailsRequest
from crawl_pipeline.settings import Secret
from crawl_pipeline.sources.errors import DetailsNotReady, MalformedResponse, NotFound, UnsupportedOperation
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, Sources, SourcesConfig, open_sources
from crawl_pipeline.sources.steam import sequence_groups

from .support import SEED, sim_config, some_match_ids


@pytest.fixture(scope="module")
def sources(shared_sim):
    with open_sources(sim_config(shared_sim), None) as s:
        yield s


@pytest.mark.parametrize("provider", ["opendota", "stratz"])
def test_profile_and_hero_stats(sources, provider):
    profile = sources.provider(provider).player_profile(SEED)
    assert profile.account_id == SEED and profile.source == provider
    assert profile.personaname and profile.avatar
    stats = sources.provider(provider).hero_stats(SEED)
    assert stats.heroes and all(h.hero_id in heroes() and 0 <= h.wins <= h.matches for h in stats.heroes)


def test_providers_agree_on_hero_stats_and_history(sources, shared_sim):
    od, sz = sources.provider("opendota").hero_stats(SEED), sources.provider("stratz").hero_stats(SEED)
    assert {(h.hero_id, h.matches, h.wins) for h in od.heroes} == {(h.hero_id, h.matches, h.wins) for h in sz.heroes}
    total = len(shared_sim.world.matches_of(shared_sim.world.account_index(SEED)))
    assert sum(h.matches for h in od.heroes) + od.unknown_heroes_skipped <= total


@pytest.mark.parametrize("provider", ["opendota", "steam", "stratz"])
def test_match_history_pages_to_the_end(sources, shared_sim, provider):
    client = sources.provider(provider)
    seen, cursor = [], None
    for _ in range(20):
        page = client.match_page(SEED, cursor, page_size=40)
        seen += [m.match_id for m in page.matches]
        cursor = page.next_cursor
        if cursor is None:
            break
    world = shared_sim.world
    expected = sorted(int(m) for m in world.match_id(world.matches_of(world.account_index(SEED))))
    assert sorted(seen) == expected  # every match once, none lost between pages
    assert seen == sorted(seen, reverse=True)  # newest first


def request_of(sim, match_id: int) -> DetailsRequest:
    index = sim.world.match_index(match_id)
    return DetailsRequest(match_id=match_id, match_seq_num=int(sim.world.match_seq_num([index])[0]))


def test_steam_details_come_from_the_sequence_feed_with_region(sources, shared_sim):
    """GetMatchDetails answers 500 for every match (Valve, since 2024); the sequence feed serves the
    same match, with ``cluster`` mapped to the region OpenDota reports."""
    match_id = some_match_ids(shared_sim, 1)[0]
    steam = sources.provider("steam")
    with pytest.raises(DetailsNotReady):
        steam.match_details(match_id)
    [(_, details)] = steam.match_details_group([request_of(shared_sim, match_id)])
    assert details.region is not None
    assert details.region == sources.provider("opendota").match_details(match_id).region


def test_steam_groups_close_sequence_numbers_into_one_call():
    requests = [DetailsRequest(match_id=i, match_seq_num=s) for i, s in enumerate([500, 10, 99, 109, 110, 400])]
    requests.append(DetailsRequest(match_id=99, match_seq_num=None))
    groups = sequence_groups(requests)
    assert [[r.match_seq_num for r in g] for g in groups] == [[None], [10, 99, 109], [110], [400], [500]]


@pytest.mark.parametrize("provider", ["opendota", "steam", "stratz"])
def test_match_details_normalized_alike(sources, shared_sim, provider):
    match_id = some_match_ids(shared_sim, 1)[0]
    reference = sources.provider("opendota").match_details(match_id)
    [(_, details)] = sources.provider(provider).match_details_group([request_of(shared_sim, match_id)])
    assert details.match_id == match_id and len(details.players) == 10
    assert [(p.player_slot, p.account_id, p.hero_id, p.is_radiant, p.win, p.kills) for p in details.players] == [
        (p.player_slot, p.account_id, p.hero_id, p.is_radiant, p.win, p.kills) for p in reference.players
    ]
    assert details.radiant_win == reference.radiant_win and details.start_time == reference.start_time


def test_anonymous_players_and_unknown_heroes_are_kept_and_counted(sources, shared_sim):
    """Scan matches until one has an anonymous player and one an unknown hero (both exist)."""
    anonymous = unknown = 0
    steam = sources.provider("steam")
    requests = [request_of(shared_sim, m) for m in some_match_ids(shared_sim, 400)]
    groups = steam.details_groups(requests)
    seqs = sorted(r.match_seq_num for r in requests)
    assert len(groups) <= (seqs[-1] - seqs[0]) // 100 + 1 < len(requests) / 10  # a feed call per 100 sequence numbers
    for _match_id, d in (outcome for group in groups for outcome in steam.match_details_group(group)):
        assert len(d.players) == 10
        anonymous += sum(p.account_id is None for p in d.players)
        unknown += d.unknown_heroes
        assert d.unknown_heroes == sum(p.hero_id not in heroes() for p in d.players)
        if anonymous and unknown:
            break
    assert anonymous and unknown


def test_private_history(sources, shared_sim):
    world = shared_sim.world
    private = int(world.accounts.account_id[int(np.flatnonzero(world.accounts.private)[0])])
    assert sources.provider("steam").match_page(private).is_private
    assert sources.provider("stratz").match_page(private).is_private
    assert sources.provider("opendota").match_page(private).matches == []
    assert sources.provider("opendota").player_profile(private).is_private  # profile.fh_unavailable
    assert sources.provider("opendota").player_profile(SEED).is_private is False


def test_rank_history_is_the_medal_at_each_change(sources, shared_sim):
    world = shared_sim.world
    climbed = next(i for i in range(world.num_accounts)
                   if not world.accounts.private[i] and len(world.rank_history(i)) >= 3)
    account_id = int(world.accounts.account_id[climbed])
    history = sources.provider("opendota").rank_history(account_id)
    assert history.account_id == account_id and history.source == "opendota_ratings"
    assert [(c.observed_at.timestamp(), c.rank_tier) for c in history.changes] == world.rank_history(climbed)
    assert all(c.observed_at.tzinfo is not None for c in history.changes)
    private = int(world.accounts.account_id[int(np.flatnonzero(world.accounts.private)[0])])
    assert sources.provider("opendota").rank_history(private).changes == []
    with pytest.raises(UnsupportedOperation, match="route this call"):
        sources.provider("stratz").rank_history(account_id)


def test_rank_history_takes_epoch_seconds_too_and_names_a_bad_row():
    """The spec calls ``time`` an integer while the server sends ISO strings: both are read; a
    row without a time is the provider's fault, named."""
    rows = [{"time": 1_700_000_000, "rank_tier": 35}, {"time": "2023-11-15T00:00:00.000Z", "rank_tier": None}]
    history = _client("opendota", rows).rank_history(5)
    assert [(c.observed_at.timestamp(), c.rank_tier) for c in history.changes] == [(1_700_000_000, 35)]
    with pytest.raises(MalformedResponse, match="time"):
        _client("opendota", [{"rank_tier": 35}]).rank_history(5)


def test_bans_in_chunks_of_100_with_not_found(sources, shared_sim):
    ids = [int(a) for a in shared_sim.world.accounts.account_id[:150]] + [5, 6]
    result = sources.provider("steam").player_bans(ids)
    assert {b.account_id for b in result.bans} == set(ids[:150])
    assert result.not_found == [5, 6]


def test_sequence_feed(sources, shared_sim):
    matches = sources.provider("steam").matches_by_sequence(int(shared_sim.world.match_seq_num(np.array([0]))[0]), 7)
    assert len(matches) == 7 and all(len(m.players) == 10 for m in matches)


def test_unsupported_calls_say_where_to_go(sources):
    with pytest.raises(UnsupportedOperation, match="route this call"):
        sources.provider("steam").player_profile(SEED)
    with pytest.raises(UnsupportedOperation):
        sources.provider("opendota").player_bans([SEED])


# ---------------------------------------------------------------- recorded edge cases
def _mock(body, status=200):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.MockTransport(lambda request: httpx.Response(status, content=content))


def _client(provider, body, status=200):
    keys = (Secret("k"),)
    config = SourcesConfig(
        opendota=ProviderConfig("http://x"), steam=ProviderConfig("http://x", keys), stratz=ProviderConfig("http://x", keys),
        retry=RetryPolicy(max_retries=0),
    )
    return Sources(config, None, transport=_mock(body, status)).provider(provider)


def test_missing_required_field_names_it():
    match = {"match_id": 1, "players": [{"player_slot": 0, "account_id": 5}]}
    with pytest.raises(MalformedResponse, match=r"players\.0\.hero_id") as info:
        _client("opendota", match).match_details(1)
    assert info.value.excerpt.startswith('{"match_id"')


def test_missing_optional_fields_are_none_and_anonymous_is_none():
    players = [{"player_slot": 130, "hero_id": 1, "account_id": ANONYMOUS_ACCOUNT_ID}]
    players += [{"player_slot": slot, "hero_id": 2 + i} for i, slot in enumerate([0, 1, 2, 3, 4, 128, 129, 131, 132])]
    d = _client("opendota", {"match_id": 1, "players": players}).match_details(1)
    assert d.radiant_win is None and d.start_time is None
    assert d.players[0].account_id is None and d.players[0].is_radiant is False and d.players[0].kills is None


def test_unknown_heroes_skipped_in_hero_stats():
    rows = [{"hero_id": "1", "games": 3, "win": 2, "last_played": 1700000000}, {"hero_id": 999, "games": 4, "win": 1},
            {"hero_id": 2, "games": 0, "win": 0, "last_played": 0}]  # fmt: skip
    stats = _client("opendota", rows).hero_stats(7)
    assert [(h.hero_id, h.matches, h.wins) for h in stats.heroes] == [(1, 3, 2)]
    assert stats.unknown_heroes_skipped == 1


def test_graphql_errors_are_typed():
    body = {"data": {"player": None}, "errors": [{"message": "Player 7 not found.", "path": ["player"]}]}
    with pytest.raises(NotFound, match="not found"):
        _client("stratz", body).player_profile(7)


def test_invalid_json_is_malformed_with_excerpt():
    with pytest.raises(MalformedResponse, match="not valid JSON") as info:
        _client("opendota", b'{"match_id": 1, "pla').match_details(1)
    assert info.value.retriable and info.value.excerpt == '{"match_id": 1, "pla'
