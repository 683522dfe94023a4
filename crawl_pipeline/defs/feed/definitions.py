"""The match feed's definitions, merged into the one Definitions object by ``crawl_pipeline/definitions.py``.

Resources (``postgres``, ``providers``, ``crawl``) come from the object they are merged into.
"""

import dagster as dg

from crawl_pipeline.defs.feed.assets import match_feed, match_feed_job
from crawl_pipeline.defs.feed.sensors import match_feed_sensor

# match_feed_contiguous is a check spec of the asset itself; the sensor is off by default
defs = dg.Definitions(assets=[match_feed], jobs=[match_feed_job], sensors=[match_feed_sensor])
