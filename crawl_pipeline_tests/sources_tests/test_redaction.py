"""Keys and tokens never show: not in logs (httpx at DEBUG included), errors, reprs or metadata."""

from __future__ import annotations

import json
import logging

import pytest

from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import open_sources

from .support import SEED, sim_config, some_match_ids

STEAM = "steam-secret-KEY-0001"
OPENDOTA = "0d0d0d0d-5ec2-4e7a-8b1d-000000000002"  # OpenDota keys are UUIDs
TOKENS = ("eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LTAwMDM.stratz-secret-TOKEN-0003",  # Stratz tokens are JWTs
          "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LTAwMDQ.stratz-secret-TOKEN-0004")
WRONG = "wrong-secret-KEY-0005"
WRONG_TOKEN = "eyJhbGciOiJIUzI1NiJ9.d3Jvbmc.wrong-secret-TOKEN-0006"
SECRETS = (STEAM, OPENDOTA, *TOKENS, WRONG, WRONG_TOKEN)


def test_no_secret_anywhere(caplog: pytest.LogCaptureFixture, db):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with start_simulator(steam_keys=(STEAM,), opendota_keys=(OPENDOTA,), stratz_tokens=TOKENS, fault_rate=0.3) as sim:
        config = sim_config(sim, steam_key=STEAM, opendota_key=OPENDOTA, stratz_tokens=TOKENS,
                            retry=RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.002))  # fmt: skip
        with open_sources(config, db) as sources:
            seen += [repr(sources), repr(config), repr(sources.limiter)]
            for name in ("opendota", "steam", "stratz"):
                client = sources.provider(name)
                seen += [repr(client), repr(client.http), repr(client.http.credentials)]
                for call in (lambda c=client: c.match_details(some_match_ids(sim, 1)[0]),
                             lambda c=client: c.match_details(1), lambda c=client: c.match_page(SEED),
                             lambda c=client: c.player_bans([SEED])):  # fmt: skip
                    try:
                        seen.append(repr(call()))
                    except APIError as exc:
                        seen += [str(exc), repr(exc), getattr(exc, "excerpt", "")]
            seen.append(json.dumps(sources.snapshot()))
        wrong = sim_config(sim, steam_key=WRONG, opendota_key=WRONG, stratz_tokens=(WRONG_TOKEN,))
        with open_sources(wrong, db) as sources:
            for name in ("opendota", "steam", "stratz"):
                with pytest.raises(APIError) as info:
                    sources.provider(name).match_details(some_match_ids(sim, 1)[0])
                seen += [str(info.value), repr(info.value)]
            seen.append(json.dumps(sources.snapshot()))
    resource = ProvidersResource(steam_api_key=STEAM, opendota_api_key=OPENDOTA, stratz_tokens=",".join(TOKENS))
    seen.append(repr(resource.sources_config()))
    buckets = db.fetch_all("SELECT bucket FROM rate_limit_windows UNION SELECT bucket FROM rate_limit_backoff")
    assert buckets
    seen += [row["bucket"] for row in buckets]
    assert any("HTTP Request: GET" in m for m in caplog.messages)  # httpx did log its URLs
    text = "\n".join([caplog.text, *seen])
    for secret in SECRETS:
        assert secret not in text
