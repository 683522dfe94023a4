"""``crawl-pipeline simulator serve``: run the simulated providers in the foreground."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .config import (
    DEFAULT_OPENDOTA_KEYS,
    DEFAULT_STEAM_KEYS,
    DEFAULT_STRATZ_TOKENS,
    FAULT_KINDS,
    SimulatorConfig,
)
from .server import create_app, server_for
from .world import World

simulator = click.Group("simulator", help="The simulated Dota world (OpenDota, Steam and Stratz on one server).")


def _parse_mix(value: str | None) -> dict[str, float] | None:
    """``http_500=2,drop=1`` -> {"http_500": 2.0, "drop": 1.0}; a bare kind weighs 1."""
    if not value:
        return None
    mix: dict[str, float] = {}
    for part in value.split(","):
        name, _, weight = part.strip().partition("=")
        if name not in FAULT_KINDS:
            raise click.BadParameter(f"unknown fault kind {name!r}; choose from {', '.join(FAULT_KINDS)}")
        mix[name] = float(weight) if weight else 1.0
    return mix


@simulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--accounts", default=20_000, show_default=True, type=int)
@click.option("--matches", default=None, type=int, help="Default: 10 per account.")
@click.option("--fault-rate", default=0.0, show_default=True, type=float, help="Share of requests that meet a fault.")
@click.option("--fault-kinds", default=None, help=f"Weighted mix, e.g. 'http_500=2,drop=1'. Kinds: {', '.join(FAULT_KINDS)}.")
@click.option("--latency-ms", default=0.0, show_default=True, type=float, help="Mean added latency (uniform 0.5-1.5x).")
@click.option("--steam-match-details", is_flag=True, help="Serve GetMatchDetails (real Steam answers 500 '{}' since 2024).")
@click.option("--steam-details-error-rate", default=0.0, show_default=True, type=float, help="With --steam-match-details: share of 500 '{}'.")
@click.option("--any-user-agent", is_flag=True, help="Serve Stratz requests whose User-Agent lacks STRATZ_API (real Stratz refuses them).")
@click.option("--no-rate-limit", is_flag=True, help="Serve without server-side rate limits.")
@click.option("--no-response-cache", is_flag=True, help="Derive and encode every answer again (same answers, slower).")
@click.option("--steam-key", "steam_keys", multiple=True, help=f"Valid Steam key (repeatable). Default: {DEFAULT_STEAM_KEYS[0]}")
@click.option("--opendota-key", "opendota_keys", multiple=True, help=f"Valid OpenDota premium key. Default: {DEFAULT_OPENDOTA_KEYS[0]}")
@click.option("--stratz-token", "stratz_tokens", multiple=True, help=f"Valid Stratz token. Default: {', '.join(DEFAULT_STRATZ_TOKENS)}")
@click.option("--truth-file", type=click.Path(dir_okay=False, path_type=Path), help="Write ground truth (.csv or .json).")
def serve(
    host: str,
    port: int,
    seed: int,
    accounts: int,
    matches: int | None,
    fault_rate: float,
    fault_kinds: str | None,
    latency_ms: float,
    steam_match_details: bool,
    steam_details_error_rate: float,
    any_user_agent: bool,
    no_rate_limit: bool,
    no_response_cache: bool,
    steam_keys: tuple[str, ...],
    opendota_keys: tuple[str, ...],
    stratz_tokens: tuple[str, ...],
    truth_file: Path | None,
) -> None:
    """Serve the simulated world until interrupted."""
    overrides: dict[str, object] = {
        "host": host,
        "port": port,
        "seed": seed,
        "accounts": accounts,
        "matches": matches,
        "fault_rate": fault_rate,
        "latency_ms": latency_ms,
        "steam_match_details_enabled": steam_match_details,
        "steam_details_error_rate": steam_details_error_rate,
        "stratz_require_user_agent": not any_user_agent,
        "rate_limits": {"enabled": not no_rate_limit},
        "response_cache": not no_response_cache,
    }
    mix = _parse_mix(fault_kinds)
    if mix:
        overrides["fault_mix"] = mix
    for name, values in (("steam_keys", steam_keys), ("opendota_keys", opendota_keys), ("stratz_tokens", stratz_tokens)):
        if values:
            overrides[name] = tuple(values)
    try:
        config = SimulatorConfig().with_overrides(**overrides)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from exc
    started = time.perf_counter()
    world = World.generate(config)
    click.echo(f"world: {world.num_accounts} accounts, {world.num_matches} matches, seed {config.seed} "
               f"({time.perf_counter() - started:.1f}s)")  # fmt: skip
    if truth_file:
        click.echo(f"ground truth: {world.write_truth(truth_file)}")
    url = f"http://{host}:{port}"
    click.echo(f"simulator: {url}  (OpenDota {url}/api, Steam {url}/IDOTA2Match_570, Stratz {url}/graphql)")
    click.echo(f"valid Steam keys: {', '.join(config.steam_keys)}")
    click.echo(f"valid OpenDota premium keys: {', '.join(config.opendota_keys)} (no key = free tier)")
    click.echo(f"valid Stratz tokens: {', '.join(config.stratz_tokens)}")
    click.echo(f"rate limits: {'on' if config.rate_limits.enabled else 'off'}; fault rate {config.fault_rate}")
    try:
        server_for(create_app(world, config), host=host, port=port).run()  # httptools, no access log (server_for)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: the server has stopped
        click.echo("simulator stopped")
