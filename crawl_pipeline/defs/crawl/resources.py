"""Crawl configuration as a Dagster resource (editable in the launchpad, defaults from settings)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from crawl_pipeline.domain.frontier import BatchPolicy
from crawl_pipeline.settings import DEFAULT_SEED_ACCOUNT_ID, Settings


class CrawlConfig(ConfigurableResource):
    """How far and how fast the BFS crawl goes."""

    seeds: list[int] = Field(
        default=[DEFAULT_SEED_ACCOUNT_ID], description="Depth-0 accounts added when the crawl starts empty."
    )
    max_depth: int = Field(default=2, description="Deepest BFS depth that is batched.")
    batch_size: int = Field(default=200, description="Accounts per batch at depth 0.")
    batch_growth: float = Field(default=2.0, description="Batch size multiplier per depth (keeps partitions few).")
    max_batch_size: int = Field(default=5000, description="Upper bound of the batch size.")
    max_accounts: int | None = Field(default=None, description="Cap on batched accounts.")
    hero_phase_first: bool = Field(
        default=True, description="Match discovery at depth d waits for hero stats of every account up to depth d."
    )
    max_runs_in_flight: int = Field(default=4, description="Crawl runs queued or running at once (sensor backpressure).")
    partial_batch_after_seconds: int = Field(
        default=120, description="Cut a partial batch once its oldest account waited this long."
    )
    max_matches_per_account: int = Field(
        default=100, description="Newest matches read per account history."
    )
    page_size: int = Field(default=100, description="Matches per history page (Steam allows at most 100).")
    details_chunk_size: int = Field(default=25, description="Match details committed per transaction.")
    max_workers: int = Field(default=8, description="Concurrent requests per step (the rate budget still applies).")

    def policy(self) -> BatchPolicy:
        return BatchPolicy(
            base_size=self.batch_size,
            growth_per_depth=self.batch_growth,
            max_size=self.max_batch_size,
            max_depth=self.max_depth,
            max_accounts=self.max_accounts,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> CrawlConfig:
        return cls(
            seeds=list(settings.seed_account_ids),
            max_depth=settings.crawl_max_depth,
            batch_size=settings.crawl_batch_size,
            max_accounts=settings.crawl_max_accounts,
            max_matches_per_account=settings.crawl_max_matches_per_account,
        )
