"""Constants of the contract tests (their fixtures are in conftest.py; ``SEED_ACCOUNT`` and
``graphql`` in crawl_pipeline_tests.support)."""

from __future__ import annotations

from crawl_pipeline.simulator import DEFAULT_OPENDOTA_KEYS, DEFAULT_STEAM_KEYS
from crawl_pipeline_tests.support import SIM_STRATZ_HEADERS, STRATZ_CLIENT_USER_AGENT

OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]
STEAM_KEY = DEFAULT_STEAM_KEYS[0]
CLIENT_USER_AGENT = STRATZ_CLIENT_USER_AGENT  # what crawl_pipeline/sources/http.py sends
STRATZ_HEADERS = SIM_STRATZ_HEADERS  # the simulator's first STRATZ token and the client's user agent
