"""crawl_pipeline: a Dagster pipeline that crawls Dota 2 players and matches into PostgreSQL."""

__version__ = "0.1.0"
