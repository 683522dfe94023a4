"""Which provider serves which call, and building the clients around one limiter and one ledger.

``SourcesConfig`` is plain data (built from ``Settings`` or from the Dagster resource);
``open_sources(config, db)`` yields a ``Sources`` whose clients share one
``SharedRateLimiter`` (the budget in PostgreSQL) and one ``RequestAccounting``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import httpx

from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret, Settings, check_provider_url
from crawl_pipeline.sources import opendota, steam, stratz
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.base import PROVIDERS
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import USER_AGENT, HTTPSettings, ProviderHTTP, RetryPolicy
from crawl_pipeline.sources.ratelimit import TIERS, RateTier, SharedRateLimiter
from crawl_pipeline.sources.routing import RoutedSource
from crawl_pipeline.sources.tokens import CredentialPool

ItemT = TypeVar("ItemT")
R = TypeVar("R")

CALLS = ("profiles", "hero_stats", "match_history", "match_details", "bans")
AUTO = "auto"  # the planner: every provider that serves the call and has a usable key, cheapest ready first
DEFAULT_ROUTES: Mapping[str, str] = MappingProxyType(dict.fromkeys(CALLS, AUTO))
SUPPORTED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "opendota": frozenset({"profiles", "hero_stats", "match_history", "match_details"}),
        "steam": frozenset({"match_history", "match_details", "bans"}),
        "stratz": frozenset({"profiles", "hero_stats", "match_history", "match_details"}),
    }
)


@dataclass(frozen=True)
class ProviderConfig:
    """Where a provider is and with which keys; ``tier`` None means its documented default."""

    base_url: str
    keys: tuple[Secret, ...] = ()
    tier: RateTier | None = None

    def __post_init__(self) -> None:
        # http(s), a host, no user:password@ (httpx would send it as Basic auth in place of the key)
        object.__setattr__(self, "base_url", check_provider_url("provider base URL", self.base_url))

    def __repr__(self) -> str:
        return f"ProviderConfig({self.base_url}, keys={len([k for k in self.keys if k])}, tier={self.tier and self.tier.name})"


@dataclass(frozen=True)
class SourcesConfig:
    opendota: ProviderConfig
    steam: ProviderConfig
    stratz: ProviderConfig
    routes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    http: HTTPSettings = field(default_factory=HTTPSettings)
    max_concurrency: int = 8
    accounting_flush_seconds: float = 10.0
    steam_match_details: bool = False  # GetMatchDetails instead of the sequence feed (broken at Valve since 2024)

    def __post_init__(self) -> None:
        unknown = set(self.routes) - set(CALLS)
        if unknown:
            raise ValueError(f"unknown calls {sorted(unknown)}; known: {', '.join(CALLS)}")
        for call, provider in self.routes.items():
            if provider == AUTO:
                continue
            if provider not in PROVIDERS:
                raise ValueError(f"{call}: unknown provider {provider!r}; choose auto or one of {', '.join(PROVIDERS)}")
            if call not in SUPPORTED[provider]:
                able = sorted(p for p, calls in SUPPORTED.items() if call in calls)
                raise ValueError(f"{provider} cannot serve {call}; use one of {', '.join(able)}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SourcesConfig:
        """URLs, keys and tiers from the environment; ``overrides`` replace any other field."""
        return cls(
            opendota=ProviderConfig(
                settings.opendota_api_url, (settings.opendota_api_key,),
                tier_of("opendota", settings.rate_limits.get("opendota"), settings.opendota_tier),
            ),
            steam=ProviderConfig(settings.steam_api_url, (settings.steam_api_key,), tier_of("steam", settings.rate_limits.get("steam"))),
            stratz=ProviderConfig(
                settings.stratz_api_url, settings.stratz_tokens, tier_of("stratz", settings.rate_limits.get("stratz"))
            ),
            **{"steam_match_details": settings.steam_match_details, **overrides},
        )

    def provider(self, name: str) -> ProviderConfig:
        return {"opendota": self.opendota, "steam": self.steam, "stratz": self.stratz}[name]


def tier_of(provider: str, limits: Mapping[str, int] | None, opendota_tier: str = "auto") -> RateTier | None:
    """The tier that replaces the documented one: explicit limits, else OpenDota's named tier, else None."""
    if limits:
        return RateTier.of(f"{provider}-custom", **limits)
    if provider == "opendota" and opendota_tier != "auto":
        if opendota_tier not in ("free", "premium"):
            raise ValueError(f"opendota tier must be auto, free or premium, not {opendota_tier!r}")
        return TIERS[f"opendota-{opendota_tier}"]
    return None


def default_tier(provider: str, config: ProviderConfig) -> RateTier:
    if config.tier is not None:
        return config.tier
    if provider == "opendota":
        return TIERS["opendota-premium" if any(config.keys) else "opendota-free"]
    return TIERS[provider]


@dataclass(frozen=True)
class ProviderSpec:
    """How to build one provider's client."""

    client: type[BaseSource]
    rate_group: str
    auth: str  # "bearer" or "query:<name>"
    credential_kind: str  # "key" or "token": how labels name them
    error_hook: Any
    anonymous_allowed: bool
    user_agent: str = USER_AGENT


SPECS: Mapping[str, ProviderSpec] = MappingProxyType(
    {
        "opendota": ProviderSpec(opendota.OpenDotaSource, opendota.RATE_GROUP, "bearer", "key", opendota.error_hook, True),
        "steam": ProviderSpec(steam.SteamSource, steam.RATE_GROUP, "query:key", "key", steam.error_hook, False),
        "stratz": ProviderSpec(
            stratz.StratzSource, stratz.RATE_GROUP, "bearer", "token", stratz.error_hook, False,
            user_agent=stratz.USER_AGENT,
        ),
    }
)


def build_source(
    provider: str,
    config: SourcesConfig,
    *,
    limiter: SharedRateLimiter | None,
    accounting: RequestAccounting,
    transport: httpx.BaseTransport | None = None,
) -> BaseSource:
    """One provider's client; ``transport`` replaces the network (unit tests of parsing only)."""
    spec = SPECS[provider]
    pconf = config.provider(provider)
    http = ProviderHTTP(
        provider,
        pconf.base_url,
        CredentialPool.from_secrets(provider, pconf.keys, spec.credential_kind, allow_anonymous=spec.anonymous_allowed),
        tier=default_tier(provider, pconf),
        rate_group=spec.rate_group,
        limiter=limiter,
        accounting=accounting,
        auth=spec.auth,
        retry=config.retry,
        http=config.http,
        error_hook=spec.error_hook,
        transport=transport,
        user_agent=spec.user_agent,
    )
    if spec.client is steam.SteamSource:
        return steam.SteamSource(http, use_match_details=config.steam_match_details)
    return spec.client(http)


class Sources:
    """The three clients, the routing of calls to them, and their shared accounting."""

    def __init__(self, config: SourcesConfig, db: Database | None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.limiter = SharedRateLimiter(db) if db is not None else None
        self.accounting = RequestAccounting(db, flush_every=config.accounting_flush_seconds)
        self._clients = {
            name: build_source(name, config, limiter=self.limiter, accounting=self.accounting, transport=transport)
            for name in PROVIDERS
        }
        self._routed: dict[str, RoutedSource] = {}

    def __repr__(self) -> str:
        return f"Sources(routes={dict(self.config.routes)}, limiter={self.limiter!r})"

    def provider(self, name: str) -> BaseSource:
        return self._clients[name]

    def for_call(self, call: str) -> BaseSource:
        """The client for ``profiles``, ``hero_stats``, ``match_history``, ``match_details`` or ``bans``:
        the configured provider, or (``auto``) the planner over every provider that can serve it."""
        if call not in CALLS:
            raise ValueError(f"unknown call {call!r}; known: {', '.join(CALLS)}")
        route = self.config.routes.get(call, DEFAULT_ROUTES[call])
        if route != AUTO:
            return self._clients[route]
        if call not in self._routed:
            able = [c for name, c in self._clients.items() if call in SUPPORTED[name] and c.http.credentials.healthy()]
            self._routed[call] = RoutedSource(call, able or [self._clients[n] for n in PROVIDERS if call in SUPPORTED[n]])
        return self._routed[call]

    def plan(self) -> dict[str, dict[str, int]]:
        """Where the planner sent items (``"profiles/stratz": 120``) and the requests it planned there."""
        items: dict[str, int] = {}
        requests: dict[str, int] = {}
        for call, routed in sorted(self._routed.items()):
            plan = routed.plan()
            items.update({f"{call}/{p}": n for p, n in sorted(plan["items"].items())})
            requests.update({f"{call}/{p}": n for p, n in sorted(plan["requests_planned"].items())})
        return {"plan_items": items, "plan_requests": requests}

    def fetch_concurrently(self, func: Callable[[ItemT], R], items: Iterable[ItemT]) -> Iterator[tuple[ItemT, R | APIError]]:
        return fetch_concurrently(func, items, self.config.max_concurrency)

    def disabled_credentials(self) -> list[str]:
        return [f"{name} {reason}" for name, client in self._clients.items() for reason in client.http.credentials.disabled()]

    def snapshot(self) -> dict[str, Any]:
        """Accounting totals plus disabled keys: ready for Dagster run metadata."""
        return {**self.accounting.snapshot(), "disabled_credentials": self.disabled_credentials(), **self.plan()}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        if self.limiter is not None:
            self.limiter.close()
        self.accounting.flush()


@contextmanager
def open_sources(
    config: SourcesConfig, db: Database | None, *, transport: httpx.BaseTransport | None = None
) -> Iterator[Sources]:
    """Sources for the block; closing flushes the accounting and returns unused permits."""
    sources = Sources(config, db, transport=transport)
    try:
        yield sources
    finally:
        sources.close()
