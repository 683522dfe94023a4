"""Human-readable tables for the terminal (status and demo summaries)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _progress(done: int, total: int) -> str:
    return f"{done:,}/{total:,}" if total else "0/0"


def print_status(report: dict[str, Any], database: str, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]crawl_pipeline[/bold] on {database} (schema v{report['schema_version']})")
    totals = Table(title="Totals", show_header=False)
    matches = report["matches"]
    for label, value in [
        ("accounts", f"{report['accounts']:,} ({report['seeds']:,} seeds, {report['tracked']:,} tracked)"),
        ("batched", _progress(report["batched"], report["accounts"])),
        ("profiles", _progress(report["profiles"], report["accounts"])),
        ("hero stats", _progress(report["hero_stats_done"], report["accounts"])),
        ("match histories", _progress(report["matches_synced"], report["accounts"])),
        ("match details", _progress(matches["details"], matches["stubs"])),
        ("details pending / failed", f"{matches['pending']:,} / {matches['failed']:,} ({matches['failed_permanently']:,} gave up)"),
        ("aggregation lag", f"{matches['unaggregated']:,} matches, oldest {matches['aggregation_oldest_seconds']:,.0f}s"),
        ("API calls, last hour", ", ".join(f"{s}: {n:,}" for s, n in report["api_calls_last_hour"].items()) or "none"),
        ("accounts with errors", f"{report['accounts_with_errors']:,}"),
        ("heroes / hero_stats rows", f"{report['heroes']:,} / {report['hero_stats']:,}"),
        ("smurfs flagged", f"{report['smurfs_flagged']:,}"),
        ("smallest active backoff", _backoff(report["smallest_active_backoff"])),
    ]:
        totals.add_row(label, value)
    console.print(totals)
    if report["by_depth"]:
        depth = Table(title="Progress per depth")
        for column in ("depth", "accounts", "batches", "batched", "hero stats", "match histories", "failed"):
            depth.add_column(column, justify="right")
        for row in report["by_depth"]:
            depth.add_row(
                str(row["depth"]),
                f"{row['accounts']:,}",
                f"{row['batches']:,}",
                _progress(row["batched"], row["accounts"]),
                _progress(row["hero_stats_done"], row["accounts"]),
                _progress(row["matches_synced"], row["accounts"]),
                f"{row['failed']:,}",
            )
        console.print(depth)
    if report.get("job_runs"):
        ledger = Table(title="Job runs (newest first)")
        for column in ("job", "run", "status", "started (UTC)", "API requests", "records", "failures by kind"):
            ledger.add_column(column, justify="right" if column in ("API requests", "records") else "left")
        for run in report["job_runs"]:
            failures = ", ".join(f"{k} {v}" for k, v in sorted((run.get("failures") or {}).items())) or "-"
            status = run["status"] + (f": {run['rate_limited']}" if run.get("rate_limited") else "")
            ledger.add_row(
                run["job_name"], run["run_id"][:8], status, (run["started_at"] or "-")[:19].replace("T", " "),
                f"{run['api_requests'] or 0:,}", f"{run['records_written'] or 0:,}", failures,
            )
        console.print(ledger)


def _backoff(backoff: dict[str, Any] | None) -> str:
    if not backoff:
        return "none"
    reason = f" ({backoff['reason']})" if backoff.get("reason") else ""
    return f"{backoff['seconds_left']}s on {backoff['bucket']}{reason}"
