"""Tracked identities (roles per match, stats per role) and range syncs with coverage."""

from crawl_pipeline.defs.identity.assets import identity_role_stats
from crawl_pipeline.defs.identity.sync import sync_account_history

assets = [identity_role_stats]
asset_checks: list = []
jobs = [sync_account_history]
schedules: list = []
sensors: list = []

