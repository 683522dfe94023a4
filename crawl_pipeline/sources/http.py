"""The one request path every provider shares: budget, credentials, retries, errors, redaction.

``ProviderHTTP.call`` waits for the shared rate budget of the next healthy credential, sends
the request, turns every outcome into a parsed result or a typed ``APIError``, counts it,
and retries what can be retried with full-jitter exponential backoff.

Redaction: credentials never enter a URL that httpx sees. Bearer tokens travel in a header
(httpx and httpcore do not log headers); a key that must be a query parameter (Steam's
``key=``) is added by ``_SecretParamTransport`` *below* the client, after httpx has built
the request it logs ("HTTP Request: GET <url>") and attaches to responses and errors. Only a
provider with such a key gets that transport (it copies each request to add the key); a
bearer-token provider's requests go to the connection pool as built.
Every error message and excerpt goes through ``settings.redact`` (every secret the process
holds, raw and URL-encoded) in ``APIError``: a provider echoing the request cannot leak a key.

Per request the path builds one ``httpx.Request`` from the parsed base URL and the headers made
once per credential (``httpx.Client.build_request`` parsed and merged the base URL, the default
headers and the cookies again on every call), skips the cookie jar unless the answer sets a
cookie, and parses JSON with orjson where it gives exactly what ``json.loads`` gives.

Every client's transport shares one SSL context per process (``tls_context``): httpx builds a new
one per transport otherwise (loading the CA bundle, about 30-70 ms), and a batch opens clients
per phase and provider.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson
import pydantic

from crawl_pipeline.sources.accounting import CONNECTION, MALFORMED, TIMEOUT, RequestAccounting
from crawl_pipeline.sources.errors import (
    APIError,
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    NotFound,
    RateLimited,
    Redirected,
    RequestTimeout,
    ServerError,
    Unauthorized,
)
from crawl_pipeline.sources.ratelimit import RateTier, SharedRateLimiter, WaitLine, bucket_name
from crawl_pipeline.sources.tokens import Credential, CredentialPool

log = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = "crawl_pipeline/0.1"
TRANSIENT = (ServerError, RequestTimeout, ConnectionFailed)
OUTAGE_QUIET = 10.0  # seconds without a success before failing calls count as an outage
EXCERPT_CHARS = 160
_SECRET_PARAM = "crawl_pipeline.secret_param"  # request extension: (name, Credential)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is retried.

    ``max_retries`` retries after the first attempt, each after a full-jitter delay
    (uniform in [0, min(max_delay, base_delay * 2**n)]) or the server's requested wait,
    whichever is longer. ``max_budget_wait`` caps how long a call waits for the shared
    budget before it gives up with ``RateLimited`` (so a daily cap surfaces instead of
    blocking a run for hours).
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_budget_wait: float = 90.0

    def delay(self, retry: int) -> float:
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2**retry))


@dataclass(frozen=True)
class HTTPSettings:
    """``timeout`` bounds each read, ``read_deadline`` a whole body (a trickling server), and
    ``max_body_bytes`` the body after decompression (a gzip bomb): past either the call fails
    like a timeout or a malformed answer, and is retried."""

    timeout: float = 15.0
    connect_timeout: float = 5.0
    max_connections: int = 32
    max_body_bytes: int = 16 * 1024 * 1024  # a page of 100 full matches is about 1 MiB
    read_deadline: float = 60.0


class Problem(Exception):
    """Raised by a parser to say what the provider meant: converted to ``kind`` with context."""

    def __init__(self, kind: type[APIError], message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


ErrorHook = Callable[[httpx.Response, str], "type[APIError] | None"]


class _SecretParamTransport(httpx.BaseTransport):
    """Adds a secret query parameter on the way out, below httpx's logging and errors."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        secret = request.extensions.get(_SECRET_PARAM)
        if secret is None:
            return self._inner.handle_request(request)
        name, credential = secret
        outgoing = httpx.Request(
            request.method,
            request.url.copy_add_param(name, credential.secret.reveal()),
            headers=request.headers,
            stream=request.stream,
            extensions={k: v for k, v in request.extensions.items() if k != _SECRET_PARAM},
        )
        return self._inner.handle_request(outgoing)

    def close(self) -> None:
        self._inner.close()


class _Cookies(httpx.Cookies):
    """The client's cookie jar, read only when an answer sets a cookie: httpx otherwise builds a
    ``urllib.request.Request`` per response just to find no ``Set-Cookie`` in it."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The SSL context every provider transport uses: httpx's default (certificates verified
    against certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as read when it is first
    built, host names checked), built once per process; an ``SSLContext`` is safe to share
    between connections and threads. httpcore sets the ALPN protocols on it for each connection:
    the same value while no transport enables HTTP/2; one that did would make every transport
    offer h2, so such a transport needs a context of its own."""
    return httpx.create_ssl_context()


class _Client(httpx.Client):
    """``httpx.Client`` with the jar above (everything else as httpx does it, logging included):
    httpx reads and sets its jar through the ``cookies`` property only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jar = _Cookies(kwargs.get("cookies"))

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


_JSON_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: maybe an integer past 64 bits


def parse_json(body: bytes) -> Any:
    """``json.loads(body)``, faster: orjson (C) where it gives the same value, else the standard
    parser. orjson refuses NaN, Infinity, lone surrogates and UTF-16 bodies (the standard parser
    takes them: it parses those) and turns an integer past 64 bits into a float (so a body with a
    run of 19 or more digits anywhere goes to the standard parser too). Raises ``ValueError``, also
    for JSON nested deeper than the standard parser can follow (``[[[[...]]]]``: a RecursionError
    there, which would otherwise escape as a bug)."""
    if body.translate(_JSON_DIGITS).find(_LONG_NUMBER) < 0:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except RecursionError:
        raise JSONTooDeep("nested too deeply to parse") from None


class JSONTooDeep(ValueError):
    """A body nested deeper than Python's JSON parser can follow: invalid JSON for our purposes."""


class ProviderHTTP:
    """HTTP for one provider: a pooled, thread-safe httpx.Client plus the shared call path.

    ``auth`` is ``"bearer"`` (Authorization header) or ``"query:<name>"`` (a query parameter
    added below httpx). ``error_hook(response, endpoint)`` lets a provider reclassify a
    status (OpenDota's 400 for a bad key, Steam's 500 for details not ready).
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        credentials: CredentialPool,
        *,
        tier: RateTier,
        rate_group: str,
        limiter: SharedRateLimiter | None,
        paces: Mapping[str, RateTier] | None = None,
        accounting: RequestAccounting,
        auth: str = "bearer",
        retry: RetryPolicy = RetryPolicy(),
        http: HTTPSettings = HTTPSettings(),
        error_hook: ErrorHook | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = USER_AGENT,
        url_variable: str | None = None,
    ) -> None:
        self.provider = provider
        # the setting an operator changes when the base URL is wrong (named in errors; the registry passes it)
        self.url_variable = url_variable
        self._redirected: Redirected | None = None  # a 3xx seen: nothing more is sent
        self.credentials = credentials
        self.tier = tier
        self.rate_group = rate_group
        # endpoint -> a pace of its own, kept in a bucket of its own, on top of ``tier`` (a call of
        # such an endpoint takes a permit of both: Steam's sequence feed also counts in the key's day)
        self.paces = dict(paces or {})
        self.retry = retry
        self._limiter = limiter
        self._wait_line = WaitLine()
        self._accounting = accounting
        self._http = http
        self._auth = auth
        self._error_hook = error_hook
        # A provider is down when its last ``outage_streak`` requests (one full retry cycle, across
        # all threads) failed transiently (5xx, timeout, connection), they were for more than one
        # item (distinct requests), and none succeeded for OUTAGE_QUIET seconds: its errors are then
        # outages, not the item's fault. A success that recent means the provider answers, and an
        # item failing alone spends its attempt, even with no success to compare (a re-run that
        # fetches only the item that keeps failing: its own retries are no sign of an outage).
        self._transient_streak = 0
        self._streak_requests: set[int] = set()  # the distinct requests (items) in the streak
        self._last_success = float("-inf")
        self.outage_streak = retry.max_retries + 1
        limits = httpx.Limits(max_connections=http.max_connections, max_keepalive_connections=http.max_connections)
        inner = transport or httpx.HTTPTransport(verify=tls_context(), limits=limits)
        self._client = _Client(
            base_url=base_url,
            # only a key sent as a query parameter needs adding below httpx; bearer tokens are headers
            transport=inner if auth == "bearer" else _SecretParamTransport(inner),
            timeout=httpx.Timeout(http.timeout, connect=http.connect_timeout),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        # what build_request merges into every request, computed once
        base = str(self._client.base_url)  # its path ends in "/" (httpx adds it), a bare "/" is not printed
        self._base = base if base.endswith("/") else base + "/"
        self._timeout = self._client.timeout.as_dict()
        self._headers: dict[Credential, list[tuple[str, str]]] = {}

    def __repr__(self) -> str:
        return f"ProviderHTTP({self.provider}, {self._client.base_url}, {self.credentials!r})"

    def budget_wait(self, endpoint: str | None = None) -> float:
        """Seconds until some healthy key of this provider has a permit, for ``endpoint`` when it
        has a pace of its own (inf: no usable key)."""
        healthy = self.credentials.healthy()
        if not healthy:
            return float("inf")
        limiter = self._limiter
        if limiter is None:
            return 0.0
        pace = self.paces.get(endpoint) if endpoint else None

        def wait(credential: Credential) -> float:
            own = limiter.peek(self.bucket(credential), self.tier)
            return max(own, limiter.peek(self.pace_bucket(endpoint, credential), pace)) if pace and endpoint else own

        return min(wait(c) for c in healthy)

    def bucket(self, credential: Credential) -> str:
        return bucket_name(self.provider, self.rate_group, credential.fingerprint)

    def pace_bucket(self, endpoint: str, credential: Credential) -> str:
        """The bucket of an endpoint's own pace (``steam:matches_by_sequence:<fingerprint>``)."""
        return bucket_name(self.provider, endpoint, credential.fingerprint)

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ the call path
    def call(
        self,
        endpoint: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        max_retries: int | None = None,
    ) -> T:
        """Send, parse and return; raise a typed ``APIError`` once retries are spent."""
        retries_left = self.retry.max_retries if max_retries is None else max_retries
        retry = 0
        if self._redirected is not None:  # the base URL is wrong: every call would be redirected too
            seen = self._redirected
            raise Redirected(
                f"not sent: an earlier {seen.endpoint} call got HTTP {seen.status_code}, {seen.message}",
                provider=self.provider, endpoint=endpoint,
            )
        while True:
            credential, granted_at = self._acquire(endpoint)
            request = self._request(method, path, params, json_body, credential)
            pace = self.paces.get(endpoint)
            if self._limiter is not None and not all(
                self._limiter.still_in_window(tier, granted_at) for tier in (self.tier, pace) if tier
            ):
                # descheduled past the permit's window: it would count in the next one
                self._limiter.give_back(self.bucket(credential), self.tier, granted_at)
                if pace:
                    self._limiter.give_back(self.pace_bucket(endpoint, credential), pace, granted_at)
                continue
            started = time.monotonic()
            status: int | str
            try:
                response = self._receive(request, endpoint)
                status = response.status_code
                result = self._interpret(response, endpoint, parse, credential)
                if isinstance(result, _Malformed):
                    status, result = MALFORMED, result.error
            except _BodyTooLarge as exc:
                status, result = MALFORMED, MalformedResponse(str(exc), provider=self.provider, endpoint=endpoint)
            except (_BadEncoding, httpx.DecodingError) as exc:  # retried like any other malformed body
                bad = exc if isinstance(exc, _BadEncoding) else _BadEncoding(exc)
                status, result = MALFORMED, MalformedResponse(
                    str(bad), provider=self.provider, endpoint=endpoint, status_code=bad.status_code
                )
            except httpx.TimeoutException as exc:
                status, result = TIMEOUT, RequestTimeout(self._where(exc), provider=self.provider, endpoint=endpoint)
            except httpx.TransportError as exc:
                status, result = CONNECTION, ConnectionFailed(self._where(exc), provider=self.provider, endpoint=endpoint)
            self._accounting.record(self.provider, endpoint, status, time.monotonic() - started)
            if isinstance(result, TRANSIENT):
                self._transient_streak += 1
                self._streak_requests.add(_request_key(method, path, params, json_body))
            elif not isinstance(result, RateLimited):
                self._transient_streak = 0
                self._streak_requests = set()
                self._last_success = time.monotonic()
            if not isinstance(result, APIError):
                return result
            error = result
            if isinstance(error, Unauthorized):
                self.credentials.disable(credential, f"HTTP {error.status_code}")
                if self.credentials.healthy():
                    continue  # another key may work: not a retry of the same request
                raise self._no_credential(endpoint, error.status_code)
            if isinstance(error, Redirected):
                self._redirected = error
            delay = self.retry.delay(retry)
            if isinstance(error, RateLimited):
                delay = max(delay, error.retry_after or 0.0)
                error.retry_after = delay
                if self._limiter is not None:  # an endpoint with a pace of its own: its pace was exceeded
                    paced = self.pace_bucket(endpoint, credential) if endpoint in self.paces else self.bucket(credential)
                    self._limiter.record_backoff(paced, delay, f"HTTP 429 on {endpoint}")
                if delay > self.retry.max_budget_wait:  # a daily cap: say so instead of sleeping for hours
                    raise error
            if not error.retriable or retries_left <= 0:
                error.outage = (
                    isinstance(error, TRANSIENT)
                    and self._transient_streak >= self.outage_streak
                    and len(self._streak_requests) > 1
                    and time.monotonic() - self._last_success > OUTAGE_QUIET
                )
                raise error
            log.info("%s %s: %s; retry %d in %.1fs", self.provider, endpoint, type(error).__name__, retry + 1, delay)
            self._accounting.record_retry()
            retries_left -= 1
            retry += 1
            time.sleep(delay)

    def _receive(self, request: httpx.Request, endpoint: str) -> httpx.Response:
        """Send and read the body within ``max_body_bytes`` (decompressed) and ``read_deadline``."""
        response = self._client.send(request, stream=True)
        try:
            body = bytearray()
            deadline = time.monotonic() + self._http.read_deadline
            try:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._http.max_body_bytes:
                        raise _BodyTooLarge(self._http.max_body_bytes)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout(f"body not read within {self._http.read_deadline:.0f}s", request=request)
            except httpx.DecodingError as exc:  # Content-Encoding: gzip on a body that is not (a proxy, a CDN)
                raise _BadEncoding(exc, response) from None
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    def _acquire(self, endpoint: str) -> tuple[Credential, float]:
        """The next healthy credential with a permit in its budget, and the budget's time just
        before the permit was granted (0.0 without a budget). A call that finds none free, or other
        threads of this client already waiting, waits in line behind them."""
        limiter = self._limiter
        if limiter is None:
            healthy = self.credentials.healthy()
            if not healthy:
                raise self._no_credential(endpoint, None)
            return healthy[0], 0.0
        if not self._wait_line:  # nobody waiting: a free permit needs no place in line
            got = self._try_permit(limiter, endpoint)
            if isinstance(got, tuple):
                return got
        deadline = time.monotonic() + self.retry.max_budget_wait
        with self._wait_line.turn(self.retry.max_budget_wait) as ahead:
            if ahead is not None:
                raise RateLimited(
                    f"shared rate budget ({self._describe_budget(endpoint)}) had no permit within "
                    f"{self.retry.max_budget_wait:.0f}s: {ahead} calls still ahead in line",
                    provider=self.provider,
                    endpoint=endpoint,
                    retry_after=self.budget_wait(endpoint),
                )
            while True:
                got = self._try_permit(limiter, endpoint)
                if isinstance(got, tuple):
                    return got
                wait = got
                if time.monotonic() + wait > deadline:
                    raise RateLimited(
                        f"shared rate budget ({self._describe_budget(endpoint)}) has no permit for {wait:.1f}s",
                        provider=self.provider,
                        endpoint=endpoint,
                        retry_after=wait,
                    )
                time.sleep(wait)

    def _try_permit(self, limiter: SharedRateLimiter, endpoint: str) -> tuple[Credential, float] | float:
        """A healthy credential whose budget granted a permit and the budget's time read before it
        asked, or else the shortest wait. The time is read first so that ``still_in_window`` errs
        one way only: a thread descheduled after the grant cannot send a permit counted in one
        window in a later one (a time read after the grant would be the later window's); at worst
        a permit granted just after a window began is given up."""
        healthy = self.credentials.healthy()
        if not healthy:
            raise self._no_credential(endpoint, None)
        asked_at = limiter.now()
        pace = self.paces.get(endpoint)
        waits = []
        for credential in healthy:
            if pace is not None:  # the endpoint's own pace first: it is the scarcer of the two
                wait = limiter.try_acquire(self.pace_bucket(endpoint, credential), pace)
                if wait > 0.0:
                    waits.append(wait)
                    continue
            wait = limiter.try_acquire(self.bucket(credential), self.tier)
            if wait == 0.0:
                return credential, asked_at
            if pace is not None:  # the key's own budget has none: the pace's permit goes back unused
                limiter.give_back(self.pace_bucket(endpoint, credential), pace, asked_at)
            waits.append(wait)
        return min(waits)

    def _describe_budget(self, endpoint: str) -> str:
        pace = self.paces.get(endpoint)
        return self.tier.describe() + (f"; {endpoint} also {pace.describe()}" if pace else "")

    def _no_credential(self, endpoint: str, status: int | None) -> Unauthorized:
        reasons = "; ".join(self.credentials.disabled()) or "none configured"
        return Unauthorized(f"no usable key or token ({reasons})", provider=self.provider, endpoint=endpoint, status_code=status)

    def _request(
        self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any, credential: Credential
    ) -> httpx.Request:
        """The request ``httpx.Client.build_request`` would build (base URL joined as httpx joins a
        relative path, the client's headers, its timeouts), without re-parsing what never changes."""
        extensions: dict[str, Any] = {"timeout": self._timeout}
        if credential.secret is not None and self._auth != "bearer":
            extensions[_SECRET_PARAM] = (self._auth.removeprefix("query:"), credential)
        if self._client.cookies or "://" in path:  # a cookie to send, or an absolute URL: httpx's own way
            request = self._client.build_request(
                method, path, params=params, json=json_body, headers=self._auth_header(credential)
            )
            request.extensions.update(extensions)
            return request
        return httpx.Request(
            method, self._base + path.lstrip("/"), params=params, json=json_body,
            headers=self._headers_for(credential), extensions=extensions,
        )

    def _auth_header(self, credential: Credential) -> dict[str, str]:
        if credential.secret is not None and self._auth == "bearer":
            return {"Authorization": f"Bearer {credential.secret.reveal()}"}
        return {}

    def _headers_for(self, credential: Credential) -> list[tuple[str, str]]:
        """The client's default headers plus the credential's bearer header, made once per credential."""
        headers = self._headers.get(credential)
        if headers is None:
            merged = self._client.headers.copy()
            merged.update(self._auth_header(credential))
            headers = self._headers[credential] = list(merged.multi_items())
        return headers

    def _interpret(
        self, response: httpx.Response, endpoint: str, parse: Callable[[Any], T], credential: Credential
    ) -> T | APIError | _Malformed:
        status = response.status_code
        context = {"provider": self.provider, "endpoint": endpoint, "status_code": status}
        if 300 <= status < 400:  # never followed: a key in the query would go wherever it points
            return Redirected(self._redirect_message(response), **context)
        hooked = self._error_hook(response, endpoint) if self._error_hook else None
        if hooked is not None:
            return hooked(_server_message(response), **context)
        if status == 429:
            return RateLimited(_server_message(response), retry_after=retry_after(response.headers), **context)
        if status in (401, 403):
            return Unauthorized(
                f"{credential.label} was rejected: {_server_message(response)}; it is disabled", **context
            )
        if status == 404:
            return NotFound(_server_message(response), **context)
        if status >= 500:
            return ServerError(_server_message(response), **context)
        if status >= 400:
            return BadRequest(_server_message(response), **context)
        self._pause_if_exhausted(response, credential)
        try:
            payload = parse_json(response.content)
        except ValueError as exc:
            reason = f"body is not valid JSON ({exc})" if isinstance(exc, JSONTooDeep) else "body is not valid JSON"
            return _Malformed(MalformedResponse(reason, excerpt=_excerpt(response), **context))
        try:
            return parse(payload)
        except Problem as problem:
            return problem.kind(problem.message, **context)
        except pydantic.ValidationError as exc:
            return _Malformed(
                MalformedResponse(validation_message(exc), excerpt=_excerpt(response), **context)
            )
        except (TypeError, KeyError, AttributeError, IndexError) as exc:
            # JSON of the wrong shape where the parser walks it by hand (a number where a list
            # belongs): the provider's fault, reported like any other malformed body.
            return _Malformed(
                MalformedResponse(
                    f"JSON of an unexpected shape ({type(exc).__name__}: {exc})", excerpt=_excerpt(response), **context
                )
            )

    def _where(self, exc: httpx.TransportError) -> str:
        """A transport error with the address it concerns: "cannot connect to http://127.0.0.1:9
        (STEAM_API_URL): ConnectError: ...". Scheme, host and port only (never a path or query)."""
        url = self._client.base_url
        host = f"[{url.host}]" if ":" in url.host else url.host
        address = f"{url.scheme}://{host}" + (f":{url.port}" if url.port is not None else "")
        if self.url_variable:
            address += f" ({self.url_variable})"
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            doing = f"cannot connect to {address}"
        elif isinstance(exc, httpx.TimeoutException):
            doing = f"timed out waiting for {address}"
        else:
            doing = f"connection to {address} failed"
        return f"{doing}: {_describe(exc)}"

    def _redirect_message(self, response: httpx.Response) -> str:
        setting = self.url_variable or "the provider's base URL"
        location = response.headers.get("location")
        if not location:
            return f"redirected without a Location: set {setting} to the provider's address"
        return f"redirected to {_display_url(response.request.url, location)}: set {setting} to the new address"

    def _pause_if_exhausted(self, response: httpx.Response, credential: Credential) -> None:
        """Follow the server's count: any remaining count lower than ours, and any window limit it
        advertises below the tier's (Stratz), is what the next lease trusts; a success that says
        'remaining 0' pauses the bucket until that window resets."""
        if self._limiter is None:
            return
        remaining = remaining_counts(response.headers)
        if remaining:
            self._limiter.observe_remaining(self.bucket(credential), self.tier, remaining, limit_counts(response.headers))
        wait = exhausted_wait(response.headers)
        if wait:
            self._limiter.record_backoff(self.bucket(credential), wait, "provider reported 0 calls remaining")


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit:,} bytes after decompression; not read further")


class _BadEncoding(Exception):
    """A body that is not what its ``Content-Encoding`` says (gzip that is not gzip): httpx raises
    ``DecodingError`` while reading it (or while a transport builds the response: no status then)."""

    def __init__(self, error: httpx.DecodingError, response: httpx.Response | None = None) -> None:
        encoding = response.headers.get("content-encoding", "?")[:40] if response is not None else None
        says = f"its Content-Encoding ({encoding})" if encoding else "its Content-Encoding"
        super().__init__(f"body does not decode as {says} says: {_describe(error)}")
        self.status_code = response.status_code if response is not None else None


@dataclass(frozen=True)
class _Malformed:
    error: MalformedResponse


# OpenDota spells them X-Rate-Limit-Remaining-*, Stratz X-RateLimit-Remaining-* (docs/providers.md);
# Stratz (Kong) also sends each window's limit, X-RateLimit-Limit-*.
_WINDOWS = (("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1))
_REMAINING_HEADERS = tuple(
    (f"{prefix}-{name}", seconds) for name, seconds in _WINDOWS for prefix in ("x-rate-limit-remaining", "x-ratelimit-remaining")
)
_LIMIT_HEADERS = tuple(
    (f"{prefix}-{name}", seconds) for name, seconds in _WINDOWS for prefix in ("x-rate-limit-limit", "x-ratelimit-limit")
)


def _window_counts(headers: httpx.Headers, names: tuple[tuple[str, int], ...]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for name, seconds in names:
        raw = headers.get(name)
        if raw is not None:
            try:
                counts[seconds] = int(raw)
            except ValueError:
                continue
    return counts


def remaining_counts(headers: httpx.Headers) -> dict[int, int]:
    """``{window seconds: calls remaining}`` from the ``X-Rate-Limit-Remaining-*`` headers."""
    return _window_counts(headers, _REMAINING_HEADERS)


def limit_counts(headers: httpx.Headers) -> dict[int, int]:
    """``{window seconds: the server's limit}`` from the ``X-RateLimit-Limit-*`` headers."""
    return _window_counts(headers, _LIMIT_HEADERS)


def exhausted_wait(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds until the longest window whose ``X-Rate-Limit-Remaining-*`` is <= 0 resets."""
    now = time.time() if now is None else now
    for name, seconds in _REMAINING_HEADERS:
        raw = headers.get(name)
        try:
            if raw is not None and int(raw) <= 0:
                return (int(now // seconds) + 1) * seconds - now
        except ValueError:
            continue
    return None


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """The server's wait: ``Retry-After`` (seconds or HTTP date), else the remaining headers."""
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(raw).timestamp() - (time.time() if now is None else now))
            except (TypeError, ValueError):
                pass
    return exhausted_wait(headers, now)


def _server_message(response: httpx.Response) -> str:
    """The provider's own error text (JSON ``error``/``errors[0].message``) or the status phrase."""
    try:
        body = parse_json(response.content)
    except ValueError:  # JSONTooDeep included
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            return body["error"][:200]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))[:200]
    return response.reason_phrase or f"HTTP {response.status_code}"


def _excerpt(response: httpx.Response) -> str:
    return response.content[:EXCERPT_CHARS].decode("utf-8", errors="replace")


def validation_message(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"required field {where or 'body'!r} is missing"
    if not where:  # a rule over the whole record (players in slots of their own, wins within matches)
        return f"the record's fields disagree: {first['msg'].removeprefix('Value error, ')}"
    return f"field {where!r}: {first['msg']}"


def _request_key(method: str, path: str, params: Mapping[str, Any] | None, json_body: Any) -> int:
    """Which request (and so which item or group of items) a call is, for the outage rule."""
    return hash((method, path, repr(params), repr(json_body)))


def _display_url(base: httpx.URL, location: str) -> str:
    """``location`` (resolved against ``base``) as it may be printed: scheme, host, port and path,
    never its userinfo or query (a redirect copies our query, and Steam's key travels in it); a
    query or fragment left out is shown as ``?…``."""
    try:
        url = base.join(location.strip())
    except (httpx.InvalidURL, ValueError):
        return "an address that is not a valid URL"
    port = f":{url.port}" if url.port is not None else ""
    hidden = "?…" if url.query or url.fragment else ""
    return f"{url.scheme}://{url.host}{port}{url.path[:200]}{hidden}"


def _describe(exc: httpx.HTTPError) -> str:
    """A transport error without its request (whose URL we never want in a message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
