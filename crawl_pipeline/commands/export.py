"""``crawl-pipeline export``: rebuild the analysts' DuckDB file (and optionally Parquet) now.

Mounted on the main group by crawl_pipeline/cli.py: ``main.add_command(export)``.
"""

from __future__ import annotations

from pathlib import Path

import click

from crawl_pipeline.commands.support import handles_user_errors


@click.command()
@click.option(
    "--parquet",
    "parquet_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write one Parquet file per table into this directory.",
)
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB file to write (default DUCKDB_PATH, data/analytics.duckdb).",
)
@handles_user_errors
def export(parquet_dir: Path | None, duckdb_path: Path | None) -> None:
    """Copy PostgreSQL into the analytics DuckDB file, swapped in atomically.

    Analysts holding the old file open keep reading it; open the new one with read_only=True.
    """
    from crawl_pipeline.analytics.duckdb_export import export_duckdb
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.db.stack import prepare_stack

    stack = prepare_stack()
    target = (duckdb_path or stack.settings.duckdb_path).absolute()
    try:
        with Database(stack.database_url, max_size=1, application_name="crawl_pipeline.export") as db, db.transaction() as conn:
            result = export_duckdb(conn, target, parquet_dir=parquet_dir)
    except OSError as exc:  # a full disk too (ExportWriteError wraps DuckDB's IOException/FatalException)
        click.echo(
            f"crawl-pipeline: error: cannot write {exc.filename or target}: {exc.strerror or exc}; "
            "the previous file is unchanged",
            err=True,
        )
        raise SystemExit(2) from None
    seconds = sum(result.seconds.values())
    for table, rows in result.rows.items():
        click.echo(f"  {table:<26} {rows:>12,} rows  {result.seconds[table]:7.2f} s")
    click.echo(
        f"{result.total_rows:,} rows in {seconds:.1f} s -> {result.path} ({result.bytes / 1e6:.1f} MB)"
        + (f"; Parquet in {result.parquet_dir}" if result.parquet_dir else "")
    )
