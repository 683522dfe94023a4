"""The Stratz token pool: round robin over healthy tokens, rejected ones disabled by name."""

from __future__ import annotations

import pytest

from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator.stats import redact
from crawl_pipeline.sources.errors import Unauthorized
from crawl_pipeline.sources.registry import open_sources
from crawl_pipeline.sources.tokens import Credential, CredentialPool

from .support import SEED, STRATZ_TOKENS, sim_config


def test_round_robin_uses_every_token(sim):
    with open_sources(sim_config(sim), None) as sources:
        for _ in range(6):
            sources.provider("stratz").player_profile(SEED)
    by_key = sim.stats()["requests_by_key"]["stratz"]
    assert by_key == {redact(STRATZ_TOKENS[0]): 3, redact(STRATZ_TOKENS[1]): 3}


def test_rejected_token_is_disabled_and_the_others_carry_on(sim):
    tokens = ("eyJhbGciOiJIUzI1NiJ9.cmV2b2tlZA.abcd", *STRATZ_TOKENS)  # a JWT Stratz does not accept
    with open_sources(sim_config(sim, stratz_tokens=tokens), None) as sources:
        client = sources.provider("stratz")
        for _ in range(5):
            assert client.player_profile(SEED).account_id == SEED
        assert sources.disabled_credentials() == ["stratz token#1 (…abcd): HTTP 403"]
        assert sources.snapshot()["disabled_credentials"] == ["stratz token#1 (…abcd): HTTP 403"]
    assert sim.stats()["responses_by_status"]["403"] == 1  # asked once, never again


def test_all_tokens_rejected_says_which():
    pool = CredentialPool.from_secrets("stratz", [Secret("aaaaaaaaaaaa1111"), Secret("bbbbbbbbbbbb2222")], "token", allow_anonymous=False)
    for credential in pool.credentials:
        pool.disable(credential, "HTTP 403")
    assert pool.healthy() == []
    assert pool.disabled() == ["token#1 (…1111): HTTP 403", "token#2 (…2222): HTTP 403"]


def test_labels_hide_short_keys_and_fingerprints_are_not_keys():
    short, long = Credential.of(Secret("abc123"), "key", 1), Credential.of(Secret("0123456789abcdef"), "key", 2)
    assert short.label == "key#1" and long.label == "key#2 (…cdef)"
    assert "0123456789abcdef" not in long.fingerprint and len(long.fingerprint) == 12


def test_missing_key_is_a_clear_unauthorized(sim):
    with open_sources(sim_config(sim, stratz_tokens=()), None) as sources:
        with pytest.raises(Unauthorized, match=r"no token: not configured"):
            sources.provider("stratz").player_profile(SEED)
