"""fetch_details writes chunks while the fetchers go on (issue 15): every match is still stored
exactly once, failures stay the item's own, a chunk the database rejects falls back to one record
at a time, and a write that dies leaves the rest pending (never marked done without rows)."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.settings import Secret
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source

LOG = logging.getLogger("test")
BATCH = "d00-000000"
SLOTS = (0, 1, 2, 3, 4, 128, 129, 130, 131, 132)
IDS = list(range(5001, 5061))
NOT_FOUND = {5007, 5031}  # 404: given up
BROKEN = {5013, 5044}  # 500 every time: retried, then failed with attempts left
IMPOSTOR = 5022  # answers for another match
REJECTED = 5050  # PostgreSQL refuses its players (a trigger standing for any constraint)
GOOD = [m for m in IDS if m not in NOT_FOUND | BROKEN | {IMPOSTOR}]


def _match(match_id: int) -> dict:
    players = [{"player_slot": s, "hero_id": 1 + i, "account_id": 100_000 + (match_id % 7) * 10 + i, "kills": i}
               for i, s in enumerate(SLOTS)]
    return {"match_id": match_id, "match_seq_num": match_id, "radiant_win": match_id % 2 == 0,
            "start_time": 1_700_000_000, "duration": 2000, "lobby_type": 7, "game_mode": 22, "players": players}


def _serve(request: httpx.Request) -> httpx.Response:
    match_id = int(request.url.path.rsplit("/", 1)[1])
    if match_id in NOT_FOUND:
        return httpx.Response(404, json={"error": "Not Found"})
    if match_id in BROKEN:
        return httpx.Response(500, json={"error": "boom"})
    return httpx.Response(200, json=_match(match_id + 1 if match_id == IMPOSTOR else match_id))


def _source():
    config = SourcesConfig(
        opendota=ProviderConfig("http://od", (Secret("0d0d0d0d-1111-4222-8333-444455556666"),)),
        steam=ProviderConfig("http://st"), stratz=ProviderConfig("http://sz"),
        retry=RetryPolicy(max_retries=1, base_delay=0.0, max_delay=0.0),
    )
    return build_source("opendota", config, limiter=None, accounting=RequestAccounting(None),
                        transport=httpx.MockTransport(_serve))


def _stubs(db) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 1)",
                     (BATCH,))
        conn.execute("INSERT INTO matches (match_id, owner_batch) SELECT unnest(%s::bigint[]), %s", (IDS, BATCH))


def _reject_players_of(db, match_id: int) -> None:
    with db.transaction() as conn:
        conn.execute(f"""CREATE OR REPLACE FUNCTION reject_one() RETURNS trigger LANGUAGE plpgsql AS $$
                         BEGIN IF NEW.match_id = {match_id} THEN
                             RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003'; END IF;
                         RETURN NEW; END $$""")
        conn.execute("CREATE TRIGGER reject_one BEFORE INSERT ON match_players FOR EACH ROW EXECUTE FUNCTION reject_one()")


def _drop_rejection(db) -> None:
    with db.transaction() as conn:
        conn.execute("DROP TRIGGER IF EXISTS reject_one ON match_players")
        conn.execute("DROP FUNCTION IF EXISTS reject_one()")


def _players_per_match(db) -> dict[int, int]:
    return {r["match_id"]: r["n"] for r in db.fetch_all(
        "SELECT match_id, count(*) AS n FROM match_players GROUP BY match_id")}


def _states(db) -> dict[int, dict]:
    return {r["match_id"]: r for r in db.fetch_all(
        "SELECT match_id, has_details, retry_count, fetch_error FROM matches WHERE match_id = ANY(%s)", (IDS,))}


def _fetch(db, source, **kwargs) -> phases.PhaseResult:
    return phases.fetch_batch_details(db, source, BATCH, depth=0, chunk_size=5, max_workers=4, log=LOG, **kwargs)


def _fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fetch_")]


@pytest.mark.parametrize("writers", [1, 2, 4])
def test_every_match_stored_once_under_faults_and_a_rejected_chunk(db, writers):
    _stubs(db)
    _reject_players_of(db, REJECTED)
    try:
        result = _fetch(db, _source(), writers=writers)
    finally:
        _drop_rejection(db)
    stored = [m for m in GOOD if m != REJECTED]
    players = _players_per_match(db)
    assert players == dict.fromkeys(stored, 10)  # each stored match has its ten players, no one else has any
    states = _states(db)
    assert all(states[m]["has_details"] is True for m in stored)
    assert states[REJECTED]["has_details"] is False and "database rejected" in states[REJECTED]["fetch_error"]
    assert all(states[m]["has_details"] is False for m in NOT_FOUND | BROKEN | {IMPOSTOR})
    assert "wrong identity" in states[IMPOSTOR]["fetch_error"]
    assert result.counts["details_stored"] == len(stored) and result.counts["players_stored"] == 10 * len(stored)
    assert result.counts["fetched"] == len(stored)
    assert not _fetch_threads()  # every fetcher ended with the phase
    assert not [t for t in threading.enumerate() if t.name.startswith("write")]  # and every writer

    # a re-run asks only for the matches with attempts left (the broken and the impostor) and writes nothing twice
    again = _fetch(db, _source())
    assert again.counts["details_stored"] == 0 and again.counts["stubs"] == len(BROKEN | {IMPOSTOR})
    assert _players_per_match(db) == dict.fromkeys(stored, 10)


@pytest.mark.parametrize("writers", [1, 2])
def test_a_write_that_dies_leaves_the_rest_pending_and_surfaces(db, monkeypatch, writers):
    _stubs(db)
    real = crawl_db.store_details
    calls = [0]

    def dying(conn, details, **kwargs):
        calls[0] += 1
        if calls[0] == 3:  # mid-run: the third chunk dies inside its transaction, after its rows were sent
            real(conn, details, **kwargs)
            raise RuntimeError("writer crashed")
        return real(conn, details, **kwargs)

    monkeypatch.setattr(crawl_db, "store_details", dying)
    with pytest.raises(RuntimeError, match="writer crashed"):
        _fetch(db, _source(), writers=writers)
    assert not _fetch_threads()
    states = _states(db)
    done = [m for m, s in states.items() if s["has_details"] is True]
    players = _players_per_match(db)
    # the chunks written before the error committed (with several writers, so did those in flight
    # beside the dying one); the dying one rolled back, and the rest is still pending
    assert 0 < len(done) <= 5 * (calls[0] - 1) < len(GOOD)
    if writers == 1:
        assert calls[0] == 3
    assert players == dict.fromkeys(done, 10)  # nothing marked done without its rows, no rows without the mark
    assert all(s["has_details"] is None for m, s in states.items() if m in GOOD and m not in done)  # still pending

    monkeypatch.setattr(crawl_db, "store_details", real)
    _fetch(db, _source())
    assert _players_per_match(db) == dict.fromkeys(GOOD, 10)  # each good match exactly once
