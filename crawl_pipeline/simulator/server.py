"""One HTTP server for all three dialects, with server-side limits, faults and counters.

Request path: dialect chosen by URL prefix -> credentials checked as that provider does
-> rate limits (per key/token, or per client address) -> deterministic fault draw ->
the dialect's handler. The handler is found among the dialect's own routes (the same
Starlette ``Route`` objects, same matching) and called inline on the event loop, without
Starlette's middleware stack and thread pool; answers of deterministic routes are kept as
encoded bytes (``ByteLRU``) keyed by method, path, query without credentials and body, so a
repeated request skips the handler. Everything before the handler (credentials, limits,
counters, faults, latency) and the per-request headers still happen on every request. The gateway runs *outside* Starlette's error middleware because a
dropped connection must not turn into a tidy 500: uvicorn closes the socket without a
response when the ASGI callable returns a value instead of None, which is how ``drop``
is produced (see ``DROP``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route, get_route_path
from starlette.types import Message, Receive, Scope, Send

from .cache import ByteLRU
from .config import SimulatorConfig
from .content import MatchStore
from .dialect import Dialect
from .faults import FaultInjector
from .opendota import OpenDotaDialect
from .ratelimit import FixedWindowLimiter
from .stats import SimulatorStats
from .steam import SteamDialect
from .stratz import StratzDialect
from .world import World

DROP = "simulator-drop-connection"  # returned to uvicorn: "should return None" -> socket closed
_NOISY = (
    "ASGI callable should return None",
    "ASGI callable returned without completing response",
    # Shutdown wakes every request the simulator holds on purpose (see SimulatorServer); a
    # client still uploading a body when the server stops must not print an ERROR either.
    "Cancel %s running task(s), timeout graceful shutdown exceeded",
)
_NUMBER = re.compile(r"/\d+(?=/|$)")
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _QuietInjectedFaults(logging.Filter):
    """Hide uvicorn's error lines for connections the simulator cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_NOISY)


def quiet_uvicorn_fault_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjectedFaults) for f in logger.filters):
        logger.addFilter(_QuietInjectedFaults())


class SimulatorRuntime:
    """Mutable server state shared by the gateway and the ``/_sim`` admin routes."""

    def __init__(self, world: World, config: SimulatorConfig) -> None:
        self.world = world
        self.config = config
        self.stats = SimulatorStats()
        self.limiter = FixedWindowLimiter()
        self.faults = FaultInjector(config.seed, config.fault_rate, config.fault_mix, config.latency_ms)
        self.store = MatchStore(world, blocks=0)
        self.responses = ByteLRU(0)
        self._size_caches(config)
        self.dialects: list[Dialect] = [
            OpenDotaDialect(world, self.store),
            SteamDialect(world, lambda: self.config, self.store),
            StratzDialect(world, lambda: self.config, self.store),
        ]
        self._lock = threading.Lock()
        self._stopping = False
        self._stop_events: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    async def pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server starts stopping; True if the whole time passed."""
        if self._stopping:
            return False
        loop = asyncio.get_running_loop()
        with self._lock:
            event = self._stop_events.setdefault(loop, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    def begin_shutdown(self) -> None:
        """Wake every request held by a slow/timeout fault so uvicorn can stop gracefully."""
        self._stopping = True
        with self._lock:
            events = list(self._stop_events.items())
        for loop, event in events:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def close(self) -> None:
        """Release what the dialects hold beyond a request (Stratz's query thread); after the server stopped."""
        for dialect in self.dialects:
            close = getattr(dialect, "close", None)
            if close is not None:
                close()

    def dialect_for(self, path: str) -> Dialect | None:
        return next((d for d in self.dialects if d.owns(path)), None)

    def reconfigure(self, **changes: Any) -> SimulatorConfig:
        """Change behaviour at runtime (faults, latency, limits, keys); the world stays."""
        with self._lock:
            world_changes = set(changes) & set(SimulatorConfig.WORLD_FIELDS)
            if world_changes:
                raise ValueError(f"cannot change world fields at runtime: {sorted(world_changes)}")
            config = self.config.with_overrides(**changes)
            self.faults.configure(config.fault_rate, config.fault_mix, config.latency_ms)
            self.config = config
            self._size_caches(config)  # answers may depend on the settings: nothing stale is served
            return config

    def _size_caches(self, config: SimulatorConfig) -> None:
        on = config.response_cache
        self.store.configure(config.match_cache_blocks if on else 0)
        self.responses = ByteLRU(config.response_cache_mb * 1024 * 1024 if on else 0)

    def reset(self) -> None:
        """Zero counters, rate-limit windows and fault attempt counters."""
        self.stats.reset()
        self.limiter.reset()
        self.faults.reset()

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "fault_rate": c.fault_rate,
            "fault_mix": dict(c.fault_mix),
            "latency_ms": c.latency_ms,
            "slow_ms": c.slow_ms,
            "timeout_s": c.timeout_s,
            "steam_match_details_enabled": c.steam_match_details_enabled,
            "steam_details_error_rate": c.steam_details_error_rate,
            "stratz_require_user_agent": c.stratz_require_user_agent,
            "stratz_max_aliases": c.stratz_max_aliases,
            "stratz_max_ids": c.stratz_max_ids,
            "rate_limits": {f: getattr(c.rate_limits, f) for f in c.rate_limits.__dataclass_fields__},
            "response_cache": c.response_cache,
            "response_cache_mb": c.response_cache_mb,
            "match_cache_blocks": c.match_cache_blocks,
        }

    def cache_stats(self) -> dict[str, Any]:
        """How the serving caches are doing (``/_sim/stats``)."""
        r, b = self.responses, self.store.blocks
        return {
            "responses": {"entries": len(r), "bytes": r.nbytes, "capacity_bytes": r.capacity, "hits": r.hits, "misses": r.misses},
            "match_blocks": {"entries": len(b), "capacity": b.size, "hits": b.hits, "misses": b.misses},
        }


@dataclass
class _Capture:
    """Collects a downstream response so a fault can cut it."""

    start: Message | None = None
    body: bytearray = field(default_factory=bytearray)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))


class SimulatorApp(Starlette):
    """The Starlette app plus the provider gateway in front of it."""

    def __init__(self, runtime: SimulatorRuntime) -> None:
        self.runtime = runtime
        routes = [route for d in runtime.dialects for route in d.routes()] + _admin_routes(runtime)
        super().__init__(routes=routes)
        self._dispatch = {d.name: _Dispatch(d) for d in runtime.dialects}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:  # type: ignore[override]
        inner = super().__call__
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            return await inner(scope, receive, send)
        dialect = self.runtime.dialect_for(scope["path"])
        if dialect is None:
            return await inner(scope, receive, send)
        return await self._gateway(dialect, scope, receive, send, inner)

    async def _serve(self, dialect: Dialect, request: Request, body: bytes, send: Send, inner: ASGIApp) -> None:
        """Answer with the dialect's handler, inline, or its kept bytes; Starlette for the rest."""
        scope, receive = request.scope, request.receive
        found = self._dispatch[dialect.name].find(scope)
        if found is None:  # 404/405/redirects exactly as Starlette answers them
            await inner(scope, receive, send)
            return
        endpoint, cacheable = found
        responses = self.runtime.responses
        key = None
        if cacheable and responses.capacity:
            key = (scope["method"], scope["path"], _without_credentials(scope.get("query_string", b"")), body)
            kept = responses.get(key)
            if kept is not None:
                status, headers, content = kept  # type: ignore[misc]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})
                return
        try:
            response = endpoint(request)
            if inspect.isawaitable(response):
                response = await response
        except Exception:
            await inner(scope, receive, send)
            return
        if key is not None and response.background is None:
            size = len(response.body) + len(key[1]) + len(key[2]) + len(key[3]) + 256
            # an exact-size copy: orjson's bytes sit in a larger allocation, kept ones would pin ~3x the memory
            responses.put(key, (response.status_code, response.raw_headers, bytes(memoryview(response.body))), size)
        await response(scope, receive, send)

    async def _gateway(self, dialect: Dialect, scope: Scope, receive: Receive, send: Send, inner: ASGIApp) -> Any:
        rt = self.runtime
        config = rt.config
        body = await _read_body(receive)
        replay = _replay(body)
        request = Request(scope, receive=replay)
        endpoint = f"{scope['method']} {_NUMBER.sub('/{id}', scope['path'].rstrip('/') or '/')}"
        extra_headers: dict[str, str] = {}

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                rt.stats.status(message["status"])
                if extra_headers:
                    message = {**message, "headers": list(message.get("headers", [])) + [
                        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items()
                    ]}  # fmt: skip
            await send(message)

        principal = dialect.authenticate(request, config)
        if isinstance(principal, Response):
            rt.stats.request(dialect.name, endpoint, "rejected-credentials")
            await principal(scope, replay, counted_send)
            return None
        rt.stats.request(dialect.name, endpoint, principal.label)

        if config.rate_limits.enabled:
            windows, count_rejected = dialect.windows(principal, config.rate_limits, endpoint)
            decision = rt.limiter.hit(f"{dialect.name}:{principal.identity}", windows, count_rejected)
            extra_headers.update(dialect.headers(principal, decision))
            if not decision.allowed:
                rt.stats.rate_limited(dialect.name)
                await dialect.limited(principal, decision)(scope, replay, counted_send)
                return None

        fate = rt.faults.decide(_fingerprint(scope, body))
        scope.setdefault("state", {})["sim_attempt"] = fate.attempt
        if fate.latency_s:
            await rt.pause(fate.latency_s)
        kind = fate.kind
        if kind is None:
            await self._serve(dialect, request, body, counted_send, inner)
            return None
        rt.stats.fault(kind)
        if kind.startswith("http_"):
            await dialect.server_error(int(kind[5:]))(scope, replay, counted_send)
            return None
        if kind == "drop":
            return DROP
        if kind in ("slow", "timeout"):
            if not await rt.pause(config.slow_ms / 1000.0 if kind == "slow" else config.timeout_s):
                return DROP  # the server is stopping: the client gave up long ago
            await self._serve(dialect, request, body, counted_send, inner)
            return None
        # truncated / malformed: render the real answer, then cut it
        capture = _Capture()
        await self._serve(dialect, request, body, capture.send, inner)
        assert capture.start is not None
        cut = bytes(capture.body[: max(1, int(len(capture.body) * fate.fraction))])
        declared = len(capture.body) if kind == "truncated" else len(cut)
        headers = [(k, v) for k, v in capture.start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(declared).encode()))
        await counted_send({**capture.start, "headers": headers})
        # "truncated" promises more bytes than it sends; returning leaves uvicorn to close the socket
        await send({"type": "http.response.body", "body": cut, "more_body": kind == "truncated"})
        return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that keeps the connection open
        return {"type": "http.disconnect"}

    return receive


class _Dispatch:
    """A dialect's routes, matched in order exactly as Starlette's router does (first full match)."""

    def __init__(self, dialect: Dialect) -> None:
        volatile = getattr(dialect, "volatile_endpoints", lambda: ())()
        self._routes: list[tuple[Route, bool]] = []
        for route in dialect.routes():
            if not isinstance(route, Route):
                raise TypeError(f"dialect {dialect.name} route {route!r} is not a starlette Route")
            self._routes.append((route, route.endpoint not in volatile))

    def find(self, scope: Scope) -> tuple[Callable[[Request], Any], bool] | None:
        """(endpoint, cacheable) of the first route fully matching ``scope``, which gets its path params."""
        path = get_route_path(scope)
        for route, cacheable in self._routes:
            if route.path_regex.match(path) is None:  # what Route.matches checks first
                continue
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return route.endpoint, cacheable
        return None


def _without_credentials(query: bytes) -> bytes:
    """The query string (order kept: ``project`` order matters) minus ``key=`` and ``api_key=``."""
    if b"key=" not in query:
        return query
    return b"&".join(part for part in query.split(b"&") if not part.startswith((b"key=", b"api_key=")))


def _fingerprint(scope: Scope, body: bytes) -> bytes:
    """Method, path, query without credentials, and body: what makes two requests 'the same'."""
    query = sorted(
        part for part in scope.get("query_string", b"").split(b"&") if part and not part.startswith((b"key=", b"api_key="))
    )
    return b"|".join([scope["method"].encode(), scope["path"].rstrip("/").encode(), b"&".join(query), body])


def _admin_routes(rt: SimulatorRuntime) -> list[Route]:
    def stats(request: Request) -> Response:
        return JSONResponse({**rt.stats.snapshot(), "world": rt.world.truth_summary(), "settings": rt.settings(),
                             "caches": rt.cache_stats()})  # fmt: skip

    def truth(request: Request) -> Response:
        everyone = request.query_params.get("all") in ("1", "true")
        return JSONResponse({**rt.world.truth_summary(), "accounts": rt.world.truth_rows(only_labelled=not everyone)})

    def reset(request: Request) -> Response:
        rt.reset()
        return JSONResponse({"ok": True})

    async def configure(request: Request) -> Response:
        try:
            changes = await request.json()
            rt.reconfigure(**changes)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(rt.settings())

    def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "accounts": rt.world.num_accounts, "matches": rt.world.num_matches})

    return [
        Route("/_sim/stats", stats),
        Route("/_sim/truth", truth),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/config", configure, methods=["POST"]),
        Route("/_sim/health", health),
    ]


def create_app(world: World, config: SimulatorConfig | None = None) -> SimulatorApp:
    """The ASGI app serving ``world`` in all three dialects (a Starlette subclass)."""
    return SimulatorApp(SimulatorRuntime(world, config or world.config))


class SimulatorServer(uvicorn.Server):
    """uvicorn's server, stopping quietly: held requests end before uvicorn waits for them."""

    def __init__(self, config: uvicorn.Config, runtime: SimulatorRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.runtime.begin_shutdown()
        await super().shutdown(sockets=sockets)
        self.runtime.close()


def server_for(app: SimulatorApp, **options: Any) -> SimulatorServer:
    """A quiet uvicorn server for ``app`` (``options`` go to ``uvicorn.Config``)."""
    quiet_uvicorn_fault_logs()
    settings: dict[str, Any] = {"http": "httptools", "lifespan": "off", "log_level": "warning", "access_log": False,
                                "timeout_graceful_shutdown": 5}  # fmt: skip
    return SimulatorServer(uvicorn.Config(app, **{**settings, **options}), app.runtime)


class SimulatorHandle:
    """A server running in a background thread; stop it with ``stop()`` or ``with``."""

    def __init__(self, app: SimulatorApp, server: SimulatorServer, thread: threading.Thread, host: str, port: int) -> None:
        self.app = app
        self.runtime = app.runtime
        self.world = app.runtime.world
        self._server = server
        self._thread = thread
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    @property
    def config(self) -> SimulatorConfig:
        return self.runtime.config

    def stats(self) -> dict[str, Any]:
        return self.runtime.stats.snapshot()

    def reset(self) -> None:
        self.runtime.reset()

    def configure(self, **changes: Any) -> SimulatorConfig:
        return self.runtime.reconfigure(**changes)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(config: SimulatorConfig | None = None, world: World | None = None) -> SimulatorHandle:
    """Start uvicorn on ``config.host`` (a free port unless ``config.port``) in a daemon thread.

    The socket is bound here, before the thread starts, so the port is known and no other
    process (parallel test workers) can take it in between.
    """
    config = config or (world.config if world else SimulatorConfig())
    world = world or World.generate(config)
    app = create_app(world, config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    port = sock.getsockname()[1]
    server = server_for(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"simulator:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("simulator server failed to start")
        time.sleep(0.01)
    return SimulatorHandle(app, server, thread, config.host, port)
