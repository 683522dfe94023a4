"""``crawl-pipeline fetch match|player|matches|sequence`` and ``crawl-pipeline check-key``: one call, by hand.

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

from crawl_pipeline.commands.support import ACCOUNT_ID, handles_user_errors
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import prepare_stack
from crawl_pipeline.domain.records import DetailsRequest, MatchDetails
from crawl_pipeline.settings import DEFAULT_SEED_ACCOUNT_ID
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.errors import APIError, NotFound, RateLimited, Unauthorized, UnsupportedOperation
from crawl_pipeline.sources.http import RetryPolicy
from crawl_pipeline.sources.registry import PROVIDERS, SourcesConfig, open_sources

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
def _source_and_db(provider: str, *, retries: int | None = None) -> Iterator[tuple[BaseSource, Database]]:
    stack = prepare_stack()
    overrides = {} if retries is None else {"retry": RetryPolicy(max_retries=retries, max_budget_wait=10.0)}
    config = SourcesConfig.from_settings(stack.settings, **overrides)
    with Database(stack.database_url, max_size=2, application_name="crawl_pipeline.cli") as db, open_sources(config, db) as sources:
        yield sources.provider(provider), db


@contextmanager
def _source(provider: str, *, retries: int | None = None) -> Iterator[BaseSource]:
    with _source_and_db(provider, retries=retries) as (source, _):
        yield source


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


def _print_players(match: MatchDetails) -> None:
    click.echo(f"{'slot':>4} {'account':>11} {'hero':>4} {'side':<7} {'win':<5} {'K/D/A':>9} {'GPM':>4} {'XPM':>4}")
    for p in match.players:
        kda = "/".join("-" if v is None else str(v) for v in (p.kills, p.deaths, p.assists))
        click.echo(
            f"{p.player_slot:>4} {p.account_id or 'anonymous':>11} {p.hero_id:>4} "
            f"{'radiant' if p.is_radiant else 'dire':<7} {p.win!s:<5} {kda:>9} "
            f"{p.gold_per_min if p.gold_per_min is not None else '-':>4} {p.xp_per_min if p.xp_per_min is not None else '-':>4}"
        )


@fetch.command("match")
@click.argument("match_id", type=click.IntRange(min=1))
@SOURCE_OPTION
@click.option("--seq", "match_seq_num", type=click.IntRange(min=1), default=None,
              help="Steam: the match's match_seq_num (default: the one stored for its stub).")
@JSON_OPTION
@handles_user_errors
@handles_api_errors
def fetch_match(match_id: int, source: str, match_seq_num: int | None, as_json: bool) -> None:
    """Match details: the match and its players.

    Steam serves details from its sequence feed (GetMatchDetails answers 500 since 2024), so it
    needs the match's sequence number: --seq, or the one a crawled history page stored.
    """
    with _source_and_db(source) as (client, db):
        if source == "steam":
            with db.transaction() as conn:
                [request] = crawl_db.detail_requests(conn, [match_id]) or [DetailsRequest(match_id=match_id)]
            request = DetailsRequest(match_id=match_id, match_seq_num=match_seq_num or request.match_seq_num)
            [(_, match)] = client.match_details_group([request])
            if isinstance(match, UnsupportedOperation):
                raise click.UsageError(
                    f"match {match_id} has no known match_seq_num: Steam serves details from its sequence feed "
                    "only; pass --seq (history pages list it: fetch matches ACCOUNT_ID --source steam)"
                )
            if isinstance(match, APIError):
                raise match
        else:
            match = client.match_details(match_id)
    _print(match, as_json)
    if not as_json:
        click.echo("")
        _print_players(match)


@fetch.command("matches")
@click.argument("account_id", type=ACCOUNT_ID)
@SOURCE_OPTION
@click.option("--count", type=click.IntRange(1, 100), default=20, show_default=True, help="Matches on the page.")
@JSON_OPTION
@handles_user_errors
@handles_api_errors
def fetch_matches(account_id: int, source: str, count: int, as_json: bool) -> None:
    """One page of an account's match history, newest first, as normalized stubs."""
    with _source(source) as client:
        page = client.match_page(account_id, page_size=count)
    if as_json:
        click.echo(json.dumps(page.model_dump(mode="json"), indent=2))
        return
    state = "private history" if page.is_private else f"{len(page.matches)} matches"
    click.echo(f"account {account_id} ({source}): {state}; next cursor {page.next_cursor or '-'}")
    click.echo(f"{'match':>12} {'seq':>12} {'start (UTC)':<20} {'lobby':>5} {'mode':>4} {'duration':>8}")
    for m in page.matches:
        start = m.start_time.strftime("%Y-%m-%d %H:%M:%S") if m.start_time else "-"
        click.echo(
            f"{m.match_id:>12} {m.match_seq_num or '-':>12} {start:<20} {_dash(m.lobby_type):>5} "
            f"{_dash(m.game_mode):>4} {_dash(m.duration):>8}"
        )


@fetch.command("sequence")
@click.argument("match_seq_num", type=click.IntRange(min=1))
@SOURCE_OPTION
@click.option("--count", type=click.IntRange(1, 100), default=10, show_default=True, help="Matches to read (at most 100).")
@JSON_OPTION
@handles_user_errors
@handles_api_errors
def fetch_sequence(match_seq_num: int, source: str, count: int, as_json: bool) -> None:
    """Full matches from Steam's sequence feed (GetMatchHistoryBySequenceNum), from MATCH_SEQ_NUM on."""
    if source != "steam":
        raise UnsupportedOperation(
            f"{source} has no sequence feed; use --source steam", provider=source, endpoint="matches_by_sequence"
        )
    with _source(source) as client:
        matches = client.matches_by_sequence(match_seq_num, count)
    if as_json:
        click.echo(json.dumps([m.model_dump(mode="json") for m in matches], indent=2))
        return
    click.echo(f"{len(matches)} matches from sequence number {match_seq_num}")
    click.echo(f"{'seq':>12} {'match':>12} {'start (UTC)':<20} {'lobby':>5} {'mode':>4} {'region':>6} {'accounts':>8}")
    for m in matches:
        start = m.start_time.strftime("%Y-%m-%d %H:%M:%S") if m.start_time else "-"
        known = sum(p.account_id is not None for p in m.players)
        click.echo(
            f"{m.match_seq_num or '-':>12} {m.match_id:>12} {start:<20} {_dash(m.lobby_type):>5} "
            f"{_dash(m.game_mode):>4} {_dash(m.region):>6} {known:>8}"
        )


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


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
