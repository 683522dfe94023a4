"""Every environment variable the project reads, read in this one place.

Base URLs default to the real providers; ``crawl-pipeline demo`` points them at the
built-in simulator. Secrets are wrapped in :class:`Secret` so that a repr, a log line
or Dagster metadata never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_OPENDOTA_API_URL = "https://api.opendota.com"
DEFAULT_STEAM_API_URL = "https://api.steampowered.com"
DEFAULT_STRATZ_API_URL = "https://api.stratz.com"
DEFAULT_SEED_ACCOUNT_ID = 293053907


class Secret:
    """A string that never shows itself in repr/str; call ``reveal()`` where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _ids(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    from crawl_pipeline.domain.identity import parse_account_id

    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return tuple(parse_account_id(part) for part in raw.replace(",", " ").split())
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={value!r} must start with http:// or https://")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = field(repr=False)  # may hold a password
    dagster_postgres_url: str | None = field(repr=False)
    duckdb_path: Path
    dagster_home: Path
    opendota_api_url: str = DEFAULT_OPENDOTA_API_URL
    opendota_api_key: Secret = Secret("")
    steam_api_url: str = DEFAULT_STEAM_API_URL
    steam_api_key: Secret = Secret("")
    stratz_api_url: str = DEFAULT_STRATZ_API_URL
    stratz_tokens: tuple[Secret, ...] = ()
    db_pool_max_size: int = 8
    seed_account_ids: tuple[int, ...] = (DEFAULT_SEED_ACCOUNT_ID,)
    crawl_max_depth: int = 2
    crawl_batch_size: int = 200
    crawl_max_accounts: int | None = None
    crawl_max_matches_per_account: int = 100
    tracked_me: int | None = None
    tracked_teammates: tuple[int, ...] = ()

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is given and the embedded PostgreSQL serves."""
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pg"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("CRAWL_DATA_DIR") or "data").expanduser().absolute()
        tokens = tuple(Secret(t.strip()) for t in (env.get("STRATZ_TOKENS") or "").split(",") if t.strip())
        return cls(
            data_dir=data_dir,
            database_url=(env.get("DATABASE_URL") or "").strip() or None,
            dagster_postgres_url=(env.get("DAGSTER_POSTGRES_URL") or "").strip() or None,
            duckdb_path=Path(env.get("DUCKDB_PATH") or data_dir / "analytics.duckdb").expanduser().absolute(),
            dagster_home=Path(env.get("DAGSTER_HOME") or data_dir / "dagster_home").expanduser().absolute(),
            opendota_api_url=_url(env, "OPENDOTA_API_URL", DEFAULT_OPENDOTA_API_URL),
            opendota_api_key=Secret((env.get("OPENDOTA_API_KEY") or "").strip()),
            steam_api_url=_url(env, "STEAM_API_URL", DEFAULT_STEAM_API_URL),
            steam_api_key=Secret((env.get("STEAM_API_KEY") or "").strip()),
            stratz_api_url=_url(env, "STRATZ_API_URL", DEFAULT_STRATZ_API_URL),
            stratz_tokens=tokens,
            db_pool_max_size=_int(env, "CRAWL_DB_POOL_SIZE", 8),
            seed_account_ids=_ids(env, "CRAWL_SEEDS", (DEFAULT_SEED_ACCOUNT_ID,)),
            crawl_max_depth=_int(env, "CRAWL_MAX_DEPTH", 2, minimum=0),
            crawl_batch_size=_int(env, "CRAWL_BATCH_SIZE", 200),
            crawl_max_accounts=_int(env, "CRAWL_MAX_ACCOUNTS", 0, minimum=0) or None,
            crawl_max_matches_per_account=_int(env, "CRAWL_MAX_MATCHES_PER_ACCOUNT", 100),
            tracked_me=(_ids(env, "TRACKED_ME", ()) or (None,))[0],
            tracked_teammates=_ids(env, "TRACKED_TEAMMATES", ()),
        )


def get_settings() -> Settings:
    """Settings from the current environment (read anew: tests and the CLI change it)."""
    return Settings.from_env()
