"""``sync_account_history``: sync one account's matches in a date range, with coverage.

A completed sync whose range covers the request (``domain.coverage.covers``) answers
"Already synced" without any API call; otherwise the range is listed, matches already stored
with details are skipped and counted, the rest are fetched, and a ``sync_log`` row records it.
"""

from datetime import UTC, date, datetime, time

import dagster as dg
from pydantic import Field

from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db import sync as sync_db
from crawl_pipeline.defs.crawl import work
from crawl_pipeline.defs.crawl.assets import usage_metadata
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.defs.smurf.analyzer import FilteredHistory
from crawl_pipeline.domain.coverage import DateRange, covering_sync
from crawl_pipeline.domain.failures import describe
from crawl_pipeline.sources.errors import APIError


class SyncConfig(dg.Config):
    account_id: int = Field(description="The account whose history is synced (32-bit account id).")
    date_after: str | None = Field(default=None, description="ISO date or datetime (UTC); unset: from the beginning.")
    date_before: str | None = Field(default=None, description="ISO date or datetime (UTC); unset: up to now.")
    max_matches: int = Field(default=500, description="Matches listed at most (Steam lists the newest 500).")


def parse_bound(value: str | None, *, end_of_day: bool) -> datetime | None:
    """An ISO date (a whole day: its start, or its end with ``end_of_day``) or datetime, as UTC."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
    parsed = datetime.fromisoformat(text)  # Python 3.11+ reads a trailing Z
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
        span = DateRange(parse_bound(config.date_after, end_of_day=False), parse_bound(config.date_before, end_of_day=True))
    except ValueError as error:
        raise dg.Failure(description=f"invalid range: {error}") from error
    account = config.account_id
    with db.transaction() as conn:
        cover = covering_sync(sync_db.completed_syncs(conn, account), span)
        if cover is not None:
            sync_id = sync_db.start_sync(conn, account, span, run_id=context.run_id, status="already_synced")
    if cover is not None:
        context.log.info(f"Already synced: {account} {span.describe()} is covered by sync #{cover['id']}")
        context.add_output_metadata({"sync_id": sync_id, "status": "already_synced", "covered_by": cover["id"],
                                     "api_calls": 0})
        return
    with db.transaction() as conn:
        depth, batch_key = sync_db.ensure_account(conn, account)
        sync_id = sync_db.start_sync(conn, account, span, run_id=context.run_id)
    found = fetched = skipped = 0
    try:
        with providers.open_sources(db) as sources:
            history_source = FilteredHistory(sources.for_call("match_history"), date_after=span.date_after,
                                             date_before=span.date_before)
            todo = crawl_db.AccountTodo(account, depth, None, None, batch_key)
            history = work.read_history(history_source, todo, max_matches=config.max_matches,
                                        page_size=crawl.page_size, incremental=False)
            ids = [s.match_id for s in history.stubs]
            found = len(ids)
            with db.transaction() as conn:
                stored = sync_db.detailed_among(conn, ids)
                crawl_db.store_stubs(conn, [s for s in history.stubs if s.match_id not in stored],
                                     owner_batch=batch_key, discovered_by=account)
            skipped = len(stored)
            result = work.fetch_details(
                db, sources.for_call("match_details"), [m for m in ids if m not in stored], discovery_depth=depth + 1,
                chunk_size=crawl.details_chunk_size, max_workers=crawl.max_workers, log=context.log,
                label=f"sync of {account}",
            )
            fetched = result.counts["details_stored"]
            usage = usage_metadata(sources.snapshot())
        failed = sum(v for k, v in result.counts.items() if k.startswith("failed_"))
        status = "failed" if failed else "completed"
        error = f"{failed} match details failed: " + "; ".join(result.errors[:3]) if failed else None
    except APIError as exc:
        status, error, usage = "failed", describe(exc), {}
    except BaseException as exc:  # a database error: record it if the database still answers, then fail
        try:
            with db.transaction() as conn:
                sync_db.finish_sync(conn, sync_id, status="failed", found=found, fetched=fetched, skipped=skipped,
                                    error=describe(exc))
        except Exception as record_error:  # noqa: BLE001 - the original error is the one to raise
            context.log.warning(f"sync #{sync_id}: could not record the failure: {describe(record_error)}")
        raise
    with db.transaction() as conn:
        sync_db.finish_sync(conn, sync_id, status=status, found=found, fetched=fetched, skipped=skipped, error=error)
    metadata = {"sync_id": sync_id, "status": status, "range": span.describe(), "matches_found": found,
                "matches_fetched": fetched, "matches_skipped": skipped, **usage}
    if status == "failed":
        raise dg.Failure(description=f"sync #{sync_id} of {account} failed: {error}", metadata=metadata)
    context.log.info(f"sync #{sync_id} of {account}: {found} found, {fetched} fetched, {skipped} already stored")
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
