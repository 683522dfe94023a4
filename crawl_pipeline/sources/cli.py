"""``crawl-pipeline fetch match|player ID`` and ``crawl-pipeline check-key``: one call, by hand.

They draw on the same shared budget as the crawl (the database from ``prepare_stack``), so
trying a key while a crawl runs cannot push it over the limit. An API error prints one
line and exits 1; a user mistake (an unsupported call for that provider) exits 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click
from pydantic import BaseModel

from crawl_pipeline.cli_support import ACCOUNT_ID, handles_user_errors
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import prepare_stack
from crawl_pipeline.settings import DEFAULT_SEED_ACCOUNT_ID
from crawl_pipeline.sources.base import PROVIDERS
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.errors import APIError, NotFound, RateLimited, Unauthorized, UnsupportedOperation
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import SourcesConfig, open_sources

SOURCE_OPTION = click.option(
    "--source", type=click.Choice(PROVIDERS), default="opendota", show_default=True, help="Provider to ask."
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the normalized record as JSON.")


def _exit(message: str, code: int) -> None:
    click.echo(f"crawl-pipeline: error: {message}", err=True)
    sys.exit(code)


def handles_api_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """One line per API error: exit 2 for asking a provider what it cannot do, else 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UnsupportedOperation as exc:
            _exit(str(exc), 2)
        except APIError as exc:
            _exit(str(exc), 1)

    return wrapper


@contextmanager
def _source(provider: str, *, retries: int | None = None) -> Iterator[BaseSource]:
    stack = prepare_stack()
    overrides = {} if retries is None else {"retry": RetryPolicy(max_retries=retries, max_budget_wait=10.0)}
    config = SourcesConfig.from_settings(stack.settings, **overrides)
    with Database(stack.database_url, max_size=2, application_name="crawl_pipeline.cli") as db, open_sources(config, db) as sources:
        yield sources.provider(provider)


def _print(record: BaseModel, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(record.model_dump(mode="json"), indent=2))
        return
    rows = {k: v for k, v in record.model_dump(mode="json").items() if not isinstance(v, list)}
    width = max(map(len, rows))
    for key, value in rows.items():
        click.echo(f"{key:<{width}}  {'-' if value is None else value}")


@click.group("fetch")
def fetch() -> None:
    """Fetch one normalized record from a provider (uses the shared rate budget)."""


@fetch.command("match")
@click.argument("match_id", type=click.IntRange(min=1))
@SOURCE_OPTION
@JSON_OPTION
@handles_user_errors
@handles_api_errors
def fetch_match(match_id: int, source: str, as_json: bool) -> None:
    """Match details: the match and its ten players."""
    with _source(source) as client:
        match = client.match_details(match_id)
    _print(match, as_json)
    if not as_json:
        click.echo("")
        click.echo(f"{'slot':>4} {'account':>11} {'hero':>4} {'side':<7} {'win':<5} {'K/D/A':>9} {'GPM':>4} {'XPM':>4}")
        for p in match.players:
            kda = "/".join("-" if v is None else str(v) for v in (p.kills, p.deaths, p.assists))
            click.echo(
                f"{p.player_slot:>4} {p.account_id or 'anonymous':>11} {p.hero_id:>4} "
                f"{'radiant' if p.is_radiant else 'dire':<7} {str(p.win):<5} {kda:>9} "
                f"{p.gold_per_min if p.gold_per_min is not None else '-':>4} {p.xp_per_min if p.xp_per_min is not None else '-':>4}"
            )


@fetch.command("player")
@click.argument("account_id", type=ACCOUNT_ID)
@SOURCE_OPTION
@JSON_OPTION
@handles_user_errors
@handles_api_errors
def fetch_player(account_id: int, source: str, as_json: bool) -> None:
    """A player's profile (32-bit account id or steamid64)."""
    with _source(source) as client:
        profile = client.player_profile(account_id)
    _print(profile, as_json)


@click.command("check-key")
@SOURCE_OPTION
@handles_user_errors
def check_key(source: str) -> None:
    """Say whether the configured key/tokens of a provider are valid, invalid or rate limited.

    Exit 0 when valid, 1 when invalid or rate limited.
    """
    with _source(source, retries=0) as client:
        credentials = client.http.credentials.credentials
        names = ", ".join(c.label for c in credentials)
        try:
            if source == "steam":
                client.player_bans([DEFAULT_SEED_ACCOUNT_ID])
            else:
                client.player_profile(DEFAULT_SEED_ACCOUNT_ID)
        except NotFound:
            pass  # the key was accepted; the probe account just is not there
        except Unauthorized as exc:
            _exit(f"{source}: invalid: {exc.message}", 1)
        except RateLimited as exc:
            wait = f"; retry in {exc.retry_after:.0f}s" if exc.retry_after else ""
            _exit(f"{source}: rate limited ({names}){wait}", 1)
        except APIError as exc:
            _exit(f"{source}: could not check: {exc}", 1)
        disabled = client.http.credentials.disabled()
    suffix = f"; disabled: {'; '.join(disabled)}" if disabled else ""
    click.echo(f"{source}: valid ({names}){suffix}")
