"""Configuration of the simulated world and of the server that serves it.

Everything that changes what the world *contains* (seed, population, rates) is separated
from what only changes how the server *behaves* (faults, limits, keys), so worlds can be
cached and shared between servers that differ only in behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

SEED_ACCOUNT_ID = 293053907  # the crawl's default seed; exists in every world

DEFAULT_STEAM_KEYS: tuple[str, ...] = ("sim-steam-key",)
# OpenDota keys are UUIDs (svc/web.ts rejects anything else with "Invalid API key format").
DEFAULT_OPENDOTA_KEYS: tuple[str, ...] = ("00000000-0000-4000-8000-00000000da7a",)
DEFAULT_STRATZ_TOKENS: tuple[str, ...] = ("eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ", "eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg")

FAULT_KINDS: tuple[str, ...] = (
    "http_500",
    "http_502",
    "http_503",
    "slow",
    "timeout",
    "truncated",
    "malformed",
    "drop",
)
DEFAULT_FAULT_MIX: Mapping[str, float] = {
    "http_500": 3.0,
    "http_502": 2.0,
    "http_503": 2.0,
    "slow": 2.0,
    "timeout": 1.0,
    "truncated": 1.0,
    "malformed": 1.0,
    "drop": 1.0,
}


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Server-side limits, defaults as the providers enforce them today.

    OpenDota (odota/core config.ts): 60/min (``NO_API_KEY_PER_MIN_LIMIT``) and 3000/day
    (``API_FREE_LIMIT``) per client address without a key, 300/min (``API_KEY_PER_MIN_LIMIT``)
    per key with one (no daily cap). Steam: 100,000 calls/day per key, and GetMatchHistoryBySequenceNum
    one call per 5 s ("limited to something like 1 request every 5 seconds", odota/core svc/scanner.ts;
    0 turns that pace off).
    Stratz: 20/s, 250/min, 2,000/h and 10,000/day per token.
    All windows are fixed windows aligned to the epoch (the minute, the UTC day, ...),
    the way OpenDota's Redis counters expire at the start of the next minute and day.
    """

    enabled: bool = True
    opendota_free_per_minute: int = 60
    opendota_free_per_day: int = 3000
    opendota_premium_per_minute: int = 300
    steam_per_day: int = 100_000
    steam_sequence_every_seconds: int = 5
    stratz_per_second: int = 20
    stratz_per_minute: int = 250
    stratz_per_hour: int = 2000
    stratz_per_day: int = 10_000


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Every knob of the simulator; ``World.generate`` reads the world fields only."""

    # --- world ---
    seed: int = 1
    accounts: int = 20_000
    matches: int | None = None  # None: 10 per account (≈100 games per account)
    rounds: int = 150  # matchmaking rounds over the timeline (at least 1.5x games per account)
    timeline_start: int = 1_719_792_000  # 2024-07-01T00:00:00Z
    timeline_days: int = 180
    smurf_rate: float = 0.03
    newbie_rate: float = 0.04
    climber_rate: float = 0.05
    private_rate: float = 0.05
    anonymous_rate: float = 0.01
    unknown_hero_rate: float = 0.003
    mixed_match_rate: float = 0.12
    # --- behaviour ---
    fault_rate: float = 0.0
    fault_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FAULT_MIX))
    latency_ms: float = 0.0  # mean added latency; jitter is uniform in [0.5, 1.5] x mean
    slow_ms: float = 1500.0
    timeout_s: float = 30.0
    # Steam GetMatchDetails answers 500 "{}" for every match since 2024 (ValveSoftware/Dota-2
    # #2715): off by default. Enabled, it works and fails with ``steam_details_error_rate``.
    steam_match_details_enabled: bool = False
    steam_details_error_rate: float = 0.0  # when enabled: share of calls answering 500 with "{}"
    # Stratz sits behind a filter that refuses clients whose User-Agent lacks "STRATZ_API".
    stratz_require_user_agent: bool = True
    stratz_max_aliases: int = 10  # aliased fields per GraphQL request before "too complex"
    stratz_max_ids: int = 100  # ids per players(steamAccountIds:) / matches(ids:) call
    rate_limits: RateLimits = field(default_factory=RateLimits)
    steam_keys: tuple[str, ...] = DEFAULT_STEAM_KEYS
    opendota_keys: tuple[str, ...] = DEFAULT_OPENDOTA_KEYS
    stratz_tokens: tuple[str, ...] = DEFAULT_STRATZ_TOKENS
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    # --- serving (never changes an answer, only how fast it comes) ---
    # Answers are pure functions of the world and the behaviour settings, so the encoded
    # bytes of each deterministic request are kept (LRU of at most ``response_cache_mb``) and
    # match content is derived in blocks of 32 neighbours (LRU of ``match_cache_blocks``).
    # Faults, limits, counters and per-request headers still apply to every request.
    # ``response_cache=False`` derives and encodes every answer again (the uncached path).
    response_cache: bool = True
    response_cache_mb: int = 64
    match_cache_blocks: int = 256

    WORLD_FIELDS = (
        "seed", "accounts", "matches", "rounds", "timeline_start", "timeline_days",
        "smurf_rate", "newbie_rate", "climber_rate", "private_rate", "anonymous_rate",
        "unknown_hero_rate", "mixed_match_rate",
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.accounts < 100:
            raise ValueError("accounts must be at least 100")
        if self.num_matches * 10 < self.accounts:
            raise ValueError("need at least one match slot per account (matches >= accounts / 10)")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        unknown = set(self.fault_mix) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if self.stratz_max_aliases < 0 or self.stratz_max_ids < 1:
            raise ValueError("stratz_max_aliases must be >= 0 and stratz_max_ids >= 1")
        if self.response_cache_mb < 0 or self.match_cache_blocks < 0:
            raise ValueError("response_cache_mb and match_cache_blocks must be >= 0")
        if not 0.0 < self.unknown_hero_rate <= 0.005:
            raise ValueError("unknown_hero_rate must be in (0, 0.005]")

    @property
    def num_matches(self) -> int:
        return self.matches if self.matches is not None else self.accounts * 10

    @property
    def effective_rounds(self) -> int:
        """Rounds actually played: an account plays once per round at most, so dense worlds need more."""
        return max(self.rounds, -(-15 * self.num_matches // self.accounts))

    def world_key(self) -> tuple[Any, ...]:
        """The fields that determine the world: equal keys mean identical worlds."""
        return tuple(getattr(self, name) for name in self.WORLD_FIELDS)

    def with_overrides(self, **overrides: Any) -> SimulatorConfig:
        """Copy with overrides; ``rate_limits`` may be a dict of RateLimits fields."""
        limits = overrides.get("rate_limits")
        if isinstance(limits, Mapping):
            overrides["rate_limits"] = replace(self.rate_limits, **limits)
        known = {f.name for f in fields(self)}
        bad = set(overrides) - known
        if bad:
            raise TypeError(f"unknown simulator options {sorted(bad)}")
        return replace(self, **overrides)
