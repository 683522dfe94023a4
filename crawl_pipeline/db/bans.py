"""``ban_checks``: which flagged accounts are due, and the upsert of Steam's GetPlayerBans answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from crawl_pipeline.domain.records import PlayerBan


def due_for_ban_check(
    conn: psycopg.Connection, *, model_version: str | None, max_age_days: float,
    batch_keys: Sequence[str] | None = None, limit: int | None = None,
) -> list[int]:
    """Accounts flagged by ``model_version`` (None: by any version) whose last ban check is
    missing or older than ``max_age_days``; never checked first, then the oldest checks."""
    batch_filter = "AND s.batch_key = ANY(%(batches)s)" if batch_keys is not None else ""
    version_filter = "AND s.model_version = %(version)s" if model_version is not None else ""
    return [r[0] for r in conn.execute(
        f"""SELECT f.account_id FROM (
                SELECT DISTINCT s.account_id FROM smurf_scores s
                WHERE s.is_smurf {version_filter} {batch_filter}) f
            LEFT JOIN ban_checks b USING (account_id)
            WHERE b.account_id IS NULL OR b.checked_at < now() - make_interval(secs => %(age)s)
            ORDER BY b.checked_at NULLS FIRST, f.account_id
            LIMIT %(limit)s""",
        {"version": model_version, "age": max_age_days * 86400.0, "batches": list(batch_keys or []), "limit": limit},
    ).fetchall()]


@dataclass(frozen=True)
class BansStored:
    created: int
    updated: int
    not_found: int
    banned: int  # VAC or game banned among the stored answers


def upsert_ban_checks(conn: psycopg.Connection, bans: Sequence[PlayerBan], not_found: Sequence[int]) -> BansStored:
    """Upsert one row per account: the provider's answer, or ``not_found`` for accounts it no
    longer knows (their ban columns are cleared)."""
    rows = sorted(
        [(b.account_id, b.vac_banned, b.number_of_vac_bans, b.number_of_game_bans, b.community_banned, b.economy_ban,
          b.days_since_last_ban, False) for b in bans]
        + [(a, None, None, None, None, None, None, True) for a in not_found if a not in {b.account_id for b in bans}]
    )
    if not rows:
        return BansStored(0, 0, 0, 0)
    flags = conn.execute(
        """INSERT INTO ban_checks AS b (account_id, checked_at, vac_banned, number_of_vac_bans, number_of_game_bans,
               community_banned, economy_ban, days_since_last_ban, not_found)
           SELECT u.account_id, now(), u.vac, u.nvac, u.ngame, u.community, u.economy, u.days, u.not_found
           FROM unnest(%s::bigint[], %s::boolean[], %s::smallint[], %s::smallint[], %s::boolean[], %s::text[],
                       %s::integer[], %s::boolean[])
               AS u(account_id, vac, nvac, ngame, community, economy, days, not_found)
           JOIN accounts a USING (account_id)
           ON CONFLICT (account_id) DO UPDATE SET checked_at = EXCLUDED.checked_at, vac_banned = EXCLUDED.vac_banned,
               number_of_vac_bans = EXCLUDED.number_of_vac_bans, number_of_game_bans = EXCLUDED.number_of_game_bans,
               community_banned = EXCLUDED.community_banned, economy_ban = EXCLUDED.economy_ban,
               days_since_last_ban = EXCLUDED.days_since_last_ban, not_found = EXCLUDED.not_found
           RETURNING (xmax = 0)""",
        [list(c) for c in zip(*rows, strict=True)],
    ).fetchall()
    created = sum(1 for (new,) in flags if new)
    banned = sum(1 for b in bans if b.vac_banned or b.number_of_game_bans > 0)
    return BansStored(created, len(flags) - created, sum(1 for r in rows if r[-1]), banned)


def ban_totals_by_batch(conn: psycopg.Connection, batch_keys: Sequence[str], since) -> dict[str, dict[str, int]]:
    """Per batch: its flagged accounts (any model version), those with a ban check (in this run: since
    ``since``), banned (VAC or game ban) and unknown to Steam."""
    rows = conn.execute(
        """WITH flagged AS (SELECT DISTINCT account_id, batch_key FROM smurf_scores
                            WHERE is_smurf AND batch_key = ANY(%(batches)s))
           SELECT f.batch_key, count(*) AS flagged, count(b.account_id) AS checked,
                  count(b.account_id) FILTER (WHERE b.checked_at >= %(since)s) AS checked_this_run,
                  count(b.account_id) FILTER (WHERE coalesce(b.vac_banned, false) OR coalesce(b.number_of_vac_bans, 0) > 0
                                                 OR coalesce(b.number_of_game_bans, 0) > 0) AS banned,
                  count(b.account_id) FILTER (WHERE b.not_found) AS not_found
           FROM flagged f LEFT JOIN ban_checks b USING (account_id) GROUP BY f.batch_key""",
        {"batches": list(batch_keys), "since": since},
    ).fetchall()
    names = ("flagged", "checked", "checked_this_run", "banned", "not_found")
    return {r[0]: dict(zip(names, map(int, r[1:]), strict=True)) for r in rows}
