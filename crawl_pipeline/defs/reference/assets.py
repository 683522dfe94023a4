"""Reference data: the hero table every hero-keyed table refers to."""

import dagster as dg

from crawl_pipeline.db import checks as checks_db
from crawl_pipeline.db.reference import upsert_heroes
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.domain.heroes import heroes as reference_heroes

GROUP = "reference"


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    description=(
        "Dota 2 heroes (id, internal and localized name, attribute, roles) from the packaged dotaconstants "
        "table. hero_stats, hero_top100 and the aggregates refer to it; unknown hero ids are never stored here."
    ),
)
def heroes(postgres: PostgresResource) -> dg.MaterializeResult:
    table = sorted(reference_heroes().values(), key=lambda h: h.id)
    with postgres.db.transaction() as conn:
        changed = upsert_heroes(conn, table)
        total = checks_db.hero_count(conn)
    preview = "| id | hero | attribute | roles |\n|---:|---|---|---|\n" + "\n".join(
        f"| {h.id} | {h.localized_name} | {h.primary_attr} | {', '.join(h.roles)} |" for h in table[:10]
    )
    return dg.MaterializeResult(
        metadata={
            "heroes": dg.MetadataValue.int(total),
            "rows_changed": dg.MetadataValue.int(changed),
            "preview": dg.MetadataValue.md(preview),
        }
    )


@dg.asset_check(asset=heroes, description="The hero table holds exactly the packaged reference heroes.")
def heroes_match_reference(postgres: PostgresResource) -> dg.AssetCheckResult:
    expected = set(reference_heroes())
    stored = checks_db.hero_ids(postgres.db)
    missing, extra = sorted(expected - stored), sorted(stored - expected)
    return dg.AssetCheckResult(
        passed=not missing and not extra,
        metadata={"missing": len(missing), "unexpected": len(extra), "sample": str((missing + extra)[:10])},
    )
