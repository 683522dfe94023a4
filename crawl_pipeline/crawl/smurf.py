"""The smurf analyzer's three phases, framework-free (a Database and a source in, a ledger out).

1. ``fetch_ranked_histories``: newest ranked matches of accounts below the target, stored the
   crawl's way (stubs owned by the account's batch, details via ``phases.fetch_details``).
2. ``score_accounts``: set-based load, ``Baselines`` fitted on the population, upsert.
3. ``check_bans``: GetPlayerBans for flagged accounts whose check is missing or old.

Failure rules (from the original jobs): ``RateLimited`` ends the phase (the next one still
runs); any other provider error skips that player (or that chunk of 100 for bans); a database
error rolls the transaction back and propagates, failing the run.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import bans as bans_db
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db import smurf as smurf_db
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.failures import describe
from crawl_pipeline.domain.records import MatchPage
from crawl_pipeline.domain.smurf import AccountHistory, Baselines, SmurfModel, SmurfScore, match_features, score
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import APIError, RateLimited

RANKED_LOBBY = 7
MAX_SKIPPED_PAGES = 50  # empty filtered pages skipped in a row before giving up
BANS_PER_CALL = 100  # Steam's GetPlayerBans takes at most 100 steamid64s


@dataclass
class Ledger:
    """What a phase did: counts for the metadata, a sample of errors, whether a rate limit ended it."""

    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    rate_limited: str | None = None

    def error(self, item: Any, error: BaseException) -> None:
        if len(self.errors) < 10:
            self.errors.append(f"{item}: {describe(error)}")


class FilteredHistory:
    """A source whose ``match_page`` always asks for one lobby type and/or a date range, so the
    crawl's ``read_history`` pages through exactly those matches."""

    def __init__(self, source: BaseSource, *, lobby_type: int | None = None,
                 date_after: datetime | None = None, date_before: datetime | None = None) -> None:
        self._source = source
        self.provider = source.provider
        self._filters = {"lobby_type": lobby_type, "date_after": date_after, "date_before": date_before}

    def same_provider(self, provider: str) -> FilteredHistory:
        """The same filters over the client of ``provider`` (later pages follow the first one's
        provider: cursors are the provider's own)."""
        inner = self._source.same_provider(provider) if hasattr(self._source, "same_provider") else self._source
        if inner is self._source:
            return self
        filtered = FilteredHistory(inner)
        filtered._filters = dict(self._filters)
        return filtered

    def match_page(self, account_id: int, cursor: int | None = None, *, page_size: int = 100, **_: Any) -> MatchPage:
        """A page with at least one match in range, or the last page: pages whose matches all
        fall outside the range (newer than ``date_before``, filtered by the client) are skipped,
        because ``read_history`` stops at an empty page."""
        for _page in range(MAX_SKIPPED_PAGES):
            page = self._source.match_page(account_id, cursor, page_size=page_size, **self._filters)
            if page.matches or page.next_cursor is None or page.is_private:
                return page
            cursor = page.next_cursor
        return page


# ------------------------------------------------------------------ phase 1
def fetch_ranked_histories(
    db: Database, history_source: BaseSource, details_source: BaseSource, batch_keys: Sequence[str], *,
    matches_per_call: int = 10, target: int = 20, max_accounts: int = 200, refetch_exhausted_days: float = 7.0,
    max_matches: int = 500, page_size: int = 100, details_chunk_size: int = 25, max_workers: int = 8,
    log: logging.Logger, ratings_source: BaseSource | None = None, max_rank_histories: int = 500,
    rank_history_refetch_days: float = 30.0,
) -> Ledger:
    """Read ranked histories, fetch their details, then (``ratings_source``, OpenDota) the medal
    history of each account now scorable that has none: a match's own rank is today's, so the
    medal at each match comes from there."""
    ledger = Ledger()
    with db.transaction() as conn:
        candidates = smurf_db.history_candidates(
            conn, batch_keys, target=target, limit=max_accounts, refetch_exhausted_days=refetch_exhausted_days
        )
    ledger.counts["candidates"] = len(candidates)
    ranked = FilteredHistory(history_source, lobby_type=RANKED_LOBBY)

    def read(c: smurf_db.HistoryCandidate) -> phases.History:
        wanted = _wanted(c, matches_per_call, max_matches)
        todo = crawl_db.AccountTodo(c.account_id, c.depth, None, None, c.batch_key)
        return phases.read_history(ranked, todo, max_matches=wanted, page_size=min(page_size, wanted),
                                 incremental=False)

    read_ok: list[smurf_db.HistoryCandidate] = []
    results = fetch_concurrently(read, candidates, max_workers=max_workers)
    try:
        for candidate, outcome in results:
            if isinstance(outcome, RateLimited):
                ledger.rate_limited = describe(outcome)
                ledger.error(candidate.account_id, outcome)
                log.warning("smurf history phase ends: %s", ledger.rate_limited)
                break
            if isinstance(outcome, APIError):  # this player is skipped; the others go on
                ledger.counts["players_skipped"] += 1
                ledger.error(candidate.account_id, outcome)
                continue
            wanted = _wanted(candidate, matches_per_call, max_matches)
            with db.transaction() as conn:
                new = crawl_db.store_stubs(conn, outcome.stubs, owner_batch=candidate.batch_key,
                                           discovered_by=candidate.account_id)
                exhausted = outcome.is_private or len(outcome.stubs) < wanted or new == 0
                smurf_db.record_history_fetches(conn, [(candidate.account_id, len(outcome.stubs), new, exhausted)])
            ledger.counts["histories_read"] += 1
            ledger.counts["matches_listed"] += len(outcome.stubs)
            ledger.counts["stubs_new"] += new
            ledger.counts["histories_exhausted"] += exhausted
            read_ok.append(candidate)
    finally:
        results.close()
    if ledger.rate_limited:
        return ledger  # details wait for the next run (the stubs are stored and owned)
    with db.transaction() as conn:
        pending = smurf_db.pending_stubs_of(conn, [c.account_id for c in read_ok])
    ledger.counts["details_wanted"] = len(pending)
    for depth in sorted({d for _, d in pending}):
        ids = [m for m, d in pending if d == depth]
        for start in range(0, len(ids), details_chunk_size):
            chunk = ids[start : start + details_chunk_size]
            result = phases.fetch_details(db, details_source, chunk, discovery_depth=depth + 1,
                                        chunk_size=details_chunk_size, max_workers=max_workers, log=log,
                                        label="smurf analyzer")
            for name in ("details_stored", "players_stored", "new_accounts"):
                ledger.counts[name] += result.counts[name]
            failed = sum(v for k, v in result.counts.items() if k.startswith("failed_"))
            ledger.counts["details_failed"] += failed
            ledger.errors += result.errors[: max(0, 10 - len(ledger.errors))]
            limited = [e for e in result.errors if "RateLimited" in e]
            if limited:
                ledger.rate_limited = limited[0]
                log.warning("smurf history phase ends in details: %s", limited[0])
                return ledger
    if ratings_source is not None:
        fetch_rank_histories(db, ratings_source, batch_keys, min_matches=target, limit=max_rank_histories,
                             refetch_days=rank_history_refetch_days, max_workers=max_workers, ledger=ledger, log=log)
    return ledger


def fetch_rank_histories(
    db: Database, source: BaseSource, batch_keys: Sequence[str], *, min_matches: int, limit: int,
    refetch_days: float, max_workers: int, ledger: Ledger, log: logging.Logger,
) -> None:
    """One call per account the scorer will score whose medal history was not read (or not for
    ``refetch_days``); stored as ``rank_snapshots`` rows as each answer comes, the read in
    ``rank_history_fetches``. A rate limit ends it (the rest wait for the next run); another error
    skips that account, which is asked again next run."""
    with db.transaction() as conn:
        wanted = smurf_db.accounts_wanting_rank_history(
            conn, batch_keys, min_matches=min_matches, limit=limit, refetch_days=refetch_days
        )
    ledger.counts["rank_histories_wanted"] = len(wanted)
    results = fetch_concurrently(source.rank_history, wanted, max_workers=max_workers)
    try:
        for account_id, outcome in results:
            if isinstance(outcome, RateLimited):
                ledger.rate_limited = describe(outcome)
                ledger.error(account_id, outcome)
                log.warning("smurf rank histories end: %s", ledger.rate_limited)
                break
            if isinstance(outcome, APIError):
                ledger.counts["rank_histories_failed"] += 1
                ledger.error(account_id, outcome)
                continue
            with db.transaction() as conn:
                ledger.counts["rank_changes_stored"] += smurf_db.store_rank_histories(conn, [outcome])
            ledger.counts["rank_histories_read"] += 1
    finally:
        results.close()


def _wanted(candidate: smurf_db.HistoryCandidate, matches_per_call: int, max_matches: int) -> int:
    """Newest ranked matches to list: those already stored plus ``matches_per_call`` new ones."""
    return max(1, min(candidate.known_ranked + matches_per_call, max_matches))


# ------------------------------------------------------------------ phase 2
@dataclass
class Scored:
    ledger: Ledger
    scores: list[SmurfScore]
    baselines: Baselines | None


def score_accounts(db: Database, batch_keys: Sequence[str] | None, model: SmurfModel, *, log: logging.Logger) -> Scored:
    """Score the accounts of ``batch_keys`` (None: all) with at least ``model.min_matches``
    significant detailed matches. Baselines are fitted on every scorable account (the
    population), so a batch re-scored alone gets the same scale as the others."""
    ledger = Ledger()
    with db.transaction() as conn:
        population = smurf_db.scorable_accounts(conn, min_matches=model.min_matches)
        selected = set(population if batch_keys is None else
                       smurf_db.scorable_accounts(conn, min_matches=model.min_matches, batch_keys=batch_keys))
        histories = smurf_db.load_histories(conn, population, max_matches=model.max_matches)
    ledger.counts["population"] = len(population)
    ledger.counts["players_analyzed"] = len(selected)
    if not histories:
        return Scored(ledger, [], None)
    baselines, scores = _score_guarded(histories, selected, model, ledger, log)
    if baselines is None:
        return Scored(ledger, [], None)
    with db.transaction() as conn:  # one transaction: a database error leaves the old scores whole
        batch_of = smurf_db.batch_keys_of(conn, [s.account_id for s in scores])
        written = smurf_db.upsert_scores(conn, scores, batch_of)
    ledger.counts["scored"] = len(scores)
    ledger.counts["smurfs_found"] = sum(s.is_smurf for s in scores)
    ledger.counts["records_created"] = written.created
    ledger.counts["records_updated"] = written.updated
    log.info("smurf scores: %d scored, %d flagged (population %d)", len(scores), ledger.counts["smurfs_found"],
             len(population))
    return Scored(ledger, scores, baselines)


def _valid(score: SmurfScore) -> str | None:
    """Why a score cannot be stored (the table's CHECKs would reject the whole upsert), or None."""
    bad = {k: v for k, v in score.signals.items() if v is not None and not (math.isfinite(v) and 0 <= v <= 1)}
    if bad:
        return f"signals outside [0, 1]: {', '.join(f'{k}={v}' for k, v in sorted(bad.items()))}"
    if not (math.isfinite(score.total_score) and 0 <= score.total_score <= 1):
        return f"total_score {score.total_score} outside [0, 1]"
    return None


def _score_guarded(
    histories: Sequence[AccountHistory], selected: set[int], model: SmurfModel, ledger: Ledger, log: logging.Logger
) -> tuple[Baselines | None, list[SmurfScore]]:
    """Baselines from every history whose features could be computed, then each selected account
    scored on its own: an account that raises or yields an unstorable score is recorded
    (``players_failed``, its error in the sample and the log) and the others go on."""

    def failed(account_id: int, error: BaseException | str) -> None:
        ledger.counts["players_failed"] += 1
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if len(ledger.errors) < 10:
            ledger.errors.append(f"{account_id}: {message}")
        log.warning("smurf score of %s skipped: %s", account_id, message)

    features = []
    for history in histories:
        try:
            features.append((history, match_features(history, model)))
        except Exception as error:
            if history.account_id in selected:
                failed(history.account_id, error)
    try:
        baselines = Baselines.fit_features([f for _, f in features], model)
    except ValueError as error:  # no significant match at all: nothing to score yet
        log.info("smurf scores: %s", error)
        return None, []
    scores: list[SmurfScore] = []
    for history, feats in features:
        if history.account_id not in selected:
            continue
        try:
            result = score(history, baselines, model, features=feats)
        except Exception as error:
            failed(history.account_id, error)
            continue
        if result is None:
            continue
        problem = _valid(result)
        if problem:
            failed(history.account_id, problem)
            continue
        scores.append(result)
    return baselines, scores


# ------------------------------------------------------------------ phase 3
def check_bans(
    db: Database, source: BaseSource, *, model_version: str | None, max_age_days: float = 7.0,
    batch_keys: Sequence[str] | None = None, limit: int | None = None, log: logging.Logger,
) -> Ledger:
    ledger = Ledger()
    with db.transaction() as conn:
        due = bans_db.due_for_ban_check(conn, model_version=model_version, max_age_days=max_age_days,
                                        batch_keys=batch_keys, limit=limit)
    ledger.counts["due"] = len(due)
    for start in range(0, len(due), BANS_PER_CALL):
        chunk = due[start : start + BANS_PER_CALL]
        try:
            answer = source.player_bans(chunk)
        except RateLimited as error:
            ledger.rate_limited = describe(error)
            ledger.error(f"{len(chunk)} accounts from {chunk[0]}", error)
            log.warning("ban checks end: %s", ledger.rate_limited)
            break
        except APIError as error:  # skip and log; the other chunks go on
            ledger.counts["players_skipped"] += len(chunk)
            ledger.error(f"{len(chunk)} accounts from {chunk[0]}", error)
            log.warning("ban check of %d accounts skipped: %s", len(chunk), describe(error))
            continue
        with db.transaction() as conn:
            stored = bans_db.upsert_ban_checks(conn, answer.bans, answer.not_found)
        ledger.counts["ban_checks_done"] += stored.created + stored.updated
        ledger.counts["records_created"] += stored.created
        ledger.counts["records_updated"] += stored.updated
        ledger.counts["not_found"] += stored.not_found
        ledger.counts["banned"] += stored.banned
    return ledger
