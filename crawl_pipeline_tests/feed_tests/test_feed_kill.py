"""A feed reader SIGKILLed mid-run (between calls or inside a commit) loses nothing and repeats nothing:
the resumed reader starts at the committed cursor, and the stored matches equal the simulator's
ground truth for the ranges, each stored by exactly one call."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

from crawl_pipeline.crawl.feed import FeedOptions, SeqRange, read_range
from crawl_pipeline.db import feed as feed_db
from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline_tests.feed_tests.support import (
    FIRST_RANGE_START,
    steam_source,
    stored,
    truth,
)

RANGES = [SeqRange(FIRST_RANGE_START + i * 10_000, FIRST_RANGE_START + (i + 1) * 10_000) for i in range(2)]

READER = """
import sys
from crawl_pipeline.crawl.feed import FeedOptions, SeqRange, read_range
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.sources.registry import open_sources
database_url, sim_url, *keys = sys.argv[1:]
config = ProvidersResource(steam_api_url=sim_url, steam_api_key="sim-steam-key",
                           rate_limits={"steam": {"per_second": 10000},
                                        "steam_sequence": {"per_second": 10000}}).sources_config()
with Database(database_url) as db, open_sources(config, db) as sources:
    for key in keys:
        read_range(db, sources.provider("steam"), SeqRange.parse(key), options=FeedOptions(max_calls=1000))
"""


def _calls(db) -> int:
    return db.fetch_value("SELECT count(*) FROM match_feed_calls")


def test_sigkill_mid_run_resumes_with_no_gap_and_no_duplicate(db, database_url, clean_simulator):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, database_url, clean_simulator.url, *[r.key for r in RANGES]],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while _calls(db) < 63 and time.monotonic() < deadline:  # well into the second range
            assert reader.poll() is None, reader.stderr.read().decode()
            time.sleep(0.02)
        os.kill(reader.pid, signal.SIGKILL)
    finally:
        reader.wait(timeout=30)
    assert reader.returncode == -signal.SIGKILL
    with db.transaction() as conn:
        before = {r.key: feed_db.range_state(conn, r.key) for r in RANGES}
    assert before[RANGES[0].key].complete and not before[RANGES[1].key].complete
    committed = _calls(db)
    assert db.fetch_value("SELECT count(*) FROM matches") == db.fetch_value(
        "SELECT sum(matches_stored) FROM match_feed_calls"
    )  # what the killed reader committed is whole: matches and cursor together

    with steam_source(clean_simulator.url, db) as (steam, _):
        resumed = [read_range(db, steam, r, options=FeedOptions(max_calls=1000)) for r in RANGES]
    assert resumed[0].calls == 0  # a complete range is never read again
    assert resumed[1].cursor_before == before[RANGES[1].key].next_seq_num  # exactly where it stopped
    assert all(r.complete for r in resumed)

    start, end = RANGES[0].start, RANGES[-1].end
    assert stored(db, start, end) == truth(clean_simulator.world, start, end)  # no gap
    assert db.fetch_value("SELECT sum(matches_stored) FROM match_feed_calls") == 10_000  # no duplicate
    calls = db.fetch_all("SELECT start_seq_num, end_seq_num FROM match_feed_calls ORDER BY start_seq_num")
    assert calls[0]["start_seq_num"] == start and calls[-1]["end_seq_num"] == end
    assert all(a["end_seq_num"] == b["start_seq_num"] for a, b in itertools.pairwise(calls))
    assert len(calls) == committed + resumed[1].calls
    with db.transaction() as conn:
        assert feed_db.coverage_problems(conn) == []


DAGSTER_RUN = """
import sys
import dagster as dg
from crawl_pipeline.ops.orphans import worker_tags
from crawl_pipeline_tests.feed_tests.support import definitions
from crawl_pipeline_tests.support import QUIET
database_url, sim_url, dagster_home, key = sys.argv[1:]
job = definitions(database_url, sim_url).resolve_job_def("match_feed_job")
with dg.DagsterInstance.from_config(dagster_home) as instance:
    job.execute_in_process(partition_key=key, instance=instance, tags=worker_tags(),
                           run_config={**QUIET, "ops": {"match_feed": {"config": {"max_calls": 1000}}}})
"""


def test_a_killed_dagster_run_is_failed_and_the_next_run_resumes_at_the_cursor(
    db, database_url, dagster_instance, dagster_postgres_url, clean_simulator, tmp_path
):
    import dagster as dg

    from crawl_pipeline.db.stack import write_instance_config
    from crawl_pipeline.defs.feed.assets import ASSET, match_feed_ranges
    from crawl_pipeline.defs.feed.sensors import feed_tick
    from crawl_pipeline.defs.pools import ensure_pool_limits
    from crawl_pipeline_tests.feed_tests.support import definitions
    from crawl_pipeline_tests.support import QUIET

    key = RANGES[0].key
    dagster_instance.add_dynamic_partitions(match_feed_ranges.name, [key])
    ensure_pool_limits(dagster_instance)
    home = tmp_path / "home"
    write_instance_config(home)
    env = {**os.environ, "DAGSTER_POSTGRES_URL": dagster_postgres_url, "DAGSTER_HOME": str(home),
           "PYTHONPATH": str(PROJECT_ROOT)}
    worker = subprocess.Popen([sys.executable, "-c", DAGSTER_RUN, database_url, clean_simulator.url, str(home), key],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while _calls(db) < 20 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    [killed] = dagster_instance.get_runs(dg.RunsFilter(job_name="match_feed_job"))
    assert killed.status == dg.DagsterRunStatus.STARTED  # as the dead worker left it
    with db.transaction() as conn:
        cursor = feed_db.range_state(conn, key).next_seq_num

    assert isinstance(feed_tick(dagster_instance, db), dg.SkipReason)  # fails the orphan, then backs off
    assert dagster_instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    request = feed_tick(dagster_instance, db, backoff=0).run_requests[0]
    assert request.partition_key == key
    result = definitions(database_url, clean_simulator.url).resolve_job_def("match_feed_job").execute_in_process(
        instance=dagster_instance, partition_key=key, run_config={**QUIET, "ops": {ASSET: {"config": {"max_calls": 1000}}}}
    )
    materialization = result.get_asset_materialization_events()[0].event_specific_data.materialization
    assert materialization.metadata["cursor_before"].value == cursor  # exactly where the killed run stopped
    assert stored(db, RANGES[0].start, RANGES[0].end) == truth(clean_simulator.world, RANGES[0].start, RANGES[0].end)
    assert db.fetch_value("SELECT sum(matches_stored) FROM match_feed_calls") == 5000
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]
