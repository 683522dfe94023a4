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


def build_definitions(settings: Settings, **resource_overrides: dg.ConfigurableResource) -> dg.Definitions:
    """Everything Dagster loads, with resources configured from ``settings`` (and overrides,
    which the demo and the tests use to point the crawl at a simulator)."""
    return dg.Definitions.merge(
        *(subject.defs for subject in SUBJECTS),
        dg.Definitions(resources={**build_resources(settings), **resource_overrides}),
    )


defs = build_definitions(get_settings())
