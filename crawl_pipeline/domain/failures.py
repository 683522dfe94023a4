"""What a failed fetch means for the item: the rule the crawl applies to every error.

- ``pending``: not the item's fault and not counted as an attempt: Steam's GetMatchDetails 500
  "no data yet"; a bad key or token, which an operator fixes before a re-run; a rate limit or a
  spent daily budget (the next window serves it); a provider that is down (every recent call
  failed with a 5xx, a timeout or a refused connection); a call the routed provider cannot make.
  The error is still recorded, so a pending item with an error shows in status and checks.
- ``give_up``: retrying cannot help (404 not found, 400 bad request): every attempt is spent.
- ``retry``: counts one attempt; after three the item is recorded as failed for good.
"""

from __future__ import annotations

from crawl_pipeline.sources.errors import (
    APIError,
    BadRequest,
    DetailsNotReady,
    NotFound,
    RateLimited,
    Unauthorized,
    UnsupportedOperation,
)

PENDING, GIVE_UP, RETRY = "pending", "give_up", "retry"


def outcome_of(error: APIError) -> str:
    if isinstance(error, (DetailsNotReady, Unauthorized, RateLimited, UnsupportedOperation)) or error.outage:
        return PENDING
    if isinstance(error, (NotFound, BadRequest)):
        return GIVE_UP
    return RETRY


def describe(error: BaseException, limit: int = 300) -> str:
    """A short, secret-free error text for the database (typed errors redact themselves)."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def progress_label(done: int, total: int | None) -> str:
    """``x/?`` until the total is known, then ``x/total``."""
    return f"{done}/{'?' if total is None else total}"
