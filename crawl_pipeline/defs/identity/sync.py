"""``sync_account_history``: sync one account's matches in a date range, with coverage.

The work is ``crawl_pipeline.crawl.sync.sync_range`` (framework-free); this op reads the run config,
opens the providers and turns the outcome into output metadata or a ``Failure``.
"""

import dagster as dg
from pydantic import Field

from crawl_pipeline.crawl import sync as sync_engine
from crawl_pipeline.defs.common import usage_metadata
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource


class SyncConfig(dg.Config):
    account_id: int = Field(description="The account whose history is synced (32-bit account id).")
    date_after: str | None = Field(default=None, description="ISO date or datetime (UTC); unset: from the beginning.")
    date_before: str | None = Field(default=None, description="ISO date or datetime (UTC); unset: up to now.")
    max_matches: int = Field(default=500, description="Matches listed at most (Steam lists the newest 500).")


@dg.op(
    pool=PROVIDER_POOL,
    description="List the account's matches in the range, skip stored ones, fetch the rest; log it in sync_log.",
)
def sync_range(
    context: dg.OpExecutionContext, config: SyncConfig, postgres: PostgresResource, providers: ProvidersResource,
    crawl: CrawlConfig,
) -> None:
    db = postgres.db
    try:
        span = sync_engine.parse_range(config.date_after, config.date_before)
    except ValueError as error:
        raise dg.Failure(description=f"invalid range: {error}") from error
    account = config.account_id
    outcome = sync_engine.sync_range(
        db, lambda: providers.open_sources(db), account, span, max_matches=config.max_matches,
        page_size=crawl.page_size, details_chunk_size=crawl.details_chunk_size, max_workers=crawl.max_workers,
        log=context.log, run_id=context.run_id,
    )
    if outcome.status == "already_synced":
        context.add_output_metadata({"sync_id": outcome.sync_id, "status": "already_synced",
                                     "covered_by": outcome.covered_by, "api_calls": 0})
        return
    metadata = {"sync_id": outcome.sync_id, "status": outcome.status, "range": span.describe(),
                "matches_found": outcome.found, "matches_fetched": outcome.fetched,
                "matches_skipped": outcome.skipped, **usage_metadata(outcome.usage)}
    if outcome.status == "failed":
        raise dg.Failure(description=f"sync #{outcome.sync_id} of {account} failed: {outcome.error}", metadata=metadata)
    context.log.info(f"sync #{outcome.sync_id} of {account}: {outcome.found} found, {outcome.fetched} fetched, "
                     f"{outcome.skipped} already stored")
    context.add_output_metadata(metadata)


@dg.job(
    description=(
        "Sync one account's matches between date_after and date_before (either open). A completed sync covering "
        "the range answers 'Already synced' without API calls; stored matches are skipped and counted (sync_log)."
    ),
    tags={"crawl_pipeline/kind": "range_sync"},
)
def sync_account_history():
    sync_range()
