"""The shared budget: atomic leases, local spending, returned leftovers, shared backoff."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from crawl_pipeline.db import rate_limits
from crawl_pipeline.db.rate_limits import smallest_active_backoff
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import RateLimited
from crawl_pipeline.sources.http import ProviderHTTP, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier, SharedRateLimiter, WaitLine
from crawl_pipeline.sources.registry import SPECS, open_sources
from crawl_pipeline.sources.tokens import Credential, CredentialPool

from .support import SEED, STRATZ_TOKENS, first_seq, sim_config
from .workers import hammer_stratz


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _used(db, bucket):
    return {
        r["window_seconds"]: r["used"]
        for r in db.fetch_all("SELECT window_seconds, used FROM rate_limit_windows WHERE bucket = %s", (bucket,))
    }


def test_threads_never_get_more_than_capacity(db):
    tier = RateTier.of("t", per_hour=50, per_day=1000)
    limiter = SharedRateLimiter(db, lease_fraction=0.2)
    granted = []
    clock_start = time.time()
    if clock_start % 3600 > 3590:  # too close to the hour's end for one window  # pragma: no cover
        pytest.skip("hour window about to roll")

    def worker():
        granted.append(sum(limiter.try_acquire("b", tier) == 0.0 for _ in range(20)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 50
    assert _used(db, "b") == {3600: 50, 86400: 50}
    assert limiter.leases < 50  # permits were leased in slices, not one round trip each


def _wait_until(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the threads never got in line"
        time.sleep(0.001)


def test_threads_waiting_for_a_permit_are_served_in_the_order_they_came():
    """A thread back from its call queues behind the ones already waiting, so none is starved."""
    line = WaitLine()
    served: list[str] = []
    head_may_leave = threading.Event()

    def wait_in_line(name: str) -> None:
        with line.turn(timeout=10) as ahead:
            assert ahead is None
            served.append(name)
            if name == "head":
                head_may_leave.wait(10)

    threads = []
    for name in ("head", "second", "third", "fourth"):
        threads.append(threading.Thread(target=wait_in_line, args=(name,)))
        threads[-1].start()
        in_line = len(threads)
        _wait_until(lambda: len(line) == in_line)  # noqa: B023 (called before the loop moves on)
    head_may_leave.set()
    for thread in threads:
        thread.join()
    assert served == ["head", "second", "third", "fourth"]
    assert len(line) == 0


def test_a_thread_that_waits_in_line_past_its_deadline_is_told_how_many_were_ahead():
    line = WaitLine()
    outcome: list[int | None] = []

    def wait_briefly() -> None:
        with line.turn(timeout=0.05) as ahead:
            outcome.append(ahead)

    with line.turn(timeout=1) as ahead:
        assert ahead is None
        late = threading.Thread(target=wait_briefly)
        late.start()
        late.join()
    assert outcome == [1]  # the head never left: the late thread gives up without asking the budget
    assert len(line) == 0  # and leaves the line, so the threads behind it move up


def test_a_head_that_fails_passes_its_turn_on():
    line = WaitLine()
    behind: list[int | None] = []

    def wait_behind() -> None:
        with line.turn(timeout=10) as ahead:
            behind.append(ahead)

    second = threading.Thread(target=wait_behind)
    with pytest.raises(RuntimeError), line.turn(timeout=1):
        second.start()
        _wait_until(lambda: len(line) == 2)
        raise RuntimeError("the budget's database went away")
    second.join()
    assert behind == [None]
    assert len(line) == 0


class _PermitsOnRelease:
    """A budget that grants only the permits the test releases; otherwise: ask again in 0.5 s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free = 0
        self.asked_by: list[str] = []

    def release(self) -> None:
        with self._lock:
            self._free += 1

    def try_acquire(self, bucket: str, tier: RateTier) -> float:
        with self._lock:
            self.asked_by.append(threading.current_thread().name)
            if self._free:
                self._free -= 1
                return 0.0
            return 0.5

    def peek(self, bucket: str, tier: RateTier) -> float:
        return 0.0 if self._free else 0.5

    def now(self) -> float:
        return time.time()


def test_a_call_waiting_for_a_permit_gets_the_next_one_before_a_newer_call():
    """The client's calls queue: a permit freed while one waits goes to it, not to a call that
    comes later (the threads back from their calls used to take every permit of the window)."""
    budget = _PermitsOnRelease()
    http = ProviderHTTP("p", "http://provider.test", CredentialPool("p", [Credential.anonymous()]),
                        tier=RateTier.of("t", per_second=1), rate_group="api", limiter=budget,  # type: ignore[arg-type]
                        accounting=RequestAccounting(None), retry=RetryPolicy(max_budget_wait=10))
    served: list[str] = []

    def call() -> None:
        http._acquire("matches")
        served.append(threading.current_thread().name)

    waiter = threading.Thread(target=call, name="waiter")
    waiter.start()
    _wait_until(lambda: budget.asked_by.count("waiter") >= 2)  # none free: it sleeps at the head of the line
    budget.release()
    newcomer = threading.Thread(target=call, name="newcomer")
    newcomer.start()
    _wait_until(lambda: len(http._wait_line) == 2 or bool(served))
    budget.release()
    waiter.join()
    newcomer.join()
    assert served == ["waiter", "newcomer"]
    http.close()


def test_unused_permits_go_back_to_longer_windows(db):
    clock = FakeClock(1_800_000_000.0)  # a minute boundary
    tier = RateTier.of("t", per_second=10, per_minute=100)
    limiter = SharedRateLimiter(db, lease_fraction=0.5, clock=clock)
    assert limiter.try_acquire("b", tier) == 0.0
    assert _used(db, "b") == {1: 5, 60: 5}  # a slice of 5 leased, 4 held locally
    clock.now += 1.0
    assert limiter.try_acquire("b", tier) == 0.0
    used = _used(db, "b")
    assert used[60] == 1 + 5  # the 4 unused came back to the minute; a new slice of 5
    limiter.close()
    assert _used(db, "b")[60] == 2


def test_exhausted_window_waits_until_it_rolls(db):
    clock = FakeClock(1_800_000_000.2)
    tier = RateTier.of("t", per_second=3)
    limiter = SharedRateLimiter(db, clock=clock)
    assert [limiter.try_acquire("b", tier) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("b", tier) == pytest.approx(0.8)
    other = SharedRateLimiter(db, clock=clock)  # another process: the database says no too
    assert other.try_acquire("b", tier) == pytest.approx(0.8)


def _used_in(db, bucket, start):
    return db.fetch_value(
        "SELECT coalesce(sum(used), 0) FROM rate_limit_windows "
        "WHERE bucket = %s AND window_seconds = 1 AND window_start = to_timestamp(%s)",
        (bucket, start),
    )


def test_a_permit_is_spent_only_in_the_window_it_was_counted_in(db, monkeypatch, caplog):
    """One thread's lease holds the bucket's lock for a database round trip that outlives the
    second; another thread waits for that lock meanwhile. Neither may spend a permit counted in
    the second that ended in the one that follows (other processes may have filled it: a 429)."""
    start = 1_800_000_000
    clock = FakeClock(start + 0.5)
    tier = RateTier.of("t", per_second=10)
    limiter = SharedRateLimiter(db, clock=clock)
    in_lease, finish_lease, second_read_clock = threading.Event(), threading.Event(), threading.Event()
    real_lock_windows = rate_limits.lock_windows

    def slow_lock_windows(*args, **kwargs):
        in_lease.set()
        assert finish_lease.wait(10)
        return real_lock_windows(*args, **kwargs)

    def read_clock():
        if threading.current_thread().name == "second":
            second_read_clock.set()
        return clock.now

    monkeypatch.setattr(rate_limits, "lock_windows", slow_lock_windows)
    limiter._clock = read_clock
    granted: dict[str, float] = {}

    def take(name):
        if limiter.try_acquire("b", tier) == 0.0:
            granted[name] = clock.now  # the grant goes out now

    first = threading.Thread(target=take, args=("first",), name="first")
    first.start()
    assert in_lease.wait(10)
    second = threading.Thread(target=take, args=("second",), name="second")
    second.start()
    second_read_clock.wait(0.5)  # the old code read the clock before waiting for the lock
    clock.now = start + 1.2  # the lease ends in the next second
    finish_lease.set()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()
    for name, at in granted.items():
        window = int(at)
        spent_in_window = sum(int(t) == window for t in granted.values())
        assert spent_in_window <= _used_in(db, "b", window), f"{name}'s permit was counted in another second"
    # the lease that outlived its second spends nothing of it; the thread that waited meanwhile got
    # a permit of a lease of the new second (a slice of 3 each)
    assert set(granted) == {"second"}
    assert (_used_in(db, "b", start), _used_in(db, "b", start + 1)) == (3, 3)
    # and the log says why that call waited
    slow = [r.getMessage() for r in caplog.records if "past the end of its second window" in r.getMessage()]
    assert slow == ["leasing permits of b took 0.70 s, past the end of its second window: none spent, asking again; "
                    "while the database is this slow, calls wait and may end in RateLimited"]


def test_a_permit_is_not_sent_when_its_thread_was_paused_past_its_second(db):
    """A thread descheduled between the budget's grant and the send (a loaded CPU) finds the
    permit's second over and asks again: the time it checks is the one read before the grant,
    not after it, which would already be in the next second and pass."""
    start = 1_800_000_000
    clock = FakeClock(start + 0.5)
    tier = RateTier.of("t", per_second=10)
    limiter = SharedRateLimiter(db, clock=clock)
    grant = limiter.try_acquire

    def grant_then_pause(bucket: str, t: RateTier) -> float:
        wait = grant(bucket, t)
        clock.now = start + 1.2
        return wait

    limiter.try_acquire = grant_then_pause  # type: ignore[method-assign]
    http = ProviderHTTP("p", "http://provider.test", CredentialPool("p", [Credential.anonymous()]), tier=tier,
                        rate_group="api", limiter=limiter, accounting=RequestAccounting(None))
    _, granted_at = http._acquire("matches")
    assert not limiter.still_in_window(tier, granted_at)
    http.close()


def test_a_call_whose_permit_expired_sends_once_with_a_new_one_and_returns_the_old(db):
    """Through ``ProviderHTTP.call``: the permit of the ended second is not sent; the request goes
    out once, on a permit of the new second; the minute counts only what was leased and not given
    back (3 + 3 leased, 1 returned unsent, the old lease's other 2 returned at the rollover)."""
    start = 1_800_000_000
    clock = FakeClock(start + 0.5)
    tier = RateTier.of("t", per_second=10, per_minute=100)
    limiter = SharedRateLimiter(db, clock=clock)
    grant = limiter.try_acquire
    paused = []

    def grant_then_pause_once(bucket: str, t: RateTier) -> float:
        wait = grant(bucket, t)
        if not paused:
            paused.append(clock.now)
            clock.now = start + 1.2
        return wait

    limiter.try_acquire = grant_then_pause_once  # type: ignore[method-assign]
    sent = []

    def answer(request):
        sent.append(clock.now)
        return httpx.Response(200, json={"ok": True})

    http = ProviderHTTP("p", "http://provider.test", CredentialPool("p", [Credential.anonymous()]), tier=tier,
                        rate_group="api", limiter=limiter, accounting=RequestAccounting(None),
                        transport=httpx.MockTransport(answer))
    try:
        assert http.call("matches", "/matches/1", lambda payload: payload) == {"ok": True}
    finally:
        http.close()
    bucket = http.bucket(Credential.anonymous())
    assert sent == [start + 1.2]
    assert (_used_in(db, bucket, start), _used_in(db, bucket, start + 1)) == (3, 3)
    assert _used(db, bucket)[60] == 3  # 4 without the unsent permit given back


def test_a_permit_not_sent_goes_back_to_the_windows_still_current(db):
    """Kept from going out because its second ended, the permit was never used: the minute it
    was counted in is still current and gets it back; the ended second keeps its count."""
    start = 1_800_000_000
    clock = FakeClock(start + 0.5)
    tier = RateTier.of("t", per_second=10, per_minute=100)
    limiter = SharedRateLimiter(db, clock=clock)
    granted_at = limiter.now()
    assert limiter.try_acquire("b", tier) == 0.0
    assert _used(db, "b") == {1: 3, 60: 3}  # a lease of 3
    clock.now = start + 1.2
    assert not limiter.still_in_window(tier, granted_at)
    limiter.give_back("b", tier, granted_at)
    assert (_used_in(db, "b", start), _used(db, "b")[60]) == (3, 2)


def test_backoff_pauses_every_process_and_is_reported(db):
    tier = RateTier.of("t", per_minute=1000)
    SharedRateLimiter(db).record_backoff("opendota:api:abc", 30.0, "HTTP 429 on match_details")
    wait = SharedRateLimiter(db).try_acquire("opendota:api:abc", tier)
    assert 25 < wait <= 30
    report = smallest_active_backoff(db)
    assert report["bucket"] == "opendota:api:abc" and 25 < report["seconds_left"] <= 30
    assert report["reason"] == "HTTP 429 on match_details"


def test_processes_share_one_budget_and_the_server_never_says_429(database_url, db):
    """Three processes x four threads on one token: the server's 429 count stays zero."""
    per_second, seconds = 10, 2.5
    with start_simulator(rate_limits={"stratz_per_second": per_second, "stratz_per_minute": 100_000}) as sim:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(3) as pool:
            args = (database_url, sim.url, "eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ", per_second, seconds, 4)
            results = pool.starmap(hammer_stratz, [args] * 3)
        stats = sim.stats()
    assert stats["rate_limited_total"] == 0
    assert sum(r["failed"] for r in results) == 0
    served = sum(r["ok"] for r in results)
    assert served == stats["responses_by_status"]["200"] > 0
    rows = db.fetch_all("SELECT used, capacity FROM rate_limit_windows WHERE window_seconds = 1")
    assert rows and all(r["used"] <= r["capacity"] for r in rows)
    assert sum(r["used"] for r in rows) >= served  # every call went through a leased permit
    assert sum(r["leases"] for r in results) < served  # ... leased in slices


def test_a_token_whose_live_limit_is_below_the_tier_is_held_to_it_by_the_headers(db):
    """The probe's token saw 8/s where Stratz documents 20/s: the client, on the documented tier,
    reads Kong's X-RateLimit-Remaining-* and sends no call the server would refuse."""
    with start_simulator(rate_limits={"stratz_per_second": 8, "stratz_per_minute": 100_000}) as sim:
        config = sim_config(sim, stratz_tokens=STRATZ_TOKENS[:1])
        with open_sources(config, db) as sources:
            stratz = sources.provider("stratz")
            assert stratz.http.tier.windows[0].limit == 20  # the documented per-second quota
            with ThreadPoolExecutor(4) as pool:
                profiles = list(pool.map(lambda _: stratz.player_profile(SEED), range(40)))
        stats = sim.stats()
    assert [p.account_id for p in profiles] == [SEED] * 40
    assert stats["rate_limited_total"] == 0 and stats["responses_by_status"]["200"] == 40


def test_a_limit_one_process_heard_from_the_server_caps_every_process(db):
    """Process A hears 8/s from the server; B, fresh, still has the tier's 20/s: in the window A
    leased for, B gets only what is left of 8."""
    clock = FakeClock(1_800_000_000.2)
    tier = RateTier.of("t", per_second=20)
    a, b = SharedRateLimiter(db, clock=clock), SharedRateLimiter(db, clock=clock, lease_fraction=1.0)
    a.observe_remaining("b", tier, {1: 8}, {1: 8})
    granted_a = sum(a.try_acquire("b", tier) == 0.0 for _ in range(5))  # leases of 2 (a quarter of 8): 6 taken
    granted_b = sum(b.try_acquire("b", tier) == 0.0 for _ in range(20))
    assert (granted_a, granted_b) == (5, 2)  # B alone would have leased 14 of its 20


def test_a_tier_raised_mid_window_takes_effect_at_the_next_lease(db):
    """Only what the server announced is kept at its least: a configured capacity raised in the
    middle of a day (OPENDOTA_TIER=premium, a custom rate) counts from the next lease."""
    clock = FakeClock(1_800_000_000.2)
    low, high = RateTier.of("t", per_day=10), RateTier.of("t", per_day=100)
    before, after = (SharedRateLimiter(db, clock=clock, lease_fraction=1.0) for _ in range(2))
    assert sum(before.try_acquire("b", low) == 0.0 for _ in range(10)) == 10  # (one more would mark the day spent)
    assert sum(after.try_acquire("b", high) == 0.0 for _ in range(200)) == 90


def test_the_sequence_feed_keeps_its_own_pace_and_the_keys_other_calls_do_not_wait_for_it(db):
    """GetMatchHistoryBySequenceNum answers about one call per 5 s (the simulator: 1 s here, to keep
    the test short); the rest of the key's allowance is far larger. The client keeps the feed's pace
    in a bucket of its own, so it draws no 429, each feed call also counts in the key's day, and the
    planner sees Steam's details wait on that pace while its ban checks are ready."""
    assert SPECS["steam"].paces["matches_by_sequence"].describe() == "1/5s"  # the default, as odota/core says
    with start_simulator(accounts=200, rate_limits={"steam_sequence_every_seconds": 1}) as sim:
        pace = {"matches_by_sequence": RateTier.of("steam-sequence-test", per_second=1)}
        with open_sources(sim_config(sim, steam_paces=pace, retry=RetryPolicy(max_retries=0)), db) as sources:
            steam = sources.provider("steam")
            start = first_seq(sim)
            pages = [steam.sequence_page(start + 10 * i, 2) for i in range(3)]
            assert steam.budget_wait("match_details") > 0.0  # this second's feed call is spent
            assert steam.budget_wait("bans") == 0.0
            assert steam.player_bans([SEED]).source == "steam"
        stats = sim.stats()
    assert all(len(p.outcomes) == 2 for p in pages)
    assert stats["rate_limited_total"] == 0 and stats["responses_by_status"]["200"] == 4
    used = {r["bucket"].split(":")[1]: r["used"] for r in db.fetch_all(
        "SELECT bucket, sum(used) AS used FROM rate_limit_windows WHERE bucket LIKE 'steam:%%' "
        "AND window_seconds = 86400 GROUP BY bucket")}  # fmt: skip
    assert used["webapi"] >= 4  # the three feed calls and the ban check, in the key's day


def test_a_429_from_the_sequence_feed_pauses_the_feed_only(db):
    """Without the pace (a client told the feed is fast), the simulator refuses the second call of
    the window: the backoff is the feed's, not the key's."""
    with start_simulator(accounts=200, rate_limits={"steam_sequence_every_seconds": 5}) as sim:
        fast = {"matches_by_sequence": RateTier.of("steam-sequence-test", per_second=1000)}
        with open_sources(sim_config(sim, steam_paces=fast, retry=RetryPolicy(max_retries=0)), db) as sources:
            steam = sources.provider("steam")
            steam.sequence_page(first_seq(sim), 2)
            with pytest.raises(RateLimited):
                steam.sequence_page(first_seq(sim), 2)
            paused = {r["bucket"].split(":")[1] for r in db.fetch_all(
                "SELECT bucket FROM rate_limit_backoff WHERE bucket LIKE 'steam:%%' AND until > now()")}  # fmt: skip
            assert steam.player_bans([SEED]).source == "steam"
    assert paused == {"matches_by_sequence"}
