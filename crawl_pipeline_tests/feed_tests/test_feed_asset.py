"""match_feed through Dagster on a real dagster-postgres instance: the sensor (off by default) picks the
range, runs resume from the cursor in PostgreSQL, a range is materialized once read whole, the check
passes, and the next range follows."""

from __future__ import annotations

import dagster as dg
import numpy as np

from crawl_pipeline.crawl.feed import SeqRange
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.feed import definitions as feed_definitions
from crawl_pipeline.defs.feed.assets import (
    ASSET,
    CHECK,
    match_feed_job,
    match_feed_ranges,
)
from crawl_pipeline.defs.feed.sensors import feed_tick, match_feed_sensor
from crawl_pipeline_tests.feed_tests.support import (
    FIRST_RANGE_START,
    definitions,
    stored,
    truth,
)
from crawl_pipeline_tests.support import QUIET

R1 = SeqRange(FIRST_RANGE_START, FIRST_RANGE_START + 10_000)


def _apply(instance, result):
    for request in result.dynamic_partitions_requests:  # the daemon's part, not done by a test context
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def _run(defs, instance, key, **config):
    run_config = {**QUIET, "ops": {ASSET: {"config": config}}}
    return defs.resolve_job_def(match_feed_job.name).execute_in_process(
        instance=instance, partition_key=key, run_config=run_config, raise_on_error=False
    )


def _metadata(result):
    """The feed metadata of a run: its materialization's, else its observation's."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            return "materialized", {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
        if event.event_type_value == "ASSET_OBSERVATION":
            return "observed", {k: v.value for k, v in event.event_specific_data.asset_observation.metadata.items()}
    raise AssertionError("no feed event")


def test_off_by_default_and_registered():
    assert match_feed_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert list(feed_definitions.defs.sensors) == [match_feed_sensor] and not feed_definitions.defs.schedules
    repo = definitions("postgresql://unused", "http://127.0.0.1:9").get_repository_def()
    assert repo.get_sensor_def("match_feed_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    spec = repo.assets_defs_by_key[dg.AssetKey(ASSET)]
    assert spec.group_names_by_key[dg.AssetKey(ASSET)] == "feed"
    assert set(spec.specs_by_key[dg.AssetKey(ASSET)].kinds) == {"python", "postgres"}
    assert spec.partitions_def == match_feed_ranges
    assert spec.op.pool == "provider_api"


def test_the_feed_through_dagster(db, database_url, dagster_instance, clean_simulator):
    world = clean_simulator.world
    defs = definitions(database_url, clean_simulator.url, CrawlConfig(max_depth=2))
    assert isinstance(feed_tick(dagster_instance, db), dg.SkipReason)  # no cursor, no known match: nothing to do

    # the crawl knows a match: the feed begins at its sequence number
    index = np.array([1234])
    newest = int(world.match_seq_num(index)[0])
    with db.transaction() as conn:
        conn.execute("INSERT INTO matches (match_id, match_seq_num) VALUES (%s, %s)", (int(world.match_id(index)[0]), newest))
    tick = feed_tick(dagster_instance, db)
    assert [r.partition_key for r in tick.run_requests] == [R1.key]
    assert tick.run_requests[0].run_config == {"ops": {ASSET: {"config": {"start_at_match_seq_num": newest}}}}
    _apply(dagster_instance, tick)
    assert dagster_instance.get_dynamic_partitions(match_feed_ranges.name) == [R1.key]

    first = _run(defs, dagster_instance, R1.key, start_at_match_seq_num=newest, max_calls=4)
    assert first.success
    kind, meta = _metadata(first)
    assert kind == "observed"  # not read to the end yet: the partition stays missing
    assert meta["cursor_before"] == newest and meta["calls"] == 4 and meta["matches_stored"] == 400
    assert meta["matches_per_call"] == 100.0 and meta["rate_limited_429"] == 0 and meta["stop_reason"] == "max_calls"
    assert meta["new_accounts"] > 0 and "Latest calls of the range" in meta["preview"]
    assert dagster_instance.get_materialized_partitions(dg.AssetKey(ASSET)) == set()
    assert [e.passed for e in first.get_asset_check_evaluations()] == [True]

    # the sensor continues the head range (no new partition), and refrains while a feed run is in flight
    again = feed_tick(dagster_instance, db)
    assert [r.partition_key for r in again.run_requests] == [R1.key] and again.dynamic_partitions_requests == []
    assert again.run_requests[0].run_config == {}
    busy = dagster_instance.create_run_for_job(
        defs.resolve_job_def(match_feed_job.name), tags={"dagster/partition": R1.key}, status=dg.DagsterRunStatus.STARTED
    )
    try:
        assert isinstance(feed_tick(dagster_instance, db), dg.SkipReason)
    finally:
        dagster_instance.delete_run(busy.run_id)

    second = _run(defs, dagster_instance, R1.key, max_calls=1000)  # a new run resumes from the cursor
    kind, meta2 = _metadata(second)
    assert kind == "materialized" and meta2["range_complete"] is True
    assert meta2["cursor_before"] == meta["cursor_after"] and meta2["cursor_after"] == R1.end
    assert dagster_instance.get_materialized_partitions(dg.AssetKey(ASSET)) == {R1.key}
    checks = second.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [(CHECK, True)]
    assert stored(db, R1.start, R1.end) == truth(world, newest, R1.end)  # from the start, every match once
    assert db.fetch_value("SELECT min(depth) FROM accounts") == 2  # the crawl's max_depth, batched by discovery

    following = feed_tick(dagster_instance, db)
    assert [r.partition_key for r in following.run_requests] == [R1.following().key]
    assert following.dynamic_partitions_requests[0].partition_keys == [R1.following().key]


def test_a_failed_run_keeps_what_it_stored_and_the_sensor_backs_off(db, database_url, dagster_instance, clean_simulator):
    defs = definitions(database_url, clean_simulator.url)
    dagster_instance.add_dynamic_partitions(match_feed_ranges.name, [R1.key])
    assert _run(defs, dagster_instance, R1.key, max_calls=2).success
    clean_simulator.configure(fault_rate=1.0, fault_mix={"http_500": 1.0})
    try:
        failed = _run(defs, dagster_instance, R1.key, max_calls=5, call_retries=0)
    finally:
        clean_simulator.configure(fault_rate=0.0)
    assert not failed.success
    kind, meta = _metadata(failed)
    assert kind == "observed" and meta["calls"] == 0 and meta["cursor_before"] == meta["cursor_after"]
    assert "error" in meta
    assert db.fetch_value("SELECT count(*) FROM matches") == 200  # the first run's two calls stay
    assert isinstance(feed_tick(dagster_instance, db), dg.SkipReason)  # 5 minutes after a failure
    assert feed_tick(dagster_instance, db, backoff=0).run_requests[0].partition_key == R1.key
    assert _run(defs, dagster_instance, R1.key, max_calls=1000).success
    assert stored(db, R1.start, R1.end) == truth(clean_simulator.world, R1.start, R1.end)


def test_the_project_definitions_carry_the_feed_and_the_runbook_lists_its_sensor():
    import re

    from crawl_pipeline.db.stack import PROJECT_ROOT
    from crawl_pipeline.definitions import defs as project_defs

    sensors = {s.name: s for s in project_defs.sensors}
    assert sensors["match_feed_sensor"].default_status == dg.DefaultSensorStatus.STOPPED
    assert match_feed_job.name in {j.name for j in project_defs.jobs}
    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Turning the crawl on", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^\| `match_feed_sensor` \| sensor \| [^|]+ \| \*\*STOPPED\*\*", section, re.MULTILINE)
