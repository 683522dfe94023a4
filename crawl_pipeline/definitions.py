"""The one Definitions object: each subject's ``defs/<subject>/definitions.py`` merged, plus the resources."""

from __future__ import annotations

import dagster as dg

from crawl_pipeline.defs.analytics import definitions as analytics
from crawl_pipeline.defs.crawl import definitions as crawl
from crawl_pipeline.defs.feed import definitions as feed
from crawl_pipeline.defs.identity import definitions as identity
from crawl_pipeline.defs.reference import definitions as reference
from crawl_pipeline.defs.resources import build_resources
from crawl_pipeline.defs.smurf import definitions as smurf
from crawl_pipeline.settings import Settings, get_settings

# Each subject's Definitions is the one list of its assets, checks, jobs, sensors and schedules.
SUBJECTS = (reference, crawl, analytics, smurf, identity, feed)

# Steps of a launched run execute in its run worker: every job here is a chain of assets and their
# checks, so a subprocess per step (Dagster's default executor, ~3 s of imports each) buys no
# parallelism, only start-up cost; runs go in parallel through the run queue. The Celery
# deployment puts every job on its executor instead (ops/celery_definitions.py, docs/deployment.md).
STEP_EXECUTOR = dg.in_process_executor


def build_definitions(settings: Settings, **resource_overrides: dg.ConfigurableResource) -> dg.Definitions:
    """Everything Dagster loads, with resources configured from ``settings`` (and overrides,
    which the demo and the tests use to point the crawl at a simulator)."""
    return dg.Definitions.merge(
        *(subject.defs for subject in SUBJECTS),
        dg.Definitions(resources={**build_resources(settings), **resource_overrides}, executor=STEP_EXECUTOR),
    )


defs = build_definitions(get_settings())
