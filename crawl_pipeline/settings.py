"""Every environment variable the project reads, read in this one place.

Base URLs default to the real providers; ``crawl-pipeline demo`` points them at the
built-in simulator. Secrets are wrapped in :class:`Secret` so that a repr, a log line
or Dagster metadata never shows them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from crawl_pipeline.domain.roles import Identities

DEFAULT_OPENDOTA_API_URL = "https://api.opendota.com"
DEFAULT_STEAM_API_URL = "https://api.steampowered.com"
DEFAULT_STRATZ_API_URL = "https://api.stratz.com"
DEFAULT_SEED_ACCOUNT_ID = 293053907


_KNOWN_SECRETS: set[str] = set()  # every secret this process holds, for ``redact``
MIN_REDACTED = 4  # shorter values would mangle ordinary text


def redact(text: str) -> str:
    """``text`` with every secret this process holds (raw or URL-encoded) replaced by ``***``.

    Provider answers can echo a request (its URL with Steam's ``key=``, its headers): every error
    text derived from a response goes through here before it is stored, logged or raised."""
    if not text or not _KNOWN_SECRETS:
        return text
    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form in text:
                text = text.replace(form, "***")
    return text


class Secret:
    """A string that never shows itself in repr/str; call ``reveal()`` where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= MIN_REDACTED:
            _KNOWN_SECRETS.add(value)

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


# OpenDota keys are UUIDs: svc/web.ts answers any other key with 400 "Invalid API key format".
OPENDOTA_KEY_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)
# Stratz tokens are JWTs: three base64url parts joined by dots. Its gateway answers a token of any
# other shape with HTTP 500 "An unexpected error occurred", which reads as an outage, not a bad token.
STRATZ_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
RATE_WINDOWS = {"second": "per_second", "s": "per_second", "minute": "per_minute", "min": "per_minute",
                "m": "per_minute", "hour": "per_hour", "h": "per_hour", "day": "per_day", "d": "per_day"}  # fmt: skip


def check_opendota_key(value: str, where: str = "OPENDOTA_API_KEY") -> None:
    """Raise SettingsError unless ``value`` is empty (the free tier) or shaped like an OpenDota key."""
    if value and not OPENDOTA_KEY_PATTERN.match(value):
        raise SettingsError(
            f"{where} is not a valid OpenDota key: keys are UUIDs like xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx "
            "(OpenDota answers any other key with 400 'Invalid API key format'); unset it for the free tier"
        )


def check_stratz_token(value: str, where: str = "STRATZ_TOKENS") -> None:
    """Raise SettingsError unless ``value`` is shaped like a Stratz token (a JWT); never shows it."""
    if value and not STRATZ_TOKEN_PATTERN.match(value):
        raise SettingsError(
            f"{where} holds a token that is not a Stratz token: tokens are JWTs, three base64url parts "
            "joined by dots (copy it whole from stratz.com/api); Stratz answers any other with HTTP 500"
        )


def parse_rate_limit(raw: str, where: str) -> dict[str, int]:
    """``"60/minute, 3000/day"`` as ``{"per_minute": 60, "per_day": 3000}``; SettingsError names ``where``."""
    limits: dict[str, int] = {}
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        count, _, window = part.partition("/")
        name = RATE_WINDOWS.get(window.strip().lower())
        if name is None or not count.strip().isdigit() or int(count) < 1:
            raise SettingsError(
                f"{where}: {part!r} is not a rate like 60/minute (windows: second, minute, hour, day)"
            )
        limits[name] = int(count)
    if not limits:
        raise SettingsError(f"{where} is empty; give rates like 60/minute,3000/day")
    return limits


def _rate_limits(env: Mapping[str, str]) -> dict[str, dict[str, int]]:
    limits = {}
    # the providers' tiers, and the paces of endpoints with one of their own (sources ProviderSpec.paces)
    for provider in ("opendota", "steam", "stratz", "steam_sequence"):
        name = f"{provider.upper()}_RATE_LIMIT"
        raw = (env.get(name) or "").strip()
        if raw:
            limits[provider] = parse_rate_limit(raw, name)
    return limits


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}={value!r}: choose one of {', '.join(choices)}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return _choice(env, name, "0", ("0", "1", "true", "false", "yes", "no", "on", "off")) in ("1", "true", "yes", "on")


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


IDENTITIES_VARIABLE = "TRACKED_IDENTITIES"


def _identity_ids(value: object, where: str, name: str, seen: dict[int, str]) -> tuple[int, ...]:
    from crawl_pipeline.domain.identity import parse_account_id

    if not isinstance(value, list):
        raise SettingsError(f"{where}: {name} must be a list of account ids, got {json.dumps(value)}")
    ids = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise SettingsError(f"{where}: {name} has {json.dumps(item)}, not an account id")
        try:
            account = parse_account_id(item)
        except ValueError as exc:
            raise SettingsError(f"{where}: {name}: {exc}") from None
        if account in seen:
            other = seen[account]
            again = "twice in " + name if other == name else f"in both {other} and {name}"
            raise SettingsError(f"{where}: account {account} is listed {again}; an account belongs to one identity")
        seen[account] = name
        ids.append(account)
    return tuple(ids)


def parse_identities(config: object, where: str = IDENTITIES_VARIABLE):
    """``{"me": [id, ...], "teammates": {"alice": [id, ...]}}`` as ``domain.roles.Identities``.

    The one place the tracked identities are validated (the environment and the ``identities``
    resource both come here): SettingsError names ``where`` for a non-object, an unknown key, an
    empty ``me``, a bad id (32-bit ids or steamid64s), a bad teammate name, an id listed twice."""
    from crawl_pipeline.domain.roles import ME_IDENTITY, Identities

    if not isinstance(config, dict):
        raise SettingsError(f'{where} must be a JSON object like {{"me": [123], "teammates": {{"alice": [456]}}}}')
    unknown = sorted(set(config) - {"me", "teammates"})
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; the keys are me and teammates")
    seen: dict[int, str] = {}
    me = _identity_ids(config.get("me", []), where, "me", seen)
    if not me:
        raise SettingsError(f"{where}: me is empty; list at least one of your account ids")
    teammates_raw = config.get("teammates", {})
    if not isinstance(teammates_raw, dict):
        raise SettingsError(f'{where}: teammates must be an object of name -> account ids, like {{"alice": [456]}}')
    teammates: dict[str, tuple[int, ...]] = {}
    for name, ids in teammates_raw.items():
        clean = name.strip() if isinstance(name, str) else ""
        if not clean or clean != name or clean.lower() == ME_IDENTITY:
            raise SettingsError(f"{where}: teammate name {name!r} is empty, padded or reserved ('me')")
        label = f"teammates.{name}"
        teammates[name] = _identity_ids(ids, where, label, seen)
        if not teammates[name]:
            raise SettingsError(f"{where}: {label} is empty; list the teammate's account ids")
    return Identities(me, teammates)


def _reject_duplicate_names(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise SettingsError(f"{IDENTITIES_VARIABLE}: key {', '.join(map(repr, twice))} given twice")
    return dict(pairs)


def _identities(env: Mapping[str, str]):
    """TRACKED_IDENTITIES (JSON or @file), else the simple TRACKED_ME / TRACKED_TEAMMATES form."""
    from crawl_pipeline.domain.roles import Identities

    raw = (env.get("TRACKED_IDENTITIES") or "").strip()
    me = _ids(env, "TRACKED_ME", ())
    teammates = _ids(env, "TRACKED_TEAMMATES", ())
    name = IDENTITIES_VARIABLE
    if raw:
        if me or teammates:
            raise SettingsError(f"{name} and TRACKED_ME/TRACKED_TEAMMATES are both set: keep one form")
        if raw.startswith("@"):
            path = Path(raw[1:].strip()).expanduser()
            try:
                raw = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(f"{name}=@{path}: cannot read the file ({exc.__class__.__name__})") from None
            name = f"{IDENTITIES_VARIABLE} (@{path})"
        try:
            config = json.loads(raw, object_pairs_hook=_reject_duplicate_names)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        return parse_identities(config, name)
    if len(me) > 1:
        raise SettingsError("TRACKED_ME takes one account id; list several in TRACKED_IDENTITIES")
    if teammates and not me:
        raise SettingsError("TRACKED_TEAMMATES is set without TRACKED_ME: set whose teammates they are")
    if not me:
        return None
    if me[0] in teammates or len(set(teammates)) != len(teammates):
        raise SettingsError("TRACKED_TEAMMATES: an account is listed twice (or is TRACKED_ME)")
    return Identities.simple(me[0], teammates)


_KEY_VARIABLES = {"OPENDOTA_API_URL": "OPENDOTA_API_KEY", "STEAM_API_URL": "STEAM_API_KEY", "STRATZ_API_URL": "STRATZ_TOKENS"}


def _url(env: Mapping[str, str], name: str, default: str, *, show_default: bool = True) -> str:
    """A provider base URL: http(s), a host, a valid port, and nothing that can carry a secret.

    The value is never echoed (it may hold one): the message names the variable and what is wrong.
    user:password@ would show in reprs and logs, and httpx would send it as Basic auth in place of
    the provider's key; a query (``?api_key=...``) would be logged by httpx with every request; a
    fragment is no part of an API's address. All three are refused with or without a scheme."""
    from urllib.parse import urlsplit

    value = (env.get(name) or default).strip().rstrip("/")
    like = f" (like {default})" if show_default else ""
    key = _KEY_VARIABLES.get(name, "the key variable")
    netloc = re.split(r"[/?#]", value.split("://", 1)[1] if "://" in value else value, maxsplit=1)[0]
    if "@" in netloc:
        raise SettingsError(f"{name} must not contain credentials (user:password@host): put the key in {key}")
    if "?" in value:
        raise SettingsError(f"{name} must not have a query string (?...): give the base URL only, and the key in {key}")
    if "#" in value:
        raise SettingsError(f"{name} must not have a fragment (#...): give the base URL only")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must start with http:// or https://{like}; its value is not shown")
    try:
        parts = urlsplit(value)
    except ValueError:  # a broken [IPv6] literal
        raise SettingsError(f"{name} is not a valid URL (its host is a broken [IPv6] address)") from None
    if not parts.hostname:
        raise SettingsError(f"{name} has no host name{like}")
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = 0
    if port == 0:
        raise SettingsError(f"{name} has a port that is not a number from 1 to 65535 (or none, for the scheme's default)")
    return value


def check_provider_url(name: str, value: str) -> str:
    """The rules of the *_API_URL variables for a URL from elsewhere (a resource field, the UI):
    http(s), a host, a valid port, no user:password@, query or fragment (never echoed). Returns it
    without a trailing slash."""
    return _url({name: value}, name, value, show_default=False)  # its "default" is the value itself


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = field(repr=False)  # may hold a password
    dagster_postgres_url: str | None = field(repr=False)
    duckdb_path: Path
    dagster_home: Path
    opendota_api_url: str = DEFAULT_OPENDOTA_API_URL
    opendota_api_key: Secret = Secret("")  # noqa: RUF009 - immutable, never shared state
    steam_api_url: str = DEFAULT_STEAM_API_URL
    steam_api_key: Secret = Secret("")  # noqa: RUF009 - immutable, never shared state
    stratz_api_url: str = DEFAULT_STRATZ_API_URL
    stratz_tokens: tuple[Secret, ...] = ()
    opendota_tier: str = "auto"  # auto: premium with a key, free without
    rate_limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # provider -> per_* limits
    steam_match_details: bool = False  # GetMatchDetails (broken at Valve since 2024) instead of the sequence feed
    db_pool_max_size: int = 8
    seed_account_ids: tuple[int, ...] = (DEFAULT_SEED_ACCOUNT_ID,)
    crawl_max_depth: int = 2
    crawl_batch_size: int = 200
    crawl_max_accounts: int | None = None
    crawl_max_matches_per_account: int = 100
    identities: Identities | None = None  # TRACKED_IDENTITIES, or TRACKED_ME / TRACKED_TEAMMATES

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
        for token in tokens:
            check_stratz_token(token.reveal())
        opendota_key = (env.get("OPENDOTA_API_KEY") or "").strip()
        check_opendota_key(opendota_key)
        return cls(
            data_dir=data_dir,
            database_url=(env.get("DATABASE_URL") or "").strip() or None,
            dagster_postgres_url=(env.get("DAGSTER_POSTGRES_URL") or "").strip() or None,
            duckdb_path=Path(env.get("DUCKDB_PATH") or data_dir / "analytics.duckdb").expanduser().absolute(),
            dagster_home=Path(env.get("DAGSTER_HOME") or data_dir / "dagster_home").expanduser().absolute(),
            opendota_api_url=_url(env, "OPENDOTA_API_URL", DEFAULT_OPENDOTA_API_URL),
            opendota_api_key=Secret(opendota_key),
            steam_api_url=_url(env, "STEAM_API_URL", DEFAULT_STEAM_API_URL),
            steam_api_key=Secret((env.get("STEAM_API_KEY") or "").strip()),
            stratz_api_url=_url(env, "STRATZ_API_URL", DEFAULT_STRATZ_API_URL),
            stratz_tokens=tokens,
            opendota_tier=_choice(env, "OPENDOTA_TIER", "auto", ("auto", "free", "premium")),
            rate_limits=_rate_limits(env),
            steam_match_details=_flag(env, "STEAM_MATCH_DETAILS"),
            db_pool_max_size=_int(env, "CRAWL_DB_POOL_SIZE", 8),
            seed_account_ids=_ids(env, "CRAWL_SEEDS", (DEFAULT_SEED_ACCOUNT_ID,)),
            crawl_max_depth=_int(env, "CRAWL_MAX_DEPTH", 2, minimum=0),
            crawl_batch_size=_int(env, "CRAWL_BATCH_SIZE", 200),
            crawl_max_accounts=_int(env, "CRAWL_MAX_ACCOUNTS", 0, minimum=0) or None,
            crawl_max_matches_per_account=_int(env, "CRAWL_MAX_MATCHES_PER_ACCOUNT", 100),
            identities=_identities(env),
        )


def get_settings() -> Settings:
    """Settings from the current environment (read anew: tests and the CLI change it)."""
    return Settings.from_env()
