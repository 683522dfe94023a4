"""Dagster pools (concurrency limits kept in the instance) and their limits."""

import dagster as dg

PROVIDER_POOL = "provider_api"  # every step that calls a provider
DUCKDB_POOL = "duckdb_writer"  # DuckDB allows one writer per file

POOL_LIMITS = {PROVIDER_POOL: 4, DUCKDB_POOL: 1}


def ensure_pool_limits(instance: dg.DagsterInstance) -> None:
    """Set the project's pool limits on ``instance`` (idempotent); `dagster instance concurrency
    set <pool> <limit>` changes them by hand."""
    for pool, limit in POOL_LIMITS.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
