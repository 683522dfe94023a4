"""Range syncs: one account's matches in a date range, with coverage (framework-free).

A completed sync whose range covers the request (``domain.coverage.covers``) answers
"Already synced" without any API call; otherwise the range is listed, matches already stored
with details are skipped and counted, the rest are fetched, and a ``sync_log`` row records it.
The Dagster op (``defs/identity/sync.py``) turns the outcome into metadata or a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from crawl_pipeline.crawl import phases
from crawl_pipeline.crawl.smurf import FilteredHistory
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db import sync as sync_db
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.coverage import DateRange, covering_sync
from crawl_pipeline.domain.failures import describe
from crawl_pipeline.sources.errors import APIError


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


def parse_range(date_after: str | None, date_before: str | None) -> DateRange:
    """The requested range; a ``ValueError`` when a bound is not an ISO date or datetime."""
    return DateRange(parse_bound(date_after, end_of_day=False), parse_bound(date_before, end_of_day=True))


@dataclass
class SyncOutcome:
    sync_id: int
    status: str  # already_synced | completed | failed
    span: DateRange
    covered_by: int | None = None  # the sync whose range covers this one (already_synced)
    found: int = 0
    fetched: int = 0
    skipped: int = 0
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # the sources' API accounting snapshot


def sync_range(
    db: Database, open_sources: Callable[[], AbstractContextManager], account: int, span: DateRange, *,
    max_matches: int, page_size: int, details_chunk_size: int, max_workers: int, log: logging.Logger,
    run_id: str | None,
) -> SyncOutcome:
    """Sync ``account``'s matches in ``span``; ``open_sources()`` opens the provider registry (its
    ``for_call`` and ``snapshot``) only when the range is not covered yet. A database error is
    recorded on the sync row when the database still answers, then raised."""
    with db.transaction() as conn:
        cover = covering_sync(sync_db.completed_syncs(conn, account), span)
        if cover is not None:
            sync_id = sync_db.start_sync(conn, account, span, run_id=run_id, status="already_synced")
    if cover is not None:
        log.info(f"Already synced: {account} {span.describe()} is covered by sync #{cover['id']}")
        return SyncOutcome(sync_id, "already_synced", span, covered_by=cover["id"])
    with db.transaction() as conn:
        depth, batch_key = sync_db.ensure_account(conn, account)
        sync_id = sync_db.start_sync(conn, account, span, run_id=run_id)
    found = fetched = skipped = 0
    try:
        with open_sources() as sources:
            history_source = FilteredHistory(sources.for_call("match_history"), date_after=span.date_after,
                                             date_before=span.date_before)
            todo = crawl_db.AccountTodo(account, depth, None, None, batch_key)
            history = phases.read_history(history_source, todo, max_matches=max_matches,
                                          page_size=page_size, incremental=False)
            ids = [s.match_id for s in history.stubs]
            found = len(ids)
            with db.transaction() as conn:
                stored = sync_db.detailed_among(conn, ids)
                crawl_db.store_stubs(conn, [s for s in history.stubs if s.match_id not in stored],
                                     owner_batch=batch_key, discovered_by=account)
            skipped = len(stored)
            result = phases.fetch_details(
                db, sources.for_call("match_details"), [m for m in ids if m not in stored], discovery_depth=depth + 1,
                chunk_size=details_chunk_size, max_workers=max_workers, log=log,
                label=f"sync of {account}",
            )
            fetched = result.counts["details_stored"]
            usage = sources.snapshot()
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
        except Exception as record_error:
            log.warning(f"sync #{sync_id}: could not record the failure: {describe(record_error)}")
        raise
    with db.transaction() as conn:
        sync_db.finish_sync(conn, sync_id, status=status, found=found, fetched=fetched, skipped=skipped, error=error)
    return SyncOutcome(sync_id, status, span, found=found, fetched=fetched, skipped=skipped, error=error, usage=usage)
