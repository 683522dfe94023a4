"""A misbehaving provider (issue 18): values out of range, answers for other ids, matches of the
wrong shape, bombs, echoed secrets, transient errors dressed as permanent. Each was a reproduction
that broke the crawl; each now fails only the item it concerns, with the reason.
"""

from __future__ import annotations

import gzip
import json
import logging

import httpx
import pytest

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.domain.records import DetailsRequest
from crawl_pipeline.settings import Secret
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import BadRequest, MalformedResponse, NotFound, ServerError
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source

LOG = logging.getLogger("test")
BATCH = "d00-000000"
OPENDOTA_KEY = "0d0d0d0d-1111-4222-8333-444455556666"
STEAM_KEY = "STEAMKEY-hostile-0123456789"


def _player(slot: int, account_id: int | None = None, **fields) -> dict:
    return {"player_slot": slot, "hero_id": 1 + slot % 100, "account_id": account_id or 1000 + slot, **fields}


def _match(match_id: int, *, players: list[dict] | None = None, **fields) -> dict:
    slots = [0, 1, 2, 3, 4, 128, 129, 130, 131, 132]
    return {"match_id": match_id, "match_seq_num": match_id, "radiant_win": True, "start_time": 1_700_000_000,
            "duration": 2000, "lobby_type": 7, "game_mode": 22, "cluster": 133,
            "players": players if players is not None else [_player(s) for s in slots], **fields}


def _source(provider: str, serve, **http):
    config = SourcesConfig(
        opendota=ProviderConfig("http://od", (Secret(OPENDOTA_KEY),)),
        steam=ProviderConfig("http://st", (Secret(STEAM_KEY),)),
        stratz=ProviderConfig("http://sz", (Secret("stratz-hostile-token-42"),)),
        retry=RetryPolicy(max_retries=1, base_delay=0.0, max_delay=0.0), http=HTTPSettings(**http),
    )
    return build_source(provider, config, limiter=None, accounting=RequestAccounting(None),
                        transport=httpx.MockTransport(serve))


def _opendota_matches(answers: dict[int, dict]):
    def serve(request: httpx.Request) -> httpx.Response:
        match_id = int(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(200, json=answers[match_id])

    return _source("opendota", serve)


def _stubs(db, ids):
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 1)",
                     (BATCH,))
        conn.execute("INSERT INTO matches (match_id, owner_batch) SELECT unnest(%s::bigint[]), %s", (list(ids), BATCH))


def _states(db, ids):
    return {r["match_id"]: r for r in db.fetch_all(
        "SELECT match_id, has_details, retry_count, fetch_error FROM matches WHERE match_id = ANY(%s)", (list(ids),)
    )}


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ({"kills": 40000}, "kills"),  # into a smallint
        ({"account_id": 2**70}, "account_id"),  # no account
        ({"gold_per_min": -5}, "gold_per_min"),
    ],
)
def test_an_out_of_range_value_fails_its_match_alone_and_the_good_ones_land(db, mutation, field):
    good, bad = [101, 102, 103], 104
    answers = {m: _match(m) for m in good}
    answers[bad] = _match(bad, players=[_player(0, **mutation)] + [_player(s) for s in (1, 2, 3, 4, 128, 129, 130, 131, 132)])
    _stubs(db, [*good, bad])
    result = phases.fetch_batch_details(db, _opendota_matches(answers), BATCH, depth=0, chunk_size=25, max_workers=2, log=LOG)
    states = _states(db, [*good, bad])
    assert all(states[m]["has_details"] is True for m in good)
    assert states[bad]["has_details"] is False and field in states[bad]["fetch_error"]
    assert result.counts["details_stored"] == 3


@pytest.mark.parametrize(
    ("players", "reason"),
    [
        ([], "0 players"),
        ([_player(s) for s in (0, 1, 2, 3, 4, 128, 129, 130, 131, 132, 133)], "11 players"),
        ([_player(s) for s in (0, 1, 2, 3, 4, 128, 129, 130, 131, 131)], "9 distinct slots"),  # a slot twice
    ],
)
def test_a_match_of_the_wrong_shape_fails_with_the_reason(db, players, reason):
    _stubs(db, [201, 202])
    source = _opendota_matches({201: _match(201, players=players), 202: _match(202)})
    phases.fetch_batch_details(db, source, BATCH, depth=0, chunk_size=25, max_workers=1, log=LOG)
    states = _states(db, [201, 202])
    assert states[201]["has_details"] is False and reason in states[201]["fetch_error"]
    assert states[202]["has_details"] is True
    assert db.fetch_value("SELECT count(*) FROM match_players WHERE match_id = 201") == 0


def test_a_match_of_fewer_than_ten_players_is_stored_whole(db):
    """OpenDota lists every game mode with significant=0: 1v1 Solo Mid (game mode 21) has two players
    and a practice lobby may have one. Refused, each would spend its attempts and be given up."""
    solo_mid = _match(211, game_mode=21, lobby_type=0, players=[_player(0, 501), _player(128, 502)])
    practice = _match(212, game_mode=1, lobby_type=1, players=[_player(0, 503)])
    _stubs(db, [211, 212])
    result = phases.fetch_batch_details(db, _opendota_matches({211: solo_mid, 212: practice}), BATCH, depth=0,
                                        chunk_size=25, max_workers=1, log=LOG)
    states = _states(db, [211, 212])
    assert all(states[m]["has_details"] is True and states[m]["fetch_error"] is None for m in (211, 212))
    assert result.counts["details_stored"] == 2 and result.unsettled == 0
    rows = db.fetch_all("SELECT match_id, player_slot, account_id, is_radiant FROM match_players "
                        "WHERE match_id IN (211, 212) ORDER BY match_id, player_slot")
    assert [(r["match_id"], r["player_slot"], r["account_id"], r["is_radiant"]) for r in rows] == [
        (211, 0, 501, True), (211, 128, 502, False), (212, 0, 503, True)]
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE account_id IN (501, 502, 503)") == 3


def test_an_answer_for_another_id_is_stored_under_neither(db):
    _stubs(db, [301, 302])
    source = _opendota_matches({301: _match(999), 302: _match(302)})  # 301 answered with match 999
    result = phases.fetch_batch_details(db, source, BATCH, depth=0, chunk_size=25, max_workers=1, log=LOG)
    states = _states(db, [301, 302])
    assert states[301]["has_details"] is False and "wrong identity" in states[301]["fetch_error"]
    assert states[301]["retry_count"] == 1  # a failure with its reason and an attempt spent, not pending
    assert db.fetch_value("SELECT count(*) FROM matches WHERE match_id = 999") == 0
    assert result.unsettled == 1  # the partition is red


def test_a_profile_for_another_account_does_not_overwrite_it(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 2)",
                     (BATCH,))
        conn.execute("INSERT INTO accounts (account_id, depth, batch_key, personaname) VALUES (11, 0, %s, 'eleven'), "
                     "(12, 0, %s, NULL)", (BATCH, BATCH))

    def serve(request: httpx.Request) -> httpx.Response:  # every answer claims to be account 11
        return httpx.Response(200, json={"profile": {"account_id": 11, "personaname": "impostor"}})

    phases.fetch_profiles(db, _source("opendota", serve), BATCH, refresh=True, max_workers=1, log=LOG)
    rows = {r["account_id"]: r for r in db.fetch_all("SELECT account_id, personaname, profile_error FROM accounts")}
    assert rows[11]["personaname"] == "impostor"  # its own answer
    assert rows[12]["personaname"] is None and "wrong identity" in rows[12]["profile_error"]


def test_a_chunk_the_database_rejects_falls_back_to_one_record_at_a_time(db):
    """A value only PostgreSQL refuses (here a trigger standing for any constraint): the rest land."""
    good, bad = [401, 402, 403], 404
    _stubs(db, [*good, bad])
    with db.transaction() as conn:
        conn.execute("""CREATE OR REPLACE FUNCTION reject_404() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN IF NEW.match_id = 404 THEN RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003';
                        END IF; RETURN NEW; END $$""")
        conn.execute("CREATE TRIGGER reject_404 BEFORE INSERT ON match_players FOR EACH ROW EXECUTE FUNCTION reject_404()")
    try:
        source = _opendota_matches({m: _match(m) for m in [*good, bad]})
        result = phases.fetch_batch_details(db, source, BATCH, depth=0, chunk_size=25, max_workers=1, log=LOG)
    finally:
        with db.transaction() as conn:
            conn.execute("DROP TRIGGER reject_404 ON match_players")
            conn.execute("DROP FUNCTION reject_404()")
    states = _states(db, [*good, bad])
    assert all(states[m]["has_details"] is True for m in good)
    assert states[bad]["has_details"] is False and "database rejected" in states[bad]["fetch_error"]
    assert states[bad]["retry_count"] >= 3  # retrying the same record cannot help: given up, with the reason
    assert result.counts["details_stored"] == 3


def test_a_gzip_bomb_is_cut_off_not_read():
    bomb = gzip.compress(b"[" + b"0," * (20 * 1024 * 1024) + b"0]")  # 40 MB of JSON, 40 kB on the wire

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"content-encoding": "gzip", "content-type": "application/json"})

    source = _source("opendota", serve, max_body_bytes=1024 * 1024)
    with pytest.raises(MalformedResponse, match="larger than 1,048,576 bytes"):
        source.hero_stats(7)


def test_strings_are_clipped_before_they_are_stored():
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"profile": {"account_id": 7, "personaname": "x" * 5_000_000 + "\x00"}})

    profile = _source("opendota", serve).player_profile(7)
    assert len(profile.personaname) == 512 and "\x00" not in profile.personaname


def test_secrets_echoed_by_a_provider_are_redacted_everywhere(db):
    def serve(request: httpx.Request) -> httpx.Response:  # an error page that echoes the request URL
        return httpx.Response(400, json={"error": f"bad request: {request.url}"})

    steam = _source("steam", serve)
    assert STEAM_KEY in str(steam.http.credentials.credentials[0].secret.reveal())
    with pytest.raises(BadRequest) as info:
        steam.match_page(7)
    assert STEAM_KEY not in str(info.value) and "***" in str(info.value)
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 1)",
                     (BATCH,))
        conn.execute("INSERT INTO accounts (account_id, depth, batch_key) VALUES (7, 0, %s)", (BATCH,))
    phases.fetch_match_stubs(db, steam, BATCH, refresh=False, max_matches=10, page_size=10, max_workers=1, log=LOG)
    stored = db.fetch_value("SELECT matches_error FROM accounts WHERE account_id = 7")
    assert stored and STEAM_KEY not in stored and "***" in stored


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Internal server error, please retry", ServerError),
        ("Timeout expired", ServerError),
        ("Match 5 not found.", NotFound),
        ("Cannot query field 'foo' on type 'MatchType'.", BadRequest),
        ("The query is too complex", BadRequest),
    ],
)
def test_stratz_errors_are_classified_by_meaning(message, kind):
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": None, "errors": [{"message": message}]})

    [(_, outcome)] = _source("stratz", serve).match_details_group([DetailsRequest(match_id=5)])
    assert type(outcome) is kind and outcome.retriable == (kind is ServerError)


def test_an_undocumented_steam_status_is_retried_not_given_up():
    calls = []

    def serve(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"result": {"status": 2, "statusDetail": "Error retrieving match data."}})

    with pytest.raises(ServerError):
        _source("steam", serve).match_page(7)
    assert len(calls) == 2  # retried once (max_retries=1), then reported as retriable


def test_one_bad_match_in_a_sequence_page_fails_alone():
    page = [_match(10 + i) for i in range(5)]
    page[2]["players"][0]["deaths"] = 99999

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": {"status": 1, "matches": page}})

    outcomes = dict(_source("steam", serve).match_details_group(
        [DetailsRequest(match_id=10 + i, match_seq_num=10 + i) for i in range(5)]
    ))
    assert isinstance(outcomes[12], MalformedResponse) and "deaths" in outcomes[12].message
    assert all(not isinstance(outcomes[m], Exception) for m in (10, 11, 13, 14))


def test_a_sequence_page_keeps_its_solo_mid_match():
    """The feed lists every public match; one of two players is a match like any other."""
    page = [_match(10), _match(11, game_mode=21, players=[_player(0), _player(128)]), _match(12)]

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": {"status": 1, "matches": page}})

    outcomes = dict(_source("steam", serve).match_details_group(
        [DetailsRequest(match_id=m, match_seq_num=m) for m in (10, 11, 12)]
    ))
    assert not any(isinstance(o, Exception) for o in outcomes.values())
    assert [p.player_slot for p in outcomes[11].players] == [0, 128] and outcomes[11].game_mode == 21


def test_a_sequence_page_that_does_not_move_past_its_start_ends_the_walk():
    """Matches without a match_seq_num (or all before the start) leave the cursor where it was:
    asking again would get the same answer forever, so the rest of the group fails instead."""
    calls = []
    page = [_match(10), _match(11)]
    for m in page:
        del m["match_seq_num"]

    def serve(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        assert len(calls) <= 5, "the walk asks the same page again and again"
        return httpx.Response(200, json={"result": {"status": 1, "matches": page}})

    outcomes = dict(_source("steam", serve).match_details_group(
        [DetailsRequest(match_id=10, match_seq_num=100), DetailsRequest(match_id=20, match_seq_num=120)]
    ))
    assert len(calls) == 1
    assert not isinstance(outcomes[10], Exception)  # listed, so found
    assert isinstance(outcomes[20], MalformedResponse) and "match_seq_num field" in outcomes[20].message


def test_hostile_values_never_reach_the_database_as_errors(db):
    """The fuzz campaign's values straight into the writes: only typed item errors, never a crash."""
    answers = {501: _match(501, duration=-1), 502: _match(502, lobby_type=70000), 503: json.loads(json.dumps(_match(503)))}
    answers[503]["players"][3]["hero_id"] = 2**40
    _stubs(db, list(answers))
    phases.fetch_batch_details(db, _opendota_matches(answers), BATCH, depth=0, chunk_size=25, max_workers=1, log=LOG)
    states = _states(db, list(answers))
    assert all(s["has_details"] is False and s["fetch_error"].startswith("MalformedResponse") for s in states.values())
    with db.transaction() as conn:
        assert crawl_db.stubs_to_fetch(conn, BATCH) == sorted(answers)  # attempts left: the next run tries again
