"""``crawl-pipeline retry``: re-open items that used all their attempts.

An account phase (player_profiles, hero_stats, match_stubs) or a match's details that failed
``MAX_ATTEMPTS`` times (or gave up at once: NotFound, BadRequest) is *settled*: no run fetches
it again. Re-opening resets its attempt count to 0 and keeps the stored error text, so
``status`` and the data dictionary still say why it failed until it succeeds (success clears the
error) or fails again (the new error replaces it). Its batch then has unfinished work again:
``retry_failed_schedule``, or re-executing the partition, fetches it.

Errors are stored as ``"<ErrorClass>: <message>"`` (``domain.failures.describe``); a filter keeps
the items whose error starts with one of the given class-name prefixes (``NotFound``, ``Server``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from crawl_pipeline.db.item_states import PHASES, phase_failed, phase_gave_up, stub_gave_up

KINDS = ("accounts", "matches")
ERROR_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Reopened:
    """What a retry re-opened (or, in a dry run, would re-open)."""

    account_phases: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    matches: int = 0
    batches: set[str] = field(default_factory=set)

    @property
    def accounts(self) -> int:
        return sum(self.account_phases.values())


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _error_filter(column: str, prefixes: Sequence[str]) -> tuple[str, list[str]]:
    """``(sql, params)`` keeping rows whose error starts with one of ``prefixes`` (all rows without)."""
    if not prefixes:
        return "TRUE", []
    for prefix in prefixes:
        if not ERROR_CLASS.match(prefix):
            raise ValueError(f"{prefix!r} is not an error class name (letters, digits, _)")
    clause = " OR ".join(f"{column} LIKE %s ESCAPE '\\'" for _ in prefixes)
    return f"({clause})", [_like_prefix(p) for p in prefixes]


def reopen_exhausted(
    conn: psycopg.Connection,
    *,
    kinds: Sequence[str] = KINDS,
    error_prefixes: Sequence[str] = (),
    dry_run: bool = False,
) -> Reopened:
    """Reset the attempts of every settled failure of ``kinds`` (matching ``error_prefixes``).

    In the caller's transaction; with ``dry_run`` nothing is written, the counts are the same.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s) {sorted(unknown)}; choose from {KINDS}")
    result = Reopened()
    if "accounts" in kinds:
        for phase, (_, error, attempts) in PHASES.items():  # column names from code, never from input
            matching, params = _error_filter(error, error_prefixes)
            where = f"{phase_failed(phase)} AND {phase_gave_up(phase)} AND {matching}"
            if dry_run:
                query = f"SELECT batch_key FROM accounts WHERE {where}"
            else:
                query = f"UPDATE accounts SET {attempts} = 0 WHERE {where} RETURNING batch_key"
            rows = conn.execute(query, params).fetchall()
            result.account_phases[phase] = len(rows)
            result.batches.update(r[0] for r in rows if r[0])
    if "matches" in kinds:
        matching, params = _error_filter("fetch_error", error_prefixes)
        where = f"{stub_gave_up()} AND {matching}"
        if dry_run:
            query = f"SELECT owner_batch FROM matches WHERE {where}"
        else:
            query = f"UPDATE matches SET retry_count = 0 WHERE {where} RETURNING owner_batch"
        rows = conn.execute(query, params).fetchall()
        result.matches = len(rows)
        result.batches.update(r[0] for r in rows if r[0])
    return result
