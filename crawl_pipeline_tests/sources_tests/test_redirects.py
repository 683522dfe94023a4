"""A base URL that answers 3xx (``OPENDOTA_API_URL=http://...`` for a host that moved to https) is
the operator's setting, not the item: the call fails at once with ``Redirected``, naming the
variable to change and where the answer pointed (never the query: Steam's key travels in it),
spends no attempt on any item, and the client sends nothing more."""

from __future__ import annotations

import logging

import httpx
import pytest

from crawl_pipeline.crawl import phases
from crawl_pipeline.settings import Secret
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import PENDING, Redirected, outcome_of
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source, open_sources
from crawl_pipeline.sources.routing import RoutedSource

from .support import SEED, sim_config

LOG = logging.getLogger("test")
BATCH = "d00-000000"
STEAM_KEY = "STEAMKEY-redirected-0123456789"


class MovedToHttps(httpx.BaseTransport):
    """Every request answered as a plain-http front of a moved host answers: 301 to the https URL,
    query and all (so a key sent as ?key= comes back in the Location)."""

    def __init__(self, status: int = 301) -> None:
        self.status, self.seen = status, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        moved = request.url.copy_with(scheme="https", host="api.moved.example", port=None)
        return httpx.Response(self.status, headers={"location": str(moved), "content-type": "text/html"},
                              content=b"<html>301 Moved Permanently</html>")


def _config(**retry) -> SourcesConfig:
    return SourcesConfig(
        opendota=ProviderConfig("http://od.example"), steam=ProviderConfig("http://st.example", (Secret(STEAM_KEY),)),
        stratz=ProviderConfig("http://sz.example"),
        retry=RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0, **retry), routes={"profiles": "opendota"},
    )


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_names_the_variable_and_is_never_retried(status, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    transport = MovedToHttps(status)
    steam = build_source("steam", _config(), limiter=None, accounting=RequestAccounting(None), transport=transport)
    with pytest.raises(Redirected) as info:
        steam.player_bans([293053907])
    error = info.value
    assert transport.seen == 1  # not retried: every retry would be redirected too
    assert error.status_code == status and not error.retriable and outcome_of(error) == PENDING
    assert str(error) == (
        f"steam player_bans HTTP {status}: redirected to "
        "https://api.moved.example/ISteamUser/GetPlayerBans/v1/?…: set STEAM_API_URL to the new address"
    )
    for text in (str(error), repr(error), caplog.text):
        assert STEAM_KEY not in text and "key=" not in text.replace("STEAM_API_KEY", "")


def test_after_a_redirect_nothing_more_is_sent():
    transport = MovedToHttps()
    opendota = build_source("opendota", _config(), limiter=None, accounting=RequestAccounting(None), transport=transport)
    with pytest.raises(Redirected):
        opendota.player_profile(1)
    with pytest.raises(Redirected) as info:
        opendota.hero_stats(2)
    assert transport.seen == 1
    assert info.value.message.startswith("not sent: an earlier player_profile call got HTTP 301, redirected to https://")
    assert info.value.message.endswith("set OPENDOTA_API_URL to the new address")
    assert outcome_of(info.value) == PENDING


def test_a_redirecting_base_url_spends_no_attempt_however_often_the_batch_runs(db):
    """Before: the HTML body went to the JSON parser, MalformedResponse was retried and counted,
    and after three runs every account of the batch had failed for good."""
    ids = [111, 222, 333, 444]
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 4)",
                     (BATCH,))
        conn.execute("INSERT INTO accounts (account_id, depth, batch_key) SELECT unnest(%s::bigint[]), 0, %s", (ids, BATCH))
    for run in range(4):
        with open_sources(_config(), db, transport=MovedToHttps()) as sources:
            result = phases.fetch_profiles(db, sources.for_call("profiles"), BATCH, refresh=False, max_workers=2,
                                           log=LOG, run_id=f"run-{run}")
        assert result.counts["failed_pending"] == len(ids) and result.unsettled == len(ids)  # red, nothing spent
    rows = db.fetch_all("SELECT profile_fetched_at, profile_error, profile_attempts FROM accounts")
    assert len(rows) == len(ids) and all(r["profile_attempts"] == 0 and r["profile_fetched_at"] is None for r in rows)
    assert all("set OPENDOTA_API_URL to the new address" in r["profile_error"] for r in rows)


def test_a_redirecting_provider_hands_its_items_to_the_next(shared_sim):
    """Planned (route auto), the items of a provider whose URL redirects go to the next one that
    can serve them, as for a bad key: Stratz, first for profiles (10 a request), redirects here."""
    config = sim_config(shared_sim)
    stratz = build_source("stratz", config, limiter=None, accounting=RequestAccounting(None), transport=MovedToHttps())
    opendota = build_source("opendota", config, limiter=None, accounting=RequestAccounting(None))
    try:
        outcomes = dict(RoutedSource("profiles", [stratz, opendota]).profiles_many([SEED]))
    finally:
        stratz.close()
        opendota.close()
    assert outcomes[SEED].source == "opendota" and outcomes[SEED].account_id == SEED
