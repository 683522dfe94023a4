"""Helpers shared by the test packages (conftest.py files hold fixtures only; helpers of one
package are in that package's ``support.py``).

Crawl helpers: a small crawl against the simulator (depth 1 from the seed, a few matches per
account) and the project's definitions pointed at a test database and simulator. HTTP helpers:
the simulator's STRATZ GraphQL endpoint as the crawler calls it. ``fingerprint``: what any crawl
of the same world must reproduce (the e2e and fault tests compare crawls with it).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import httpx
import psycopg
from psycopg import sql

from crawl_pipeline.definitions import build_definitions
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import Settings
from crawl_pipeline.simulator.config import DEFAULT_OPENDOTA_KEYS, DEFAULT_STRATZ_TOKENS

# ---------------------------------------------------------------- the test database server

DEFAULT_TEST_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_TEST_PGDATA = Path("/tmp") / f"crawl_pipeline_test_pg_{os.getuid()}"

# Tables that hold reference data or bookkeeping and survive `clean_db`.
KEPT_TABLES = {"schema_migrations", "heroes"}


def reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def drop_database(pg_server_url: str, name: str) -> None:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# ---------------------------------------------------------------- a small crawl against the simulator

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SIM_OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]  # a UUID the simulator knows (OpenDota keys are UUIDs)
SMALL_CRAWL = CrawlConfig(
    max_depth=1, batch_size=20, batch_growth=1.0, max_matches_per_account=5, page_size=5, max_workers=4,
    details_chunk_size=10, partial_batch_after_seconds=3600,
)
ANALYZER_CRAWL = CrawlConfig(**{**SMALL_CRAWL.model_dump(), "max_workers": 8})  # the smurf tests' crawl


def providers_for(url: str, **fields) -> ProvidersResource:
    return ProvidersResource(
        opendota_api_url=url, steam_api_url=url, stratz_api_url=url,
        opendota_api_key=SIM_OPENDOTA_KEY, steam_api_key="sim-steam-key",
        stratz_tokens="eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ,eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg",
        rate_limits={"opendota": {"per_second": 500}}, **fields,
    )


def crawl_definitions(database_url: str, sim_url: str, crawl: CrawlConfig = SMALL_CRAWL, **provider_fields):
    return build_definitions(
        Settings.from_env({}),
        postgres=PostgresResource(database_url=database_url),
        providers=providers_for(sim_url, **provider_fields),
        crawl=crawl,
    )


def sim_providers(url: str, rate_limits: dict | None = None, **fields) -> ProvidersResource:
    return ProvidersResource(
        opendota_api_url=url, steam_api_url=url, stratz_api_url=url,
        opendota_api_key=SIM_OPENDOTA_KEY, steam_api_key="sim-steam-key",
        stratz_tokens="eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ,eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg",
        rate_limits=rate_limits or {"opendota": {"per_second": 500}}, **fields,
    )


def analyzer_definitions(database_url: str, sim_url: str, *, providers: ProvidersResource | None = None,
                         identities: TrackedIdentities | None = None) -> dg.Definitions:
    """The project's definitions, pointed at this test's database and simulator."""
    return build_definitions(
        Settings.from_env({}), postgres=PostgresResource(database_url=database_url),
        providers=providers or sim_providers(sim_url), crawl=ANALYZER_CRAWL, identities=identities or TrackedIdentities(),
    )


def clone_database(pg_server_url: str, template: str) -> str:
    """A new database copied from ``template`` (which must have no open connections); its name."""
    import uuid

    name = f"{template[:40]}_c{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return name


# ---------------------------------------------------------------- the simulator's HTTP API (simulator and contract tests)

SEED_ACCOUNT = 293053907  # an account of the simulated world the HTTP tests ask about
STRATZ_CLIENT_USER_AGENT = "crawl_pipeline/0.1 (STRATZ_API)"  # what crawl_pipeline/sources/http.py sends
SIM_STRATZ_HEADERS = {"Authorization": f"Bearer {DEFAULT_STRATZ_TOKENS[0]}", "User-Agent": STRATZ_CLIENT_USER_AGENT}


def graphql(client: httpx.Client, query: str, headers: dict[str, str] | None = None, **variables: object) -> httpx.Response:
    """POST ``query`` to the simulator's STRATZ endpoint, with the crawler's first token and user agent unless ``headers``."""
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or SIM_STRATZ_HEADERS)


def fingerprint(db):
    """What any crawl of the same world must reproduce.

    Which batch owns a match, and so whose encounters it counts, depends on which account's
    history was stored first: timing, not data, so it is left out."""
    return {
        "accounts": db.fetch_value("SELECT md5(string_agg(account_id || ':' || depth, ',' ORDER BY account_id)) FROM accounts"),
        "batched": db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL"),
        "details": db.fetch_value(
            "SELECT md5(string_agg(match_id::text, ',' ORDER BY match_id)) FROM matches WHERE has_details"
        ),
        "stubs": db.fetch_value("SELECT count(*) FROM matches"),
        "players": db.fetch_value(
            "SELECT md5(string_agg(concat_ws(':', match_id, player_slot, account_id, hero_id, kills, deaths, assists, "
            "gold_per_min, win), ',' ORDER BY match_id, player_slot)) FROM match_players"
        ),
        "hero_stats": db.fetch_value(
            "SELECT md5(string_agg(concat_ws(':', account_id, hero_id, matches, wins), ',' ORDER BY account_id, hero_id)) "
            "FROM hero_stats"
        ),
        "profiles": db.fetch_value("SELECT count(*) FROM accounts WHERE profile_fetched_at IS NOT NULL"),
    }
