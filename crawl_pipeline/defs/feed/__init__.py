"""Dagster wiring of the public match feed (``match_feed``); see ``definitions.py``."""
