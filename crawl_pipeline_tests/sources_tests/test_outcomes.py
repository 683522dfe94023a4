"""What a failure costs an item, end to end against the simulator and the real database.

The rules (``sources.errors.outcome_of``): an outage, a rate limit, a bad key or a call the provider
cannot make leaves the item pending with its error and no attempt spent; a step retry inside
the same run spends no second attempt; Steam's details come from the sequence feed.
"""

from __future__ import annotations

import logging
import time

import dagster as dg
import httpx

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import RETRY, ServerError, outcome_of
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier, SharedRateLimiter
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source, open_sources

from .support import SEED, sim_config, some_match_ids

LOG = logging.getLogger("test")
BATCH = "d00-000000"


def _stubs(db, match_ids, seqs=None):
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 1) "
            "ON CONFLICT DO NOTHING",
            (BATCH,),
        )
        conn.execute(
            "INSERT INTO matches (match_id, match_seq_num, owner_batch) SELECT unnest(%s::bigint[]), "
            "unnest(%s::bigint[]), %s",
            (list(match_ids), list(seqs or [None] * len(match_ids)), BATCH),
        )


def _states(db, match_ids):
    return db.fetch_all(
        "SELECT match_id, has_details, retry_count, fetch_error FROM matches WHERE match_id = ANY(%s) ORDER BY 1",
        (list(match_ids),),
    )


def test_an_outage_leaves_every_match_pending_with_its_error_and_no_attempt(db):
    with start_simulator(fault_rate=1.0, fault_mix={"http_503": 1.0}, rate_limits={"enabled": False}) as sim:
        ids = some_match_ids(sim, 12)
        _stubs(db, ids)
        with open_sources(sim_config(sim), db) as sources:
            result = phases.fetch_batch_details(
                db, sources.for_call("match_details"), BATCH, depth=0, chunk_size=5, max_workers=4, log=LOG
            )
    states = _states(db, ids)
    assert all(s["has_details"] is None and s["retry_count"] == 0 for s in states)  # nothing spent, nothing lost
    assert all("ServerError" in s["fetch_error"] for s in states)  # ... and the error is there to see
    assert result.unsettled == len(ids)  # the partition fails: the batch is not finished
    assert result.counts["failed_pending"] == len(ids)


def test_a_match_that_alone_fails_spends_an_attempt():
    """One id answering 500 while the others succeed is that match's problem, not an outage."""
    broken = "/api/matches/13"

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == broken:
            return httpx.Response(500, json={"error": "Internal Server Error"})
        return httpx.Response(404, json={"error": "Not Found"})

    config = SourcesConfig(
        opendota=ProviderConfig("http://od"), steam=ProviderConfig("http://st"), stratz=ProviderConfig("http://sz"),
        retry=RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0),
    )
    source = build_source("opendota", config, limiter=None, accounting=RequestAccounting(None),
                          transport=httpx.MockTransport(serve))
    for healthy in (1, 2, 3):
        try:
            source.match_details(healthy)
        except Exception:
            pass
        try:
            source.match_details(13)
        except ServerError as error:
            assert not error.outage
    # every request failing: the provider is down, and its errors are outages
    source2 = build_source("opendota", config, limiter=None, accounting=RequestAccounting(None),
                           transport=httpx.MockTransport(lambda r: httpx.Response(503, text="down")))
    outages = []
    for match_id in range(5):
        try:
            source2.match_details(match_id)
        except ServerError as error:
            outages.append(error.outage)
    assert outages[-1] and outages.count(True) >= 3


class _OneMatchAnswers500(httpx.BaseTransport):
    """The simulator, but OpenDota answers 500 for one match, every time (a match its parser chokes on)."""

    def __init__(self, match_id: int) -> None:
        self.inner, self.path, self.sent = httpx.HTTPTransport(), f"/api/matches/{match_id}", 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.path:
            self.sent += 1
            return httpx.Response(500, json={"error": "Internal Server Error"})
        return self.inner.handle_request(request)


def test_a_fresh_client_whose_only_item_keeps_failing_is_not_down():
    """No success yet to compare with, but one item's own retries are no sign of an outage."""
    config = SourcesConfig(
        opendota=ProviderConfig("http://od"), steam=ProviderConfig("http://st"), stratz=ProviderConfig("http://sz"),
        retry=RetryPolicy(max_retries=4, base_delay=0.0, max_delay=0.0),
    )
    source = build_source("opendota", config, limiter=None, accounting=RequestAccounting(None),
                          transport=httpx.MockTransport(lambda r: httpx.Response(500, json={"error": "boom"})))
    try:
        source.match_details(13)
    except ServerError as error:
        assert not error.outage and outcome_of(error) == RETRY
    else:
        raise AssertionError("a 500 on every try must raise")


def test_a_match_that_keeps_failing_is_given_up_when_re_run_alone(db):
    """The re-runs of a red partition fetch only the match still failing: each run spends one of its
    attempts, and the third gives it up (recorded with its error), so the partition ends green.
    Before, every re-run saw a fresh client fail its whole retry cycle with no success, called the
    provider down, and left the match pending with its count unchanged: red forever."""
    with start_simulator(rate_limits={"enabled": False}) as sim:
        ids = some_match_ids(sim, 5)
        poison = ids[0]
        _stubs(db, ids)
        config = sim_config(sim, routes={"match_details": "opendota"})
        seen = []
        for run in range(1, 5):
            transport = _OneMatchAnswers500(poison)
            with open_sources(config, db, transport=transport) as sources:
                result = phases.fetch_batch_details(
                    db, sources.for_call("match_details"), BATCH, depth=0, chunk_size=10, max_workers=2, log=LOG,
                    run_id=f"run-{run}",
                )
            [state] = _states(db, [poison])
            seen.append((transport.sent, state["retry_count"], result.unsettled))
    assert seen == [(5, 1, 1), (5, 2, 1), (5, 3, 0), (0, 3, 0)]  # the 4th run has nothing left to fetch
    assert "ServerError" in state["fetch_error"] and state["has_details"] is not True
    assert sum(s["has_details"] is True for s in _states(db, ids)) == 4


def test_a_spent_budget_is_not_an_attempt(db):
    with start_simulator(rate_limits={"enabled": False}) as sim:
        ids = some_match_ids(sim, 6)
        _stubs(db, ids)
        tiny = RetryPolicy(max_retries=0, max_budget_wait=0.2)  # OpenDota alone: its day spent, the rest waits
        config = sim_config(sim, retry=tiny)
        config = SourcesConfig(
            opendota=ProviderConfig(sim.url, config.opendota.keys, RateTier.of("tiny", per_day=2)),
            steam=config.steam, stratz=config.stratz, retry=tiny, routes={"match_details": "opendota"},
        )
        with open_sources(config, db) as sources:
            result = phases.fetch_batch_details(
                db, sources.for_call("match_details"), BATCH, depth=0, chunk_size=10, max_workers=2, log=LOG
            )
    states = _states(db, ids)
    assert sum(s["has_details"] is True for s in states) == 2
    waiting = [s for s in states if s["has_details"] is not True]
    assert len(waiting) == 4 and all(s["retry_count"] == 0 and "RateLimited" in s["fetch_error"] for s in waiting)
    assert result.unsettled == 4


def test_a_spent_day_moves_the_crawl_to_the_next_provider(db):
    """The planner: Stratz serves details 10 matches a request while its day lasts (2 requests
    here); then OpenDota takes the rest, one a request. Neither sends the medal at the match, so
    neither is preferred for it. Steam cannot serve stubs without a sequence number."""
    with start_simulator(rate_limits={"enabled": False}) as sim:
        ids = some_match_ids(sim, 25)
        _stubs(db, ids)
        base = sim_config(sim)
        config = SourcesConfig(
            opendota=base.opendota, steam=base.steam,
            stratz=ProviderConfig(sim.url, base.stratz.keys[:1], RateTier.of("tiny", per_day=2)),
            retry=RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.05, max_budget_wait=0.5),
            routes={"match_details": "auto"},
        )
        with open_sources(config, db) as sources:
            result = phases.fetch_batch_details(
                db, sources.for_call("match_details"), BATCH, depth=0, chunk_size=10, max_workers=1, log=LOG
            )
            snapshot = sources.snapshot()
    assert result.counts["details_stored"] == len(ids) and result.unsettled == 0
    assert snapshot["plan_items"] == {"match_details/stratz": 20, "match_details/opendota": 5}
    assert snapshot["api_calls_by_provider"] == {"stratz": 2, "opendota": 5}
    with db.transaction() as conn:
        status = conn.execute("SELECT reason FROM rate_limit_backoff WHERE bucket LIKE 'stratz:%'").fetchone()
    assert status and "budget spent (2/day)" in status[0]  # what `status` shows as the active backoff


def test_one_run_spends_one_attempt_however_often_its_step_retries(db):
    _stubs(db, [1, 2])
    failure = [(1, "ServerError: boom", "retry"), (2, "ServerError: boom", "retry")]
    with db.transaction() as conn:
        crawl_db.record_detail_failures(conn, failure, run_id="run-a")
        crawl_db.record_detail_failures(conn, failure, run_id="run-a")  # the step retry
    assert [s["retry_count"] for s in _states(db, [1, 2])] == [1, 1]
    with db.transaction() as conn:
        crawl_db.record_detail_failures(conn, failure, run_id="run-b")  # the next run
        crawl_db.record_detail_failures(conn, failure[:1])  # no run known: always counts
    assert [s["retry_count"] for s in _states(db, [1, 2])] == [3, 2]


def test_steam_details_come_from_the_sequence_feed_in_few_calls(db):
    """Stubs from Steam's history carry match_seq_num; the details phase reads them from the feed."""
    with start_simulator(rate_limits={"enabled": False}) as sim:
        world = sim.world
        indexes = world.matches_of(world.account_index(SEED))[-40:]
        ids = [int(m) for m in world.match_id(indexes)]
        seqs = [int(s) for s in world.match_seq_num(indexes)]
        _stubs(db, ids, seqs)
        with open_sources(sim_config(sim, routes={"match_details": "steam"}), db) as sources:
            result = phases.fetch_batch_details(
                db, sources.for_call("match_details"), BATCH, depth=0, chunk_size=25, max_workers=4, log=LOG
            )
            calls = sources.snapshot()["api_calls"]
    assert result.counts["details_stored"] == len(ids) and result.unsettled == 0
    assert calls == result.counts["details_calls_planned"] <= len(ids)
    regions = db.fetch_all("SELECT region FROM matches WHERE match_id = ANY(%s)", (ids,))
    assert all(r["region"] is not None for r in regions)  # cluster -> region


def test_steam_details_without_a_sequence_number_wait_with_a_clear_error(db):
    with start_simulator(rate_limits={"enabled": False}) as sim:
        ids = some_match_ids(sim, 3)
        _stubs(db, ids)  # as OpenDota's history stores them: no match_seq_num
        with open_sources(sim_config(sim, routes={"match_details": "steam"}), db) as sources:
            result = phases.fetch_batch_details(
                db, sources.for_call("match_details"), BATCH, depth=0, chunk_size=25, max_workers=2, log=LOG
            )
            assert sources.snapshot()["api_calls"] == 0  # no call can serve them
    states = _states(db, ids)
    assert all(s["retry_count"] == 0 and "match_seq_num" in s["fetch_error"] for s in states)
    assert result.unsettled == 3  # red, with the reason in the error, never silently pending


def test_a_private_profile_saves_the_history_call(db):
    with start_simulator(rate_limits={"enabled": False}) as sim:
        world = sim.world
        private = int(world.accounts.account_id[world.accounts.private][0])
        with db.transaction() as conn:
            conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 1)", (BATCH,))
            conn.execute("INSERT INTO accounts (account_id, depth, batch_key) VALUES (%s, 0, %s)", (private, BATCH))
        with open_sources(sim_config(sim), db) as sources:
            source = sources.for_call("profiles")
            phases.fetch_profiles(db, source, BATCH, refresh=False, max_workers=1, log=LOG)
            before = sources.snapshot()["api_calls"]
            result = phases.fetch_match_stubs(
                db, sources.for_call("match_history"), BATCH, refresh=False, max_matches=100, page_size=100,
                max_workers=1, log=LOG,
            )
            assert sources.snapshot()["api_calls"] == before
    assert result.counts["private_accounts"] == 1
    row = db.fetch_all("SELECT is_private, matches_synced_at FROM accounts WHERE account_id = %s", (private,))[0]
    assert row["is_private"] is True and row["matches_synced_at"] is not None


def test_the_servers_remaining_count_wins_when_lower(db):
    tier = RateTier.of("ours", per_minute=60)
    bucket = "opendota:api:test"
    while time.time() % 60 > 55:  # not at the very end of a minute
        time.sleep(0.5)
    ours = SharedRateLimiter(db, lease_fraction=1.0, max_lease=1000)
    ours.observe_remaining(bucket, tier, {60: 5})  # the server: 5 calls left (another client on this address)
    granted = 0
    while ours.try_acquire(bucket, tier) == 0.0 and granted < 100:
        granted += 1
    assert granted == 5  # not the 60 our tier alone would allow
    other = SharedRateLimiter(db)
    assert other.try_acquire(bucket, tier) > 0  # and the window is spent for every process


def test_stubs_waiting_on_an_outage_fail_the_asset_check(db, database_url):
    """Pending without an attempt spent, but loud: the check on match_details fails and names the error.
    Executed alone from the crawl's one multi-check step, as the UI's "Execute" on that check does."""
    from crawl_pipeline.defs.crawl.checks import crawl_checks
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.resources import PostgresResource

    _stubs(db, [1, 2])
    with db.transaction() as conn:
        crawl_db.record_detail_failures(conn, [(1, "DetailsNotReady: steam match_details HTTP 500", "pending")])
    key = dg.AssetCheckKey(dg.AssetKey("match_details"), "no_details_waiting_on_errors")
    defs = dg.Definitions(
        asset_checks=[crawl_checks],
        jobs=[dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key))],
        resources={"postgres": PostgresResource(database_url=database_url), "crawl": CrawlConfig()},
    )
    result = defs.resolve_job_def("one_check").execute_in_process(raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    assert [e.asset_check_key for e in evaluations] == [key]  # only the selected check ran
    assert not evaluations[0].passed and evaluations[0].metadata["waiting_stubs"].value == 1
    assert "DetailsNotReady" in evaluations[0].metadata["error_sample"].value
