"""``match_feed``: every public match, from Steam's sequence feed, one range of sequence numbers per partition.

Partitioning: dynamic partitions ``match_feed_ranges``, one per range of ``RANGE_WIDTH`` (10,000)
sequence numbers, keyed ``seq-<start>-<end>`` (13 digits each, no commas, so the UI can backfill
them; they sort in feed order). Why not the alternatives:

- static ranges: the feed has no end, and a grid over every sequence number ever issued (about
  6.6e9, 10,000 wide) would be 660,000 partitions, far beyond Dagster's ~100,000;
- time windows: the feed is ordered by sequence number, not by start time, and a day's matches
  cannot be asked for, so a day partition could not say what it holds or be re-run for it.

A range names exactly the data it holds, can be re-run or backfilled on its own, and only the
ranges actually read exist (the sensor adds the next one when the head range is done). 10,000
numbers are about 100 calls of Valve's dense feed, so one run of the default ``max_calls`` reads
about one range; the feed advances by very roughly a million numbers a day, i.e. some 100
partitions a day while it is kept up with. The keys carry both bounds, so ``RANGE_WIDTH`` can be
raised later (say to 100,000) without touching existing ranges.

Cursor: ``match_feed_ranges.next_seq_num`` in PostgreSQL, one per range, advanced in the same
transaction that stores the call's matches (``crawl_pipeline.crawl.feed``). A partition is
materialized once its range is read to the end; a run that stops earlier (``max_calls``, the live
end of the feed, an error) records an observation with the same metadata and leaves the partition
missing, so the sensor, a re-execution or a "missing partitions" backfill continues it.

Feed-discovered accounts: participants not yet known become accounts at ``discovery_depth``, by
default the crawl's ``max_depth``: inside the BFS frontier (they are batched and crawled), behind
the seed's own neighbourhood (batches are cut in depth order), and in the largest batches the crawl
cuts. Depth 0 would put up to a thousand strangers per call ahead of the seed's BFS in the smallest
batches (some 500 partitions per 100-call run). Accounts already known keep their depth. The feed
finds up to ~1,000 new accounts per call at first and fewer as the population becomes known, so
the total is bounded by Dota's players (~15M a month): at depth 2's 800 accounts per batch that is
~19,000 account_batches partitions; raise ``batch_size`` / ``max_batch_size`` or set ``max_accounts``
for fewer, or give ``discovery_depth`` > ``max_depth`` to store them without crawling them.
"""

from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from crawl_pipeline.crawl import feed as feed_engine
from crawl_pipeline.db import feed as feed_db
from crawl_pipeline.defs.common import markdown_table
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.pools import PROVIDER_POOL
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource

GROUP = "feed"
ASSET = "match_feed"
CHECK = "match_feed_contiguous"
RANGE_WIDTH = feed_engine.DEFAULT_RANGE_WIDTH
RETRY = dg.RetryPolicy(max_retries=1, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

match_feed_ranges = dg.DynamicPartitionsDefinition(name="match_feed_ranges")


class FeedConfig(dg.Config):
    start_at_match_seq_num: int | None = Field(
        default=None,
        description=(
            "Where a range with no cursor begins (it must lie in the partition's range). Unset: the newest "
            "match_seq_num the database knows when it lies in the range and the feed has no range yet, else "
            "the range's start. A range with a cursor always resumes from its cursor."
        ),
    )
    max_calls: int = Field(default=100, ge=1, description="Feed calls (100 matches each) this run makes at most.")
    discovery_depth: int | None = Field(
        default=None, ge=0,
        description="BFS depth given to accounts first seen in the feed; unset: the crawl's max_depth.",
    )
    call_retries: int = Field(
        default=3, ge=0, description="Retries of a failed call (1 s apart, 2 s more after a 429) before the run stops."
    )


def _metadata(run: feed_engine.FeedRun, snapshot: dict, db_totals: dict, preview: str) -> dict[str, dg.MetadataValue]:
    calls_per_second = run.calls / run.elapsed_seconds if run.elapsed_seconds else 0.0
    metadata: dict[str, dg.MetadataValue] = {
        "matches_stored": dg.MetadataValue.int(run.matches_stored),
        "players_stored": dg.MetadataValue.int(run.players_stored),
        "new_accounts": dg.MetadataValue.int(run.new_accounts),
        "calls": dg.MetadataValue.int(run.calls),
        "matches_per_call": dg.MetadataValue.float(round(run.matches_per_call, 2)),
        "matches_returned": dg.MetadataValue.int(run.matches_returned),
        "matches_already_detailed": dg.MetadataValue.int(run.matches_in_range - run.matches_stored),
        "unknown_heroes": dg.MetadataValue.int(run.unknown_heroes),
        "matches_malformed": dg.MetadataValue.int(run.matches_malformed),
        "rate_limited_429": dg.MetadataValue.int(int(snapshot.get("rate_limited_429") or 0)),
        "retries": dg.MetadataValue.int(int(snapshot.get("retries") or 0) + run.retries),
        "api_calls": dg.MetadataValue.int(int(snapshot.get("api_calls") or 0)),
        "cursor_before": dg.MetadataValue.int(run.cursor_before),
        "cursor_after": dg.MetadataValue.int(run.cursor_after),
        "range_end": dg.MetadataValue.int(run.range_end),
        "remaining_seq_nums": dg.MetadataValue.int(max(0, run.range_end - run.cursor_after)),
        "range_complete": dg.MetadataValue.bool(run.complete),
        "stop_reason": dg.MetadataValue.text(run.stop_reason),
        "elapsed_seconds": dg.MetadataValue.float(run.elapsed_seconds),
        "calls_per_second": dg.MetadataValue.float(round(calls_per_second, 2)),
        "matches_per_second": dg.MetadataValue.float(
            round(run.matches_stored / run.elapsed_seconds, 1) if run.elapsed_seconds else 0.0
        ),
        "range_totals": dg.MetadataValue.json(db_totals),
        "preview": dg.MetadataValue.md(preview),
    }
    if snapshot.get("mean_latency_ms") is not None:
        metadata["mean_latency_ms"] = dg.MetadataValue.float(float(snapshot["mean_latency_ms"]))
    if run.error:
        metadata["error"] = dg.MetadataValue.text(run.error)
    if run.malformed_sample:
        metadata["malformed_sample"] = dg.MetadataValue.md("\n".join(f"- {m}" for m in run.malformed_sample))
    return metadata


def _preview(run: feed_engine.FeedRun, state: feed_db.RangeState | None, calls: list[tuple]) -> str:
    head = (
        f"**{run.range_key}**: cursor {run.cursor_before} → {run.cursor_after} "
        f"({'complete' if run.complete else f'{run.range_end - run.cursor_after} numbers left'}; {run.stop_reason}), "
        f"{run.calls} calls, {run.matches_stored} matches stored ({run.matches_per_call:.1f} per call), "
        f"{run.new_accounts} new accounts"
    )
    if state is not None:
        head += f"; the range so far: {state.calls} calls, {state.matches_stored} matches"
    table = markdown_table(("from seq", "to seq (excl.)", "returned", "stored", "new accounts", "at (UTC)"), calls)
    return f"{head}\n\nLatest calls of the range:\n\n{table}"


def coverage_check(db) -> dg.AssetCheckResult:
    """Calls chain without gap or overlap inside each range, every cursor is where its last call
    ended, none went backwards (errors); ranges behind the head are complete and adjoin (warnings)."""
    with db.transaction() as conn:
        problems = feed_db.coverage_problems(conn)
        totals = feed_db.coverage_totals(conn)
    errors = [p for p in problems if p.severity == "error"]
    metadata: dict[str, dg.MetadataValue] = {
        "errors": dg.MetadataValue.int(len(errors)),
        "warnings": dg.MetadataValue.int(len(problems) - len(errors)),
        **{name: dg.MetadataValue.int(int(value)) for name, value in totals.items() if value is not None},
    }
    if problems:
        metadata["problems"] = dg.MetadataValue.md(
            markdown_table(("range", "severity", "problem"), [(p.range_key, p.severity, p.problem) for p in problems[:50]])
        )
    return dg.AssetCheckResult(
        check_name=CHECK,
        asset_key=ASSET,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@dg.multi_asset(
    name=ASSET,
    specs=[
        dg.AssetSpec(
            ASSET, group_name=GROUP, kinds={"python", "postgres"}, skippable=True,
            description=(
                "Every public match from Steam's GetMatchHistoryBySequenceNum (100 per call, as OpenDota's scanner "
                "reads it), one range of sequence numbers per partition, resumed from a cursor in PostgreSQL "
                "(match_feed_ranges). Matches are stored like match_details (already detailed ones skipped); new "
                "participants join the BFS frontier. Materialized when its range is read to the end; shorter runs "
                "are observations. Off by default: start match_feed_sensor."
            ),
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK, asset=ASSET,
            description="The feed's cursors never went backwards and the calls cover each range without gap or overlap.",
        )
    ],
    partitions_def=match_feed_ranges,
    pool=PROVIDER_POOL,
    retry_policy=RETRY,
)
def match_feed(
    context: dg.AssetExecutionContext, config: FeedConfig, postgres: PostgresResource, providers: ProvidersResource,
    crawl: CrawlConfig,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    db = postgres.db
    seq_range = feed_engine.SeqRange.parse(context.partition_key)
    if not providers.steam_api_key:
        raise dg.Failure(
            description="match_feed reads Steam's sequence feed: set STEAM_API_KEY (ProvidersResource.steam_api_key)",
            allow_retries=False,
        )
    options = feed_engine.FeedOptions(
        max_calls=config.max_calls,
        discovery_depth=crawl.max_depth if config.discovery_depth is None else config.discovery_depth,
        call_retries=config.call_retries,
    )
    with providers.open_sources(db) as sources:
        try:
            run = feed_engine.read_range(
                db, sources.provider("steam"), seq_range, options=options, start_at=config.start_at_match_seq_num,
                run_id=context.run.run_id, log=context.log,
            )
        except ValueError as error:  # a start_at_match_seq_num outside the range
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except feed_db.CursorMoved as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        snapshot = sources.snapshot()
    with db.transaction() as conn:
        state = feed_db.range_state(conn, seq_range.key)
        calls = feed_db.recent_calls(conn, seq_range.key)
    totals = {} if state is None else {"calls": state.calls, "matches_stored": state.matches_stored,
                                       "first_seq_num": state.first_seq_num, "next_seq_num": state.next_seq_num}
    metadata = _metadata(run, snapshot, totals, _preview(run, state, calls))
    check = coverage_check(db)
    if run.stop_reason == "error":
        context.log_event(dg.AssetObservation(asset_key=ASSET, partition=context.partition_key, metadata=metadata))
        yield check
        raise dg.Failure(
            description=(
                f"{seq_range.key}: the feed call at {run.cursor_after} failed after {options.call_retries} retries: "
                f"{run.error}; {run.calls} calls before it are stored, the next run resumes at {run.cursor_after}"
            ),
            metadata=metadata,
        )
    if run.complete:
        yield dg.MaterializeResult(asset_key=ASSET, metadata=metadata)
    else:
        context.log_event(dg.AssetObservation(asset_key=ASSET, partition=context.partition_key, metadata=metadata))
    yield check


match_feed_job = dg.define_asset_job(
    "match_feed_job",
    selection=dg.AssetSelection.assets(ASSET),
    partitions_def=match_feed_ranges,
    description="Read one range of Steam's public match feed from its cursor (match_feed).",
)
