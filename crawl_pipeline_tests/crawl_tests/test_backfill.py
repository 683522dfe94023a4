"""Backfills cannot lie: the runbook's recipe (backfill the failed and missing partitions of one crawl
asset) run end to end through GraphQL and the backfill daemon's loop, on a dagster-postgres instance
and the simulator.

The batch assets are one non-subsettable multi-asset, so selecting ``match_details`` alone runs the
whole batch, earlier phases first; healthy partitions are not touched.
"""

from __future__ import annotations

import logging

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
from dagster_graphql.test.utils import execute_dagster_graphql

from crawl_pipeline.db.accounts import add_seeds
from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline.defs.crawl.assets import BATCH_ASSET_KEYS, crawl_batch_job
from crawl_pipeline.defs.crawl.local_runner import QUIET_LOGGING
from crawl_pipeline.defs.crawl.sensors import discovery_tick
from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions

SEED = 293053907
DEAD_PROVIDER = "http://127.0.0.1:9"  # connection refused: every call fails with attempts left
BATCH_ASSETS = sorted(k.to_user_string() for k in BATCH_ASSET_KEYS)


@pytest.fixture
def backfill_instance(dagster_postgres_url, tmp_path):
    """A dagster-postgres instance whose runs execute synchronously in this process when launched."""
    with dg.instance_for_test(
        overrides={
            "storage": {"postgres": {"postgres_url": dagster_postgres_url}},
            "run_launcher": {"module": "dagster._core.launcher.sync_in_memory_run_launcher",
                             "class": "SyncInMemoryRunLauncher"},
            "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
        },
        temp_dir=str(tmp_path),
    ) as instance:
        instance.wipe()
        for key in instance.get_dynamic_partitions("account_batches"):
            instance.delete_dynamic_partition("account_batches", key)
        yield instance


def _tick(instance, db, crawl=SMALL_CRAWL):
    tick = discovery_tick(instance, db, crawl)
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return {r.partition_key: r for r in tick.run_requests}


def _run(defs, instance, key, phase):
    job = defs.resolve_job_def(crawl_batch_job.name)
    return job.execute_in_process(
        partition_key=key, instance=instance, tags={"crawl_pipeline/phase": phase}, run_config=QUIET_LOGGING,
        raise_on_error=False,
    )


def _materialized(instance, key):
    """{asset: storage id of its latest materialization} of one partition."""
    out = {}
    for asset in BATCH_ASSET_KEYS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=1
        ).records
        if records:
            out[asset.to_user_string()] = records[0].storage_id
    return out


def _failed(instance, asset, keys):
    status = instance.get_status_by_partition(dg.AssetKey(asset), keys, dg.DynamicPartitionsDefinition(name="account_batches"))
    return sorted(k for k, s in (status or {}).items() if s.value == "FAILED")


def _batch_whole(db, key) -> bool:
    undone = db.fetch_value(
        "SELECT count(*) FROM accounts WHERE batch_key = %s AND (profile_fetched_at IS NULL OR hero_stats_at IS NULL "
        "OR matches_synced_at IS NULL)", (key,),
    )
    stubs = db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = %s", (key,))
    pending = db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = %s AND has_details IS NOT TRUE", (key,))
    return undone == 0 and stubs > 0 and pending == 0


def test_backfill_of_failed_and_missing_partitions_of_one_asset_finishes_whole_batches(
    db, database_url, backfill_instance, clean_simulator, monkeypatch
):
    instance = backfill_instance
    good = crawl_definitions(database_url, clean_simulator.url)
    dead = crawl_definitions(database_url, DEAD_PROVIDER, max_retries=0)
    with db.transaction() as conn:
        add_seeds(conn, [SEED])
    # depth 0 whole, through the sensor's two phase runs
    assert _run(good, instance, "d00-000000", _tick(instance, db)["d00-000000"].tags["crawl_pipeline/phase"]).success
    assert _run(good, instance, "d00-000000", _tick(instance, db)["d00-000000"].tags["crawl_pipeline/phase"]).success
    depth1 = sorted(_tick(instance, db))
    assert len(depth1) >= 3, depth1
    broken, healthy, half = depth1[:3]
    # the broken batch's hero phase fails (provider down); the others' hero phases succeed
    failed_run = _run(dead, instance, broken, "heroes")
    assert not failed_run.success
    failure = failed_run.get_step_failure_events()[0].step_failure_data.error.message
    assert f"player_profiles of {broken}:" in failure and "failed with attempts left" in failure
    assert "Exceeded max_retries" not in failure
    assert _run(good, instance, healthy, "heroes").success and _run(good, instance, half, "heroes").success
    # a match-phase run of the broken batch cannot turn its match assets green: its hero phase is unfinished
    guarded = _run(dead, instance, broken, "matches")
    assert not guarded.success
    assert not {"match_stubs", "match_details"} & set(_materialized(instance, broken))
    assert db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = %s", (broken,)) == 0
    assert _run(good, instance, healthy, "matches").success  # healthy: whole
    assert _batch_whole(db, healthy)
    # half: hero phase done, match phase never ran (missing); broken: failed
    assert set(_materialized(instance, half)) == {"player_profiles", "hero_stats"}
    assert _failed(instance, "player_profiles", depth1) == [broken]
    before = {key: _materialized(instance, key) for key in ["d00-000000", healthy]}
    runs_before = {r.run_id for r in instance.get_runs()}

    # The runbook: match_details -> Partitions -> Failed and missing -> Materialize selected -> backfill.
    targets = sorted(k for k in instance.get_dynamic_partitions("account_batches")
                     if "match_details" not in _materialized(instance, k))
    assert targets == sorted([broken, half, *depth1[3:]])
    monkeypatch.setenv("BACKFILL_TEST_DATABASE_URL", database_url)
    monkeypatch.setenv("BACKFILL_TEST_SIM_URL", clean_simulator.url)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            module_name="crawl_pipeline_tests.crawl_tests.backfill_defs", attribute="defs",
            working_directory=str(PROJECT_ROOT),
        ),
        location_name="crawl_pipeline",
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace:
        def launch(assets):
            return execute_dagster_graphql(
                workspace.create_request_context(), LAUNCH_PARTITION_BACKFILL_MUTATION,
                {"backfillParams": {"partitionNames": targets, "assetSelection": [{"path": [a]} for a in assets]}},
            )

        # match_details alone cannot be backfilled (no run of it alone can exist) ...
        alone = launch(["match_details"])
        assert alone.data["launchPartitionBackfill"]["__typename"] == "PythonError"
        assert "non-subsettable multi-asset" in alone.data["launchPartitionBackfill"]["message"]
        # ... the UI adds the assets it must be materialized with ("additional required keys"): the four
        result = launch(BATCH_ASSETS)
        assert result.data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", result
        backfill_id = result.data["launchPartitionBackfill"]["backfillId"]
        logger = logging.getLogger("backfill_test")
        for _ in range(20):
            errors = [e for e in execute_backfill_iteration(workspace, logger) if e is not None]
            assert not errors, errors[0].to_string()
            backfill = instance.get_backfill(backfill_id)
            if backfill.status.value != "REQUESTED":
                break
    debug = [(r.tags.get("dagster/partition"), r.status.value) for r in instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))]
    assert backfill.status.value == "COMPLETED_SUCCESS", (backfill.status, debug, backfill.asset_backfill_data)
    backfill_runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    # one run per target batch, each covering the four batch assets, all green
    assert sorted(r.tags["dagster/partition"] for r in backfill_runs) == targets
    assert all(r.is_success and r.asset_selection == BATCH_ASSET_KEYS for r in backfill_runs)
    for key in targets:
        assert set(_materialized(instance, key)) == set(BATCH_ASSETS), key
        assert _batch_whole(db, key), key
    assert _failed(instance, "player_profiles", targets) == [] and _failed(instance, "match_details", targets) == []
    # healthy partitions untouched: no new run, no new materialization
    assert {key: _materialized(instance, key) for key in ["d00-000000", healthy]} == before
    new_runs = {r.run_id for r in instance.get_runs()} - runs_before
    assert new_runs == {r.run_id for r in backfill_runs}
    # the sensor now has nothing to request for the backfilled batches (their phases ran)
    assert not set(_tick(instance, db)) & set(targets)
