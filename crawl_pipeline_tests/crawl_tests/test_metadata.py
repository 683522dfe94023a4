"""Issue 17.7: a batch asset's metadata tells the partition's whole truth. With a faulty provider the
steps retry (RetryPolicy) and runs are repeated; each partition's latest materialization still shows
the batch's totals in PostgreSQL, not the counters of the attempt that happened to run last."""

import dagster as dg

from crawl_pipeline.db import batches as batches_db
from crawl_pipeline.defs.crawl.assets import PHASES
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions


def test_metadata_after_step_retries_is_the_partitions_total(db, database_url, dagster_instance):
    with start_simulator(rate_limits={"enabled": False}, fault_rate=0.15,
                         fault_mix={"http_500": 2, "http_503": 1, "drop": 1}) as faulty:
        defs = crawl_definitions(database_url, faulty.url, max_retries=0)
        runs = crawl_locally(defs, dagster_instance, db, SMALL_CRAWL, retry_rounds=8)
    assert runs.failed_partitions == []
    retried = [
        r for run_id in runs.run_ids
        for r in dagster_instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    ]
    assert retried, "the faults should have made some step retry"
    for key in dagster_instance.get_dynamic_partitions("account_batches"):
        for phase in PHASES:
            record = dagster_instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(phase.asset), asset_partitions=[key]), limit=1
            ).records[0]
            metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
            totals = phase.totals(db, key)
            assert {k: metadata[k] for k in totals} == totals, (key, phase.asset)
            assert metadata["this_attempt"]["attempt"] >= 1
            assert "attempt_api_calls" in metadata and "api_calls" not in metadata  # named as this attempt's
        stubs = batches_db.match_stub_totals(db, key)
        assert stubs["done"] + stubs["gave_up"] == stubs["accounts"]
        assert stubs["stubs_owned"] == db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = %s", (key,))
