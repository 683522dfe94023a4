"""What a provider module declares about itself, once: ``SPEC = ProviderSpec(...)`` at its end.

The registry (which provider serves which call, how each client is built), the rate tiers, the
``fetch --source`` choices and the metrics' provider labels are all read from these specs.
Environment variables are read in ``settings.py`` (the one place), and the Dagster resource keeps
explicit fields so the UI shows them; ``crawl_pipeline_tests/sources_tests/test_provider_specs.py``
checks both against every spec, so a new provider cannot be half wired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.http import USER_AGENT
from crawl_pipeline.sources.ratelimit import RateTier

ErrorHook = Callable[[httpx.Response, str], type[APIError] | None]


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    client: type  # a BaseSource subclass built as client(http, **client_options(config))
    calls: frozenset[str]  # the call families it serves (registry.CALLS)
    default_url: str
    url_variable: str  # the environment variable of its base URL
    credential_variable: str  # ... and of its key(s) or token(s)
    credential_kind: str  # "key" or "token": how labels name them
    auth: str  # "bearer" or "query:<parameter>"
    rate_group: str  # the endpoint group its budget is kept under
    tiers: tuple[RateTier, ...]  # its documented tiers, each named "<provider>-<tier>" or "<provider>"
    error_hook: ErrorHook
    anonymous_allowed: bool = False  # serves calls without any key (OpenDota's free tier)
    several_credentials: bool = False  # the variable holds a comma-separated list (a token pool)
    check_credential: Callable[[str, str], None] | None = None  # (value, where) -> raises SettingsError
    keyed_tier: str | None = None  # the tier once a key is configured (else the first tier)
    user_agent: str = USER_AGENT
    # endpoints with a pace of their own on top of the tier, each in a bucket of its own (Steam's
    # sequence feed); the tier's name with "_" for "-" is its rate_limits key ("steam_sequence")
    paces: Mapping[str, RateTier] = field(default_factory=dict)
    # keyword arguments of the client from the SourcesConfig (e.g. Steam's GetMatchDetails switch)
    client_options: Callable[[Any], dict[str, Any]] = field(default=lambda config: {})

    @property
    def url_field(self) -> str:
        """The Settings and ProvidersResource field of the base URL (the variable, lower case)."""
        return self.url_variable.lower()

    @property
    def credential_field(self) -> str:
        return self.credential_variable.lower()

    def credentials(self, value: str | None, where: str) -> tuple[str, ...]:
        """The key(s) or token(s) in ``value`` (checked), empty when unset."""
        raw = (value or "").strip()
        values = tuple(v.strip() for v in raw.split(",") if v.strip()) if self.several_credentials else ((raw,) if raw else ())
        if self.check_credential is not None:
            for v in values:
                self.check_credential(v, where)
        return values

    def default_tier(self, keyed: bool) -> RateTier:
        name = self.keyed_tier if keyed and self.keyed_tier else self.tiers[0].name
        return next(t for t in self.tiers if t.name == name)
