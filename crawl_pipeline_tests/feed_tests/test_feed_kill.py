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
from crawl_pipeline_tests.feed_tests.conftest import (
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
                           rate_limits={"steam": {"per_second": 10000}}).sources_config()
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
