"""Bodies a provider (or a proxy in front of it) gets wrong: they fail the item they belong to with
a typed, retried ``MalformedResponse`` naming provider and endpoint, never the phase around it.

A ``Content-Encoding: gzip`` on a body that is not gzip makes httpx raise ``DecodingError`` as
the body is read; ``[[[[...]]]]`` nested past Python's recursion limit makes ``json.loads`` raise
``RecursionError``. Both used to escape ``ProviderHTTP.call`` and abort the whole phase."""

from __future__ import annotations

import logging

import httpx
import numpy as np
import pytest

from crawl_pipeline.crawl import phases
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import MalformedResponse, ServerError
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, build_source, open_sources

from .support import sim_config

LOG = logging.getLogger("test")
BATCH = "d00-000000"
NOT_GZIP = b'{"profile": {"account_id": 1}}'
DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 kB: far under max_body_bytes


def _opendota(serve, retries: int = 2):
    config = SourcesConfig(
        opendota=ProviderConfig("http://od"), steam=ProviderConfig("http://st"), stratz=ProviderConfig("http://sz"),
        retry=RetryPolicy(max_retries=retries, base_delay=0.0, max_delay=0.0),
    )
    return build_source("opendota", config, limiter=None, accounting=RequestAccounting(None),
                        transport=httpx.MockTransport(serve))


def _lying_gzip(when: str):
    def serve(request: httpx.Request) -> httpx.Response:
        serve.calls += 1
        if when == "read":  # decoded as the client reads the body (a real connection)
            return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(NOT_GZIP))
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=NOT_GZIP)  # decoded in the transport

    serve.calls = 0
    return serve


@pytest.mark.parametrize("when", ["read", "transport"])
def test_a_body_that_is_not_the_gzip_it_claims_is_a_retried_malformed_response(when):
    serve = _lying_gzip(when)
    with pytest.raises(MalformedResponse) as info:
        _opendota(serve).player_profile(293053907)
    error = info.value
    assert error.retriable and error.provider == "opendota" and error.endpoint == "player_profile"
    assert str(error).startswith("opendota player_profile")
    assert "Content-Encoding" in error.message and "DecodingError" in error.message
    assert serve.calls == 3  # the first attempt and both retries: a malformed body may come right next time


def test_json_nested_too_deeply_is_invalid_json():
    with pytest.raises(MalformedResponse) as info:
        _opendota(lambda r: httpx.Response(200, content=DEEP, headers={"content-type": "application/json"}),
                  retries=0).player_profile(293053907)
    assert info.value.retriable and "not valid JSON" in info.value.message and "nested too deeply" in info.value.message
    assert info.value.excerpt.startswith("[[[[")


def test_an_error_answer_nested_too_deeply_keeps_its_status():
    """The error path reads the provider's message from the body too: it falls back to the status."""
    with pytest.raises(ServerError) as info:
        _opendota(lambda r: httpx.Response(503, content=DEEP), retries=0).player_profile(293053907)
    assert info.value.status_code == 503 and info.value.message == "Service Unavailable"


class _OneLyingAnswer(httpx.BaseTransport):
    """The simulator, but one account's profile comes back as 'gzip' that is not gzip."""

    def __init__(self, account_id: int) -> None:
        self.inner, self.account_id = httpx.HTTPTransport(), account_id

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(f"/players/{self.account_id}"):
            return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(NOT_GZIP))
        return self.inner.handle_request(request)


def test_one_undecodable_body_fails_its_account_and_the_batch_goes_on(db, shared_sim):
    ids = sorted(int(a) for a in shared_sim.world.account_ids(np.arange(6)))
    bad = ids[2]
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 6)",
                     (BATCH,))
        conn.execute("INSERT INTO accounts (account_id, depth, batch_key) SELECT unnest(%s::bigint[]), 0, %s", (ids, BATCH))
    config = sim_config(shared_sim, routes={"profiles": "opendota"})
    with open_sources(config, db, transport=_OneLyingAnswer(bad)) as sources:
        result = phases.fetch_profiles(db, sources.for_call("profiles"), BATCH, refresh=False, max_workers=2, log=LOG)
    rows = {r["account_id"]: r for r in db.fetch_all(
        "SELECT account_id, profile_fetched_at IS NOT NULL AS done, profile_error, profile_attempts FROM accounts")}
    assert all(rows[a]["done"] and rows[a]["profile_error"] is None for a in ids if a != bad)
    assert not rows[bad]["done"] and rows[bad]["profile_attempts"] == 1
    assert rows[bad]["profile_error"].startswith("MalformedResponse: opendota player_profile")
    assert result.counts["fetched"] == 5 and result.counts["failed_retry"] == 1
