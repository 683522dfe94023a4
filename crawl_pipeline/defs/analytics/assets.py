"""Analytics assets: leaderboards, per-match-type aggregates, the DuckDB copy and the HTML report.

hero_top100 is one unpartitioned asset, not 127 static partitions: the LATERAL statement
rebuilds every hero from the index in well under a second even at 30M hero_stats rows
(bench/bench_leaderboard.py), and one statement keeps all heroes consistent with each other.
Per-hero partitions would cost a run (process start, event log) per hero for no gain; the
metadata shows each hero's leader instead. Both leaderboard assets build incrementally from the
accounts whose hero_stats changed since their last build (db/leaderboards.py); the result is the
full rebuild's row for row, and ``full_rebuild: true`` in the run config forces one.
"""


import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import Field

from crawl_pipeline.analytics.duckdb_export import (
    EXPORT_TABLES,
    duckdb_row_counts,
    export_duckdb,
    open_analytics,
)
from crawl_pipeline.analytics.report import write_report
from crawl_pipeline.analytics.views import VIEWS
from crawl_pipeline.db import aggregates, leaderboards
from crawl_pipeline.db import checks as checks_db
from crawl_pipeline.defs.common import markdown_table
from crawl_pipeline.defs.pools import DUCKDB_POOL
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import get_settings

GROUP = "analytics"

# Upstream crawl assets (defined by the crawl subject): lineage only, by key.
HERO_STATS_KEY = dg.AssetKey("hero_stats")
MATCH_DETAILS_KEY = dg.AssetKey("match_details")

LEADERBOARD_CRON = "*/10 * * * *"
# Stale after (see automation.py, whose freshness checks use the same windows)
LEADERBOARD_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=30))
EXPORT_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2))
AGGREGATION_CRON = "*/5 * * * *"
EXPORT_CRON = "0 * * * *"


# ---------------------------------------------------------------- leaderboards


class HeroTop100Config(dg.Config):
    size: int = Field(default=100, ge=1, le=100, description="Accounts kept per hero.")
    full_rebuild: bool = Field(
        default=False,
        description="Recompute every hero from hero_stats instead of only the heroes changed accounts touch "
        "(the first build, and a build with another size, are full anyway).",
    )


def _build_metadata(result: leaderboards.BuildResult, recomputed_label: str) -> dict:
    metadata = {
        "mode": dg.MetadataValue.text(result.mode),
        "mode_reason": dg.MetadataValue.text(result.reason),
        recomputed_label: dg.MetadataValue.int(result.recomputed),
        "rows_written": dg.MetadataValue.int(result.rows_written),
        "rows_removed": dg.MetadataValue.int(result.removed),
    }
    if result.changed_accounts is not None:
        metadata["changed_accounts"] = dg.MetadataValue.int(result.changed_accounts)
    return metadata


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=[HERO_STATS_KEY],
    automation_condition=dg.AutomationCondition.cron_tick_passed(LEADERBOARD_CRON) & ~dg.AutomationCondition.in_progress(),
    freshness_policy=LEADERBOARD_FRESHNESS,
    description=(
        "Top 100 accounts per hero by matches (ties: wins, then account id) with wins and win rate, from "
        "hero_stats. One set-based statement (LATERAL top-N per hero over the hero_stats_leaderboard index) "
        "upserts and prunes the table atomically: readers never see it empty. Built every 10 minutes, "
        "incrementally: only heroes where an account whose hero_stats changed since the last build sat on the "
        "board or now ranks on it are recomputed (full_rebuild: true recomputes all)."
    ),
)
def hero_top100(config: HeroTop100Config, postgres: PostgresResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    with postgres.db.transaction() as conn:
        result = leaderboards.build_hero_top100(conn, config.size, full_rebuild=config.full_rebuild)
        rows = leaderboards.board_row_count(conn, "hero_top100")
        heroes = leaderboards.hero_top100_heroes(conn)
        summary = leaderboards.hero_top100_summary(conn, limit=200)
    elapsed = time.perf_counter() - started
    preview = markdown_table(
        ["hero", "accounts", "leader", "leader matches", "leader win rate"],
        [[r["hero"], r["accounts"], r["leader"], r["top_matches"], r["leader_win_rate"]] for r in summary],
    )
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "heroes": dg.MetadataValue.int(heroes),
            **_build_metadata(result, "heroes_recomputed"),
            "seconds": dg.MetadataValue.float(round(elapsed, 3)),
            "per_hero": dg.MetadataValue.md(preview if summary else "_hero_stats is empty_"),
        }
    )


class LeaderboardsConfig(dg.Config):
    size: int = Field(default=100, ge=1, le=100, description="Rows per board.")
    min_games: int = Field(default=100, ge=1, description="Minimum matches (all heroes) for the overall win-rate board.")
    min_hero_games: int = Field(default=20, ge=1, description="Minimum matches on a hero for its win-rate board.")
    full_rebuild: bool = Field(
        default=False,
        description="Recompute every board from all of hero_stats instead of only the boards changed accounts can "
        "move (the first build, and a build with other size or thresholds, are full anyway).",
    )


@dg.asset(
    name="leaderboards",
    group_name=GROUP,
    kinds={"postgres"},
    deps=[hero_top100, HERO_STATS_KEY],
    automation_condition=dg.AutomationCondition.eager().ignore(dg.AssetSelection.assets(HERO_STATS_KEY)),
    freshness_policy=LEADERBOARD_FRESHNESS,
    description=(
        "Leaderboards: most matches over all heroes (hero_id 0) and per hero, best win rate over all heroes "
        "(at least min_games matches) and per hero (at least min_hero_games). One atomic statement, "
        "incremental by default (only the boards accounts whose hero_stats changed can move; full_rebuild: true "
        "recomputes all); refreshed after each hero_top100 build."
    ),
)
def leaderboards_asset(config: LeaderboardsConfig, postgres: PostgresResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    with postgres.db.transaction() as conn:
        result = leaderboards.build_leaderboards(
            conn, size=config.size, min_games=config.min_games, min_hero_games=config.min_hero_games,
            full_rebuild=config.full_rebuild,
        )
        rows = leaderboards.board_row_count(conn, "leaderboards")
        ranked = leaderboards.ranked_accounts(conn)
        most = leaderboards.board_rows(conn, "most_matches", 0, 10)
        best = leaderboards.board_rows(conn, "best_win_rate", 0, 10)
        per_board = leaderboards.board_summary(conn)
    elapsed = time.perf_counter() - started
    columns = ["#", "account", "matches", "wins", "win rate"]
    preview = (
        "**Most matches (all heroes)**\n\n"
        + markdown_table(columns, [[r["position"], r["account_id"], r["matches"], r["wins"], r["win_rate"]] for r in most])
        + f"\n\n**Best win rate (all heroes, >= {config.min_games} matches)**\n\n"
        + markdown_table(columns, [[r["position"], r["account_id"], r["matches"], r["wins"], r["win_rate"]] for r in best])
    )
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            **_build_metadata(result, "boards_recomputed"),
            "win_rate_boards_recomputed_in_full": dg.MetadataValue.int(result.fallbacks),
            "ranked_accounts": dg.MetadataValue.int(ranked),
            "boards": dg.MetadataValue.md(markdown_table(["board", "overall rows", "heroes"], [list(r) for r in per_board])),
            "min_games": dg.MetadataValue.int(config.min_games),
            "min_hero_games": dg.MetadataValue.int(config.min_hero_games),
            "seconds": dg.MetadataValue.float(round(elapsed, 3)),
            "preview": dg.MetadataValue.md(preview),
        }
    )


@dg.asset_check(asset=hero_top100, description="At most 100 accounts per hero, positions 1..n without gaps, in order.")
def hero_top100_valid(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.db.transaction() as conn:
        violations = leaderboards.hero_top100_violations(conn)
        heroes = leaderboards.hero_top100_heroes(conn)
    return dg.AssetCheckResult(
        passed=not any(violations.values()),
        metadata={**{k: dg.MetadataValue.int(v) for k, v in violations.items()}, "heroes": dg.MetadataValue.int(heroes)},
    )


@dg.asset_check(
    asset=leaderboards_asset,
    description="Every board has contiguous positions, is ordered, and win-rate rows meet their threshold.",
)
def leaderboards_valid(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.db.transaction() as conn:
        violations = leaderboards.leaderboards_violations(conn)
    return dg.AssetCheckResult(
        passed=not any(violations.values()), metadata={k: dg.MetadataValue.int(v) for k, v in violations.items()}
    )


# ---------------------------------------------------------------- aggregates


class AggregationConfig(dg.Config):
    batch_size: int = Field(default=5000, ge=1, description="Matches claimed per transaction.")
    max_batches: int = Field(default=200, ge=1, description="Batches per run at most (the schedule comes back).")
    full_rebuild: bool = Field(default=False, description="Recompute the whole table from every detailed match.")


def _with_deadlock_retry(db, func, attempts: int = 3):
    for attempt in range(1, attempts + 1):
        try:
            with db.transaction() as conn:
                return func(conn)
        except psycopg.errors.DeadlockDetected:
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=[MATCH_DETAILS_KEY, dg.AssetKey("heroes")],
    automation_condition=dg.AutomationCondition.cron_tick_passed(AGGREGATION_CRON) & ~dg.AutomationCondition.in_progress(),
    description=(
        "Per account x hero x match type (ranked = lobby_type 7, normal = lobby_type 0, all = every lobby type): "
        "games, wins, kills, deaths, assists, GPM/XPM and last-hit sums, first and last match time. Folds in "
        "detailed matches not yet aggregated, batch by batch (FOR UPDATE SKIP LOCKED, marked in the same "
        "transaction, ON CONFLICT adds), skipping anonymous players and unknown hero ids. Every 5 minutes; "
        "the rebuild job recomputes it from scratch."
    ),
)
def player_match_type_stats(
    context: dg.AssetExecutionContext, config: AggregationConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    totals = {"matches": 0, "rows_upserted": 0, "anonymous_players": 0, "unknown_hero_players": 0}
    batches = 0
    if config.full_rebuild:
        result = _with_deadlock_retry(postgres.db, aggregates.rebuild_all)
        totals = {k: getattr(result, k) for k in totals}
        batches = 1
    else:
        while batches < config.max_batches:
            result = _with_deadlock_retry(postgres.db, lambda conn: aggregates.aggregate_batch(conn, config.batch_size))
            if result.matches == 0:
                break
            batches += 1
            for key in totals:
                totals[key] += getattr(result, key)
            context.log.info(f"batch {batches}: {result.matches} matches, {result.rows_upserted} rows")
    with postgres.db.transaction() as conn:
        lag = aggregates.aggregation_lag(conn)
        by_type = aggregates.rows_by_match_type(conn)
    return dg.MaterializeResult(
        metadata={
            "mode": "full rebuild" if config.full_rebuild else "incremental",
            "batches": dg.MetadataValue.int(batches),
            **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
            "pending_matches": dg.MetadataValue.int(lag.pending),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
            "preview": dg.MetadataValue.md(markdown_table(["match type", "rows", "games"], [list(r) for r in by_type])),
        }
    )


class LagConfig(dg.Config):
    max_age_minutes: float = Field(default=30.0, description="Oldest unaggregated detailed match may be this old.")
    max_pending: int = Field(default=100_000, description="At most this many detailed matches may wait.")


@dg.asset_check(
    asset=player_match_type_stats,
    description="Aggregation lag: count and age of the oldest detailed match not yet aggregated, against thresholds.",
)
def player_match_type_stats_lag(config: LagConfig, postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.db.transaction() as conn:
        lag = aggregates.aggregation_lag(conn)
    passed = lag.age_seconds <= config.max_age_minutes * 60 and lag.pending <= config.max_pending
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "pending_matches": dg.MetadataValue.int(lag.pending),
            "oldest_age_minutes": dg.MetadataValue.float(round(lag.age_seconds / 60, 2)),
            "oldest": dg.MetadataValue.text(lag.oldest.isoformat() if lag.oldest else "none"),
            "max_age_minutes": dg.MetadataValue.float(config.max_age_minutes),
            "max_pending": dg.MetadataValue.int(config.max_pending),
        },
    )


@dg.asset_check(
    asset=player_match_type_stats,
    description="wins <= games, and per account and hero: all >= ranked + normal.",
)
def player_match_type_stats_consistent(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.db.transaction() as conn:
        bad_wins, bad_all = aggregates.consistency_violations(conn)
    return dg.AssetCheckResult(
        passed=bad_wins == 0 and bad_all == 0,
        metadata={"rows_bad_wins_or_games": dg.MetadataValue.int(bad_wins), "keys_all_below_parts": dg.MetadataValue.int(bad_all)},
    )


# ---------------------------------------------------------------- DuckDB + report


class DuckDBExportConfig(dg.Config):
    path: str | None = Field(default=None, description="DuckDB file; default DUCKDB_PATH (data/analytics.duckdb).")
    parquet_dir: str | None = Field(default=None, description="Also write one Parquet file per table here.")


def _duckdb_path(config_path: str | None) -> Path:
    return Path(config_path).absolute() if config_path else get_settings().duckdb_path


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "postgres"},
    pool=DUCKDB_POOL,
    deps=[hero_top100, leaderboards_asset, player_match_type_stats, HERO_STATS_KEY, MATCH_DETAILS_KEY],
    automation_condition=dg.AutomationCondition.on_cron(EXPORT_CRON).ignore(
        dg.AssetSelection.assets(HERO_STATS_KEY, MATCH_DETAILS_KEY)
    ),
    freshness_policy=EXPORT_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec("row_counts_match_postgres", asset="analytics_duckdb",
                          description="Every table holds the rows PostgreSQL had in the export snapshot."),
        dg.AssetCheckSpec("views_query", asset="analytics_duckdb",
                          description="Every analyst view answers a query."),
    ],
    description=(
        "The analysts' DuckDB file (DUCKDB_PATH): every domain table of PostgreSQL (crawl, leaderboards, "
        "aggregates, smurf scores, ban checks, encounters, rank snapshots, identity roles, sync log), reference "
        "tables and friendly views, smurf flags joined to ban outcomes included "
        "(docs/analyst-queries.md). Bulk copy via COPY ... TO STDOUT into Arrow batches from one PostgreSQL "
        "snapshot, written to a temporary file and swapped in with os.replace. One writer (pool duckdb_writer); "
        "open it with read_only=True. Rebuilt hourly."
    ),
)
def analytics_duckdb(config: DuckDBExportConfig, postgres: PostgresResource):
    path = _duckdb_path(config.path)
    try:
        with postgres.db.transaction() as conn:
            result = export_duckdb(conn, path, parquet_dir=Path(config.parquet_dir) if config.parquet_dir else None)
    except OSError as exc:  # a full disk included (ExportWriteError): one clear line, the old file intact
        raise dg.Failure(
            description=(
                f"analytics_duckdb: cannot write {exc.filename or path}: {exc.strerror or exc}; the previous file "
                "is unchanged: free space (or fix the path) and materialize again"
            ),
            metadata={"path": dg.MetadataValue.path(str(path))},
        ) from None
    with open_analytics(path) as duck:
        counts = duckdb_row_counts(duck)
        view_errors = {}
        for view in VIEWS:
            try:
                duck.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
            except Exception as exc:  # any failure is reported by the check
                view_errors[view] = str(exc)[:200]
    mismatched = {t: c for t, c in counts.items() if c["duckdb"] != c["postgres"]}
    preview = markdown_table(
        ["table", "rows", "seconds"], [[t, f"{n:,}", f"{result.seconds[t]:.2f}"] for t, n in result.rows.items()]
    )
    metadata = {
        "path": dg.MetadataValue.path(str(path)),
        "total_rows": dg.MetadataValue.int(result.total_rows),
        "bytes": dg.MetadataValue.int(result.bytes),
        "rows_per_second": dg.MetadataValue.int(int(result.total_rows / max(sum(result.seconds.values()), 1e-9))),
        "pg_snapshot": dg.MetadataValue.text(result.snapshot),
        "tables": dg.MetadataValue.md(preview),
        **{f"rows_{t}": dg.MetadataValue.int(n) for t, n in result.rows.items()},
    }
    if result.parquet_dir:
        metadata["parquet_dir"] = dg.MetadataValue.path(str(result.parquet_dir))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="row_counts_match_postgres",
                passed=not mismatched,
                metadata={"tables": len(counts), "mismatched": dg.MetadataValue.json(mismatched)},
            ),
            dg.AssetCheckResult(
                check_name="views_query",
                passed=not view_errors,
                metadata={"views": len(VIEWS), "errors": dg.MetadataValue.json(view_errors)},
            ),
        ],
    )


@dg.asset_check(
    asset=analytics_duckdb,
    description="The DuckDB copy's row counts against PostgreSQL now (drift since the export; warns only).",
)
def analytics_duckdb_drift(config: DuckDBExportConfig, postgres: PostgresResource) -> dg.AssetCheckResult:
    path = _duckdb_path(config.path)
    if not path.exists():
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"missing": str(path)})
    with open_analytics(path) as duck:
        counts = duckdb_row_counts(duck)
    with postgres.db.transaction() as conn:
        live = checks_db.table_row_counts(conn, [t for t in counts if t in EXPORT_TABLES])
    drift = {t: live[t] - counts[t]["duckdb"] for t in live if live[t] != counts[t]["duckdb"]}
    return dg.AssetCheckResult(
        passed=not drift,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"drift_rows": dg.MetadataValue.json(drift), "path": dg.MetadataValue.path(str(path))},
    )


class ReportConfig(dg.Config):
    duckdb_path: str | None = Field(default=None, description="DuckDB file to read; default DUCKDB_PATH.")
    output: str | None = Field(default=None, description="HTML file; default <CRAWL_DATA_DIR>/report.html.")
    min_games: int = Field(default=100, ge=1, description="Minimum matches for the win-rate histogram.")


@dg.asset(
    group_name=GROUP,
    kinds={"html", "duckdb"},
    deps=[analytics_duckdb],
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[dg.AssetCheckSpec("self_contained", asset="analytics_report",
                                   description="The report embeds its plots and loads nothing from the network.")],
    description=(
        "data/report.html: leaderboards, ranked vs normal summary and plots (matplotlib PNGs embedded as base64), "
        "read from the DuckDB copy read-only; opens without a network. Refreshed after each DuckDB export."
    ),
)
def analytics_report(config: ReportConfig) -> dg.MaterializeResult:
    settings = get_settings()
    output = Path(config.output).absolute() if config.output else settings.data_dir / "report.html"
    result = write_report(_duckdb_path(config.duckdb_path), output, min_games=config.min_games)
    text = output.read_text(encoding="utf-8")
    remote = [marker for marker in ("src='http", 'src="http', "href='http", 'href="http', "@import") if marker in text]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(output)),
            "url": dg.MetadataValue.url(output.as_uri()),
            "plots": dg.MetadataValue.int(result.plots),
            "tables": dg.MetadataValue.int(result.tables),
            "bytes": dg.MetadataValue.int(result.bytes),
            "accounts": dg.MetadataValue.int(result.accounts),
            "matches": dg.MetadataValue.int(result.matches),
            "preview": dg.MetadataValue.md(
                f"[report.html]({output.as_uri()}): {result.plots} plots, {result.tables} tables, "
                f"{result.accounts:,} accounts, {result.matches:,} matches"
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="self_contained",
                passed=not remote and text.count("data:image/png;base64,") == result.plots,
                metadata={"remote_references": len(remote), "embedded_images": text.count("data:image/png;base64,")},
            )
        ],
    )
