"""`crawl-pipeline demo`: the bounded crawl end to end on the embedded defaults.

No network and no key: the built-in simulator serves OpenDota, Steam and Stratz on
127.0.0.1, the embedded PostgreSQL stores everything, and every batch is a real Dagster
run recorded in the persistent instance, so `make dev` afterwards shows the runs, the
partitions and their status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import Stack
from crawl_pipeline.db.status import crawl_status
from crawl_pipeline.reporting import print_status


@dataclass(frozen=True)
class DemoOptions:
    world_accounts: int = 20_000  # size of the simulated population
    max_depth: int = 2
    max_accounts: int = 1500  # accounts batched in all: keeps the demo to a few minutes
    matches_per_account: int = 5
    fault_rate: float = 0.02  # a little weather: retries and failures show up in the runs
    smurf_candidates: int = 300  # accounts whose ranked history the analyzer tops up to 20 matches
    requests_per_second: int = 200  # the demo key's tier on the simulator (premium is 20/s)
    seed: int = 1  # the simulated world's random seed
    latency_ms: float = 0.0  # mean latency the simulator adds to each answer
    fault_kinds: tuple[tuple[str, float], ...] = ()  # weighted fault mix, e.g. (("http_500", 2.0),); () = default


SIMULATED_KEYS = {"opendota": "00000000-0000-4000-8000-00000000da7a", "steam": "sim-steam-key", "stratz": "eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ,eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0y.c2ltdWxhdGVkMg"}


def simulator_config(options: DemoOptions):
    from crawl_pipeline.simulator.config import SimulatorConfig

    per_minute = options.requests_per_second * 60
    return SimulatorConfig(
        seed=options.seed, accounts=options.world_accounts, fault_rate=options.fault_rate, latency_ms=options.latency_ms
    ).with_overrides(
        rate_limits={"opendota_premium_per_minute": per_minute, "steam_per_day": 10_000_000},
        **({"fault_mix": dict(options.fault_kinds)} if options.fault_kinds else {}),
    )


def providers_for_simulator(url: str, options: DemoOptions):
    from crawl_pipeline.defs.providers import ProvidersResource
    from crawl_pipeline.sources.registry import SPECS

    return ProvidersResource(
        **{spec.url_field: url for spec in SPECS.values()},
        **{spec.credential_field: SIMULATED_KEYS[name] for name, spec in SPECS.items()},
        rate_limits={"opendota": {"per_minute": options.requests_per_second * 60}},
        timeout_seconds=5.0,  # the simulator's injected timeouts should not stall the demo
    )


def serve_simulator_for_children(options: DemoOptions) -> str:
    """Serve the demo's world for the life of this process and point the provider settings of
    child processes (the Dagster webserver, daemon and runs) at it."""
    import os

    from crawl_pipeline.simulator.server import run_in_thread

    simulator = run_in_thread(simulator_config(options))
    from crawl_pipeline.sources.registry import SPECS

    for name, spec in SPECS.items():
        os.environ[spec.url_variable] = simulator.url
        os.environ[spec.credential_variable] = SIMULATED_KEYS[name]
    return simulator.url


def run_demo(stack: Stack, options: DemoOptions = DemoOptions(), console: Console | None = None) -> dict:
    from crawl_pipeline.db.smurf import measure_against_truth
    from crawl_pipeline.definitions import build_definitions
    from crawl_pipeline.defs.analytics.definitions import defs as analytics_defs
    from crawl_pipeline.defs.crawl.local_runner import QUIET_LOGGING, crawl_locally
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.pools import ensure_pool_limits
    from crawl_pipeline.defs.reference.assets import heroes
    from crawl_pipeline.defs.resources import PostgresResource
    from crawl_pipeline.defs.smurf.assets import (
        analyzer_run_request,
        smurf_analyzer_job,
    )
    from crawl_pipeline.ops.orphans import fail_orphaned_runs, worker_tags
    from crawl_pipeline.simulator.server import run_in_thread

    console = console or Console()
    started = time.monotonic()
    console.print(f"[bold]demo[/bold]: database {stack.description}, Dagster instance {stack.settings.dagster_home}")
    crawl = CrawlConfig(
        max_depth=options.max_depth,
        max_accounts=options.max_accounts,
        max_matches_per_account=options.matches_per_account,
        page_size=min(100, options.matches_per_account),
        partial_batch_after_seconds=60,
    )
    with run_in_thread(simulator_config(options)) as simulator, Database(stack.database_url) as db:
        console.print(f"simulated providers on {simulator.url} ({options.world_accounts:,} accounts)")
        simulator.world.write_truth(stack.settings.data_dir / "ground_truth.csv")
        defs = build_definitions(
            stack.settings,
            postgres=PostgresResource(database_url=stack.database_url),
            providers=providers_for_simulator(simulator.url, options),
            crawl=crawl,
        )
        with dg.DagsterInstance.get() as instance:
            ensure_pool_limits(instance)
            orphans = fail_orphaned_runs(instance)  # runs of an earlier demo or dev that was killed
            if orphans:
                console.print(f"marked {len(orphans)} earlier run(s) failed: their worker process is gone")
            tags = {"crawl_pipeline/trigger": "demo", **worker_tags()}
            reference = dg.materialize(
                [heroes], instance=instance, resources=defs.resources, run_config=QUIET_LOGGING, tags=tags,
            )
            with Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} runs"), TimeElapsedColumn(),
                console=console, transient=False,
            ) as progress:
                task = progress.add_task(f"crawl to depth {options.max_depth}", total=None)

                def on_run(partition: str, phase: str, ok: bool) -> None:
                    progress.update(task, advance=1, description=f"crawl: {partition} {phase} {'ok' if ok else 'FAILED'}")

                runs = crawl_locally(defs, instance, db, crawl, on_run=on_run)
                progress.update(task, description="smurf analyzer: ranked history, scores, ban checks")
                analyzer_run = defs.resolve_job_def(smurf_analyzer_job.name).execute_in_process(
                    instance=instance,
                    tags={**analyzer_run_request(instance).tags, **tags},
                    run_config={
                        **QUIET_LOGGING,
                        "ops": {"smurf_match_history": {"config": {
                            "matches_per_call": 20, "max_accounts": options.smurf_candidates,
                        }}},
                    },
                    raise_on_error=False,
                )
            analytics_run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance,
                asset_selection=[a.key for a in analytics_defs.assets],
                run_config=QUIET_LOGGING,
                tags=tags,
                raise_on_error=False,
            )
        server_stats = simulator.stats()
        report = crawl_status(db)
        # The ground truth is read here, to grade the scorer; the scorer itself never sees it.
        quality = measure_against_truth(db, simulator.world.truth_rows())
    print_status(report, stack.description, console)
    console.print(
        f"runs: {dict(runs.runs)}; still failing: {runs.failed_partitions or 'none'}; "
        f"reference run {'ok' if reference.success else 'FAILED'}; analytics run "
        f"{'ok' if analytics_run.success else 'FAILED'}"
    )
    console.print(
        f"smurf analyzer {'ok' if analyzer_run.success else 'FAILED'}: {quality['scored']} accounts scored, "
        f"{quality['flagged']} flagged; against the simulator's ground truth precision {quality['precision']:.2f}, "
        f"recall {quality['recall']:.2f} (of {quality['true_smurfs_scored']} smurfs among the scored)"
    )
    console.print(
        f"simulator served {server_stats['requests_total']:,} requests, {server_stats['rate_limited_total']} 429s, "
        f"{server_stats['faults_total']} injected faults"
    )
    calls = api_calls_per_item(server_stats["requests_total"], report)
    console.print(
        f"API calls per crawled account {calls['per_account']:.2f}, per detailed match {calls['per_match']:.2f}, "
        f"per item (accounts + matches) {calls['per_item']:.2f}"
    )
    console.print(
        f"DuckDB for analysts: {stack.settings.duckdb_path}; report: {stack.settings.data_dir / 'report.html'}"
    )
    console.print(f"demo finished in {time.monotonic() - started:.1f}s — `make dev` shows the runs in the Dagster UI")
    report["runs"] = dict(runs.runs)
    report["failed_partitions"] = runs.failed_partitions
    report["analytics_ok"] = analytics_run.success and analyzer_run.success
    report["smurf_quality"] = quality
    report["api_calls_per_item"] = calls
    return report


def api_calls_per_item(requests: int, report: dict) -> dict[str, float]:
    """Every request the providers served, over the accounts crawled (all three account phases
    done) and over the matches detailed: what the crawl costs in the providers' daily budgets."""
    accounts = int(report.get("matches_synced") or 0)
    matches = int(report["matches"].get("details") or 0) if isinstance(report.get("matches"), dict) else 0
    return {
        "per_account": requests / max(1, accounts),
        "per_match": requests / max(1, matches),
        "per_item": requests / max(1, accounts + matches),
    }

