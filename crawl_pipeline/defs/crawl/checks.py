"""Data-quality checks of the crawl (global queries, cheap with the partial indexes)."""

import dagster as dg

from crawl_pipeline.db import checks as checks_db
from crawl_pipeline.db.item_states import MAX_ATTEMPTS
from crawl_pipeline.defs.crawl.assets import match_details, match_stubs
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.resources import PostgresResource

FAILED_DETAILS_THRESHOLD = 0.02  # share of stubs that gave up after every attempt


@dg.asset_check(asset=match_stubs, description="Every match still waiting for details has an owner batch.")
def pending_stubs_have_owner(postgres: PostgresResource) -> dg.AssetCheckResult:
    orphans = checks_db.orphan_stubs(postgres.db)
    return dg.AssetCheckResult(passed=orphans == 0, metadata={"orphan_stubs": orphans})


@dg.asset_check(asset=match_details, description="No player appears twice in a match; detailed matches have players.")
def match_players_consistent(postgres: PostgresResource) -> dg.AssetCheckResult:
    found = checks_db.match_player_violations(postgres.db)
    duplicates, empty = found["duplicate_players"], found["detailed_matches_without_players"]
    return dg.AssetCheckResult(
        passed=duplicates == 0 and empty == 0,
        metadata={"duplicate_players": duplicates, "detailed_matches_without_players": empty},
    )


@dg.asset_check(
    asset=match_details,
    description="Every discovered account is batched, or beyond max_depth / the account cap (warns).",
)
def discovered_accounts_batched(postgres: PostgresResource, crawl: CrawlConfig) -> dg.AssetCheckResult:
    waiting = checks_db.unbatched_accounts(postgres.db, crawl.max_depth)
    batched = waiting["batched"]
    capped = crawl.max_accounts is not None and batched >= crawl.max_accounts
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


@dg.asset_check(
    asset=match_details,
    description=f"Matches that failed {MAX_ATTEMPTS} times stay under {FAILED_DETAILS_THRESHOLD:.0%} of all stubs.",
)
def failed_details_under_threshold(postgres: PostgresResource) -> dg.AssetCheckResult:
    row = checks_db.gave_up_details(postgres.db)
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



@dg.asset_check(
    asset=match_details,
    description=(
        "No stub waits with an error that was not its own (a provider down, every budget spent, a bad key, "
        "Steam's GetMatchDetails 500): such stubs spend no attempt, so only this check makes them loud."
    ),
)
def no_details_waiting_on_errors(postgres: PostgresResource) -> dg.AssetCheckResult:
    row = checks_db.waiting_details(postgres.db)
    return dg.AssetCheckResult(
        passed=row["waiting"] == 0,
        metadata={
            "waiting_stubs": int(row["waiting"]),
            "error_sample": dg.MetadataValue.md("\n".join(f"- {r['match_id']}: {r['fetch_error']}" for r in row["sample"]) or "none"),
        },
    )
