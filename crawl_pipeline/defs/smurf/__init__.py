"""Smurf analyzer: ranked history, scores and ban checks on the account_batches partitions; Definitions in ``definitions.py``."""
