"""Tracked accounts: new matches fetched every minute, participants discovered, ranks snapshotted."""

import dagster as dg

from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.defs.crawl import work
from crawl_pipeline.defs.crawl.assets import GROUP, finish, provider_call
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.sources.errors import APIError


@dg.asset(
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    description=(
        "Matches of tracked accounts (crawl-pipeline track ID) since their newest known match: stubs, "
        "details, participants discovered at depth + 1, and a rank snapshot when the rank changed."
    ),
)
def tracked_matches(
    context: dg.AssetExecutionContext, postgres: PostgresResource, providers: ProvidersResource, crawl: CrawlConfig
) -> dg.MaterializeResult:
    db = postgres.db
    with db.transaction() as conn:
        accounts = crawl_db.tracked_accounts(conn)
    result = work.PhaseResult()
    result.counts["tracked_accounts"] = len(accounts)
    with provider_call(context, providers, postgres, "profiles") as (profiles_source, profile_usage):
        for account in accounts:
            try:
                profile = profiles_source.player_profile(account.account_id)
            except APIError as error:
                result.failed(account.account_id, error, "profile")
                continue
            with db.transaction() as conn:
                result.counts["rank_snapshots"] += crawl_db.store_profiles(conn, [profile])[1]
    with provider_call(context, providers, postgres, "match_history") as (history_source, _):
        new_match_ids: list[tuple[int, int]] = []
        for account in accounts:
            try:
                history = work.read_history(
                    history_source, account, max_matches=crawl.max_matches_per_account, page_size=crawl.page_size,
                    incremental=True,
                )
            except APIError as error:
                result.failed(account.account_id, error, "history")
                continue
            result.counts["stubs_new"] += work.store_history(db, history, owner_batch=account.batch_key)
            new_match_ids += [(s.match_id, account.depth) for s in history.stubs]
    with provider_call(context, providers, postgres, "match_details") as (details_source, usage):
        with db.transaction() as conn:
            pending = {r[0] for r in conn.execute(
                "SELECT match_id FROM matches WHERE match_id = ANY(%s) AND has_details IS NOT TRUE",
                ([m for m, _ in new_match_ids],),
            ).fetchall()}
        for depth in sorted({d for _, d in new_match_ids}):
            ids = sorted(m for m, d in new_match_ids if d == depth and m in pending)
            details = work.fetch_details(
                db, details_source, ids, discovery_depth=depth + 1, chunk_size=crawl.details_chunk_size,
                max_workers=crawl.max_workers, log=context.log, label="tracked accounts",
            )
            result.counts.update(details.counts)
            result.errors += details.errors
    preview = "\n".join(f"- {a.account_id}" for a in accounts[:10]) or "no tracked accounts"
    return finish(context, result, lambda: {**profile_usage(), **usage()}, preview, "tracked items")


tracked_accounts_job = dg.define_asset_job(
    "tracked_accounts_job", selection=[tracked_matches], description="Fetch new matches of tracked accounts."
)


@dg.schedule(
    job=tracked_accounts_job,
    cron_schedule="* * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every minute: new matches of tracked accounts.",
)
def tracked_accounts_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())
