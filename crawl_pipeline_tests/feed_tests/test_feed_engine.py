"""The feed engine end to end against the simulator's sequence feed and the real database:
matches per call, exact coverage (compared with the simulator's ground truth), crash safety."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import numpy as np
import psycopg
import pytest

from crawl_pipeline.crawl import feed as feed_engine
from crawl_pipeline.crawl.feed import FeedOptions, SeqRange, read_range
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db import feed as feed_db
from crawl_pipeline.db.frontier import cut_batches
from crawl_pipeline.domain.frontier import BatchPolicy
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.feed_tests.support import (
    FIRST_RANGE_START,
    steam_source,
    stored,
    truth,
)

log = logging.getLogger("feed_tests")
R1 = SeqRange(FIRST_RANGE_START, FIRST_RANGE_START + 10_000)
R2 = R1.following(10_000)


def _problems(db):
    with db.transaction() as conn:
        return feed_db.coverage_problems(conn)


def _calls(db):
    return db.fetch_all("SELECT * FROM match_feed_calls ORDER BY start_seq_num")


def test_keys_have_no_commas_and_round_trip():
    assert R1.key == "seq-0006550000000-0006550010000"
    assert SeqRange.parse(R1.key) == R1 and "," not in R1.key
    assert SeqRange.containing(6_550_012_345) == R2
    with pytest.raises(ValueError):
        SeqRange.parse("seq-1-2")
    assert feed_engine.first_seq_num(R1, start_at=None, newest_known=R1.start + 7) == R1.start + 7
    assert feed_engine.first_seq_num(R1, start_at=None, newest_known=R2.start) == R1.start
    with pytest.raises(ValueError, match="outside"):
        feed_engine.first_seq_num(R1, start_at=R2.start, newest_known=None)


def test_a_range_is_read_whole_with_at_least_95_matches_per_call(db, clean_simulator):
    with steam_source(clean_simulator.url, db) as (steam, sources):
        run = read_range(db, steam, R1, options=FeedOptions(max_calls=1000), log=log)
        snapshot = sources.snapshot()
    expected = truth(clean_simulator.world, R1.start, R1.end)
    assert len(expected) == 5000
    assert run.complete and run.stop_reason == "range_complete"
    assert stored(db, R1.start, R1.end) == expected  # every match of the range, nothing else
    assert db.fetch_value("SELECT count(*) FROM matches") == 5000
    assert run.matches_stored == 5000 and run.calls in (50, 51)
    assert run.matches_per_call >= 95, run.matches_per_call
    assert snapshot["api_calls"] == run.calls and snapshot["rate_limited_429"] == 0
    assert db.fetch_value("SELECT count(*) FROM match_players") == run.players_stored == 50_000
    calls = _calls(db)
    assert calls[0]["start_seq_num"] == R1.start and calls[-1]["end_seq_num"] == R1.end
    assert all(a["end_seq_num"] == b["start_seq_num"] for a, b in itertools.pairwise(calls))
    assert _problems(db) == []
    print(f"\nmatch feed: {run.calls} calls, {run.matches_stored} matches, {run.matches_per_call:.1f} per call, "
          f"{run.elapsed_seconds:.2f} s")


def test_crash_between_fetch_and_commit_rereads_the_page_no_gap_no_duplicate(db, clean_simulator, monkeypatch):
    real = crawl_db.store_details
    seen = {"n": 0}

    def crashing(conn, details, *, discovery_depth):
        seen["n"] += 1
        written = real(conn, details, discovery_depth=discovery_depth)
        if seen["n"] == 8:  # the 8th page is fetched and written, then the process "dies" before the commit
            raise RuntimeError("killed between fetch and commit")
        return written

    monkeypatch.setattr(crawl_db, "store_details", crashing)
    with steam_source(clean_simulator.url, db) as (steam, _), pytest.raises(RuntimeError, match="killed"):
        read_range(db, steam, R1, options=FeedOptions(max_calls=1000), log=log)
    with db.transaction() as conn:
        state = feed_db.range_state(conn, R1.key)
    assert state.calls == 7 and db.fetch_value("SELECT count(*) FROM matches") == 700  # page 8 rolled back whole
    assert state.next_seq_num == _calls(db)[-1]["end_seq_num"]
    monkeypatch.setattr(crawl_db, "store_details", real)
    with steam_source(clean_simulator.url, db) as (steam, _):
        resumed = read_range(db, steam, R1, options=FeedOptions(max_calls=1000), log=log)
    assert resumed.cursor_before == state.next_seq_num  # exactly where it stopped
    assert resumed.complete and stored(db, R1.start, R1.end) == truth(clean_simulator.world, R1.start, R1.end)
    assert sum(c["matches_stored"] for c in _calls(db)) == 5000  # each match stored by one call only
    assert _problems(db) == []


def test_the_cursor_persists_and_max_calls_bounds_each_run(db, clean_simulator):
    cursors = []
    with steam_source(clean_simulator.url, db) as (steam, _):
        while True:
            run = read_range(db, steam, R1, options=FeedOptions(max_calls=7), log=log)
            cursors.append((run.cursor_before, run.cursor_after))
            assert run.calls <= 7
            if run.complete:
                break
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cursors))  # each run resumes where the last one stopped
    assert cursors[0][0] == R1.start and cursors[-1][1] == R1.end and len(cursors) == 8  # 50 or 51 calls / 7
    assert stored(db, R1.start, R1.end) == truth(clean_simulator.world, R1.start, R1.end)
    with steam_source(clean_simulator.url, db) as (steam, sources):  # a complete range costs nothing
        again = read_range(db, steam, R1, options=FeedOptions(max_calls=7), log=log)
        assert again.calls == 0 and sources.snapshot()["api_calls"] == 0
    assert _problems(db) == []


def test_new_accounts_reach_the_bfs_frontier(db, clean_simulator):
    with db.transaction() as conn:  # an account the seed's BFS already knows keeps its depth
        conn.execute("INSERT INTO accounts (account_id, depth, is_seed) VALUES (%s, 0, true)",
                     (int(clean_simulator.world.accounts.account_id[0]),))
    with steam_source(clean_simulator.url, db) as (steam, _):
        run = read_range(db, steam, R1, options=FeedOptions(max_calls=5, discovery_depth=2), log=log)
    players = db.fetch_value(
        "SELECT count(DISTINCT account_id) FROM match_players WHERE account_id IS NOT NULL AND account_id < 4294967295"
    )
    assert run.new_accounts > 0 and run.new_accounts == db.fetch_value("SELECT count(*) FROM accounts WHERE depth = 2")
    assert run.new_accounts >= players - 1
    assert db.fetch_value("SELECT depth FROM accounts WHERE is_seed") == 0
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key IS NULL AND depth = 2") == run.new_accounts
    with db.transaction() as conn:  # the discovery sensor's batching takes them (depth <= max_depth)
        batches = cut_batches(conn, BatchPolicy(base_size=50, growth_per_depth=1.0, max_depth=2), linger=timedelta(0))
    assert sum(len(b.account_ids) for b in batches if b.depth == 2) == run.new_accounts


def test_two_ranges_adjoin_and_a_live_end_stops_the_run(db):
    with start_simulator(matches=19_950, rate_limits={"enabled": False}) as sim:  # the feed ends inside a range
        _ranges_and_live_end(db, sim)


def _ranges_and_live_end(db, clean_simulator):
    world = clean_simulator.world
    last_seq = int(world.match_seq_num(np.array([world.num_matches - 1]))[0])
    tail = SeqRange.containing(last_seq)
    assert last_seq + 1 < tail.end
    with steam_source(clean_simulator.url, db) as (steam, _):
        first = read_range(db, steam, tail, options=FeedOptions(max_calls=1000), start_at=tail.start, log=log)
        again = read_range(db, steam, tail, options=FeedOptions(max_calls=1000), log=log)
    assert first.stop_reason == "caught_up" and not first.complete  # the world ends inside the range
    assert first.cursor_after == last_seq + 1
    assert again.calls == 1 and again.matches_stored == 0 and again.cursor_after == last_seq + 1  # empty page
    assert stored(db, tail.start, tail.end) == truth(world, tail.start, tail.end)
    with steam_source(clean_simulator.url, db) as (steam, _):
        read_range(db, steam, R1, options=FeedOptions(max_calls=1000), log=log)
        read_range(db, steam, R2, options=FeedOptions(max_calls=1000), log=log)
    assert stored(db, R1.start, R2.end) == truth(world, R1.start, R2.end)
    problems = _problems(db)  # R2 and the tail range leave a hole between them: a warning, not an error
    assert problems and {p.severity for p in problems} == {"warn"}


def test_a_second_reader_of_the_same_range_is_refused(db, clean_simulator, database_url):
    class Racing:
        """Another run commits a call while this one holds a fetched page."""

        def __init__(self, inner):
            self.inner, self.raced = inner, False

        def sequence_page(self, start, count=100):
            page = self.inner.sequence_page(start, count)
            if not self.raced:
                self.raced = True
                with psycopg.connect(database_url) as conn:
                    feed_db.record_call(conn, R1.key, feed_db.CallRecord(start, start + 2, 1, 1, 0, 0, 0, None, None),
                                        run_id="other")
            return page

    with steam_source(clean_simulator.url, db) as (steam, _), pytest.raises(feed_db.CursorMoved):
        with db.transaction() as conn:
            feed_db.open_range(conn, R1.key, R1.start, R1.end, R1.start)
        read_range(db, Racing(steam), R1, options=FeedOptions(max_calls=3), log=log)
    assert db.fetch_value("SELECT count(*) FROM match_feed_calls") == 1  # only the other run's call
    assert db.fetch_value("SELECT count(*) FROM matches") == 0  # this run's page was rolled back


def test_the_database_forbids_a_cursor_going_back_and_overlapping_calls(db):
    with db.transaction() as conn:
        feed_db.open_range(conn, R1.key, R1.start, R1.end, R1.start)
        feed_db.record_call(conn, R1.key, feed_db.CallRecord(R1.start, R1.start + 100, 50, 50, 50, 500, 0, None, None),
                            run_id=None)
    with pytest.raises(psycopg.errors.RaiseException, match="cannot go back"), db.transaction() as conn:
        conn.execute("UPDATE match_feed_ranges SET next_seq_num = %s", (R1.start,))
    with pytest.raises(psycopg.errors.ExclusionViolation), db.transaction() as conn:
        conn.execute(
            """INSERT INTO match_feed_calls (range_key, start_seq_num, end_seq_num, matches_returned, matches_in_range,
                   matches_stored, players_stored, new_accounts) VALUES (%s, %s, %s, 0, 0, 0, 0, 0)""",
            (R1.key, R1.start + 50, R1.start + 150),
        )
    with db.transaction() as conn:  # a hole in the call log (written behind the engine's back) is an error
        conn.execute(
            """INSERT INTO match_feed_calls (range_key, start_seq_num, end_seq_num, matches_returned, matches_in_range,
                   matches_stored, players_stored, new_accounts) VALUES (%s, %s, %s, 0, 0, 0, 0, 0)""",
            (R1.key, R1.start + 300, R1.start + 400),
        )
    problems = _problems(db)
    assert {p.severity for p in problems} == {"error"}
    assert any("previous call ended at" in p.problem for p in problems)
    assert any("cursor" in p.problem for p in problems)


def test_the_engine_and_the_sql_are_framework_free():
    from pathlib import Path

    for module in (feed_engine, feed_db):
        source = Path(module.__file__).read_text()
        assert "import dagster" not in source and "from dagster" not in source, module.__name__


def test_unreadable_matches_are_passed_and_counted_not_mistaken_for_the_live_end(db, clean_simulator):
    from dataclasses import replace

    from crawl_pipeline.sources.errors import MalformedResponse

    class Garbling:
        """The last 15 matches of every page fail validation (a field out of range, say)."""

        def __init__(self, inner):
            self.inner = inner

        def sequence_page(self, start, count=100):
            page = self.inner.sequence_page(start, count)
            bad = {match_id for match_id, _ in page.outcomes[-15:]}
            return replace(page, outcomes=[
                (i, MalformedResponse(f"match {i}: kills out of range", provider="steam", endpoint="matches_by_sequence")
                 if i in bad else m) for i, m in page.outcomes
            ])

    with steam_source(clean_simulator.url, db) as (steam, _):
        run = read_range(db, Garbling(steam), R1, options=FeedOptions(max_calls=10), log=log)
    assert run.stop_reason == "max_calls" and run.calls == 10  # 85 readable of 100 listed is not the live end
    assert run.matches_malformed == 150 and run.matches_stored == 850 and len(run.malformed_sample) == 10
    assert run.cursor_after == _calls(db)[-1]["end_seq_num"]
    expected = truth(clean_simulator.world, R1.start, run.cursor_after)
    assert len(expected) == 1000 and set(stored(db, R1.start, R1.end)) < set(expected)
    assert _problems(db) == []


class _Tamper:
    """An httpx transport in front of the simulator that breaks one match of the sequence feed
    (kills out of range) while ``broken`` is true, and adds an entry with no match_id to the first
    page it sees (``nameless_seq``): what Valve's feed could send."""

    def __init__(self):
        import httpx

        self.inner = httpx.HTTPTransport()
        self.bad_match: int | None = None
        self.nameless_seq: int | None = None
        self.broken = True

    def handle_request(self, request):
        import json

        import httpx

        response = self.inner.handle_request(request)
        response.read()
        if "BySequenceNum" not in str(request.url):
            return response
        body = json.loads(response.content)
        matches = body["result"]["matches"]
        if self.bad_match is None:
            self.bad_match = matches[3]["match_id"]
            self.nameless_seq = matches[5]["match_seq_num"] + 1  # numbers step by 2: a free one
            matches.insert(6, {"match_seq_num": self.nameless_seq, "players": []})
        for match in matches:
            if self.broken and match.get("match_id") == self.bad_match:
                match["players"][0]["kills"] = 40000
        return httpx.Response(200, json=body)

    def close(self):
        self.inner.close()


def _state(db, match_id):
    [row] = db.fetch_all(
        "SELECT match_seq_num, has_details, fetch_error, retry_count, owner_batch FROM matches WHERE match_id = %s",
        (match_id,),
    )
    return row


def test_an_unreadable_match_is_kept_as_a_failed_fetch_and_read_again_by_id(db, clean_simulator):
    """Nothing lost: a match the feed lists but cannot read gets a matches row with its error and
    attempt count in the transaction that moves the cursor past it; the feed's next runs fetch it
    again by id (one attempt per run), `crawl-pipeline retry` re-opens it once it used every attempt,
    and it is stored when the provider answers well. An entry with no match_id is counted and named."""
    from crawl_pipeline.db import retry as retry_db
    from crawl_pipeline.db.item_states import MAX_ATTEMPTS
    from crawl_pipeline.sources.registry import open_sources
    from crawl_pipeline_tests.feed_tests.support import providers

    tamper = _Tamper()
    options = FeedOptions(max_calls=1, prefetch=False)
    with open_sources(providers(clean_simulator.url).sources_config(), db, transport=tamper) as sources:
        steam = sources.provider("steam")
        first = read_range(db, steam, R1, options=options, run_id="run-1", log=log)
        bad = tamper.bad_match
        expected = truth(clean_simulator.world, R1.start, first.cursor_after)
        assert bad in expected and first.cursor_after > expected[bad]  # the cursor moved past it
        assert first.matches_malformed == 2 and first.unread_recorded == 1
        assert any(s.startswith(f"{bad}: MalformedResponse") and "kills" in s for s in first.malformed_sample)
        assert any(f"match_seq_num {tamper.nameless_seq}" in s for s in first.malformed_sample)
        state = _state(db, bad)
        assert state["match_seq_num"] == expected[bad] and state["has_details"] is False
        assert state["fetch_error"].startswith("MalformedResponse") and "kills" in state["fetch_error"]
        assert state["retry_count"] == 1
        assert set(stored(db, R1.start, first.cursor_after)) == set(expected) - {bad}

        for attempt in range(2, MAX_ATTEMPTS + 1):  # each later run fetches it again by id: one attempt each
            again = read_range(db, steam, R1, options=options, run_id=f"run-{attempt}", log=log)
            assert again.unread_retried == 1 and again.unread_recovered == 0
            assert _state(db, bad)["retry_count"] == attempt
        settled = read_range(db, steam, R1, options=options, run_id="run-settled", log=log)
        assert settled.unread_retried == 0  # it used every attempt: settled until re-opened

        tamper.broken = False  # the cause is fixed
        with db.transaction() as conn:
            assert retry_db.reopen_exhausted(conn, kinds=["matches"]).matches == 1  # crawl-pipeline retry --matches
        recovered = read_range(db, steam, R1, options=options, run_id="run-after-retry", log=log)
    assert recovered.unread_retried == 1 and recovered.unread_recovered == 1
    state = _state(db, bad)
    assert state["has_details"] is True and state["fetch_error"] is None
    assert db.fetch_value("SELECT count(*) FROM match_players WHERE match_id = %s", (bad,)) == 10
    assert _problems(db) == []
