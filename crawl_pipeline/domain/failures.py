"""How a failure is written down: the short error text stored with an item, and progress labels.

What an error means for the item (pending, give up, retry) is decided beside the errors, in
``crawl_pipeline.sources.errors.outcome_of``.
"""

from __future__ import annotations


def describe(error: BaseException, limit: int = 300) -> str:
    """A short, secret-free error text for the database (typed errors redact themselves)."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def progress_label(done: int, total: int | None) -> str:
    """``x/?`` until the total is known, then ``x/total``."""
    return f"{done}/{'?' if total is None else total}"
