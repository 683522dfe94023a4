"""Data-quality checks of the crawl.

Every batch run evaluates them after its phases, on that batch's matches: a check that read
every match would cost each batch more as the crawl grows (the duplicate-player scan took 56 s
at 27M ``match_players`` rows). Executed alone (no partition), they read the whole crawl.
``pending_stubs_have_owner`` and the frontier wait are global either way, on partial indexes.

The five are one ``multi_asset_check`` step: five steps cost four more step starts, outputs and
successes in the event log than one (docs/architecture.md "Dagster overhead of a batch"). It is
subsettable, so the UI can still execute any one of them alone; each keeps its own history.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg

from crawl_pipeline.db import checks as checks_db
from crawl_pipeline.db.item_states import MAX_ATTEMPTS
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.assets import match_details, match_stubs
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.resources import PostgresResource

FAILED_DETAILS_THRESHOLD = 0.02  # share of stubs that gave up after every attempt


def pending_stubs_have_owner(db: Database, crawl: CrawlConfig, batch_key: str | None) -> dg.AssetCheckResult:
    orphans = checks_db.orphan_stubs(db)
    return dg.AssetCheckResult(passed=orphans == 0, metadata={"orphan_stubs": orphans})


def match_players_consistent(db: Database, crawl: CrawlConfig, batch_key: str | None) -> dg.AssetCheckResult:
    found = checks_db.match_player_violations(db, batch_key)
    duplicates, empty = found["duplicate_players"], found["detailed_matches_without_players"]
    return dg.AssetCheckResult(
        passed=duplicates == 0 and empty == 0,
        metadata={"duplicate_players": duplicates, "detailed_matches_without_players": empty},
    )


def discovered_accounts_batched(db: Database, crawl: CrawlConfig, batch_key: str | None) -> dg.AssetCheckResult:
    waiting = checks_db.unbatched_accounts(db, crawl.max_depth)
    capped = crawl.max_accounts is not None and checks_db.batched_accounts(db) >= crawl.max_accounts
    stale = waiting["accounts"] > 0 and waiting["oldest_seconds"] > 3 * crawl.partial_batch_after_seconds
    return dg.AssetCheckResult(
        passed=capped or not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unbatched_within_max_depth": int(waiting["accounts"]),
            "oldest_waiting_seconds": float(waiting["oldest_seconds"]),
            "account_cap_reached": capped,
        },
    )


def failed_details_under_threshold(db: Database, crawl: CrawlConfig, batch_key: str | None) -> dg.AssetCheckResult:
    row = checks_db.gave_up_details(db, batch_key)
    sample = row["sample"]
    share = row["gave_up"] / row["stubs"] if row["stubs"] else 0.0
    return dg.AssetCheckResult(
        passed=share <= FAILED_DETAILS_THRESHOLD,
        metadata={
            "gave_up": row["gave_up"],
            "stubs": row["stubs"],
            "share": float(share),
            "sample": dg.MetadataValue.md("\n".join(f"- {r['match_id']}: {r['fetch_error']}" for r in sample) or "none"),
        },
    )


def no_details_waiting_on_errors(db: Database, crawl: CrawlConfig, batch_key: str | None) -> dg.AssetCheckResult:
    row = checks_db.waiting_details(db, batch_key)
    return dg.AssetCheckResult(
        passed=row["waiting"] == 0,
        metadata={
            "waiting_stubs": int(row["waiting"]),
            "error_sample": dg.MetadataValue.md("\n".join(f"- {r['match_id']}: {r['fetch_error']}" for r in row["sample"]) or "none"),
        },
    )


@dataclass(frozen=True)
class CrawlCheck:
    spec: dg.AssetCheckSpec
    evaluate: Callable[[Database, CrawlConfig, str | None], dg.AssetCheckResult]


CRAWL_CHECKS: tuple[CrawlCheck, ...] = (
    CrawlCheck(
        dg.AssetCheckSpec(
            "pending_stubs_have_owner", asset=match_stubs,
            description="Every match still waiting for details has an owner batch.",
        ),
        pending_stubs_have_owner,
    ),
    CrawlCheck(
        dg.AssetCheckSpec(
            "match_players_consistent", asset=match_details,
            description="No player appears twice in a match; detailed matches have players (the run's batch).",
        ),
        match_players_consistent,
    ),
    CrawlCheck(
        dg.AssetCheckSpec(
            "discovered_accounts_batched", asset=match_details,
            description="Every discovered account is batched, or beyond max_depth / the account cap (warns).",
        ),
        discovered_accounts_batched,
    ),
    CrawlCheck(
        dg.AssetCheckSpec(
            "failed_details_under_threshold", asset=match_details,
            description=(
                f"Matches that failed {MAX_ATTEMPTS} times stay under {FAILED_DETAILS_THRESHOLD:.0%} of the stubs "
                "(of the run's batch; of all batches when executed alone)."
            ),
        ),
        failed_details_under_threshold,
    ),
    CrawlCheck(
        dg.AssetCheckSpec(
            "no_details_waiting_on_errors", asset=match_details,
            description=(
                "No stub waits with an error that was not its own (a provider down, every budget spent, a bad key, "
                "Steam's GetMatchDetails 500): such stubs spend no attempt, so only this check makes them loud "
                "(the run's batch)."
            ),
        ),
        no_details_waiting_on_errors,
    ),
)


@dg.multi_asset_check(
    specs=[c.spec for c in CRAWL_CHECKS],
    name="crawl_checks",
    can_subset=True,
    description=(
        "The crawl's data-quality checks on match_stubs and match_details, evaluated in one step: on the run's "
        "batch in a batch run, on the whole crawl when executed alone."
    ),
)
def crawl_checks(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource, crawl: CrawlConfig
) -> Iterator[dg.AssetCheckResult]:
    selected = context.selected_asset_check_keys
    run = context.op_execution_context
    batch_key = run.partition_key if run.has_partition_key else None
    for check in CRAWL_CHECKS:
        if check.spec.key in selected:
            found = check.evaluate(postgres.db, crawl, batch_key)  # evaluated without its key, named here
            yield dg.AssetCheckResult(
                asset_key=check.spec.asset_key, check_name=check.spec.name, passed=found.passed,
                severity=found.severity, metadata={**found.metadata, "scope": batch_key or "all batches"},
            )
