"""What the gateway needs to know about a provider: who is calling and what limits apply.

Each dialect module (OpenDota, Steam, Stratz) implements this protocol so the gateway in
``server.py`` can authenticate, rate-limit and fault-inject uniformly while every error
still looks exactly like the provider's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from .ratelimit import Decision, Window

if TYPE_CHECKING:
    from .config import RateLimits, SimulatorConfig


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller as a provider sees it: a key/token or, without one, the client address."""

    identity: str  # what the limiter counts against (raw key or "ip:...")
    label: str  # what the stats page shows (keys redacted)
    tier: str  # "free", "premium", "key", "token"


class Dialect(Protocol):
    name: str

    def owns(self, path: str) -> bool: ...

    def routes(self) -> list[BaseRoute]: ...

    def authenticate(self, request: Request, config: SimulatorConfig) -> Principal | Response: ...

    def windows(self, principal: Principal, limits: RateLimits, endpoint: str = "") -> tuple[list[Window], bool]:
        """The windows to check for a call of ``endpoint`` ("GET /path") and whether refused calls still count."""
        ...

    def limited(self, principal: Principal, decision: Decision) -> Response: ...

    def headers(self, principal: Principal, decision: Decision) -> dict[str, str]: ...

    def server_error(self, status: int) -> Response: ...


def client_identity(request: Request) -> Principal:
    host = request.client.host if request.client else "unknown"
    return Principal(identity=f"ip:{host}", label=f"ip:{host}", tier="free")


def proxy_error_page(status: int) -> Response:
    """The HTML a CDN/load balancer sends (403 refusals, 502/503) in front of any of the providers."""
    title = {403: "Forbidden", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
    body = f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n<center><h1>{status} {title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return HTMLResponse(body, status_code=status)
