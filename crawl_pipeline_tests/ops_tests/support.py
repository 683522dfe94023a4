"""Helpers of the ops tests: the crawled stack the ``crawled_stack`` fixture (conftest.py) lays out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crawl_pipeline.db.pool import Database


@dataclass
class CrawledStack:
    database_url: str  # the crawl database
    dagster_postgres_url: str  # postgresql+psycopg2:// for dagster-postgres
    dagster_home: Path  # holds the project's dagster.yaml
    db: Database
    run_ids: list[str]

    def env(self) -> dict[str, str]:
        """What a webserver, daemon or worker of this deployment gets in its environment."""
        return {
            "DATABASE_URL": self.database_url,
            "DAGSTER_POSTGRES_URL": self.dagster_postgres_url,
            "DAGSTER_HOME": str(self.dagster_home),
        }


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
