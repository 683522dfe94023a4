"""Server-side rate limits: the limiter alone (fake clock) and each provider over HTTP."""

from __future__ import annotations

import threading
import time

import httpx

from crawl_pipeline.simulator.ratelimit import FixedWindowLimiter, Window
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SEED_ACCOUNT

from .support import (
    OPENDOTA_KEY,
    STEAM_KEY,
    STRATZ_AUTH,
    STRATZ_USER_AGENT,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_fixed_window_resets_at_boundary() -> None:
    clock = FakeClock()
    limiter = FixedWindowLimiter(clock)
    minute = [Window("minute", 60, 3)]
    assert [limiter.hit("a", minute, False).allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b", minute, False).allowed  # per identity
    clock.now = (clock.now // 60 + 1) * 60
    assert limiter.hit("a", minute, False).allowed


def test_counting_policies_differ() -> None:
    limiter = FixedWindowLimiter(FakeClock())
    windows = [Window("minute", 60, 2)]
    decisions = [limiter.hit("od", windows, True) for _ in range(4)]
    assert [d.remaining["minute"] for d in decisions] == [1, 0, -1, -2]
    served = [limiter.hit("st", windows, False) for _ in range(4)]
    assert [d.remaining["minute"] for d in served] == [1, 0, 0, 0]
    assert served[-1].exceeded == "minute" and 0 < served[-1].retry_after <= 60


def test_limiter_is_thread_safe() -> None:
    limiter = FixedWindowLimiter(FakeClock())
    windows = [Window("day", 86_400, 500)]
    allowed = []

    def worker() -> None:
        allowed.extend(limiter.hit("x", windows, False).allowed for _ in range(100))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 500


def test_opendota_minute_and_daily_limits_over_http() -> None:
    limits = {"opendota_free_per_minute": 3, "opendota_free_per_day": 1000, "opendota_premium_per_minute": 5}
    with start_simulator(rate_limits=limits) as sim, httpx.Client(base_url=sim.url) as c:
        responses = [c.get(f"/api/players/{SEED_ACCOUNT}/wl") for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert [r.headers["X-Rate-Limit-Remaining-Minute"] for r in responses] == ["2", "1", "0", "-1"]
        assert responses[0].headers["X-Rate-Limit-Remaining-Day"] == "999"
        assert responses[3].json() == {"error": "minute rate limit exceeded"}
        premium = c.get(f"/api/players/{SEED_ACCOUNT}/wl", params={"api_key": OPENDOTA_KEY})
        assert premium.status_code == 200 and premium.headers["X-Rate-Limit-Remaining-Minute"] == "4"
        assert "X-Rate-Limit-Remaining-Day" not in premium.headers
        assert sim.stats()["rate_limited"] == {"opendota": 1}
        c.post("/_sim/reset")
        assert c.get(f"/api/players/{SEED_ACCOUNT}/wl").status_code == 200

    with start_simulator(rate_limits={"opendota_free_per_minute": 100, "opendota_free_per_day": 2}) as sim, httpx.Client(base_url=sim.url) as c:
        codes = [c.get("/api/heroes") for _ in range(3)]
        assert codes[-1].status_code == 429 and codes[-1].json() == {"error": "daily api limit exceeded"}


def test_stratz_limits_per_token_with_retry_after() -> None:
    limits = {"stratz_per_second": 1000, "stratz_per_minute": 2, "stratz_per_hour": 100}
    query = {"query": f"{{ player(steamAccountId: {SEED_ACCOUNT}) {{ steamAccountId }} }}"}
    with start_simulator(rate_limits=limits) as sim, httpx.Client(base_url=sim.url) as c:
        answers = [c.post("/graphql", json=query, headers=STRATZ_AUTH) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        # Kong's headers, as probed live: every window's limit and what is left; RateLimit-* the second's
        first = answers[0].headers
        assert (first["X-RateLimit-Limit-Minute"], first["X-RateLimit-Remaining-Minute"]) == ("2", "1")
        assert (first["X-RateLimit-Limit-Second"], first["X-RateLimit-Remaining-Hour"]) == ("1000", "99")
        assert first["RateLimit-Limit"] == "1000" and first["RateLimit-Remaining"] == "999"
        assert answers[1].headers["X-RateLimit-Remaining-Minute"] == "0"
        limited = c.post("/graphql", json=query, headers=STRATZ_AUTH)
        assert 1 <= int(limited.headers["Retry-After"]) <= 60 and limited.json()["errors"]
        other = c.post("/graphql", json=query, headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg", **STRATZ_USER_AGENT})
        assert other.status_code == 200  # limits are per token


def test_steam_daily_limit_and_disabling_limits() -> None:
    with start_simulator(rate_limits={"steam_per_day": 2}) as sim, httpx.Client(base_url=sim.url) as c:
        params = {"key": STEAM_KEY, "steamids": "76561198253319635"}
        codes = [c.get("/ISteamUser/GetPlayerBans/v1/", params=params).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        c.post("/_sim/config", json={"rate_limits": {"enabled": False}})
        assert c.get("/ISteamUser/GetPlayerBans/v1/", params=params).status_code == 200
        stats = c.get("/_sim/stats").json()
        assert stats["rate_limited_total"] == 1
        assert STEAM_KEY not in str(stats)  # keys are redacted


def test_stratz_counts_a_call_on_arrival_while_a_query_ahead_of_it_runs() -> None:
    """Stratz's gateway counts a call when it arrives, however long the queries ahead take. Run on
    the event loop, a query held back every request behind it before it was counted, so calls
    sent within one second were counted in the next, on top of that second's own."""
    if time.time() % 3600 > 3590:  # the hour's window must not roll between the two calls  # pragma: no cover
        time.sleep(3600 - time.time() % 3600 + 0.1)
    limits = {"stratz_per_second": 1000, "stratz_per_minute": 1000, "stratz_per_hour": 1}
    query = {"query": f"{{ player(steamAccountId: {SEED_ACCOUNT}) {{ steamAccountId }} }}"}
    with start_simulator(rate_limits=limits) as sim:
        stratz = next(d for d in sim.runtime.dialects if d.name == "stratz")
        running, release = threading.Event(), threading.Event()
        execute = stratz._execute

        def held(*args):
            running.set()
            release.wait(30)
            return execute(*args)

        stratz._execute = held
        first: list[httpx.Response] = []
        with httpx.Client(base_url=sim.url, timeout=30) as c:
            caller = threading.Thread(target=lambda: first.append(c.post("/graphql", json=query, headers=STRATZ_AUTH)))
            caller.start()
            try:
                assert running.wait(10)
                with httpx.Client(base_url=sim.url, timeout=10) as other:
                    second = other.post("/graphql", json=query, headers=STRATZ_AUTH)
                    assert second.status_code == 429  # counted (and refused) while the first query runs
                    assert other.get("/api/heroes").status_code == 200  # other providers are not held up either
                assert not first
            finally:
                release.set()
                caller.join(30)
        assert first[0].status_code == 200
        assert first[0].json()["data"]["player"]["steamAccountId"] == SEED_ACCOUNT
