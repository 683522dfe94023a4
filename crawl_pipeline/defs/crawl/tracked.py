"""Tracked accounts: new matches fetched every minute, participants discovered, ranks snapshotted.

A profile or history that fails is recorded on the account as the batch phases record it
(``crawl_db.record_account_failures``: the error, one attempt per run); an account whose phase
used every attempt (or gave up at once: the provider does not know it) is left alone until
``crawl-pipeline retry`` re-opens it."""

from collections import Counter

import dagster as dg

from crawl_pipeline.crawl import phases
from crawl_pipeline.db import batches as batches_db
from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db import job_runs as job_runs_db
from crawl_pipeline.defs.common import finish, provider_call
from crawl_pipeline.defs.crawl.assets import GROUP
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain.failures import describe
from crawl_pipeline.sources.errors import PENDING, APIError, RateLimited, outcome_of
from crawl_pipeline.sources.http import TRANSIENT

JOB_NAME = "tracked_accounts_job"
ACCOUNT_PHASES = ("player_profiles", "match_stubs")  # the batch phases whose columns this job fills


def _rate_limit_in(errors: list[str]) -> str | None:
    """The first rate-limit error of a phase's error sample ("<item>: RateLimited: ...")."""
    return next((e for e in errors if "RateLimited:" in e), None)


@dg.asset(
    group_name=GROUP,
    kinds={"python", "postgres"},
    pool=PROVIDER_POOL,
    description=(
        "Matches of tracked accounts (crawl-pipeline track ID) since their newest known match: stubs, "
        "details, participants discovered at depth + 1, and a rank snapshot when the rank changed. A rate "
        "limit ends the run early and fails it; every run is written to the job ledger (job_runs)."
    ),
)
def tracked_matches(
    context: dg.AssetExecutionContext, postgres: PostgresResource, providers: ProvidersResource, crawl: CrawlConfig
) -> dg.MaterializeResult:
    db = postgres.db
    with db.transaction() as conn:
        job_runs_db.start_run(conn, context.run_id, JOB_NAME)
        accounts = crawl_db.tracked_accounts(conn)
        gave_up = {phase: crawl_db.tracked_gave_up(conn, phase) for phase in ACCOUNT_PHASES}
    result = phases.PhaseResult()
    result.counts["tracked_accounts"] = len(accounts)
    failures: Counter[str] = Counter()
    usages: list = []
    rate_limited: str | None = None
    to_record: dict[str, list[tuple[int, str, str]]] = {phase: [] for phase in ACCOUNT_PHASES}

    def failed(phase: str, account_id: int, error: APIError) -> None:
        nonlocal rate_limited
        result.failed(account_id, error, phase)
        failures[f"{phase}:{type(error).__name__}"] += 1
        # The job runs every minute and asks one account a request, so a 5xx, timeout or lost
        # connection of the provider cannot be told from the account's own fault: counted as an
        # attempt, three minutes of an outage would give a tracked account up. Those leave it
        # pending with its error; what the answer itself shows (a 404, a malformed body) counts.
        outcome = PENDING if isinstance(error, TRANSIENT) else outcome_of(error)
        to_record[phase].append((account_id, describe(error), outcome))
        if isinstance(error, RateLimited) and rate_limited is None:
            rate_limited = f"{phase} of {account_id}: {describe(error)}"

    def due(phase: str) -> list[crawl_db.AccountTodo]:
        result.counts[f"{phase}_gave_up_skipped"] = len(gave_up[phase])
        return [a for a in accounts if a.account_id not in gave_up[phase]]

    def record(phase: str) -> None:
        """The phase's failures on their accounts, in one statement (one attempt per run)."""
        if to_record[phase]:
            with db.transaction() as conn:
                crawl_db.record_account_failures(conn, phase, to_record[phase], run_id=context.run_id)
            to_record[phase] = []

    try:
        with provider_call(context, providers, postgres, "profiles") as (profiles_source, profile_usage):
            usages.append(profile_usage)
            try:
                for account in due("player_profiles"):
                    if rate_limited:
                        break
                    try:
                        profile = profiles_source.player_profile(account.account_id)
                    except APIError as error:
                        failed("player_profiles", account.account_id, error)
                        continue
                    with db.transaction() as conn:
                        result.counts["rank_snapshots"] += crawl_db.store_profiles(conn, [profile])[1]
                    result.counts["profiles_fetched"] += 1
            finally:
                record("player_profiles")
        new_match_ids: list[tuple[int, int]] = []
        with provider_call(context, providers, postgres, "match_history") as (history_source, history_usage):
            usages.append(history_usage)
            try:
                for account in due("match_stubs"):
                    if rate_limited:
                        break
                    try:
                        history = phases.read_history(
                            history_source, account, max_matches=crawl.max_matches_per_account,
                            page_size=crawl.page_size, incremental=True,
                        )
                    except APIError as error:
                        failed("match_stubs", account.account_id, error)
                        continue
                    result.counts["stubs_new"] += phases.store_history(db, history, owner_batch=account.batch_key)
                    result.counts["histories_read"] += 1
                    new_match_ids += [(s.match_id, account.depth) for s in history.stubs]
            finally:
                record("match_stubs")
        with provider_call(context, providers, postgres, "match_details") as (details_source, usage):
            usages.append(usage)
            with db.transaction() as conn:
                pending = batches_db.undetailed_among(conn, [m for m, _ in new_match_ids])
            for depth in sorted({d for _, d in new_match_ids}):
                if rate_limited:
                    break
                ids = sorted(m for m, d in new_match_ids if d == depth and m in pending)
                details = phases.fetch_details(
                    db, details_source, ids, discovery_depth=depth + 1, chunk_size=crawl.details_chunk_size,
                    max_workers=crawl.max_workers, log=context.log, label="tracked accounts", run_id=context.run_id,
                )
                result.counts.update(details.counts)
                result.errors += details.errors
                for name, n in details.counts.items():
                    if name.startswith("failed_"):
                        failures[f"match_details:{name.removeprefix('failed_')}"] += n
                limited = _rate_limit_in(details.errors)
                if limited and rate_limited is None:
                    rate_limited = f"match_details: {limited}"
    except Exception as exc:  # a database error, a bug: the ledger says so, the run fails as it would
        with db.transaction() as conn:
            job_runs_db.finish_run(
                conn, context.run_id, status="failed", api_requests=_api_requests(usages),
                records_written=_records(result), failures=failures, error=describe(exc),
            )
        raise
    api_requests = _api_requests(usages)
    with db.transaction() as conn:
        job_runs_db.finish_run(
            conn, context.run_id, status="rate_limited" if rate_limited else "succeeded", api_requests=api_requests,
            records_written=_records(result), failures=failures, rate_limited=rate_limited,
        )
    preview = "\n".join(f"- {a.account_id}" for a in accounts[:10]) or "no tracked accounts"

    def metadata() -> dict:
        merged: dict = {}
        for use in usages:  # API use per call family; api_requests is the run's total
            merged.update(use())
        merged["api_requests"] = dg.MetadataValue.int(api_requests)
        merged["records_written"] = dg.MetadataValue.int(_records(result))
        merged["failures_by_kind"] = dg.MetadataValue.json(dict(sorted(failures.items())))
        return merged

    if rate_limited:
        done = result.counts["histories_read"]
        raise dg.Failure(
            description=(
                f"tracked_matches: rate limited before finishing ({rate_limited}); {done} of {len(accounts)} "
                "histories read, the rest waits: the next run (every minute) carries on where this one stopped"
            ),
            metadata={**{k: dg.MetadataValue.int(int(v)) for k, v in sorted(result.counts.items())}, **metadata()},
            allow_retries=False,
        )
    return finish(context, result, metadata, preview, "tracked items")


def _api_requests(usages: list) -> int:
    return sum(int(u().get("api_calls", dg.MetadataValue.int(0)).value or 0) for u in usages)


def _records(result: phases.PhaseResult) -> int:
    return sum(result.counts[k] for k in ("rank_snapshots", "stubs_new", "details_stored", "players_stored"))


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
