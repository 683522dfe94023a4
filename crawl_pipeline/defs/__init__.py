"""Dagster assets, checks, sensors and schedules, one sub-package per subject."""
