"""Dagster wiring of the analytics subject; its Definitions are in ``definitions.py``."""
