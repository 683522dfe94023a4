"""The identity subject's definitions (roles of tracked identities, range syncs with coverage),
merged by ``crawl_pipeline/definitions.py``."""

import dagster as dg

from crawl_pipeline.defs.identity.assets import identity_role_stats
from crawl_pipeline.defs.identity.sync import sync_account_history

defs = dg.Definitions(assets=[identity_role_stats], jobs=[sync_account_history])
