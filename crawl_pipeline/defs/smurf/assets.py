"""The smurf analyzer as three Dagster assets on the crawl's ``account_batches`` partitions.

``smurf_match_history`` (phase 1) -> ``smurf_scores`` (phase 2) -> ``ban_checks`` (phase 3).
All three use a single-run backfill policy: one run covers any range of batches (the
5-minute schedule asks for all of them), so baselines are fitted once per run on the whole
scorable population. Each partition's materialization shows that batch's own counts (read from
PostgreSQL for the batch) next to the whole run's ledger under ``run_*``; the run totals also go
on the run as ``smurf/*`` tags.
"""


import dagster as dg
from pydantic import Field

from crawl_pipeline.crawl import smurf as smurf_engine
from crawl_pipeline.db import bans as bans_db
from crawl_pipeline.db import checks as checks_db
from crawl_pipeline.db import smurf as smurf_db
from crawl_pipeline.defs.common import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    markdown_table,
    provider_call,
)
from crawl_pipeline.defs.crawl.partitions import account_batches
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain.smurf import DEFAULT_THRESHOLD, DEFAULT_WEIGHTS, SmurfModel

GROUP = "smurf"
SINGLE_RUN = dg.BackfillPolicy.single_run()
RUN_TAG_PREFIX = "smurf/"


class SmurfHistoryConfig(dg.Config):
    matches_per_call: int = Field(default=10, description="New ranked matches read per account and run.")
    target_matches: int = Field(default=20, description="Accounts below this many detailed significant matches get more.")
    max_accounts: int = Field(default=200, description="Accounts read per run (closest to the target first).")
    refetch_exhausted_days: float = Field(default=7.0, description="Re-read an account whose ranked history ran out after this many days.")
    max_rank_histories: int = Field(
        default=500,
        description="OpenDota medal histories read per run (one call each), for scorable accounts never read yet.",
    )
    rank_history_refetch_days: float = Field(
        default=30.0, description="Read an account's medal history again after this many days (profiles add changes meanwhile).",
    )


class SmurfScoreConfig(dg.Config):
    model_version: str = Field(default="smurf-v1", description="Stored with each row; a new weighting needs a new version.")
    threshold: float = Field(default=DEFAULT_THRESHOLD, description="is_smurf = total_score >= threshold.")
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS), description="Weight per signal.")
    min_matches: int = Field(default=20, description="Significant matches an account needs to be scored.")

    def model(self) -> SmurfModel:
        return SmurfModel(version=self.model_version, weights=self.weights, threshold=self.threshold,
                          min_matches=self.min_matches)


class BanCheckConfig(dg.Config):
    max_age_days: float = Field(default=7.0, description="Check again when the last check is older than this.")
    model_version: str | None = Field(default=None, description="Flags of this model version only (unset: any version).")
    max_accounts: int | None = Field(default=None, description="Cap on accounts checked per run.")


def _ledger_metadata(ledger: smurf_engine.Ledger) -> dict[str, dg.MetadataValue]:
    """The whole run's ledger: counts as ``run_*`` (they cover every batch of the run; each partition's
    own counts are added per partition by ``_per_partition``)."""
    metadata: dict[str, dg.MetadataValue] = {
        f"run_{k}": dg.MetadataValue.int(int(v)) for k, v in sorted(ledger.counts.items())
    }
    metadata["rate_limited"] = dg.MetadataValue.bool(ledger.rate_limited is not None)
    if ledger.rate_limited:
        metadata["rate_limit"] = dg.MetadataValue.text(ledger.rate_limited)
    if ledger.errors:
        metadata["error_sample"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in ledger.errors))
    return metadata


def _per_partition(context: dg.AssetExecutionContext, totals: dict[str, dict[str, int]], names: tuple[str, ...]) -> None:
    """Each partition's own counts (read from PostgreSQL for its batch), on that partition's materialization."""
    for key in context.partition_keys:
        counts = totals.get(key, {})
        context.add_asset_metadata({n: dg.MetadataValue.int(counts.get(n, 0)) for n in names}, partition_key=key)


def _run_started(postgres: PostgresResource):
    with postgres.db.transaction() as conn:
        return smurf_db.db_now(conn)


def _tag_run(context: dg.AssetExecutionContext, values: dict[str, int]) -> None:
    """The run ledger: totals as run tags, visible in the run list and `dagster run list`."""
    context.instance.add_run_tags(context.run_id, {f"{RUN_TAG_PREFIX}{k}": str(int(v)) for k, v in values.items()})


@dg.asset(
    partitions_def=account_batches,
    backfill_policy=SINGLE_RUN,
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    deps=[dg.AssetKey("match_details")],
    description=(
        "Smurf phase 1: newest ranked matches (lobby 7) of active, non-tracked accounts of the batches with fewer "
        "than the target of detailed significant matches; stubs and details stored the crawl's way; then "
        "OpenDota's medal history (/players/{id}/ratings) of each account now scorable that has none, "
        "since a match's own rank is the player's today. A rate limit ends the phase; an API error skips that player."
    ),
)
def smurf_match_history(
    context: dg.AssetExecutionContext, config: SmurfHistoryConfig, postgres: PostgresResource,
    providers: ProvidersResource, crawl: CrawlConfig,
) -> dg.MaterializeResult:
    keys = list(context.partition_keys)
    started = _run_started(postgres)
    with provider_call(context, providers, postgres, "match_history") as (history, history_usage), \
            provider_call(context, providers, postgres, "match_details") as (details, details_usage), \
            provider_call(context, providers, postgres, "rank_history", provider="opendota") as (ratings, ratings_usage):
        ledger = smurf_engine.fetch_ranked_histories(
            postgres.db, history, details, keys, matches_per_call=config.matches_per_call,
            target=config.target_matches, max_accounts=config.max_accounts,
            refetch_exhausted_days=config.refetch_exhausted_days, page_size=100,
            details_chunk_size=crawl.details_chunk_size, max_workers=crawl.max_workers, log=context.log,
            ratings_source=ratings, max_rank_histories=config.max_rank_histories,
            rank_history_refetch_days=config.rank_history_refetch_days,
        )
        h, d, r = history_usage(), details_usage(), ratings_usage()
    api_requests = sum(int(u["api_calls"].value) for u in (h, d, r) if "api_calls" in u)
    metadata = _ledger_metadata(ledger)
    metadata["run_api_requests"] = dg.MetadataValue.int(api_requests)
    metadata["run_history_api"] = dg.MetadataValue.json({k: v.value for k, v in h.items()})
    metadata["run_details_api"] = dg.MetadataValue.json({k: v.value for k, v in d.items()})
    metadata["run_rank_history_api"] = dg.MetadataValue.json({k: v.value for k, v in r.items()})
    metadata["run_batches"] = dg.MetadataValue.int(len(keys))
    with postgres.db.transaction() as conn:
        totals = smurf_db.history_totals_by_batch(conn, keys, started)
    _per_partition(context, totals, ("accounts", "histories_read", "matches_listed", "stubs_new",
                                     "histories_exhausted", "accounts_with_history"))
    _tag_run(context, {"api_requests_history": api_requests, "records_created_matches": ledger.counts["stubs_new"],
                       "players_fetched": ledger.counts["histories_read"],
                       "players_skipped_history": ledger.counts["players_skipped"]})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=account_batches,
    backfill_policy=SINGLE_RUN,
    group_name=GROUP,
    kinds={"python", "postgres"},
    deps=[smurf_match_history],
    description=(
        "Smurf phase 2: smurf-v1 scores (nine signals, total, threshold, is_smurf, weights) of the batches' accounts "
        "with at least 20 detailed significant matches; baselines fitted on the whole scorable population. "
        "Upserted per (account_id, model_version): other versions keep their rows."
    ),
)
def smurf_scores(
    context: dg.AssetExecutionContext, config: SmurfScoreConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    keys = list(context.partition_keys)
    model = config.model()
    started = _run_started(postgres)
    scored = smurf_engine.score_accounts(postgres.db, keys, model, log=context.log)
    metadata = _ledger_metadata(scored.ledger)
    metadata["run_batches"] = dg.MetadataValue.int(len(keys))
    with postgres.db.transaction() as conn:
        totals = smurf_db.score_totals_by_batch(conn, keys, model.version, started)
    _per_partition(context, totals, ("scored", "scored_this_run", "smurfs_found"))
    metadata["model_version"] = dg.MetadataValue.text(model.version)
    metadata["threshold"] = dg.MetadataValue.float(model.threshold)
    metadata["weights"] = dg.MetadataValue.json(model.normalized_weights())
    top = sorted(scored.scores, key=lambda s: -s.total_score)[:10]
    metadata["top_scores"] = dg.MetadataValue.md(markdown_table(
        ("account", "total", "smurf", "matches", "largest contributions"),
        [
            (s.account_id, s.total_score, s.is_smurf, s.matches_used,
             ", ".join(f"{k} {v:.2f}" for k, v in list(s.contributions().items())[:3]))
            for s in top
        ],
    ))
    if scored.baselines is not None:
        metadata["run_baseline_population"] = dg.MetadataValue.int(scored.ledger.counts["population"])
    _tag_run(context, {"players_analyzed": scored.ledger.counts["players_analyzed"],
                       "smurfs_found": scored.ledger.counts["smurfs_found"],
                       "records_created_scores": scored.ledger.counts["records_created"],
                       "records_updated_scores": scored.ledger.counts["records_updated"],
                       "players_failed_scores": scored.ledger.counts["players_failed"]})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=account_batches,
    backfill_policy=SINGLE_RUN,
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    deps=[smurf_scores],
    description=(
        "Smurf phase 3: Steam GetPlayerBans (100 accounts per call) for flagged accounts whose last check is missing "
        "or older than max_age_days; VAC and game bans upserted into ban_checks, unknown accounts marked not_found. "
        "A rate limit ends the phase; any other error skips that call and the rest go on."
    ),
)
def ban_checks(
    context: dg.AssetExecutionContext, config: BanCheckConfig, postgres: PostgresResource, providers: ProvidersResource
) -> dg.MaterializeResult:
    keys = list(context.partition_keys)
    started = _run_started(postgres)
    with provider_call(context, providers, postgres, "bans") as (source, usage):
        ledger = smurf_engine.check_bans(
            postgres.db, source, model_version=config.model_version, max_age_days=config.max_age_days,
            batch_keys=keys, limit=config.max_accounts, log=context.log,
        )
        api = usage()
    metadata = _ledger_metadata(ledger)
    metadata.update({f"run_{k}": v for k, v in api.items()})
    api_requests = int(api["api_calls"].value) if "api_calls" in api else 0
    metadata["run_api_requests"] = dg.MetadataValue.int(api_requests)
    metadata["run_batches"] = dg.MetadataValue.int(len(keys))
    with postgres.db.transaction() as conn:
        totals = bans_db.ban_totals_by_batch(conn, keys, started)
    _per_partition(context, totals, ("flagged", "checked", "checked_this_run", "banned", "not_found"))
    _tag_run(context, {"api_requests_bans": api_requests, "ban_checks_done": ledger.counts["ban_checks_done"],
                       "records_created_bans": ledger.counts["records_created"],
                       "records_updated_bans": ledger.counts["records_updated"]})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=smurf_scores, description="Every stored verdict agrees with its own total and threshold.")
def smurf_verdicts_consistent(postgres: PostgresResource) -> dg.AssetCheckResult:
    bad = checks_db.inconsistent_smurf_verdicts(postgres.db)
    return dg.AssetCheckResult(passed=bad == 0, metadata={"inconsistent_rows": bad})


smurf_analyzer_job = dg.define_asset_job(
    "smurf_analyzer_job",
    selection=[smurf_match_history, smurf_scores, ban_checks],
    partitions_def=account_batches,
    description="Smurf analyzer: ranked history -> scores -> ban checks, over any range of account batches.",
)


def analyzer_run_request(instance: dg.DagsterInstance, run_key: str | None = None) -> dg.RunRequest | dg.SkipReason:
    """One run over every account batch (a single-run partition range), or a skip before the
    crawl has made any batch."""
    keys = instance.get_dynamic_partitions(account_batches.name)
    if not keys:
        return dg.SkipReason("no account batches yet: the crawl has not started")
    return dg.RunRequest(
        run_key=run_key,
        tags={PARTITION_RANGE_START_TAG: keys[0], PARTITION_RANGE_END_TAG: keys[-1],
              "crawl_pipeline/trigger": "smurf_schedule"},
    )


@dg.schedule(
    job=smurf_analyzer_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Every 5 minutes: the smurf analyzer over all account batches. Off by default, like the discovery "
        "sensor: it calls the providers, so an operator turns it on."
    ),
)
def smurf_analyzer_schedule(context: dg.ScheduleEvaluationContext):
    return analyzer_run_request(context.instance, run_key=context.scheduled_execution_time.isoformat())
