"""Fixtures of the analytics tests: the hero table and a populated crawl database."""

from __future__ import annotations

import pytest

from crawl_pipeline.db.reference import upsert_heroes
from crawl_pipeline.domain.heroes import heroes as reference_heroes
from crawl_pipeline_tests.analytics_tests.datagen import populate


@pytest.fixture
def hero_db(db):
    """The emptied test database with the reference heroes in place."""
    with db.transaction() as conn:
        upsert_heroes(conn, sorted(reference_heroes().values(), key=lambda h: h.id))
    return db


@pytest.fixture
def crawled_db(hero_db):
    """hero_db filled with a small deterministic crawl (see datagen.populate)."""
    with hero_db.transaction() as conn:
        hero_db.counts = populate(conn)
    return hero_db

