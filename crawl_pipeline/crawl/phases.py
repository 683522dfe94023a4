"""The work of each per-batch phase: fetch concurrently under the shared budget, write in chunks.

Framework-free (a Database, a BaseSource and a logger in, a PhaseResult out) so the Dagster
assets stay thin and the same code serves the tracked-accounts schedule.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg

from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.failures import describe, progress_label
from crawl_pipeline.domain.records import DetailsRequest, MatchPage, MatchStub
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import APIError, BadRequest, MalformedResponse, outcome_of

logger = logging.getLogger(__name__)
# chunks of match details written at once: while one waits for PostgreSQL the next is sent
DETAIL_WRITERS = 2
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class PhaseResult:
    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # a sample for the metadata
    unsettled: int = 0  # items that failed and still have attempts left: the partition fails

    def failed(self, item: Any, error: APIError, outcome: str) -> None:
        self.counts[f"failed_{outcome}"] += 1
        if len(self.errors) < 10:
            self.errors.append(f"{item}: {describe(error)}")


def _write_outcomes(
    outcomes: Iterable[tuple[T, R | APIError]],
    write: Callable[[list[R]], None],
    record_failures: Callable[[list[tuple[T, str, str]]], None],
    result: PhaseResult,
    *,
    chunk_size: int,
    writers: int = 1,
) -> None:
    """Write successes and record failures every ``chunk_size`` outcomes. A record answering for
    another id than the one asked is that item's error (wrong identity), never stored; a chunk the
    database rejects is written again one record at a time, so one bad record fails alone.

    ``writers`` > 1: chunks are written by that many threads (each chunk one transaction on a
    connection of its own), so one chunk's round trips overlap another's; ``write`` must then be
    safe to call from several threads. The bookkeeping of ``result`` stays on this thread. The
    first error of a writer is raised here once every chunk in flight has ended; nothing is marked
    done but in the transaction that stores its rows."""
    ok: list[tuple[T, R]] = []
    failed: list[tuple[T, str, str]] = []
    pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="write") if writers > 1 else None
    in_flight: deque[Future[list[tuple[T, APIError, str]]]] = deque()

    def fail(item: T, error: APIError) -> None:
        kind = outcome_of(error)
        result.failed(item, error, kind)
        failed.append((item, describe(error), kind))

    def write_chunk(chunk: list[tuple[T, R]], failures: list[tuple[T, str, str]]) -> list[tuple[T, APIError, str]]:
        """The database work of one chunk; returns the records the database rejected (any thread)."""
        rejected: list[tuple[T, APIError, str]] = []
        if chunk:
            try:
                write([record for _, record in chunk])
            except (psycopg.errors.DataError, psycopg.errors.IntegrityError):
                for item, record in chunk:
                    try:
                        write([record])
                    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                        error = _rejected(item, exc)
                        rejected.append((item, error, outcome_of(error)))
        failures = failures + [(item, describe(error), kind) for item, error, kind in rejected]
        if failures:
            record_failures(failures)
        return rejected

    def settle(rejected: list[tuple[T, APIError, str]]) -> None:
        for item, error, kind in rejected:
            result.counts["fetched"] -= 1
            result.failed(item, error, kind)

    def flush() -> None:
        if ok or failed:
            chunk, failures = list(ok), list(failed)
            ok.clear()
            failed.clear()
            if pool is None:
                settle(write_chunk(chunk, failures))
                return
            # what has ended is settled (and a writer's error raised) before more is sent
            while in_flight and (len(in_flight) >= writers or in_flight[0].done()):
                settle(in_flight.popleft().result())
            in_flight.append(pool.submit(write_chunk, chunk, failures))

    def drain() -> None:
        while in_flight:
            settle(in_flight.popleft().result())

    try:
        for item, outcome in outcomes:
            if isinstance(outcome, APIError):
                fail(item, outcome)
            elif isinstance(outcome, BaseException):
                flush()
                drain()
                raise outcome
            elif (answered := _record_id(outcome)) is not None and answered != _item_id(item):
                fail(item, MalformedResponse(
                    f"wrong identity: asked for {_item_id(item)}, the answer is for {answered}; stored under neither",
                    provider=getattr(outcome, "source", "provider"), endpoint="answer",
                ))
            else:
                result.counts["fetched"] += 1
                ok.append((item, outcome))
            if len(ok) + len(failed) >= chunk_size:
                flush()
        flush()
        drain()
    finally:
        # a write that raised ends the fetchers now (they go on while chunks are written), not when
        # the traceback holding this frame is collected; chunks still being written end first
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        if pool is not None:
            pool.shutdown(wait=True)


def _item_id(item: Any) -> int:
    return item.account_id if isinstance(item, crawl_db.AccountTodo) else item


def _record_id(record: Any) -> int | None:
    # the instance's fields, not getattr: a name a pydantic model lacks costs its __getattr__ and an
    # AttributeError, once per stored match
    fields = getattr(record, "__dict__", {})
    for name in ("account_id", "match_id"):
        value = fields.get(name)
        if isinstance(value, int):
            return value
    return None


def _rejected(item: Any, exc: psycopg.Error) -> APIError:
    reason = (str(exc).splitlines() or [type(exc).__name__])[0]
    return BadRequest(f"the database rejected the record of {_item_id(item)}: {reason}", provider="crawl", endpoint="store")


def _account_failures_writer(
    db: Database, phase: str, run_id: str | None
) -> Callable[[list[tuple[Any, str, str]]], None]:
    def record(failures: list[tuple[Any, str, str]]) -> None:
        with db.transaction() as conn:
            crawl_db.record_account_failures(conn, phase, [(t.account_id, e, o) for t, e, o in failures], run_id=run_id)

    return record


AccountGroupFetch = Callable[[list[crawl_db.AccountTodo]], list[tuple[int, Any]]]


def _account_phase(
    db: Database, batch_key: str, phase: str, *, refresh: bool, fetch_group: AccountGroupFetch, group_size: int,
    write: Callable[[list[R], PhaseResult], None], chunk_size: int, max_workers: int, log: logging.Logger,
    run_id: str | None = None,
) -> PhaseResult:
    """One per-account phase of a batch: its pending accounts (all with ``refresh``) fetched in
    groups of ``group_size`` per request, written in chunks, failures recorded; ``unsettled``
    counts the accounts that failed with attempts left (or wait, not by their fault)."""
    result = PhaseResult()
    with db.transaction() as conn:
        todo = crawl_db.accounts_to_fetch(conn, batch_key, phase, refresh=refresh)
    result.counts["accounts"] = len(todo)
    groups = [todo[i : i + max(1, group_size)] for i in range(0, len(todo), max(1, group_size))]
    result.counts["requests_planned"] = len(groups)
    _write_outcomes(
        _per_account(fetch_concurrently(fetch_group, groups, max_workers=max_workers)),
        lambda items: write(items, result), _account_failures_writer(db, phase, run_id), result, chunk_size=chunk_size,
    )
    log.info(
        "%s of %s: %s accounts (%s)", phase, batch_key, progress_label(result.counts["fetched"], len(todo)),
        ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())),
    )
    result.unsettled = crawl_db.unsettled_accounts(db, batch_key, phase)
    return result


def _per_account(
    outcomes: Iterator[tuple[list[crawl_db.AccountTodo], list[tuple[int, Any]] | APIError]],
) -> Iterator[tuple[crawl_db.AccountTodo, Any]]:
    """Group outcomes as one (account, outcome) each; an id the group did not answer is an error.
    Closing this closes ``outcomes`` (the fetchers)."""
    with closing(outcomes):
        for group, outcome in outcomes:
            if isinstance(outcome, APIError):
                yield from ((todo, outcome) for todo in group)
                continue
            by_id = dict(outcome)
            for todo in group:
                yield todo, by_id.get(todo.account_id, _unanswered(todo.account_id))


def _unanswered(account_id: int) -> APIError:
    return MalformedResponse(f"no outcome for account {account_id} in its group's answer", provider="crawl", endpoint="group")


def fetch_profiles(
    db: Database, source: BaseSource, batch_key: str, *, refresh: bool, max_workers: int, log: logging.Logger,
    run_id: str | None = None,
) -> PhaseResult:
    def write(profiles: list, result: PhaseResult) -> None:
        with db.transaction() as conn:
            _, snapshots = crawl_db.store_profiles(conn, profiles)
        result.counts["rank_snapshots"] += snapshots

    return _account_phase(
        db, batch_key, "player_profiles", refresh=refresh, write=write, chunk_size=50, max_workers=max_workers, log=log,
        fetch_group=lambda group: source.profiles_many([t.account_id for t in group]),
        group_size=source.batch_size("profiles"), run_id=run_id,
    )


def fetch_hero_stats(
    db: Database, source: BaseSource, batch_key: str, *, refresh: bool, max_workers: int, log: logging.Logger,
    run_id: str | None = None,
) -> PhaseResult:
    def write(stats: list, result: PhaseResult) -> None:
        with db.transaction() as conn:  # old rows of these accounts go, new rows come, in one commit
            stored, skipped = crawl_db.replace_hero_stats(conn, stats)
        result.counts["hero_rows"] += stored
        result.counts["unknown_heroes_skipped"] += skipped

    return _account_phase(
        db, batch_key, "hero_stats", refresh=refresh, write=write, chunk_size=25, max_workers=max_workers, log=log,
        fetch_group=lambda group: source.hero_stats_many([t.account_id for t in group]),
        group_size=source.batch_size("hero_stats"), run_id=run_id,
    )


@dataclass(frozen=True)
class History:
    account_id: int
    stubs: list[MatchStub]
    total: int | None
    is_private: bool


def read_history(
    source: BaseSource, account: crawl_db.AccountTodo, *, max_matches: int, page_size: int, incremental: bool,
    first_page: MatchPage | None = None,
) -> History:
    """Page through an account's history, newest first, until a known match or ``max_matches``.
    ``first_page``: the first page, already read with other accounts' in one request."""
    stubs: list[MatchStub] = []
    cursor: int | None = None
    total: int | None = None
    stop_at = account.newest_match_id if incremental else None
    if account.is_private and incremental:
        # the profile said the history is not shared (OpenDota's fh_unavailable): it would list
        # nothing, so flag the account instead of spending a call on it
        return History(account.account_id, [], None, True)
    while len(stubs) < max_matches:
        if first_page is not None:
            page, first_page = first_page, None
        else:
            page = source.match_page(account.account_id, cursor, page_size=min(page_size, max_matches - len(stubs)))
        source = source.same_provider(page.source)  # the cursor is that provider's own
        if page.is_private:
            return History(account.account_id, [], page.total, True)
        total = page.total if page.total is not None else total
        fresh = [s for s in page.matches if stop_at is None or s.match_id > stop_at]
        stubs.extend(fresh)
        # per page: the module logger, not the run's event log (a row per page would cost more than the page)
        logger.debug("history of %s: %s", account.account_id, progress_label(len(stubs), total))
        if len(fresh) < len(page.matches) or page.next_cursor is None or not page.matches:
            break
        cursor = page.next_cursor
    return History(account.account_id, stubs[:max_matches], total, False)


def read_histories(
    source: BaseSource, group: Sequence[crawl_db.AccountTodo], *, max_matches: int, page_size: int, incremental: bool,
) -> list[tuple[int, History | APIError]]:
    """Histories of a group: first pages in one request where the provider batches, the rest per account."""
    outcomes: list[tuple[int, History | APIError]] = []
    ask = []
    for todo in group:
        if todo.is_private and incremental:
            outcomes.append((todo.account_id, History(todo.account_id, [], None, True)))
        else:
            ask.append(todo)
    if not ask:
        return outcomes
    firsts: dict[int, Any] = {}
    if len(ask) > 1 or source.batch_size("match_history") > 1:
        firsts = dict(source.match_pages_many([t.account_id for t in ask], page_size=min(page_size, max_matches)))
    for todo in ask:
        first = firsts.get(todo.account_id)
        if isinstance(first, APIError):
            outcomes.append((todo.account_id, first))
            continue
        try:
            history = read_history(
                source, todo, max_matches=max_matches, page_size=page_size, incremental=incremental, first_page=first
            )
            outcomes.append((todo.account_id, history))
        except APIError as error:
            outcomes.append((todo.account_id, error))
    return outcomes


def store_history(db: Database, history: History, *, owner_batch: str | None) -> int:
    newest = max((s.match_id for s in history.stubs), default=None)
    last_time = max((s.start_time for s in history.stubs if s.start_time), default=None)
    with db.transaction() as conn:
        new = crawl_db.store_stubs(conn, history.stubs, owner_batch=owner_batch, discovered_by=history.account_id)
        crawl_db.finish_history(
            conn, history.account_id, newest_match_id=newest, last_match_time=last_time, total=history.total,
            is_private=history.is_private,
        )
    return new


def fetch_match_stubs(
    db: Database, source: BaseSource, batch_key: str, *, refresh: bool, max_matches: int, page_size: int,
    max_workers: int, log: logging.Logger, run_id: str | None = None,
) -> PhaseResult:
    def write(histories: list[History], result: PhaseResult) -> None:
        for history in histories:
            result.counts["stubs_new"] += store_history(db, history, owner_batch=batch_key)
            result.counts["stubs_seen"] += len(history.stubs)
            result.counts["private_accounts"] += history.is_private

    def fetch_group(group: list[crawl_db.AccountTodo]) -> list[tuple[int, Any]]:
        return read_histories(source, group, max_matches=max_matches, page_size=page_size, incremental=not refresh)

    return _account_phase(
        db, batch_key, "match_stubs", refresh=refresh, write=write, chunk_size=10, max_workers=max_workers, log=log,
        fetch_group=fetch_group, group_size=source.batch_size("match_history"), run_id=run_id,
    )


def fetch_details(
    db: Database, source: BaseSource, match_ids: Sequence[int], *, discovery_depth: int, chunk_size: int,
    max_workers: int, log: logging.Logger, label: str, run_id: str | None = None, writers: int = DETAIL_WRITERS,
) -> PhaseResult:
    """Fetch and store details of ``match_ids``; writes are committed every ``chunk_size`` matches,
    by ``writers`` threads (chunks of one call are disjoint sets of matches; statements that meet
    another writer's rows, the new accounts and the encounters, take their rows in sorted order).

    Matches already detailed are skipped. The source groups the rest into calls (Steam: one
    sequence-feed call per run of close sequence numbers) and reports an outcome per match."""
    result = PhaseResult()
    result.counts["stubs"] = len(match_ids)
    with db.transaction() as conn:
        requests = crawl_db.detail_requests(conn, match_ids)
    result.counts["already_detailed"] = len(set(match_ids)) - len(requests)

    tally = threading.Lock()  # write runs on the writer threads

    def write(details: list) -> None:
        with db.transaction() as conn:
            written = crawl_db.store_details(conn, details, discovery_depth=discovery_depth)
        with tally:
            result.counts["details_stored"] += written.stored
            result.counts["players_stored"] += written.players
            result.counts["new_accounts"] += written.new_accounts
            result.counts["unknown_heroes"] += sum(d.unknown_heroes for d in details)
        # per chunk: the module logger, not the run's event log (one summary line below)
        logger.debug("details for %s: %s", label, progress_label(result.counts["fetched"], len(requests)))

    def record(failures: list[tuple[int, str, str]]) -> None:
        with db.transaction() as conn:
            crawl_db.record_detail_failures(conn, failures, run_id=run_id)

    groups = source.details_groups(requests)
    result.counts["details_calls_planned"] = len(groups)
    # the fetchers go on while a chunk is written: room for a chunk's worth of answered groups
    # besides the calls in flight, so the writes overlap the fetches instead of pausing them
    per_group = max(1, len(requests) // max(1, len(groups)))
    buffer = 2 * max_workers + -(-chunk_size // per_group)
    _write_outcomes(
        _per_match(fetch_concurrently(source.match_details_group, groups, max_workers=max_workers, buffer=buffer)),
        write, record, result, chunk_size=chunk_size, writers=writers,
    )
    log.info(
        "details for %s: %s matches (%s)", label, progress_label(result.counts["fetched"], len(requests)),
        ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())),
    )
    return result


def _per_match(
    outcomes: Iterator[tuple[Sequence[DetailsRequest], list[tuple[int, Any]] | APIError]],
) -> Iterator[tuple[int, Any]]:
    """Group outcomes as one outcome per match (a group that failed whole fails each of its matches).
    Closing this closes ``outcomes`` (the fetchers)."""
    with closing(outcomes):
        for group, outcome in outcomes:
            if isinstance(outcome, APIError):
                yield from ((request.match_id, outcome) for request in group)
            else:
                yield from outcome


def fetch_batch_details(
    db: Database, source: BaseSource, batch_key: str, *, depth: int, chunk_size: int, max_workers: int,
    log: logging.Logger, run_id: str | None = None, writers: int = DETAIL_WRITERS,
) -> PhaseResult:
    with db.transaction() as conn:
        todo = crawl_db.stubs_to_fetch(conn, batch_key)
    result = fetch_details(
        db, source, todo, discovery_depth=depth + 1, chunk_size=chunk_size, max_workers=max_workers, log=log,
        label=batch_key, run_id=run_id, writers=writers,
    )
    # failed with attempts left, or left pending by an error that was not the match's fault (an
    # outage, a rate limit, a bad key): either way the batch is not finished and its partition fails
    result.unsettled, result.counts["still_pending"] = crawl_db.unsettled_details(db, batch_key)
    return result

