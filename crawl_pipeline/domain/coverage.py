"""Range-sync coverage: does a completed sync already cover a requested date range?

A sync of an account's history over ``[date_after, date_before]`` (either bound may be open,
``None``) *covers* a request ``[A, B]`` when ``date_after <= A`` (or ``date_after`` is open)
and ``date_before >= B`` (or ``date_before`` is open). An open request bound is covered only
by an open sync bound: "everything before B" is not covered by a sync that started at some
date. Such a request answers "Already synced" and makes no API call.

Pure: plain values in, plain values out (no SQL, no Dagster).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DateRange:
    """A closed range of start times; ``None`` is an open bound."""

    date_after: datetime | None = None
    date_before: datetime | None = None

    def __post_init__(self) -> None:
        if self.date_after is not None and self.date_before is not None and self.date_after > self.date_before:
            raise ValueError(f"date_after {self.date_after} is later than date_before {self.date_before}")

    def describe(self) -> str:
        after = self.date_after.isoformat() if self.date_after else "the beginning"
        before = self.date_before.isoformat() if self.date_before else "now"
        return f"{after} .. {before}"


def covers(synced: DateRange, requested: DateRange) -> bool:
    """True when a completed sync of ``synced`` already holds every match of ``requested``."""
    lower_ok = synced.date_after is None or (
        requested.date_after is not None and synced.date_after <= requested.date_after
    )
    upper_ok = synced.date_before is None or (
        requested.date_before is not None and synced.date_before >= requested.date_before
    )
    return lower_ok and upper_ok


def covering_sync(completed: Iterable[Any], requested: DateRange) -> Any | None:
    """The first completed sync (an object or mapping with ``date_after``/``date_before``)
    covering ``requested``, or None."""
    for sync in completed:
        if isinstance(sync, DateRange):
            span = sync
        elif isinstance(sync, dict):
            span = DateRange(sync.get("date_after"), sync.get("date_before"))
        else:
            span = DateRange(sync.date_after, sync.date_before)
        if covers(span, requested):
            return sync
    return None
