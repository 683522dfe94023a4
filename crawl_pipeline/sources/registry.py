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
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import HTTPSettings, ProviderHTTP, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier, SharedRateLimiter
from crawl_pipeline.sources.routing import RoutedSource
from crawl_pipeline.sources.spec import ProviderSpec
from crawl_pipeline.sources.tokens import CredentialPool

ItemT = TypeVar("ItemT")
R = TypeVar("R")

# Every provider, from the SPEC its module declares (sources/spec.py); the order is the planner's tie-break.
SPECS: Mapping[str, ProviderSpec] = MappingProxyType({s.name: s for s in (opendota.SPEC, steam.SPEC, stratz.SPEC)})
PROVIDERS: tuple[str, ...] = tuple(SPECS)
SUPPORTED: Mapping[str, frozenset[str]] = MappingProxyType({name: spec.calls for name, spec in SPECS.items()})
TIERS: Mapping[str, RateTier] = MappingProxyType({t.name: t for spec in SPECS.values() for t in spec.tiers})

CALLS = ("profiles", "hero_stats", "match_history", "match_details", "bans")
AUTO = "auto"  # the planner: every provider that serves the call and has a usable key, cheapest ready first
DEFAULT_ROUTES: Mapping[str, str] = MappingProxyType(dict.fromkeys(CALLS, AUTO))


@dataclass(frozen=True)
class ProviderConfig:
    """Where a provider is and with which keys; ``tier`` None means its documented default, and
    ``paces`` replace the documented paces of its endpoints (``ProviderSpec.paces``)."""

    base_url: str
    keys: tuple[Secret, ...] = ()
    tier: RateTier | None = None
    paces: Mapping[str, RateTier] = field(default_factory=dict)

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
        named = {"opendota": settings.opendota_tier}
        providers = {}
        for name, spec in SPECS.items():
            keys = getattr(settings, spec.credential_field)
            providers[name] = ProviderConfig(
                getattr(settings, spec.url_field), keys if isinstance(keys, tuple) else (keys,),
                tier_of(name, settings.rate_limits.get(name), named.get(name, "auto")),
                paces_of(name, settings.rate_limits),
            )
        return cls(**providers, **{"steam_match_details": settings.steam_match_details, **overrides})

    def provider(self, name: str) -> ProviderConfig:
        if name not in SPECS:
            raise ValueError(f"unknown provider {name!r}; choose one of {', '.join(PROVIDERS)}")
        return getattr(self, name)


def tier_of(provider: str, limits: Mapping[str, int] | None, named: str = "auto") -> RateTier | None:
    """The tier that replaces the documented one: explicit limits, else a named tier of the provider
    (``OPENDOTA_TIER=free``), else None (the documented default, see ``default_tier``)."""
    if limits:
        return RateTier.of(f"{provider}-custom", **limits)
    if named != "auto":
        names = [t.name.removeprefix(f"{provider}-") for t in SPECS[provider].tiers]
        if named not in names:
            raise ValueError(f"{provider} tier must be auto or one of {', '.join(names)}, not {named!r}")
        return TIERS[f"{provider}-{named}"]
    return None


def pace_key(pace: RateTier) -> str:
    """The ``rate_limits`` key (and, upper case with ``_RATE_LIMIT``, the variable) of a pace."""
    return pace.name.replace("-", "_")


def paces_of(provider: str, limits: Mapping[str, Mapping[str, int]]) -> dict[str, RateTier]:
    """The paces of ``provider``'s endpoints that ``limits`` replaces (keyed like ``steam_sequence``)."""
    return {
        endpoint: RateTier.of(f"{pace.name}-custom", **limits[pace_key(pace)])
        for endpoint, pace in SPECS[provider].paces.items() if limits.get(pace_key(pace))
    }


def default_tier(provider: str, config: ProviderConfig) -> RateTier:
    if config.tier is not None:
        return config.tier
    return SPECS[provider].default_tier(keyed=any(config.keys))


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
        paces={**spec.paces, **pconf.paces},
        accounting=accounting,
        auth=spec.auth,
        retry=config.retry,
        http=config.http,
        error_hook=spec.error_hook,
        transport=transport,
        user_agent=spec.user_agent,
        url_variable=spec.url_variable,
    )
    return spec.client(http, **spec.client_options(config))


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
