"""A small crawl against the simulator: depth 1 from the seed, a few matches per account."""

import pytest

from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import initialize_database
from crawl_pipeline.definitions import build_definitions
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import Settings
from crawl_pipeline.simulator.config import DEFAULT_OPENDOTA_KEYS

SIM_OPENDOTA_KEY = DEFAULT_OPENDOTA_KEYS[0]  # a UUID the simulator knows (OpenDota keys are UUIDs)
SMALL_CRAWL = CrawlConfig(
    max_depth=1, batch_size=20, batch_growth=1.0, max_matches_per_account=5, page_size=5, max_workers=4,
    details_chunk_size=10, partial_batch_after_seconds=3600,
)


def providers_for(url: str, **fields) -> ProvidersResource:
    return ProvidersResource(
        opendota_api_url=url, steam_api_url=url, stratz_api_url=url,
        opendota_api_key=SIM_OPENDOTA_KEY, steam_api_key="sim-steam-key",
        stratz_tokens="sim-stratz-token-1,sim-stratz-token-2",
        rate_limits={"opendota": {"per_second": 500}}, **fields,
    )


def crawl_definitions(database_url: str, sim_url: str, crawl: CrawlConfig = SMALL_CRAWL, **provider_fields):
    return build_definitions(
        Settings.from_env({}),
        postgres=PostgresResource(database_url=database_url),
        providers=providers_for(sim_url, **provider_fields),
        crawl=crawl,
    )


@pytest.fixture
def fresh_database(make_database):
    """Another empty, migrated crawl database (for comparing two crawls): (url, Database)."""
    opened = []

    def factory(purpose: str) -> tuple[str, Database]:
        url = make_database(purpose)
        initialize_database(url)
        opened.append(Database(url, max_size=4))
        return url, opened[-1]

    yield factory
    for database in opened:
        database.close()
