"""Per-batch crawl assets: profiles -> hero stats -> match stubs (phase 1) -> match details (phase 2).

The four are one non-subsettable multi-asset (``crawl_batch``): any selection of them, from the
UI, a backfill of failed partitions or a schedule, runs them together, phase by phase, and an
asset is materialized only when its phase and every earlier phase of the batch are finished. So
a backfill of ``match_details`` alone cannot turn a batch green whose hero phase failed, and
"failed and missing" on one asset cannot leave the later phases behind. Each phase fetches what
its batch still needs, commits as it goes, and fails the partition while items with attempts
left remain; a per-batch advisory lock keeps two runs off one batch. Re-materializing is idempotent.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import psycopg
from pydantic import Field

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import batches as batches_db
from crawl_pipeline.db.item_states import MAX_ATTEMPTS
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.common import markdown_table, provider_call
from crawl_pipeline.defs.crawl.partitions import account_batches
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain.frontier import parse_batch_key

GROUP = "crawl"
RETRY = dg.RetryPolicy(max_retries=1, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class RefreshConfig(dg.Config):
    refresh: bool = Field(default=False, description="Fetch every account of the batch again, not only pending ones.")


# ---------------------------------------------------------------- the four phases of a batch


@dataclass(frozen=True)
class Phase:
    asset: str  # asset key
    call: str  # provider call it uses (sources.registry)
    what: str  # the items, for messages
    run: Callable[..., phases.PhaseResult]
    totals: Callable[[Database, str], dict[str, int]]
    columns: tuple[str, ...]
    preview: Callable[[Database, str], list[tuple]]
    description: str


# ``run_id``: one run spends at most one attempt of an item, however often its step is retried
def _profiles(db, source, key, config, crawl, depth, log, run_id):
    return phases.fetch_profiles(
        db, source, key, refresh=config.refresh, max_workers=crawl.max_workers, log=log, run_id=run_id
    )


def _hero_stats(db, source, key, config, crawl, depth, log, run_id):
    return phases.fetch_hero_stats(
        db, source, key, refresh=config.refresh, max_workers=crawl.max_workers, log=log, run_id=run_id
    )


def _stubs(db, source, key, config, crawl, depth, log, run_id):
    return phases.fetch_match_stubs(
        db, source, key, refresh=config.refresh, max_matches=crawl.max_matches_per_account,
        page_size=crawl.page_size, max_workers=crawl.max_workers, log=log, run_id=run_id,
    )


def _details(db, source, key, config, crawl, depth, log, run_id):
    return phases.fetch_batch_details(
        db, source, key, depth=depth, chunk_size=crawl.details_chunk_size, max_workers=crawl.max_workers, log=log,
        run_id=run_id,
    )


PHASES: tuple[Phase, ...] = (
    Phase(
        "player_profiles", "profiles", "profiles", _profiles, batches_db.profile_totals,
        ("account", "name", "rank_tier"), batches_db.profile_preview,
        "Profile and rank_tier of every account in the batch; a rank_snapshots row whenever the rank changes.",
    ),
    Phase(
        "hero_stats", "hero_stats", "hero stats", _hero_stats, batches_db.hero_stats_totals,
        ("hero", "players", "matches"), batches_db.hero_stats_preview,
        "Matches, wins and last_played per account and hero. Rows of an account are replaced in one "
        "transaction, so a failed attempt leaves the old rows whole; unknown hero ids are skipped and counted.",
    ),
    Phase(
        "match_stubs", "match_history", "match histories", _stubs, batches_db.match_stub_totals,
        ("match", "start", "lobby", "from account"), batches_db.match_stubs_preview,
        "Phase 1: page through each account's match history (newest first, stopping at the newest stub "
        "already known) and store match stubs with has_details NULL. A match belongs to the first batch that saw it.",
    ),
    Phase(
        "match_details", "match_details", "match details", _details, batches_db.match_detail_totals,
        ("has_details", "matches", "retries"), batches_db.match_details_preview,
        "Phase 2: details of the batch's stubs: all players, encounters, and new accounts at depth + 1. "
        "Failures are recorded per match (retry_count, fetch_error); a Steam 500 leaves the stub pending.",
    ),
)
HERO_PHASES = 2  # player_profiles, hero_stats: what a run tagged crawl_pipeline/phase=heroes does
PHASE_TAG = "crawl_pipeline/phase"

SPECS = [
    dg.AssetSpec(
        p.asset, group_name=GROUP, kinds={"python", "postgres"}, description=p.description, skippable=True,
        deps=[PHASES[i - 1].asset] if i else [],
    )
    for i, p in enumerate(PHASES)
]


def phase_metadata(
    context: dg.AssetExecutionContext, db: Database, phase: Phase, result: phases.PhaseResult, usage: dict
) -> dict[str, dg.MetadataValue]:
    """The partition's totals from PostgreSQL (every attempt so far), then this attempt's work
    (``this_attempt``) and API use (``attempt_*``): a step retry or a re-run never hides earlier work."""
    key = context.partition_key
    metadata: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.int(value) for name, value in phase.totals(db, key).items()
    }
    metadata["this_attempt"] = dg.MetadataValue.json(
        {"attempt": context.op_execution_context.retry_number + 1, **{k: int(v) for k, v in sorted(result.counts.items())}}
    )
    metadata.update({f"attempt_{k}": v for k, v in usage.items()})  # API use of this phase in this attempt
    metadata["unsettled_failures"] = dg.MetadataValue.int(result.unsettled)
    metadata["preview"] = dg.MetadataValue.md(markdown_table(phase.columns, phase.preview(db, key)))
    if result.errors:
        metadata["error_sample"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in result.errors))
    return metadata


def phase_failure(
    context: dg.AssetExecutionContext, phase: Phase, result: phases.PhaseResult, metadata: dict, later: list[str]
) -> dg.Failure:
    """A headline that says what failed and what to do; on the last attempt it is the step's own
    error (no "Exceeded max_retries" in front of it)."""
    key = context.partition_key
    kinds = ", ".join(f"{k.removeprefix('failed_')} {v}" for k, v in sorted(result.counts.items()) if k.startswith("failed_"))
    retries_left = context.op_execution_context.retry_number < RETRY.max_retries
    description = (
        f"{phase.asset} of {key}: {result.unsettled} {phase.what} failed with attempts left "
        f"(at most {MAX_ATTEMPTS}){f'; this attempt: {kinds}' if kinds else ''}"
        + (f"; not run: {', '.join(later)}" if later else "")
        + ("; the step retries once now" if retries_left else
           "; re-execute the partition (or backfill its failed partitions) to retry them")
    )
    return dg.Failure(description=description, metadata=metadata, allow_retries=retries_left)


@dg.multi_asset(
    name="crawl_batch",
    specs=SPECS,
    partitions_def=account_batches,
    can_subset=False,
    pool=PROVIDER_POOL,
    retry_policy=RETRY,
    description=(
        "One account batch, phase by phase: player_profiles -> hero_stats -> match_stubs -> match_details. "
        "The four assets are materialized together (not subsettable): whichever of them a backfill or "
        "'Materialize' selects, the run does the batch's unfinished earlier phases first and an asset is "
        "materialized only once its phase and every earlier one are finished. A run tagged "
        "crawl_pipeline/phase=heroes (the discovery sensor's first request) stops after hero_stats."
    ),
)
def crawl_batch(
    context: dg.AssetExecutionContext, config: RefreshConfig, postgres: PostgresResource,
    providers: ProvidersResource, crawl: CrawlConfig,
) -> Iterator[dg.MaterializeResult]:
    db = postgres.db
    key = context.partition_key
    depth, _ = parse_batch_key(key)
    todo = PHASES[:HERO_PHASES] if context.run.tags.get(PHASE_TAG) == "heroes" else PHASES
    def waiting() -> None:
        context.log.info(f"another run is crawling {key}: waiting for it to finish (then only what is left runs)")

    try:
        with batches_db.batch_lock(db, key, on_wait=waiting):
            batches_db.mark_phases_run(db, key, heroes=True, matches=len(todo) > HERO_PHASES)
            for index, phase in enumerate(todo):
                with provider_call(context, providers, postgres, phase.call) as (source, usage):
                    result = phase.run(db, source, key, config, crawl, depth, context.log, context.run_id)
                    used = usage()
                metadata = phase_metadata(context, db, phase, result, used)
                if result.unsettled:
                    raise phase_failure(context, phase, result, metadata, [p.asset for p in todo[index + 1 :]])
                yield dg.MaterializeResult(asset_key=phase.asset, metadata=metadata)
    except psycopg.errors.LockNotAvailable:
        raise dg.Failure(
            description=(
                f"{key} was held by another run for 30 minutes, so this run did nothing; re-execute it once "
                "that run has finished"
            ),
            allow_retries=False,
        ) from None


player_profiles, hero_stats, match_stubs, match_details = (dg.AssetKey(p.asset) for p in PHASES)
BATCH_ASSET_KEYS = frozenset(dg.AssetKey(p.asset) for p in PHASES)

# One job per batch covering all its assets: backfills of failed partitions behave with one job
# (dagster-io/dagster #15514, #30784). Its runs always cover the whole multi-asset.
crawl_batch_job = dg.define_asset_job(
    "crawl_batch_job",
    selection=dg.AssetSelection.assets(*BATCH_ASSET_KEYS),
    partitions_def=account_batches,
    description="Crawl one account batch: profiles, hero stats, match stubs, match details.",
)
