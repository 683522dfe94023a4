"""The public match feed, read the way OpenDota's scanner reads it (odota/core ``svc/scanner.ts``).

Steam's GetMatchHistoryBySequenceNum returns up to 100 full matches from a sequence number on,
oldest first; the next call starts at the last ``match_seq_num`` + 1. Every public match passes
through it once, so reading it from a cursor ingests all of them with 100 matches per call.

The feed is cut into ranges of sequence numbers, ``[start, end)``, keyed ``seq-<start>-<end>``
(13 digits each, no commas). Each range has a cursor in PostgreSQL (``match_feed_ranges``).
``read_range`` reads from the cursor until the range ends, ``max_calls`` calls were made, or the
feed ran dry (a short page: the live end of the feed). Each call is one transaction: its matches
go through ``crawl_db.store_details`` (idempotent: a match already detailed is skipped) and the
cursor moves to the end of what the call covered, both or neither. A crash between the fetch and
the commit re-reads that page; a committed page is never read again (the call log forbids
overlapping calls); a run that finds the cursor moved by another run stops without writing.

Scanner rules kept: 100 per call; next = last + 1; errors retried (``call_retries`` more times, 1 s
apart, 2 s more after a 429, on top of the HTTP layer's own retries and shared 429 backoff); a page
of fewer than ~90% of what was asked means the live end: the scanner sleeps 5 s there, this run
ends and the next one (the sensor's next tick) continues. A page's matches at or beyond the range
end are left to the next range, whose first call reads them again (at most one call per range).
The next page is fetched while the current one is committed (its start is known by then), and
used only once that commit succeeded. Pages come from ``SteamSource.sequence_page``: a listed match that cannot
be read fails alone; the cursor still moves past the highest number listed, and in the same transaction
the match is kept as a failed detail fetch (a ``matches`` row with its ``match_seq_num``, ``fetch_error``
and ``retry_count``, through ``crawl_db.record_detail_failures``), so it is never lost. No batch owns it, so
no batch run fetches it: each run of the feed first fetches such matches again by id from the details
provider (``phases.fetch_details``, one attempt per run), until they are stored or settled; ``crawl-pipeline
retry`` re-opens those that used every attempt. An entry with no usable ``match_id`` cannot be kept by id:
it is counted with its ``match_seq_num`` in the sample.

No Dagster imports here: the asset in ``defs/feed`` wraps this with partitions and metadata.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db import feed as feed_db
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.failures import describe
from crawl_pipeline.domain.records import MatchDetails
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.errors import APIError, RateLimited, outcome_of
from crawl_pipeline.sources.steam import SequencePage

MAX_PER_CALL = 100  # Valve's cap, and what the scanner asks for
MAX_ID = 2**63 - 1  # matches.match_id and match_seq_num are bigint
SHORT_PAGE_SHARE = 0.9  # the scanner's "fewer than 90": the live end of the feed
DEFAULT_RANGE_WIDTH = 10_000  # sequence numbers per range (about 100 calls of Valve's dense feed)
_log = logging.getLogger(__name__)
KEY_DIGITS = 13  # sequence numbers are about 6.6e9 today; 13 digits last far beyond Dota's lifetime
_KEY = re.compile(rf"^seq-(\d{{{KEY_DIGITS}}})-(\d{{{KEY_DIGITS}}})$")


@dataclass(frozen=True, order=True)
class SeqRange:
    """Sequence numbers ``[start, end)``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end < 10**KEY_DIGITS:
            raise ValueError(f"invalid sequence range [{self.start}, {self.end})")

    @property
    def key(self) -> str:
        return f"seq-{self.start:0{KEY_DIGITS}d}-{self.end:0{KEY_DIGITS}d}"

    @classmethod
    def parse(cls, key: str) -> SeqRange:
        match = _KEY.match(key)
        if not match:
            raise ValueError(f"invalid match_feed partition key {key!r}: expected seq-<13 digits>-<13 digits>")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, seq_num: int, width: int = DEFAULT_RANGE_WIDTH) -> SeqRange:
        """The range of the grid of ``width`` (multiples of it) that holds ``seq_num``."""
        start = seq_num // width * width
        return cls(start, start + width)

    def following(self, width: int = DEFAULT_RANGE_WIDTH) -> SeqRange:
        return SeqRange(self.end, self.end + width)

    def __contains__(self, seq_num: object) -> bool:
        return isinstance(seq_num, int) and self.start <= seq_num < self.end


def first_seq_num(seq_range: SeqRange, *, start_at: int | None, newest_known: int | None) -> int:
    """Where a range with no cursor begins: ``start_at`` (it must lie in the range), else
    ``newest_known`` (the newest sequence number the database knows, passed only while the feed has
    no range yet) when it lies in the range, else the range's start."""
    if start_at is not None:
        if start_at not in seq_range:
            raise ValueError(
                f"start_at_match_seq_num {start_at} is outside {seq_range.key} [{seq_range.start}, {seq_range.end})"
            )
        return start_at
    if newest_known is not None and newest_known in seq_range:
        return newest_known
    return seq_range.start


@dataclass(frozen=True)
class NextRun:
    """What the sensor requests next: a range and, for a range without a cursor, where to begin."""

    seq_range: SeqRange
    start_at: int | None
    new_range: bool  # the partition has to be added first


def plan_next(head: feed_db.RangeState | None, newest_known: int | None, width: int) -> NextRun | None:
    """The head range while it is incomplete, else the one after it; for an empty feed the range
    holding the newest sequence number the database knows (None when it knows none)."""
    if head is None:
        if newest_known is None:
            return None
        return NextRun(SeqRange.containing(newest_known, width), newest_known, True)
    current = SeqRange(head.range_start, head.range_end)
    if not head.complete:
        return NextRun(current, None, False)
    return NextRun(current.following(width), None, True)


class FeedSource(Protocol):
    def sequence_page(self, start_at_match_seq_num: int, count: int = MAX_PER_CALL) -> SequencePage: ...


@dataclass(frozen=True)
class FeedOptions:
    max_calls: int = 100
    discovery_depth: int = 0  # depth of accounts first seen in the feed (see defs/feed for the default used)
    call_retries: int = 3  # retries of a failed call after the HTTP layer's own (the scanner retries forever)
    retry_wait_seconds: float = 1.0  # the scanner's 1 s between attempts ...
    rate_limited_wait_seconds: float = 2.0  # ... plus 2 s after a 429
    prefetch: bool = True  # fetch the next page while committing this one
    retry_unread: int = MAX_PER_CALL  # matches the feed could not read, fetched again by id first (0: none)


@dataclass
class FeedRun:
    """What one ``read_range`` did: counts for the metadata, where the cursor went, why it stopped."""

    range_key: str
    cursor_before: int
    cursor_after: int
    range_end: int
    started_fresh: bool  # this run created the range's cursor
    calls: int = 0  # calls answered (failed attempts are in retries / errors)
    matches_returned: int = 0
    matches_in_range: int = 0
    matches_stored: int = 0
    players_stored: int = 0
    new_accounts: int = 0
    unknown_heroes: int = 0
    matches_malformed: int = 0  # listed in the range but unreadable (a field out of range, a wrong shape)
    malformed_sample: list[str] = field(default_factory=list)
    unread_recorded: int = 0  # of those, kept as failed detail fetches (the rest have no usable match_id)
    unread_retried: int = 0  # matches the feed could not read before, fetched again by id at the start
    unread_recovered: int = 0  # of those, stored now
    rate_limited: int = 0  # 429s (or our spent budget) that reached this loop
    retries: int = 0
    per_call: list[int] = field(default_factory=list)  # matches stored by each committed call
    stop_reason: str = ""  # range_complete | max_calls | caught_up | error
    error: str | None = None
    elapsed_seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.cursor_after >= self.range_end

    @property
    def matches_per_call(self) -> float:
        return self.matches_stored / self.calls if self.calls else 0.0


def _fetch(
    source: FeedSource, start: int, count: int, options: FeedOptions, run: FeedRun, log: logging.Logger,
    sleep: Callable[[float], None],
) -> SequencePage:
    attempt = 0
    while True:
        try:
            return source.sequence_page(start, count)
        except APIError as error:
            if isinstance(error, RateLimited):
                run.rate_limited += 1
            if not error.retriable or attempt >= options.call_retries:
                raise
            attempt += 1
            run.retries += 1
            wait = options.retry_wait_seconds + (options.rate_limited_wait_seconds if isinstance(error, RateLimited) else 0)
            log.warning("match feed at %s: %s; retry %s/%s in %.0f s", start, describe(error), attempt,
                        options.call_retries, wait)
            sleep(wait)


def _malformed(run: FeedRun, what: str) -> None:
    run.matches_malformed += 1
    if len(run.malformed_sample) < 10:
        run.malformed_sample.append(what)


def _unread(page: SequencePage, run: FeedRun, cursor: int, range_end: int) -> list[feed_db.UnreadMatch]:
    """The page's unreadable matches from ``cursor`` up to the range's end (those beyond it are the
    next range's, which reads them again), counted and sampled; those with a usable match_id and
    sequence number are returned to be kept as failed detail fetches (the feed fetches them again by
    sequence number: one without it could never be, and would wait as an orphan stub forever)."""
    unread: list[feed_db.UnreadMatch] = []
    for match_id, outcome in page.outcomes:
        if not isinstance(outcome, APIError):
            continue
        seq = page.seq_nums.get(match_id)
        if seq is not None and not cursor <= seq < range_end:
            continue
        if seq is None:
            _malformed(run, f"{match_id}: {describe(outcome)}; no usable match_seq_num: it cannot be fetched again")
            continue
        _malformed(run, f"{match_id}: {describe(outcome)}")
        if 0 < match_id <= MAX_ID:
            unread.append(feed_db.UnreadMatch(match_id, seq, describe(outcome), outcome_of(outcome)))
    for seq in page.unnamed:
        if seq is None or cursor <= seq < range_end:
            where = "no match_seq_num either" if seq is None else f"match_seq_num {seq}"
            _malformed(run, f"an entry without a match_id ({where}): it cannot be stored or fetched by id")
    return unread


def _retry_unread(
    db: Database, source: FeedSource, options: FeedOptions, run: FeedRun, run_id: str | None, log: logging.Logger,
) -> None:
    """Fetch again, by id from the details provider, the matches the feed listed but could not read."""
    if options.retry_unread <= 0 or not isinstance(source, BaseSource):
        return
    with db.transaction() as conn:
        ids = feed_db.unread_to_retry(conn, options.retry_unread)
    if not ids:
        return
    again = phases.fetch_details(
        db, source, ids, discovery_depth=options.discovery_depth, chunk_size=MAX_PER_CALL, max_workers=1, log=log,
        label="matches the feed could not read", run_id=run_id, writers=1,
    )
    run.unread_retried += len(ids)
    run.unread_recovered += again.counts["details_stored"]


def _asked(seq_range: SeqRange, cursor: int) -> int:
    """Matches to ask for from ``cursor``: more than ``end - cursor`` cannot lie in the range."""
    return min(MAX_PER_CALL, seq_range.end - cursor)


def read_range(
    db: Database,
    source: FeedSource,
    seq_range: SeqRange,
    *,
    options: FeedOptions,
    start_at: int | None = None,
    run_id: str | None = None,
    log: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FeedRun:
    """Read ``seq_range`` of the feed from its cursor (created at ``first_seq_num`` when missing).

    Raises ``feed_db.CursorMoved`` when another run advanced the cursor; provider errors that
    outlast the retries end the run with ``stop_reason`` "error" (everything before is committed)."""
    log = log or _log
    started = time.monotonic()
    with db.transaction() as conn:
        existing = feed_db.range_state(conn, seq_range.key)
        if existing is None:
            # the newest known number is where the feed begins, not where a later range does (no hole between ranges)
            newest = feed_db.newest_known_seq_num(conn) if feed_db.head_range(conn) is None else None
            begin = first_seq_num(seq_range, start_at=start_at, newest_known=newest)
            state = feed_db.open_range(conn, seq_range.key, seq_range.start, seq_range.end, begin)
        else:
            state = existing
            if start_at is not None and start_at != state.next_seq_num:
                log.warning("%s already has a cursor at %s: start_at_match_seq_num %s is ignored",
                            seq_range.key, state.next_seq_num, start_at)
    run = FeedRun(seq_range.key, state.next_seq_num, state.next_seq_num, seq_range.end, existing is None)
    cursor = state.next_seq_num
    _retry_unread(db, source, options, run, run_id, log)
    # One call ahead: the next page is fetched while this one is committed (the next start is known
    # once this page is in). A prefetched page is used only after its predecessor's commit.
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="match-feed")
    prefetched: tuple[int, Future[SequencePage]] | None = None

    def fetch_later(start: int) -> tuple[int, Future[SequencePage]]:
        # the module logger off the main thread (a framework's run logger may not expect other threads)
        return start, ahead.submit(_fetch, source, start, _asked(seq_range, start), options, run, _log, sleep)

    try:
        while True:
            if cursor >= seq_range.end:
                run.stop_reason = "range_complete"
                break
            if run.calls >= options.max_calls:
                run.stop_reason = "max_calls"
                break
            asked = _asked(seq_range, cursor)
            try:
                if prefetched is not None and prefetched[0] == cursor:
                    page = prefetched[1].result()
                else:
                    page = _fetch(source, cursor, asked, options, run, log, sleep)
            except APIError as error:
                run.stop_reason, run.error = "error", describe(error)
                break
            finally:
                prefetched = None
            run.calls += 1
            run.matches_returned += page.listed
            good = [m for _, m in page.outcomes if isinstance(m, MatchDetails)]
            numbered = sorted((m for m in good if m.match_seq_num is not None and m.match_seq_num >= cursor),
                              key=lambda m: m.match_seq_num or 0)
            in_range = [m for m in numbered if (m.match_seq_num or 0) < seq_range.end]
            if not page.reaches(cursor):
                run.stop_reason = "caught_up"  # nothing new after the cursor yet
                break
            reached = page.last_seq  # the highest number listed, readable or not
            # every match in [cursor, end) came in this page when it reached past the range's end; an
            # unreadable match is passed like the scanner passes it, and kept as a failed detail fetch
            beyond = reached >= seq_range.end
            end = seq_range.end if beyond else reached + 1
            short = not beyond and page.listed < SHORT_PAGE_SHARE * asked
            unread = _unread(page, run, cursor, seq_range.end)
            if options.prefetch and end < seq_range.end and run.calls < options.max_calls and not short:
                prefetched = fetch_later(end)
            with db.transaction() as conn:
                written = crawl_db.store_details(conn, in_range, discovery_depth=options.discovery_depth)
                feed_db.record_unread(conn, unread, run_id=run_id)  # after the good ones: a match read is kept
                feed_db.record_call(conn, seq_range.key, feed_db.CallRecord(
                    start_seq_num=cursor, end_seq_num=end, matches_returned=page.listed,
                    matches_in_range=len(in_range), matches_stored=written.stored, players_stored=written.players,
                    new_accounts=written.new_accounts,
                    first_match_seq_num=in_range[0].match_seq_num if in_range else None,
                    last_match_seq_num=in_range[-1].match_seq_num if in_range else None,
                ), run_id=run_id)
            cursor = run.cursor_after = end
            run.unread_recorded += len(unread)
            run.matches_in_range += len(in_range)
            run.matches_stored += written.stored
            run.players_stored += written.players
            run.new_accounts += written.new_accounts
            run.unknown_heroes += sum(m.unknown_heroes for m in in_range)
            run.per_call.append(written.stored)
            log.debug("match feed %s: [%s, %s) stored %s of %s", seq_range.key, run.cursor_before, cursor,
                      written.stored, page.listed)
            if short:
                run.stop_reason = "caught_up"  # the live end: the scanner waits 5 s here, the next run continues
                break
    finally:
        if prefetched is not None:  # a page fetched for a commit that did not happen (or not needed): dropped
            prefetched[1].cancel()
        ahead.shutdown(wait=True)
    run.elapsed_seconds = round(time.monotonic() - started, 3)
    log.info(
        "match feed %s: cursor %s -> %s, %s calls, %s matches stored (%.1f per call), %s new accounts, "
        "%s unreadable (%s kept as failed), %s of %s read before stored now; %s",
        seq_range.key, run.cursor_before, run.cursor_after, run.calls, run.matches_stored, run.matches_per_call,
        run.new_accounts, run.matches_malformed, run.unread_recorded, run.unread_recovered, run.unread_retried,
        run.stop_reason,
    )
    return run
