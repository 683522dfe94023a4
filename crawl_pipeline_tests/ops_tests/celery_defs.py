"""Definitions the Celery workers of test_celery load: the small crawl against the test's simulator,
every job on the celery executor (broker and backend given in each run's config).

Workers import this module by name (a ReconstructableJob pointer), so it reads what differs
per test from the environment it shares with the test: DATABASE_URL and CRAWL_TEST_SIM_URL.
"""

import os

import dagster as dg
from dagster_celery import celery_executor

from crawl_pipeline.defs.crawl.assets import crawl_batch_job
from crawl_pipeline.ops.celery_definitions import with_celery
from crawl_pipeline_tests.support import crawl_definitions

defs = with_celery(crawl_definitions(os.environ["DATABASE_URL"], os.environ["CRAWL_TEST_SIM_URL"]), celery_executor)


def celery_crawl_batch_job() -> dg.JobDefinition:
    return defs.resolve_job_def(crawl_batch_job.name)
