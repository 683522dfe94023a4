"""Reference tables kept in step with the packaged dotaconstants copies."""

from __future__ import annotations

import psycopg

from crawl_pipeline.domain.heroes import Hero


def upsert_heroes(conn: psycopg.Connection, heroes: list[Hero]) -> int:
    """Insert or update every hero in one batch; return how many rows changed."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO heroes (hero_id, name, localized_name, primary_attr, attack_type, roles)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (hero_id) DO UPDATE SET
                   name = EXCLUDED.name, localized_name = EXCLUDED.localized_name,
                   primary_attr = EXCLUDED.primary_attr, attack_type = EXCLUDED.attack_type,
                   roles = EXCLUDED.roles
               WHERE (heroes.name, heroes.localized_name, heroes.primary_attr, heroes.attack_type, heroes.roles)
                     IS DISTINCT FROM
                     (EXCLUDED.name, EXCLUDED.localized_name, EXCLUDED.primary_attr, EXCLUDED.attack_type, EXCLUDED.roles)""",
            [(h.id, h.name, h.localized_name, h.primary_attr, h.attack_type, list(h.roles)) for h in heroes],
        )
        return cur.rowcount
