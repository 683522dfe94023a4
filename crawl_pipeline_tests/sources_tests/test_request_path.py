"""The request path built once per call (issue 15): a bearer-token provider's request reaches the
transport as built (no copy, no secret-parameter transport), equals what httpx's build_request
makes, and still never shows its token; a query-parameter key is still added below httpx only."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from crawl_pipeline.settings import Secret
from crawl_pipeline.sources import http as http_module
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import ServerError
from crawl_pipeline.sources.http import ProviderHTTP, RetryPolicy, parse_json
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.tokens import Credential, CredentialPool

TOKEN = "bearer-secret-TOKEN-0123456789"
KEY = "query-secret-KEY-9876543210"


class Recording(httpx.BaseTransport):
    def __init__(self, status: int = 200, body: bytes = b'{"ok": true}', headers=()) -> None:
        self.seen: list[httpx.Request] = []
        self.status, self.body, self.headers = status, body, list(headers)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.status, content=self.body, headers=[("content-type", "application/json"), *self.headers])


def _http(transport, auth="bearer", secret=TOKEN, base="http://provider.test:8080"):
    pool = CredentialPool("p", [Credential.of(Secret(secret), "key", 1)])
    return ProviderHTTP("p", base, pool, tier=RateTier.of("t", per_second=1000), rate_group="api", limiter=None,
                        accounting=RequestAccounting(None), auth=auth, transport=transport,
                        retry=RetryPolicy(max_retries=0))


def test_bearer_requests_reach_the_transport_as_built(monkeypatch):
    transport = Recording()
    http = _http(transport)
    built: list[httpx.Request] = []
    original = ProviderHTTP._request

    def recording(self, *args, **kwargs):
        built.append(original(self, *args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ProviderHTTP, "_request", recording)
    for n in range(3):
        assert http.call("e", f"/api/matches/{n}", lambda payload: payload) == {"ok": True}
    assert len(built) == len(transport.seen) == 3
    assert all(sent is made for sent, made in zip(transport.seen, built, strict=True))  # never rebuilt
    assert not isinstance(http._client._transport, http_module._SecretParamTransport)
    assert transport.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("base", ["http://provider.test:8080", "https://provider.test/sub", "https://provider.test/sub/"])
@pytest.mark.parametrize(("path", "params", "body"), [
    ("/api/matches/7", None, None),
    ("/api/players/7/matches", {"limit": 100, "offset": 0, "project": ["match_id", "hero_id"]}, None),
    ("/graphql", None, {"query": "{ a }", "variables": {"ids": [1, 2]}}),
])
def test_the_built_request_is_what_httpx_builds(base, path, params, body):
    http = _http(Recording(), base=base)
    credential = http.credentials.healthy()[0]
    ours = http._request("POST" if body else "GET", path, params, body, credential)
    theirs = http._client.build_request("POST" if body else "GET", path, params=params, json=body,
                                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert ours.url == theirs.url
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.extensions == theirs.extensions
    assert ours.read() == theirs.read()


def test_query_keys_are_added_below_httpx_and_never_logged(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    transport = Recording(status=500, body=json.dumps({"error": f"echo {KEY}"}).encode())
    http = _http(transport, auth="query:key", secret=KEY)
    with pytest.raises(ServerError) as info:
        http.call("e", "/IDOTA2Match_570/GetMatchHistory/v1", lambda payload: payload, params={"matches_requested": 1})
    assert transport.seen[0].url.params["key"] == KEY  # sent to the provider
    assert any("HTTP Request: GET" in m for m in caplog.messages)
    for text in (caplog.text, str(info.value), repr(info.value), repr(http)):
        assert KEY not in text


def test_bearer_tokens_never_show_in_logs_or_errors(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    transport = Recording(status=500, body=json.dumps({"error": f"echo Bearer {TOKEN}"}).encode())
    http = _http(transport)
    with pytest.raises(ServerError) as info:
        http.call("e", "/api/matches/1", lambda payload: payload)
    assert any("HTTP Request: GET" in m for m in caplog.messages)
    for text in (caplog.text, str(info.value), repr(info.value), repr(http)):
        assert TOKEN not in text


def test_cookies_set_by_a_provider_are_kept_and_sent_back():
    transport = Recording(headers=[("set-cookie", "session=abc; Path=/")])
    http = _http(transport)
    http.call("e", "/api/matches/1", lambda payload: payload)
    http.call("e", "/api/matches/2", lambda payload: payload)
    assert "cookie" not in transport.seen[0].headers
    assert transport.seen[1].headers["cookie"] == "session=abc"


@pytest.mark.parametrize("body", [
    b'{"a": 1, "b": [1.5, -0, true, null, "x\\u00e9"]}',
    b'{"big": 123456789012345678901234567890}',  # past 64 bits: orjson would make it a float
    b'{"n": -9223372036854775809}',
    b'[NaN, Infinity]',  # orjson refuses these, json.loads takes them
    b'"\\ud800"',  # a lone surrogate
    '{"utf16": 1}'.encode("utf-16"),
    b'{"dup": 1, "dup": 2}',
])
def test_parse_json_equals_json_loads(body):
    expected = json.loads(body)
    got = parse_json(body)
    assert repr(got) == repr(expected)


@pytest.mark.parametrize("body", [b'{"a": ', b"\xff\xfe\x00", b""])
def test_parse_json_refuses_what_json_loads_refuses(body):
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        parse_json(body)
