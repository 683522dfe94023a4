"""Dagster resources: thin wrappers that hand domain and db code what they need."""

from __future__ import annotations

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field, PrivateAttr

from crawl_pipeline.db.connection import resolve_database_url
from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Settings, get_settings


class PostgresResource(ConfigurableResource):
    """The crawl database (PostgreSQL, the system of record) behind a connection pool."""

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the crawl database; unset means the embedded server under CRAWL_DATA_DIR.",
    )
    pool_max_size: int = Field(default=8, description="Connections this process may hold at once.")

    _db: Database | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        url = self.database_url or resolve_database_url(get_settings())
        self._db = Database(url, max_size=self.pool_max_size, application_name="crawl_pipeline.dagster")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("PostgresResource used outside of a Dagster execution")
        return self._db


def build_resources(settings: Settings) -> dict[str, ConfigurableResource]:
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.providers import ProvidersResource

    """Resource instances for the one Definitions object, configured from settings.

    Secrets and URLs are passed as EnvVar so the UI shows the variable's name, not its value.
    """
    postgres = PostgresResource(
        database_url=EnvVar("DATABASE_URL") if settings.database_url else None,
        pool_max_size=settings.db_pool_max_size,
    )
    return {
        "postgres": postgres,
        "providers": ProvidersResource.from_settings(settings),
        "crawl": CrawlConfig.from_settings(settings),
        "identities": _tracked_identities(settings),
    }


def _tracked_identities(settings: Settings):
    """The identities resource from the settings: TRACKED_IDENTITIES (me's accounts and named
    teammates, validated in settings.py) or its simple form TRACKED_ME / TRACKED_TEAMMATES."""
    from crawl_pipeline.defs.identity.resources import TrackedIdentities

    return TrackedIdentities.from_settings(settings)
