"""``crawl-pipeline metrics``: serve the Prometheus exposition of ``crawl_pipeline.ops.metrics``."""

from __future__ import annotations

import threading

import click

from crawl_pipeline.commands.support import fail, handles_user_errors
from crawl_pipeline.db.pool import Database
from crawl_pipeline.ops.metrics import DEFAULT_CACHE_SECONDS, DEFAULT_PORT, start_metrics_server


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="Port of /metrics.")
@click.option("--cache-seconds", default=DEFAULT_CACHE_SECONDS, show_default=True, type=click.FloatRange(0),
              help="Reuse the last scrape's query results for this long.")
def metrics(host: str, port: int, cache_seconds: float) -> None:
    """Serve Prometheus metrics (progress, API usage, rate budget) read from PostgreSQL at scrape time."""
    import signal

    from crawl_pipeline.db.stack import prepare_stack

    @handles_user_errors
    def run() -> None:
        stack = prepare_stack()
        with Database(stack.database_url, max_size=2, application_name="crawl_pipeline.metrics") as db:
            try:
                server, _ = start_metrics_server(db, host=host, port=port, cache_seconds=cache_seconds)
            except OSError as exc:
                fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            click.echo(f"metrics of {stack.description} on http://{host}:{port}/metrics (Ctrl-C to stop)", err=True)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            finally:
                server.shutdown()

    run()
