"""Helpers shared by the assets of every subject: the provider call around a step, API usage and
previews as materialization metadata, the materialization (or Failure) of a phase's result."""

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import dagster as dg

from crawl_pipeline.crawl.phases import PhaseResult
from crawl_pipeline.db.item_states import MAX_ATTEMPTS
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource

# Dagster's documented system run tags. Dagster exports no public constant for them (its public API has
# MAX_RUNTIME_SECONDS_TAG only; the others live in dagster._core), so they are named once here;
# crawl_pipeline_tests/test_definitions_complete.py checks Dagster still reads them so.
PARTITION_TAG = "dagster/partition"  # the partition of a run
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"  # a single-run range of partitions
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown table for ``MetadataValue.md`` previews: floats to 3 places, None blank, pipes escaped."""

    def cell(value) -> str:
        if value is None:
            return ""
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@contextmanager
def provider_call(
    context: dg.AssetExecutionContext, providers: ProvidersResource, postgres: PostgresResource, call: str,
    *, provider: str | None = None,
) -> Iterator[tuple]:
    """The source serving ``call`` (or, for a call one provider alone has, that ``provider``'s
    client) and a function returning metadata of the API usage so far."""
    started = time.monotonic()
    with providers.open_sources(postgres.db) as sources:
        source = sources.provider(provider) if provider else sources.for_call(call)

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
    result: PhaseResult,
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
