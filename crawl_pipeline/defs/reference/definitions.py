"""The reference subject's definitions (the hero table and its check), merged by ``crawl_pipeline/definitions.py``."""

import dagster as dg

from crawl_pipeline.defs.reference.assets import heroes, heroes_match_reference

defs = dg.Definitions(assets=[heroes], asset_checks=[heroes_match_reference])
