"""The ``crawl-pipeline`` command.

User mistakes (bad arguments, an unreachable database, a bad setting) end with one
clear line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import click

from crawl_pipeline.commands.export import export
from crawl_pipeline.commands.fetch import check_key, fetch
from crawl_pipeline.commands.metrics import metrics
from crawl_pipeline.commands.support import ACCOUNT_ID, fail, handles_user_errors
from crawl_pipeline.db.stack import PROJECT_ROOT, Stack, prepare_stack
from crawl_pipeline.simulator.cli import simulator

MAX_SEED_RANGE = 1_000_000


def _stack() -> Stack:
    return prepare_stack()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crawl_pipeline")
def main() -> None:
    """Crawl Dota 2 players and matches into PostgreSQL with Dagster.

    Without DATABASE_URL an embedded PostgreSQL runs under CRAWL_DATA_DIR (default ./data).
    """


class _Stopped(Exception):
    """SIGTERM or SIGHUP arrived: stop like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum: int, _frame) -> None:
    raise _Stopped(signum)


def _simulator_options(func):
    """The simulated world's options shared by `demo` and `dev --simulator` (as in `simulator serve`)."""
    options = [
        click.option("--seed", "sim_seed", type=int, default=None, help="Random seed of the simulated world [default: 1]."),
        click.option("--world-accounts", type=click.IntRange(1000), default=None, help="Simulated population [default: 20000]."),
        click.option("--fault-rate", type=click.FloatRange(0, 0.5), default=None, help="Injected provider faults [default: 0.02]."),
        click.option("--latency-ms", type=click.FloatRange(0, 10_000), default=None, help="Mean latency the simulator adds [default: 0]."),
        click.option(
            "--fault-kinds", default=None,
            help="Weighted fault mix as in `simulator serve`, e.g. 'http_500=2,drop=1' [default: every kind].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _simulator_fields(sim_seed, world_accounts, fault_rate, latency_ms, fault_kinds) -> dict:
    from crawl_pipeline.simulator.cli import _parse_mix

    mix = _parse_mix(fault_kinds)  # click.BadParameter (exit 2) names an unknown kind
    given = {
        "seed": sim_seed, "world_accounts": world_accounts, "fault_rate": fault_rate, "latency_ms": latency_ms,
        "fault_kinds": tuple(mix.items()) if mix else None,
    }
    return {k: v for k, v in given.items() if v is not None}


@main.command()
@click.option("--max-depth", default=2, show_default=True, type=click.IntRange(0, 99), help="Deepest BFS depth batched.")
@click.option("--max-accounts", default=1500, show_default=True, type=click.IntRange(1), help="Accounts batched in all.")
@click.option("--matches-per-account", default=5, show_default=True, type=click.IntRange(1, 500), help="History read per account.")
@click.option(
    "--smurf-candidates", default=300, show_default=True, type=click.IntRange(0),
    help="Accounts whose ranked history the smurf analyzer tops up to 20 matches.",
)
@_simulator_options
@handles_user_errors
def demo(max_depth: int, max_accounts: int, matches_per_account: int, smurf_candidates: int, **simulated) -> None:
    """Crawl the built-in simulated world from the seed through real Dagster runs, then summarize.

    Needs no network and no key; `make dev` afterwards shows the runs in the Dagster UI.
    """
    from crawl_pipeline.db.stack import check_instance_template
    from crawl_pipeline.demo import DemoOptions, run_demo

    options = DemoOptions(
        max_depth=max_depth,
        max_accounts=max_accounts,
        matches_per_account=matches_per_account,
        smurf_candidates=smurf_candidates,
        **_simulator_fields(**simulated),
    )
    check_instance_template()
    report = run_demo(_stack(), options)
    if report["failed_partitions"] or not report["analytics_ok"]:
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the Dagster UI listens on.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Port of the Dagster UI.")
@click.option(
    "--simulator", "with_simulator", is_flag=True,
    help="Also serve the simulated providers (the demo's world) and point every provider URL and key at them.",
)
@_simulator_options
@handles_user_errors
def dev(host: str, port: int, with_simulator: bool, **simulated) -> None:
    """Start the Dagster UI and daemon on the local stack (Ctrl-C, SIGTERM or SIGHUP stops everything)."""
    world = _simulator_fields(**simulated)
    if world and not with_simulator:
        raise click.UsageError("--seed, --world-accounts, --fault-rate, --latency-ms and --fault-kinds need --simulator")
    # SIGTERM (service managers, `kill`) and SIGHUP (the terminal closed) stop like Ctrl-C; before
    # this they killed this process alone and left the webserver, daemon and code servers running.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopped)
    # Started in the background by a shell (`cmd &`), this process inherits SIGINT ignored, and so
    # would dagster dev, which then never shuts down on our SIGINT: handle it in both.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    process: subprocess.Popen | None = None
    code = 0
    try:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                fail(f"{host}:{port} is already in use: is another `crawl-pipeline dev` running? (try --port)")
        from crawl_pipeline.db.stack import check_instance_template

        check_instance_template()  # before anything starts: a broken dagster.yaml is named, never copied
        stack = _stack()
        import dagster as dg

        from crawl_pipeline.defs.pools import ensure_pool_limits
        from crawl_pipeline.ops.orphans import fail_orphaned_runs

        with dg.DagsterInstance.from_config(str(stack.settings.dagster_home)) as instance:
            ensure_pool_limits(instance)  # before any run: concurrent first uses of a pool collide in Dagster
            orphans = fail_orphaned_runs(instance)  # runs of an earlier dev or demo that was stopped or killed
        click.echo(f"database {stack.description}; DAGSTER_HOME={stack.settings.dagster_home}")
        if orphans:
            click.echo(f"marked {len(orphans)} earlier run(s) failed: their worker process is gone")
        if with_simulator:
            from crawl_pipeline.demo import DemoOptions, serve_simulator_for_children

            options = DemoOptions(**world)
            url = serve_simulator_for_children(options)
            click.echo(
                f"simulated OpenDota, Steam and Stratz on {url} ({options.world_accounts:,} accounts, seed {options.seed}, "
                f"fault rate {options.fault_rate}, latency {options.latency_ms:g} ms)"
            )
        click.echo(f"Dagster UI on http://{host}:{port} (Ctrl-C to stop)")
        command = [
            sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", host, "-p", str(port),
        ]
        # A session of its own: Ctrl-C reaches this process only, which stops the whole group, so the
        # webserver, daemon, code servers and run workers all go, even if one of them is slow to exit.
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=os.environ.copy(), start_new_session=True)
        code = process.wait()
    except (KeyboardInterrupt, _Stopped) as stop:
        code = 128 + stop.signum if isinstance(stop, _Stopped) else 130
    finally:
        # A second Ctrl-C or signal must not orphan the children while they stop.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if process is not None:
            _stop_group(process)  # whatever dagster dev left behind, too
            _fail_runs_of_stopped_workers()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code:
        click.echo("stopped" if code >= 128 else f"dagster dev exited with code {code}", err=True)
    sys.exit(code)


def _fail_runs_of_stopped_workers() -> None:
    """Runs whose worker went down with the process group are failed now, not at the next start."""
    import dagster as dg

    from crawl_pipeline.ops.orphans import fail_orphaned_runs

    try:
        with dg.DagsterInstance.get() as instance:
            failed = fail_orphaned_runs(instance)
    except Exception as exc:
        click.echo(f"could not check for interrupted runs ({type(exc).__name__}); the next start does", err=True)
        return
    if failed:
        click.echo(f"marked {len(failed)} interrupted run(s) failed; re-execute them from failure", err=True)


def _stop_group(process: subprocess.Popen, grace_seconds: float = 30) -> None:
    """SIGINT dagster dev (it stops its webserver, daemon and code servers cleanly), wait, then
    SIGKILL whatever of its process group remains.

    Only the leader gets SIGINT: dagster dev stops its webserver and daemon in order through their
    shutdown pipes; a group-wide SIGINT would interrupt every process at once, mid-shutdown.
    """
    try:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # children of the leader finish exiting; run workers do not
        if not _group_alive(process.pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _group_alive(pgid: int) -> bool:
    """Is a process of group ``pgid`` still running (zombies waiting for a reaper do not count)?"""
    import psutil

    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@handles_user_errors
def status(as_json: bool) -> None:
    """Totals, progress per depth, stubs vs details, failures and the smallest active backoff."""
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.db.status import crawl_status
    from crawl_pipeline.reporting import print_status

    stack = _stack()
    with Database(stack.database_url, max_size=1) as db:
        report = crawl_status(db)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        print_status(report, stack.description)


@main.command()
@click.argument("account_ids", nargs=-1, type=ACCOUNT_ID)
@click.option("--range", "id_range", nargs=2, type=ACCOUNT_ID, help="Add every id from A to B inclusive.")
@handles_user_errors
def seed(account_ids: tuple[int, ...], id_range: tuple[int, int] | None) -> None:
    """Add seed accounts at BFS depth 0 (32-bit account ids or steamid64s)."""
    from crawl_pipeline.db.accounts import add_seeds
    from crawl_pipeline.db.pool import Database

    ids = list(account_ids)
    if id_range:
        low, high = id_range
        if low > high:
            raise click.BadParameter(f"range start {low} is above its end {high}", param_hint="--range")
        if high - low + 1 > MAX_SEED_RANGE:
            raise click.BadParameter(f"at most {MAX_SEED_RANGE:,} ids per range", param_hint="--range")
        ids.extend(range(low, high + 1))
    if not ids:
        raise click.UsageError("give at least one ACCOUNT_ID or --range A B")
    stack = _stack()
    with Database(stack.database_url, max_size=1) as db, db.transaction() as conn:
        added = add_seeds(conn, ids)
    click.echo(f"{added} new seed account(s), {len(set(ids)) - added} already known")


@main.command()
@click.argument("account_ids", nargs=-1, required=True, type=ACCOUNT_ID)
@click.option("--untrack", is_flag=True, help="Stop tracking these accounts.")
@handles_user_errors
def track(account_ids: tuple[int, ...], untrack: bool) -> None:
    """Track accounts: their new matches are fetched on a schedule."""
    from crawl_pipeline.db.accounts import set_tracked
    from crawl_pipeline.db.pool import Database

    stack = _stack()
    with Database(stack.database_url, max_size=1) as db, db.transaction() as conn:
        changed = set_tracked(conn, account_ids, tracked=not untrack)
    click.echo(f"{changed} account(s) {'untracked' if untrack else 'now tracked'}")


class ErrorClassType(click.ParamType):
    name = "KIND"

    def convert(self, value, param, ctx) -> str:
        from crawl_pipeline.db.retry import ERROR_CLASS

        if not ERROR_CLASS.match(value):
            self.fail(f"{value!r} is not an error class name such as NotFound or ServerError", param, ctx)
        return value


@main.command()
@click.option("--accounts", "only_accounts", is_flag=True, help="Only account phases (player_profiles, hero_stats, match_stubs).")
@click.option("--matches", "only_matches", is_flag=True, help="Only match details.")
@click.option(
    "--errors", "error_kinds", multiple=True, type=ErrorClassType(),
    help="Only items whose stored error starts with this error class name (prefix; repeatable), e.g. NotFound.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be re-opened; change nothing.")
@handles_user_errors
def retry(only_accounts: bool, only_matches: bool, error_kinds: tuple[str, ...], dry_run: bool) -> None:
    """Re-open items that used all their attempts: their attempt counts go back to 0.

    The stored error is kept until the item succeeds (success clears it) or fails again. Their
    batches have work left again: retry_failed_schedule re-runs them, or re-execute the partitions.
    """
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.db.retry import KINDS, reopen_exhausted

    kinds = [k for k, chosen in (("accounts", only_accounts), ("matches", only_matches)) if chosen] or list(KINDS)
    stack = _stack()
    with Database(stack.database_url, max_size=1) as database, database.transaction() as conn:
        result = reopen_exhausted(conn, kinds=kinds, error_prefixes=error_kinds, dry_run=dry_run)
    verb = "would re-open" if dry_run else "re-opened"
    matching = f" with errors {' or '.join(k + '*' for k in error_kinds)}" if error_kinds else ""
    lines = []
    if "accounts" in kinds:
        phases = ", ".join(f"{phase} {n}" for phase, n in result.account_phases.items())
        lines.append(f"accounts: {verb} {result.accounts} account phase(s){matching} ({phases})")
    if "matches" in kinds:
        lines.append(f"matches: {verb} {result.matches} match(es){matching} (details)")
    for line in lines:
        click.echo(line)
    if result.batches:
        shown = ", ".join(sorted(result.batches)[:10]) + (" ..." if len(result.batches) > 10 else "")
        click.echo(
            f"{len(result.batches)} batch(es) {'would have' if dry_run else 'have'} work again: {shown}"
            + ("" if dry_run else "; retry_failed_schedule re-runs them (or re-execute the partitions)")
        )


@main.command()
@click.option("--frequent", is_flag=True, help="List the accounts met most often in me's matches.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="Accounts listed at most.")
@click.option(
    "--me", "me_ids", multiple=True, type=ACCOUNT_ID,
    help="One of me's accounts (repeatable) in place of TRACKED_IDENTITIES / TRACKED_ME.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@handles_user_errors
def players(frequent: bool, limit: int, me_ids: tuple[int, ...], as_json: bool) -> None:
    """The tracked identities (me's accounts, named teammates); --frequent: the accounts met most often
    with me, to build TRACKED_IDENTITIES from (docs/configuration.md)."""
    from crawl_pipeline.db import identity as identity_db
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.domain.roles import Identities
    from crawl_pipeline.settings import get_settings

    configured = get_settings().identities
    if me_ids:
        others = configured.teammates if configured else {}
        configured = Identities(tuple(dict.fromkeys(me_ids)),
                                {n: a for n, a in others.items() if not set(a) & set(me_ids)})
    if configured is None:
        fail("no 'me' configured: set TRACKED_IDENTITIES (or TRACKED_ME), or give --me ACCOUNT_ID")
    if not frequent:
        if as_json:
            click.echo(json.dumps(configured.as_config(), indent=2))
        else:
            click.echo(f"me: {', '.join(map(str, configured.me))}")
            for name, accounts in configured.teammates.items():
                click.echo(f"teammate {name}: {', '.join(map(str, accounts))}")
        return
    stack = _stack()
    with Database(stack.database_url, max_size=1) as database, database.transaction() as conn:
        matches = identity_db.my_match_count(conn, configured.me)
        rows = identity_db.players_by_frequency(conn, configured.me, limit)
    for row in rows:
        row["identity"] = configured.name_of(row["account_id"])
    if as_json:
        click.echo(json.dumps({"me": list(configured.me), "matches": matches, "players": rows}, indent=2, default=str))
        return
    click.echo(f"accounts met most often in {matches} detailed match(es) of me ({', '.join(map(str, configured.me))}):")
    header = ("account", "games", "with", "against", "wins with", "last played", "identity", "name")
    table = [header] + [
        (str(r["account_id"]), str(r["games"]), str(r["teammate_games"]), str(r["opponent_games"]), str(r["wins_with"]),
         r["last_played"].strftime("%Y-%m-%d") if r["last_played"] else "", r["identity"] or "", r["personaname"] or "")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)).rstrip())
    if not rows:
        click.echo("(none yet: crawl me's matches first, e.g. crawl-pipeline seed ID or the sync_account_history job)")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@handles_user_errors
def db_upgrade() -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    stack = _stack()
    from crawl_pipeline.db.migrate import current_version

    click.echo(
        f"{stack.migrations_applied} migration(s) applied; schema version {current_version(stack.database_url)} "
        f"on {stack.description}"
    )


for command in (simulator, fetch, check_key, export, metrics):
    main.add_command(command)


if __name__ == "__main__":
    main()
