"""`crawl-pipeline demo`: the bounded end-to-end run on the embedded defaults.

Runs go through a real, persistent Dagster instance (DAGSTER_HOME), so `make dev`
afterwards shows them in the UI.
"""

from __future__ import annotations

import time

import dagster as dg
from rich.console import Console

from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import Stack
from crawl_pipeline.db.status import crawl_status
from crawl_pipeline.reporting import print_status


def run_demo(stack: Stack, console: Console | None = None) -> dict:
    from crawl_pipeline.definitions import defs

    console = console or Console()
    started = time.monotonic()
    console.print(f"[bold]demo[/bold]: database {stack.description}, Dagster instance {stack.settings.dagster_home}")
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [defs.get_assets_def("heroes")],
            instance=instance,
            resources={"postgres": defs.resources["postgres"]},
            tags={"crawl_pipeline/trigger": "demo"},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    if not result.success:
        raise SystemExit("demo: the heroes run failed; see the run in `make dev`")
    with Database(stack.database_url, max_size=1) as db, db.transaction() as conn:
        report = crawl_status(conn)
    print_status(report, stack.description, console)
    console.print(f"demo finished in {time.monotonic() - started:.1f}s (run {result.run_id})")
    return report
