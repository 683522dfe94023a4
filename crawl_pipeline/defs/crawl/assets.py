"""Per-batch crawl assets: profiles -> hero stats -> match stubs (phase 1) -> match details (phase 2).

Each asset fetches what its batch still needs, commits as it goes, and fails the partition
while items with attempts left remain, so "re-execute from failure" or a backfill of failed
partitions finishes the job. Re-materializing is idempotent.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from crawl_pipeline.db.frontier import MAX_ATTEMPTS
from crawl_pipeline.defs.crawl import work
from crawl_pipeline.defs.crawl.partitions import account_batches
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.defs.metadata import markdown_table
from crawl_pipeline.domain.frontier import parse_batch_key

GROUP = "crawl"
RETRY = dg.RetryPolicy(max_retries=1, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class RefreshConfig(dg.Config):
    refresh: bool = Field(default=False, description="Fetch every account of the batch again, not only pending ones.")


@contextmanager
def provider_call(
    context: dg.AssetExecutionContext, providers: ProvidersResource, postgres: PostgresResource, call: str
) -> Iterator[tuple]:
    """The source serving ``call`` and a function returning metadata of the API usage so far."""
    started = time.monotonic()
    with providers.open_sources(postgres.db) as sources:
        source = sources.for_call(call)

        def usage() -> dict[str, dg.MetadataValue]:
            metadata = usage_metadata(sources.snapshot())
            metadata["elapsed_seconds"] = dg.MetadataValue.float(round(time.monotonic() - started, 2))
            return metadata

        yield source, usage


def usage_metadata(snapshot: dict) -> dict[str, dg.MetadataValue]:
    """API accounting (calls by status, 429s, retries, latency) as Dagster metadata."""
    metadata: dict[str, dg.MetadataValue] = {}
    for name, value in snapshot.items():
        if name == "api_calls_by_endpoint":
            continue  # too fine-grained for the UI; api_requests in PostgreSQL keeps it
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            metadata[name] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            metadata[name] = dg.MetadataValue.float(value)
        else:
            metadata[name] = dg.MetadataValue.json(value)
    return metadata


def finish(
    context: dg.AssetExecutionContext,
    result: work.PhaseResult,
    usage: Callable[[], dict],
    preview: str,
    what: str,
) -> dg.MaterializeResult:
    """Metadata for the materialization; a Failure (red partition) while retriable items remain."""
    metadata = {name: dg.MetadataValue.int(int(value)) for name, value in sorted(result.counts.items())}
    metadata.update(usage())
    metadata["unsettled_failures"] = dg.MetadataValue.int(result.unsettled)
    metadata["preview"] = dg.MetadataValue.md(preview)
    if result.errors:
        metadata["error_sample"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in result.errors))
    if result.unsettled:
        raise dg.Failure(
            description=(
                f"{result.unsettled} {what} of {context.partition_key} failed with attempts left "
                f"(at most {MAX_ATTEMPTS}); re-execute the partition to retry them"
            ),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=account_batches,
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    retry_policy=RETRY,
    description="Profile and rank_tier of every account in the batch; a rank_snapshots row whenever the rank changes.",
)
def player_profiles(
    context: dg.AssetExecutionContext, config: RefreshConfig, postgres: PostgresResource,
    providers: ProvidersResource, crawl: CrawlConfig,
) -> dg.MaterializeResult:
    key = context.partition_key
    with provider_call(context, providers, postgres, "profiles") as (source, usage):
        result = work.fetch_profiles(
            postgres.db, source, key, refresh=config.refresh, max_workers=crawl.max_workers, log=context.log
        )
    rows = postgres.db.fetch_all(
        "SELECT account_id, personaname, rank_tier FROM accounts WHERE batch_key = %s "
        "ORDER BY rank_tier DESC NULLS LAST LIMIT 5",
        (key,),
    )
    preview = markdown_table(("account", "name", "rank_tier"), [tuple(r.values()) for r in rows])
    return finish(context, result, usage, preview, "profiles")


@dg.asset(
    partitions_def=account_batches,
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    retry_policy=RETRY,
    deps=[player_profiles],
    description=(
        "Matches, wins and last_played per account and hero. Rows of an account are replaced in one "
        "transaction, so a failed attempt leaves the old rows whole; unknown hero ids are skipped and counted."
    ),
)
def hero_stats(
    context: dg.AssetExecutionContext, config: RefreshConfig, postgres: PostgresResource,
    providers: ProvidersResource, crawl: CrawlConfig,
) -> dg.MaterializeResult:
    key = context.partition_key
    with provider_call(context, providers, postgres, "hero_stats") as (source, usage):
        result = work.fetch_hero_stats(
            postgres.db, source, key, refresh=config.refresh, max_workers=crawl.max_workers, log=context.log
        )
    rows = postgres.db.fetch_all(
        """SELECT h.localized_name, count(*) AS players, sum(s.matches) AS matches FROM hero_stats s
           JOIN heroes h USING (hero_id) JOIN accounts a USING (account_id)
           WHERE a.batch_key = %s GROUP BY 1 ORDER BY 3 DESC LIMIT 5""",
        (key,),
    )
    preview = markdown_table(("hero", "players", "matches"), [tuple(r.values()) for r in rows])
    return finish(context, result, usage, preview, "hero stats")


@dg.asset(
    partitions_def=account_batches,
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    retry_policy=RETRY,
    deps=[hero_stats],
    description=(
        "Phase 1: page through each account's match history (newest first, stopping at the newest stub "
        "already known) and store match stubs with has_details NULL. A match belongs to the first batch that saw it."
    ),
)
def match_stubs(
    context: dg.AssetExecutionContext, config: RefreshConfig, postgres: PostgresResource,
    providers: ProvidersResource, crawl: CrawlConfig,
) -> dg.MaterializeResult:
    key = context.partition_key
    with provider_call(context, providers, postgres, "match_history") as (source, usage):
        result = work.fetch_match_stubs(
            postgres.db, source, key, refresh=config.refresh, max_matches=crawl.max_matches_per_account,
            page_size=crawl.page_size, max_workers=crawl.max_workers, log=context.log,
        )
    rows = postgres.db.fetch_all(
        "SELECT match_id, start_time, lobby_type, discovered_by FROM matches WHERE owner_batch = %s "
        "ORDER BY match_id DESC LIMIT 5",
        (key,),
    )
    preview = markdown_table(("match", "start", "lobby", "from account"), [tuple(r.values()) for r in rows])
    return finish(context, result, usage, preview, "match histories")


@dg.asset(
    partitions_def=account_batches,
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    retry_policy=RETRY,
    deps=[match_stubs],
    description=(
        "Phase 2: details of the batch's stubs: all players, encounters, and new accounts at depth + 1. "
        "Failures are recorded per match (retry_count, fetch_error); a Steam 500 leaves the stub pending."
    ),
)
def match_details(
    context: dg.AssetExecutionContext, postgres: PostgresResource, providers: ProvidersResource, crawl: CrawlConfig,
) -> dg.MaterializeResult:
    key = context.partition_key
    depth, _ = parse_batch_key(key)
    with provider_call(context, providers, postgres, "match_details") as (source, usage):
        result = work.fetch_batch_details(
            postgres.db, source, key, depth=depth, chunk_size=crawl.details_chunk_size,
            max_workers=crawl.max_workers, log=context.log,
        )
    rows = postgres.db.fetch_all(
        """SELECT has_details, count(*) AS matches, sum(retry_count) AS retries FROM matches
           WHERE owner_batch = %s GROUP BY 1 ORDER BY 1""",
        (key,),
    )
    preview = markdown_table(("has_details", "matches", "retries"), [tuple(r.values()) for r in rows])
    return finish(context, result, usage, preview, "match details")


BATCH_ASSETS = [player_profiles, hero_stats, match_stubs, match_details]
HERO_PHASE = [player_profiles.key, hero_stats.key]
MATCH_PHASE = [match_stubs.key, match_details.key]

# One job per batch covering all its assets: backfills of failed partitions behave with one job
# (dagster-io/dagster #15514, #30784). The sensor runs phase subsets of it.
crawl_batch_job = dg.define_asset_job(
    "crawl_batch_job",
    selection=BATCH_ASSETS,
    partitions_def=account_batches,
    description="Crawl one account batch: profiles, hero stats, match stubs, match details.",
)
