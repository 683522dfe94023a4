"""Data-quality checks of the crawl.

Every batch run evaluates them after its phases, so none may read more as the crawl grows (the
duplicate-player scan over every match took 53-61 s at 27M ``match_players`` rows). The stub
checks read the stubs in an error state through partial indexes, whole-crawl as before;
``match_players_consistent`` reads the run's batch plus the batches its last evaluation found
failing, so a failure stays red until its own batch is fixed, not until the next batch passes.
Executed alone (no partition), it reads every match.

The five are one ``multi_asset_check`` step: five steps cost four more step starts and successes
in the event log (docs/architecture.md "Dagster overhead of a batch"). It is subsettable, so the
UI can still execute any one alone, and each keeps its own history; a check that raises is
reported failed with its error, and the others still run.
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
FAILING_BATCHES = "failing_batches"  # metadata: where a batch-scoped check found violations


def _sample(rows: list[dict]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {r['match_id']}: {r['fetch_error']}" for r in rows) or "none")


def pending_stubs_have_owner(db: Database, crawl: CrawlConfig, batches: list[str] | None) -> dg.AssetCheckResult:
    orphans = checks_db.orphan_stubs(db)
    return dg.AssetCheckResult(passed=orphans == 0, metadata={"orphan_stubs": orphans})


def match_players_consistent(db: Database, crawl: CrawlConfig, batches: list[str] | None) -> dg.AssetCheckResult:
    found = checks_db.match_player_violations(db, batches)
    duplicates, empty = found["duplicate_players"], found["detailed_matches_without_players"]
    return dg.AssetCheckResult(
        passed=duplicates == 0 and empty == 0,
        metadata={
            "duplicate_players": duplicates, "detailed_matches_without_players": empty,
            FAILING_BATCHES: dg.MetadataValue.json(found["batches"]),
        },
    )


def discovered_accounts_batched(db: Database, crawl: CrawlConfig, batches: list[str] | None) -> dg.AssetCheckResult:
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


def failed_details_under_threshold(db: Database, crawl: CrawlConfig, batches: list[str] | None) -> dg.AssetCheckResult:
    row = checks_db.gave_up_details(db)
    share = row["gave_up"] / row["stubs"] if row["stubs"] else 0.0
    return dg.AssetCheckResult(
        passed=share <= FAILED_DETAILS_THRESHOLD,
        metadata={
            "gave_up": row["gave_up"],
            "stubs": row["stubs"],
            "stubs_estimated": row["stubs_estimated"],
            "share": float(share),
            "sample": _sample(row["sample"]),
        },
    )


def no_details_waiting_on_errors(db: Database, crawl: CrawlConfig, batches: list[str] | None) -> dg.AssetCheckResult:
    row = checks_db.waiting_details(db)
    return dg.AssetCheckResult(
        passed=row["waiting"] == 0,
        metadata={"waiting_stubs": int(row["waiting"]), "error_sample": _sample(row["sample"])},
    )


@dataclass(frozen=True)
class CrawlCheck:
    spec: dg.AssetCheckSpec
    evaluate: Callable[[Database, CrawlConfig, list[str] | None], dg.AssetCheckResult]
    per_batch: bool = False  # reads named batches (``batches``), not the whole crawl


CRAWL_CHECKS: tuple[CrawlCheck, ...] = (
    CrawlCheck(
        dg.AssetCheckSpec(
            "pending_stubs_have_owner", asset=match_stubs,
            description="Every match still waiting for details has an owner batch, or is one the match feed could not read (it fetches those again).",
        ),
        pending_stubs_have_owner,
    ),
    CrawlCheck(
        dg.AssetCheckSpec(
            "match_players_consistent", asset=match_details,
            description=(
                "No player appears twice in a match; detailed matches have players (the run's batch and the "
                "batches found failing before; every match when executed alone)."
            ),
        ),
        match_players_consistent,
        per_batch=True,
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
            description=f"Matches that failed {MAX_ATTEMPTS} times stay under {FAILED_DETAILS_THRESHOLD:.0%} of all stubs.",
        ),
        failed_details_under_threshold,
    ),
    CrawlCheck(
        dg.AssetCheckSpec(
            "no_details_waiting_on_errors", asset=match_details,
            description=(
                "No stub waits with an error that was not its own (a provider down, every budget spent, a bad key, "
                "Steam's GetMatchDetails 500): such stubs spend no attempt, so only this check makes them loud."
            ),
        ),
        no_details_waiting_on_errors,
    ),
)


def failing_before(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> list[str]:
    """The batches the check's last evaluation found failing (none if it passed, never ran or
    raised); the run's own planned, not yet evaluated, record is passed over. Matches no batch
    owns, found by a check executed alone, are not read again by batch runs."""
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=10):
        evaluation = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
        if isinstance(evaluation, dg.AssetCheckEvaluation):
            failing = evaluation.metadata.get(FAILING_BATCHES)
            return [] if evaluation.passed or failing is None else list(failing.value)
    return []


@dg.multi_asset_check(
    specs=[c.spec for c in CRAWL_CHECKS],
    name="crawl_checks",
    can_subset=True,
    description=(
        "The crawl's data-quality checks on match_stubs and match_details, evaluated in one step after each "
        "batch, at a cost that does not grow with the crawl."
    ),
)
def crawl_checks(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource, crawl: CrawlConfig
) -> Iterator[dg.AssetCheckResult]:
    batch = context.partition_key if context.has_partition_key else None
    for check in CRAWL_CHECKS:
        if check.spec.key not in context.selected_asset_check_keys:
            continue
        batches = None
        if check.per_batch and batch is not None:
            batches = sorted({batch, *failing_before(context.instance, check.spec.key)} - {checks_db.NO_BATCH})
        scope = {"scope": dg.MetadataValue.json(batches if batches is not None else "all batches")}
        try:
            found = check.evaluate(postgres.db, crawl, batches)
        except Exception as exc:  # one broken check must not silence the others
            context.log.error(f"check {check.spec.name} raised {type(exc).__name__}: {exc}")
            yield dg.AssetCheckResult(
                asset_key=check.spec.asset_key, check_name=check.spec.name, passed=False,
                metadata={**scope, "error": f"{type(exc).__name__}: {exc}"},
            )
            continue
        yield dg.AssetCheckResult(  # evaluated without its key, named here
            asset_key=check.spec.asset_key, check_name=check.spec.name, passed=found.passed, severity=found.severity,
            metadata={**found.metadata, **scope}, description=found.description,
        )
