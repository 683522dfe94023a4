"""The project's definitions as a code location for the backfill tests (loaded in process).

The test sets BACKFILL_TEST_DATABASE_URL and BACKFILL_TEST_SIM_URL; ``defs`` is built when the
workspace (or a run) loads it, so it always points at the current test's database and simulator.
"""

import os

import dagster as dg

from crawl_pipeline_tests.support import crawl_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return crawl_definitions(os.environ["BACKFILL_TEST_DATABASE_URL"], os.environ["BACKFILL_TEST_SIM_URL"])
