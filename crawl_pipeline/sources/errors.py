"""Typed provider errors.

Every error names the provider and the endpoint *group* (never a URL with a key in it),
carries the HTTP status when there was one, and says whether retrying can help.
"""

from __future__ import annotations

from crawl_pipeline.settings import redact


class APIError(Exception):
    retriable_default = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        endpoint: str,
        status_code: int | None = None,
        retriable: bool | None = None,
    ) -> None:
        message = redact(message)  # a provider may echo the request, key and all
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.endpoint = endpoint
        self.status_code = status_code
        self.retriable = self.retriable_default if retriable is None else retriable
        # True when the provider looked down as this was raised (every recent request failed
        # transiently): an outage, not the item's fault, so no attempt is counted.
        self.outage = False

    def __str__(self) -> str:
        status = f" HTTP {self.status_code}" if self.status_code is not None else ""
        return f"{self.provider} {self.endpoint}{status}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self):  # picklable across processes (Dagster, multiprocessing)
        return (
            _rebuild,
            (type(self), self.message, self.provider, self.endpoint, self.status_code, self.retriable, self.__dict__),
        )


def _rebuild(cls, message, provider, endpoint, status_code, retriable, state):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RateLimited(APIError):
    """429, or our own budget said no: ``retry_after`` is the wait the server asked for."""

    retriable_default = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class NotFound(APIError):
    """404, or a provider saying the account/match does not exist."""


class Unauthorized(APIError):
    """401/403: the key or token is bad; it is disabled, not retried."""


class BadRequest(APIError):
    """400: our request was wrong (an invalid id, say); retrying cannot help."""


class ServerError(APIError):
    """5xx from the provider."""

    retriable_default = True


class DetailsNotReady(ServerError):
    """Steam GetMatchDetails answered 500: no data yet. The two-phase sync leaves the stub
    pending without counting a retry."""

    retriable_default = False


class Redirected(APIError):
    """A 3xx: the base URL is not where the provider answers (http -> https, a moved host). The
    setting is wrong, not the item: no attempt counted, and the client sends nothing more."""


class RequestTimeout(APIError):
    retriable_default = True


class ConnectionFailed(APIError):
    """The connection dropped or could not be made (wrong URL, server down)."""

    retriable_default = True


class MalformedResponse(APIError):
    """The body is not the JSON we expect: invalid JSON, or a required field missing.

    ``excerpt`` holds the first characters of the body for the log.
    """

    retriable_default = True

    def __init__(self, message: str, *, excerpt: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.excerpt = redact(excerpt)


class UnsupportedOperation(APIError):
    """The provider has no endpoint for this call (e.g. bans outside the Steam Web API)."""


# What a failed fetch means for the item: the one rule the crawl applies to every error.
# - ``pending``: not the item's fault and no attempt counted: Steam's GetMatchDetails 500 "no data
#   yet"; a bad key or token, or a base URL that redirects (an operator fixes it before a re-run);
#   a rate limit or a spent daily
#   budget (the next window serves it); a provider that is down (every recent call failed with a
#   5xx, a timeout or a refused connection); a call the routed provider cannot make. The error is
#   still recorded, so a pending item with an error shows in status and checks.
# - ``give_up``: retrying cannot help (404 not found, 400 bad request): every attempt is spent.
# - ``retry``: counts one attempt; after three the item is recorded as failed for good.
PENDING, GIVE_UP, RETRY = "pending", "give_up", "retry"


def outcome_of(error: APIError) -> str:
    if isinstance(error, (DetailsNotReady, Unauthorized, Redirected, RateLimited, UnsupportedOperation)) or error.outage:
        return PENDING
    if isinstance(error, (NotFound, BadRequest)):
        return GIVE_UP
    return RETRY
