"""``ProvidersResource``: which provider serves which call, with keys shown only as EnvVar names.

Assets open the clients per step with the shared database, so every process and run
draws on the same rate budget in PostgreSQL::

    with providers.open_sources(postgres.db) as sources:
        for match_id, result in sources.fetch_concurrently(sources.for_call("match_details").match_details, ids):
            ...
        context.add_output_metadata(sources.snapshot())
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import (
    DEFAULT_OPENDOTA_API_URL,
    DEFAULT_STEAM_API_URL,
    DEFAULT_STRATZ_API_URL,
    Secret,
    Settings,
)
from crawl_pipeline.sources.http import HTTPSettings, RetryPolicy
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import (
    SPECS,
    ProviderConfig,
    Sources,
    SourcesConfig,
    open_sources,
    paces_of,
    tier_of,
)

_CALL_HELP = "Provider serving {}: auto (the cheapest with budget left), opendota, steam or stratz."


class ProvidersResource(ConfigurableResource):
    """The OpenDota, Steam and Stratz clients behind one shared rate budget."""

    opendota_api_url: str = Field(default=DEFAULT_OPENDOTA_API_URL, description="OpenDota base URL (OPENDOTA_API_URL).")
    opendota_api_key: str | None = Field(default=None, description="OpenDota premium key; unset: the free tier.")
    steam_api_url: str = Field(default=DEFAULT_STEAM_API_URL, description="Steam Web API base URL (STEAM_API_URL).")
    steam_api_key: str | None = Field(default=None, description="Steam Web API key (STEAM_API_KEY).")
    stratz_api_url: str = Field(default=DEFAULT_STRATZ_API_URL, description="Stratz base URL (STRATZ_API_URL).")
    stratz_tokens: str | None = Field(default=None, description="Comma-separated Stratz tokens (STRATZ_TOKENS).")
    profiles: str = Field(default="auto", description=_CALL_HELP.format("player profiles"))
    hero_stats: str = Field(default="auto", description=_CALL_HELP.format("per-hero stats"))
    match_history: str = Field(default="auto", description=_CALL_HELP.format("match history pages"))
    match_details: str = Field(default="auto", description=_CALL_HELP.format("match details"))
    bans: str = Field(default="auto", description="Provider serving ban checks (only steam has them).")
    opendota_tier: str = Field(
        default="auto",
        description="auto (premium with a key), free (60/min, 3,000/day) or premium (300/min) (OPENDOTA_TIER).",
    )
    rate_limits: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description=(
            'Per-provider limits replacing the documented ones, e.g. {"stratz": {"per_second": 10, "per_minute": 200}} '
            "(OPENDOTA_RATE_LIMIT, STEAM_RATE_LIMIT, STRATZ_RATE_LIMIT as 60/minute,3000/day); "
            '"steam_sequence" replaces the sequence feed\'s own pace of 1 call per 5 s (STEAM_SEQUENCE_RATE_LIMIT).'
        ),
    )
    steam_match_details: bool = Field(
        default=False,
        description=(
            "Ask Steam's GetMatchDetails (broken at Valve since 2024: 500 for every match) instead of "
            "GetMatchHistoryBySequenceNum (STEAM_MATCH_DETAILS)."
        ),
    )
    max_concurrency: int = Field(default=8, description="Threads fetching at once per step.")
    max_retries: int = Field(default=4, description="Retries of a retriable error before it is raised.")
    timeout_seconds: float = Field(default=15.0, description="Read timeout of one request.")

    @classmethod
    def from_settings(cls, settings: Settings, **fields: object) -> ProvidersResource:
        """URLs and keys as EnvVar when set in the environment (the UI shows the names only)."""
        env: dict[str, object] = {}
        for spec in SPECS.values():
            url = getattr(settings, spec.url_field)
            env[spec.url_field] = EnvVar(spec.url_variable) if url != spec.default_url else spec.default_url
            if getattr(settings, spec.credential_field):
                env[spec.credential_field] = EnvVar(spec.credential_variable)
        tiers = {
            "opendota_tier": settings.opendota_tier,
            "rate_limits": {p: dict(v) for p, v in settings.rate_limits.items()},
            "steam_match_details": settings.steam_match_details,
        }
        return cls(**{**env, **tiers, **fields})

    def _tier(self, provider: str) -> RateTier | None:
        return tier_of(provider, self.rate_limits.get(provider), self.opendota_tier)

    def sources_config(self) -> SourcesConfig:
        providers = {}
        for name, spec in SPECS.items():
            field = spec.credential_field
            keys = spec.credentials(getattr(self, field), f"ProvidersResource.{field}")
            providers[name] = ProviderConfig(
                getattr(self, spec.url_field).rstrip("/"), tuple(Secret(k) for k in keys), self._tier(name),
                paces_of(name, self.rate_limits),
            )
        return SourcesConfig(
            **providers,
            routes={
                "profiles": self.profiles,
                "hero_stats": self.hero_stats,
                "match_history": self.match_history,
                "match_details": self.match_details,
                "bans": self.bans,
            },
            retry=RetryPolicy(max_retries=self.max_retries),
            http=HTTPSettings(timeout=self.timeout_seconds, max_connections=2 * self.max_concurrency),
            max_concurrency=self.max_concurrency,
            steam_match_details=self.steam_match_details,
        )

    @contextmanager
    def open_sources(self, db: Database) -> Iterator[Sources]:
        """The clients for one step, sharing ``db``'s rate budget; closed (and flushed) after."""
        with open_sources(self.sources_config(), db) as sources:
            yield sources
