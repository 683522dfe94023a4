"""Constants of the simulator suite (its fixtures are in conftest.py; ``SEED_ACCOUNT`` and
``graphql`` in crawl_pipeline_tests.support)."""

from __future__ import annotations

from crawl_pipeline.simulator import DEFAULT_OPENDOTA_KEYS
from crawl_pipeline_tests.support import SIM_STRATZ_HEADERS, STRATZ_CLIENT_USER_AGENT

STEAM_KEY = "sim-steam-key"
OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]
STRATZ_USER_AGENT = {"User-Agent": STRATZ_CLIENT_USER_AGENT}  # what sources/http.py sends
STRATZ_AUTH = SIM_STRATZ_HEADERS  # "Bearer eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ" and that user agent
