"""Which provider serves which call, and building the clients around one limiter and one ledger.

``SourcesConfig`` is plain data (built from ``Settings`` or from the Dagster resource);
``open_sources(config, db)`` yields a ``Sources`` whose clients share one
``SharedRateLimiter`` (the budget in PostgreSQL) and one ``RequestAccounting``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeVar

import httpx

from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret, Settings
from crawl_pipeline.sources import opendota, steam, stratz
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.base import PROVIDERS
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.concurrency import fetch_concurrently
from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import HTTPSettings, ProviderHTTP, RetryPolicy
from crawl_pipeline.sources.ratelimit import TIERS, RateTier, SharedRateLimiter
from crawl_pipeline.sources.tokens import CredentialPool

I = TypeVar("I")
R = TypeVar("R")

CALLS = ("profiles", "hero_stats", "match_history", "match_details", "bans")
DEFAULT_ROUTES: Mapping[str, str] = MappingProxyType(
    {"profiles": "opendota", "hero_stats": "opendota", "match_history": "opendota", "match_details": "opendota", "bans": "steam"}
)
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

    def __repr__(self) -> str:
        return f"ProviderConfig({self.base_url}, keys={len([k for k in self.keys if k])}, tier={self.tier and self.tier.name})"


@dataclass(frozen=True)
class SourcesConfig:
    opendota: ProviderConfig
    steam: ProviderConfig
    stratz: ProviderConfig
    routes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    retry: RetryPolicy = RetryPolicy()
    http: HTTPSettings = HTTPSettings()
    max_concurrency: int = 8
    accounting_flush_seconds: float = 10.0

    def __post_init__(self) -> None:
        unknown = set(self.routes) - set(CALLS)
        if unknown:
            raise ValueError(f"unknown calls {sorted(unknown)}; known: {', '.join(CALLS)}")
        for call, provider in self.routes.items():
            if provider not in PROVIDERS:
                raise ValueError(f"{call}: unknown provider {provider!r}; choose from {', '.join(PROVIDERS)}")
            if call not in SUPPORTED[provider]:
                able = sorted(p for p, calls in SUPPORTED.items() if call in calls)
                raise ValueError(f"{provider} cannot serve {call}; use one of {', '.join(able)}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SourcesConfig:
        """URLs and keys from the environment; ``overrides`` replace any other field."""
        return cls(
            opendota=ProviderConfig(settings.opendota_api_url, (settings.opendota_api_key,)),
            steam=ProviderConfig(settings.steam_api_url, (settings.steam_api_key,)),
            stratz=ProviderConfig(settings.stratz_api_url, settings.stratz_tokens),
            **overrides,
        )

    def provider(self, name: str) -> ProviderConfig:
        return {"opendota": self.opendota, "steam": self.steam, "stratz": self.stratz}[name]

    def with_provider(self, name: str, **changes: Any) -> SourcesConfig:
        return replace(self, **{name: replace(self.provider(name), **changes)})


def default_tier(provider: str, config: ProviderConfig) -> RateTier:
    if config.tier is not None:
        return config.tier
    if provider == "opendota":
        return TIERS["opendota-premium" if any(config.keys) else "opendota-free"]
    return TIERS[provider]


_CLIENTS: Mapping[str, tuple[type[BaseSource], str, str, str, Any, bool]] = MappingProxyType(
    {  # class, rate group, auth style, credential kind, error hook, anonymous allowed
        "opendota": (opendota.OpenDotaSource, opendota.RATE_GROUP, "bearer", "key", opendota.error_hook, True),
        "steam": (steam.SteamSource, steam.RATE_GROUP, "query:key", "key", steam.error_hook, False),
        "stratz": (stratz.StratzSource, stratz.RATE_GROUP, "bearer", "token", None, False),
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
    cls, group, auth, kind, hook, anonymous = _CLIENTS[provider]
    pconf = config.provider(provider)
    http = ProviderHTTP(
        provider,
        pconf.base_url,
        CredentialPool.from_secrets(provider, pconf.keys, kind, allow_anonymous=anonymous),
        tier=default_tier(provider, pconf),
        rate_group=group,
        limiter=limiter,
        accounting=accounting,
        auth=auth,
        retry=config.retry,
        http=config.http,
        error_hook=hook,
        transport=transport,
    )
    return cls(http)


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

    def __repr__(self) -> str:
        return f"Sources(routes={dict(self.config.routes)}, limiter={self.limiter!r})"

    def provider(self, name: str) -> BaseSource:
        return self._clients[name]

    def for_call(self, call: str) -> BaseSource:
        """The client configured for ``profiles``, ``hero_stats``, ``match_history``, ``match_details`` or ``bans``."""
        if call not in CALLS:
            raise ValueError(f"unknown call {call!r}; known: {', '.join(CALLS)}")
        return self._clients[self.config.routes.get(call, DEFAULT_ROUTES[call])]

    def fetch_concurrently(self, func: Callable[[I], R], items: Iterable[I]) -> Iterator[tuple[I, R | APIError]]:
        return fetch_concurrently(func, items, self.config.max_concurrency)

    def disabled_credentials(self) -> list[str]:
        return [f"{name} {reason}" for name, client in self._clients.items() for reason in client.http.credentials.disabled()]

    def snapshot(self) -> dict[str, Any]:
        """Accounting totals plus disabled keys: ready for Dagster run metadata."""
        return {**self.accounting.snapshot(), "disabled_credentials": self.disabled_credentials()}

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
