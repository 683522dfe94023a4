"""Fixtures of the crawl tests; the small crawl and its definitions are in ``crawl_pipeline_tests.support``."""

import pytest

from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import initialize_database


@pytest.fixture
def fresh_database(make_database):
    """Another empty, migrated crawl database (for comparing two crawls): (url, Database)."""
    opened = []

    def factory(purpose: str) -> tuple[str, Database]:
        url = make_database(purpose)
        initialize_database(url)
        opened.append(Database(url, max_size=4))
        return url, opened[-1]

    yield factory
    for database in opened:
        database.close()
