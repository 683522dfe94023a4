"""Tracked identities (roles per match, stats per role) and range syncs with coverage; Definitions in ``definitions.py``."""
