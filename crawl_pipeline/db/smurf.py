"""SQL of the smurf analyzer: candidates, the set-based history loader, score upserts, and the
comparison with a ground truth (the simulator's; the scorer never reads it).

Every query takes many accounts at once (``= ANY(array)``); nothing runs a query per account.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from crawl_pipeline.db.item_states import stub_unsettled
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.records import RankHistory
from crawl_pipeline.domain.smurf import (
    EXCLUDED_GAME_MODES,
    SIGNALS,
    SIGNIFICANT_LOBBY_TYPES,
    AccountHistory,
    MatchRow,
    RankSnapshot,
    SmurfScore,
)

RANKED_LOBBY = 7
MIN_SIGNIFICANT_DURATION = 600

# The model's "significant match" rule (domain.smurf.significant) in SQL, on alias m.
SIGNIFICANT_SQL = (
    f"m.has_details AND m.lobby_type IN ({', '.join(map(str, sorted(SIGNIFICANT_LOBBY_TYPES)))}) "
    f"AND coalesce(m.game_mode, -1) NOT IN ({', '.join(map(str, sorted(EXCLUDED_GAME_MODES)))}) "
    f"AND coalesce(m.duration, 0) >= {MIN_SIGNIFICANT_DURATION}"
)


# ------------------------------------------------------------------ phase 1: who needs matches
@dataclass(frozen=True)
class HistoryCandidate:
    account_id: int
    depth: int
    batch_key: str
    significant: int  # detailed significant matches stored
    known_ranked: int  # ranked matches stored for the account (detailed or stubs it listed)


def history_candidates(
    conn: psycopg.Connection, batch_keys: Sequence[str], *, target: int, limit: int, refetch_exhausted_days: float
) -> list[HistoryCandidate]:
    """Active, non-tracked, non-private accounts of ``batch_keys`` with fewer than ``target``
    detailed significant matches, closest to the target first; accounts whose ranked history
    ran out are left alone for ``refetch_exhausted_days``."""
    rows = conn.execute(
        f"""WITH acc AS (
                SELECT a.account_id, a.depth, a.batch_key FROM accounts a
                LEFT JOIN smurf_history_fetches f USING (account_id)
                WHERE a.batch_key = ANY(%(batches)s) AND a.is_active AND NOT a.is_tracked
                  AND a.is_private IS NOT TRUE
                  AND (f.account_id IS NULL OR NOT f.exhausted
                       OR f.fetched_at < now() - make_interval(secs => %(refetch)s))),
            sig AS (
                SELECT mp.account_id, count(*) AS n FROM match_players mp JOIN matches m USING (match_id)
                WHERE mp.account_id IN (SELECT account_id FROM acc) AND {SIGNIFICANT_SQL}
                GROUP BY 1),
            ranked AS (
                SELECT account_id, count(DISTINCT match_id) AS n FROM (
                    SELECT mp.account_id, m.match_id FROM match_players mp JOIN matches m USING (match_id)
                    WHERE mp.account_id IN (SELECT account_id FROM acc) AND m.lobby_type = {RANKED_LOBBY}
                    UNION ALL
                    SELECT m.discovered_by, m.match_id FROM matches m
                    WHERE m.discovered_by IN (SELECT account_id FROM acc) AND m.lobby_type = {RANKED_LOBBY}
                ) x GROUP BY 1)
            SELECT acc.account_id, acc.depth, acc.batch_key, coalesce(sig.n, 0), coalesce(ranked.n, 0)
            FROM acc LEFT JOIN sig USING (account_id) LEFT JOIN ranked USING (account_id)
            WHERE coalesce(sig.n, 0) < %(target)s
            ORDER BY coalesce(sig.n, 0) DESC, acc.account_id
            LIMIT %(limit)s""",
        {"batches": list(batch_keys), "refetch": refetch_exhausted_days * 86400.0, "target": target, "limit": limit},
    ).fetchall()
    return [HistoryCandidate(*row) for row in rows]


def record_history_fetches(conn: psycopg.Connection, fetches: Sequence[tuple[int, int, int, bool]]) -> None:
    """``fetches``: (account_id, matches_listed, new_stubs, exhausted)."""
    if not fetches:
        return
    conn.execute(
        """INSERT INTO smurf_history_fetches AS f (account_id, matches_listed, new_stubs, exhausted)
           SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::boolean[]) ORDER BY 1
           ON CONFLICT (account_id) DO UPDATE SET fetched_at = now(), matches_listed = EXCLUDED.matches_listed,
               new_stubs = EXCLUDED.new_stubs, exhausted = EXCLUDED.exhausted, fetches = f.fetches + 1""",
        [list(c) for c in zip(*fetches, strict=True)],
    )


def pending_stubs_of(conn: psycopg.Connection, account_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(match_id, depth of the listing account) of stubs these accounts listed that still need details."""
    return [tuple(r) for r in conn.execute(
        f"""SELECT m.match_id, a.depth FROM matches m JOIN accounts a ON a.account_id = m.discovered_by
            WHERE m.discovered_by = ANY(%s)
              AND {stub_unsettled("m")}
            ORDER BY m.match_id""",
        (list(account_ids),),
    ).fetchall()]


def accounts_wanting_rank_history(
    conn: psycopg.Connection, batch_keys: Sequence[str], *, min_matches: int, limit: int, refetch_days: float
) -> list[int]:
    """Ranked accounts of ``batch_keys`` the scorer will score (at least ``min_matches`` detailed
    significant matches) whose medal history was never read, or not for ``refetch_days``: later
    changes come with the profile refreshes (``store_profiles``). An account without a medal
    (uncalibrated) has no history to read. Never read first."""
    return [r[0] for r in conn.execute(
        f"""SELECT mp.account_id FROM match_players mp JOIN matches m USING (match_id)
            JOIN accounts a ON a.account_id = mp.account_id
            LEFT JOIN rank_history_fetches f ON f.account_id = mp.account_id
            WHERE a.batch_key = ANY(%(batches)s) AND a.is_private IS NOT TRUE AND a.rank_tier > 0 AND {SIGNIFICANT_SQL}
              AND (f.account_id IS NULL OR f.fetched_at < now() - make_interval(secs => %(refetch)s))
            GROUP BY mp.account_id, f.fetched_at HAVING count(*) >= %(min)s
            ORDER BY f.fetched_at NULLS FIRST, mp.account_id LIMIT %(limit)s""",
        {"batches": list(batch_keys), "min": min_matches, "limit": limit, "refetch": refetch_days * 86_400.0},
    ).fetchall()]


def store_rank_histories(conn: psycopg.Connection, histories: Sequence[RankHistory]) -> int:
    """Each medal change as a ``rank_snapshots`` row observed when the provider saw it (a row already
    there, same account and time, is kept), and the read itself in ``rank_history_fetches``, so an
    answer without rows is not asked again. Returns the rank rows added."""
    if not histories:
        return 0
    conn.execute(
        """INSERT INTO rank_history_fetches AS f (account_id, source, changes)
           SELECT * FROM unnest(%s::bigint[], %s::text[], %s::integer[]) ORDER BY 1
           ON CONFLICT (account_id) DO UPDATE SET source = EXCLUDED.source, fetched_at = now(), changes = EXCLUDED.changes""",
        [[h.account_id for h in histories], [h.source for h in histories], [len(h.changes) for h in histories]],
    )
    rows = [(h.account_id, c.observed_at, c.rank_tier, h.source) for h in histories for c in h.changes]
    if not rows:
        return 0
    return len(conn.execute(
        """INSERT INTO rank_snapshots (account_id, observed_at, rank_tier, source)
           SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::smallint[], %s::text[]) ORDER BY 1, 2
           ON CONFLICT DO NOTHING RETURNING 1""",
        [list(c) for c in zip(*rows, strict=True)],
    ).fetchall())


# ------------------------------------------------------------------ phase 2: load and score
def scorable_accounts(
    conn: psycopg.Connection, *, min_matches: int, batch_keys: Sequence[str] | None = None
) -> list[int]:
    """Accounts with at least ``min_matches`` detailed significant matches (of ``batch_keys``, or all)."""
    batch_filter = "AND a.batch_key = ANY(%(batches)s)" if batch_keys is not None else ""
    return [r[0] for r in conn.execute(
        f"""SELECT mp.account_id FROM match_players mp JOIN matches m USING (match_id)
            JOIN accounts a ON a.account_id = mp.account_id
            WHERE {SIGNIFICANT_SQL} {batch_filter}
            GROUP BY 1 HAVING count(*) >= %(min)s ORDER BY 1""",
        {"batches": list(batch_keys or []), "min": min_matches},
    ).fetchall()]


def load_histories(conn: psycopg.Connection, account_ids: Sequence[int], *, max_matches: int = 100) -> list[AccountHistory]:
    """The scorer's input for many accounts in four queries (docs/smurf-model.md, "Inputs")."""
    ids = sorted({int(a) for a in account_ids})
    if not ids:
        return []
    matches: dict[int, list[MatchRow]] = defaultdict(list)
    for r in conn.execute(
        f"""SELECT account_id, match_id, start_time, duration, lobby_type, game_mode, hero_id, is_radiant, win,
                   kills, deaths, assists, gold_per_min, xp_per_min, last_hits, denies, net_worth, hero_damage,
                   lane_role, rank_tier
            FROM (SELECT mp.account_id, m.match_id, m.start_time, m.duration, m.lobby_type, m.game_mode, mp.hero_id,
                         mp.is_radiant, mp.win, mp.kills, mp.deaths, mp.assists, mp.gold_per_min, mp.xp_per_min,
                         mp.last_hits, mp.denies, mp.net_worth, mp.hero_damage, mp.lane_role, mp.rank_tier,
                         row_number() OVER (PARTITION BY mp.account_id ORDER BY m.start_time DESC, m.match_id DESC) AS rn
                  FROM match_players mp JOIN matches m USING (match_id)
                  WHERE mp.account_id = ANY(%s) AND {SIGNIFICANT_SQL}) x
            WHERE rn <= %s""",
        (ids, max_matches),
    ).fetchall():
        (account_id, match_id, start_time, duration, lobby_type, game_mode, hero_id, is_radiant, win, kills, deaths,
         assists, gpm, xpm, last_hits, denies, net_worth, hero_damage, lane_role, rank_tier) = r
        matches[account_id].append(MatchRow(
            match_id=match_id, start_time=start_time, duration=duration, lobby_type=lobby_type, game_mode=game_mode,
            hero_id=hero_id, is_radiant=is_radiant, win=bool(win), kills=kills or 0, deaths=deaths or 0,
            assists=assists or 0, gold_per_min=gpm or 0, xp_per_min=xpm or 0, last_hits=last_hits or 0,
            denies=denies or 0, net_worth=net_worth, hero_damage=hero_damage, lane_role=lane_role, rank_tier=rank_tier,
        ))
    snapshots: dict[int, list[RankSnapshot]] = defaultdict(list)
    for account_id, observed_at, rank_tier in conn.execute(
        "SELECT account_id, observed_at, rank_tier FROM rank_snapshots WHERE account_id = ANY(%s) ORDER BY 1, 2",
        (ids,),
    ).fetchall():
        snapshots[account_id].append(RankSnapshot(observed_at, rank_tier))
    heroes = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT account_id, sum(matches)::bigint, count(*) FROM hero_stats WHERE account_id = ANY(%s) GROUP BY 1", (ids,)
    ).fetchall()}
    profiles = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT account_id, rank_tier, leaderboard_rank FROM accounts WHERE account_id = ANY(%s)", (ids,)
    ).fetchall()}
    histories = []
    for account_id in ids:
        rank_tier, leaderboard_rank = profiles.get(account_id, (None, None))
        total_games, distinct_heroes = heroes.get(account_id, (None, None))
        histories.append(AccountHistory(
            account_id=account_id, matches=tuple(matches.get(account_id, ())), rank_tier=rank_tier,
            leaderboard_rank=leaderboard_rank, rank_snapshots=tuple(snapshots.get(account_id, ())),
            total_games=int(total_games) if total_games is not None else None, distinct_heroes=distinct_heroes,
        ))
    return histories


@dataclass(frozen=True)
class Upserted:
    created: int
    updated: int


def upsert_scores(conn: psycopg.Connection, scores: Sequence[SmurfScore], batch_of: Mapping[int, str | None]) -> Upserted:
    """Insert or replace ``smurf_scores`` rows (key ``(account_id, model_version)``: other model
    versions keep their rows, so the table holds the history per version)."""
    if not scores:
        return Upserted(0, 0)
    rows = sorted((s.as_row() for s in scores), key=lambda r: (r["account_id"], r["model_version"]))
    columns = ["account_id", "model_version", *SIGNALS, "total_score", "threshold", "is_smurf", "matches_used"]
    data = [[r[c] for r in rows] for c in columns]
    data.append([batch_of.get(r["account_id"]) for r in rows])
    data.append([json.dumps(r["weights"], sort_keys=True) for r in rows])
    types = ["bigint", "text", *["double precision"] * len(SIGNALS), "double precision", "double precision",
             "boolean", "integer", "text", "text"]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    names = [*columns, "batch_key", "weights_text"]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*SIGNALS, "total_score", "threshold", "is_smurf", "matches_used",
                                                         "batch_key", "weights"])
    inserted = conn.execute(
        f"""INSERT INTO smurf_scores AS s ({', '.join(columns)}, batch_key, weights, scored_at)
            SELECT {', '.join(columns)}, batch_key, weights_text::jsonb, now()
            FROM unnest({unnest}) AS u({', '.join(names)})
            ON CONFLICT (account_id, model_version) DO UPDATE SET {updates}, scored_at = now()
            RETURNING (xmax = 0)""",
        data,
    ).fetchall()
    created = sum(1 for (new,) in inserted if new)
    return Upserted(created, len(inserted) - created)


def batch_keys_of(conn: psycopg.Connection, account_ids: Iterable[int]) -> dict[int, str | None]:
    return dict(conn.execute(
        "SELECT account_id, batch_key FROM accounts WHERE account_id = ANY(%s)", (list(account_ids),)
    ).fetchall())


# ------------------------------------------------------------------ quality against a ground truth
def measure_against_truth(
    db: Database, truth_rows: Iterable[Mapping[str, Any]], *, model_version: str = "smurf-v1"
) -> dict[str, float | int]:
    """Precision, recall and F1 of the stored ``smurf_scores`` (one model version) against
    ground-truth rows (``account_id``, ``is_smurf``; e.g. the simulator's ``/_sim/truth``
    ``accounts``). Recall counts the true smurfs among the *scored* accounts only.

    Returns ``precision, recall, f1, scored, flagged, true_smurfs_scored, true_positives``.
    """
    truth = {int(r["account_id"]): bool(r.get("is_smurf")) for r in truth_rows}
    rows = db.fetch_all(
        "SELECT account_id, is_smurf FROM smurf_scores WHERE model_version = %s", (model_version,)
    )
    return confusion([(r["account_id"], r["is_smurf"]) for r in rows], truth)


def confusion(verdicts: Iterable[tuple[int, bool]], truth: Mapping[int, bool]) -> dict[str, float | int]:
    """Precision/recall/F1 of (account_id, flagged) verdicts; accounts absent from ``truth`` are not smurfs."""
    scored = flagged = tp = positives = 0
    for account_id, is_flagged in verdicts:
        actual = truth.get(int(account_id), False)
        scored += 1
        flagged += bool(is_flagged)
        positives += actual
        tp += bool(is_flagged) and actual
    precision = tp / flagged if flagged else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "scored": scored,
        "flagged": flagged, "true_smurfs_scored": positives, "true_positives": tp,
    }


# ------------------------------------------------------------------ per-partition ledger
def db_now(conn: psycopg.Connection):
    """The database's clock (run-start marks compare with timestamps the database wrote)."""
    return conn.execute("SELECT now()").fetchone()[0]


def history_totals_by_batch(conn: psycopg.Connection, batch_keys: Sequence[str], since) -> dict[str, dict[str, int]]:
    """Per batch: its accounts, ranked-history reads since ``since`` (this run) and what they listed,
    and the accounts whose ranked history ran out."""
    rows = conn.execute(
        """SELECT a.batch_key, count(*) AS accounts,
                  count(f.account_id) FILTER (WHERE f.fetched_at >= %(since)s) AS histories_read,
                  coalesce(sum(f.matches_listed) FILTER (WHERE f.fetched_at >= %(since)s), 0) AS matches_listed,
                  coalesce(sum(f.new_stubs) FILTER (WHERE f.fetched_at >= %(since)s), 0) AS stubs_new,
                  count(f.account_id) FILTER (WHERE f.exhausted) AS histories_exhausted,
                  count(f.account_id) AS accounts_with_history
           FROM accounts a LEFT JOIN smurf_history_fetches f USING (account_id)
           WHERE a.batch_key = ANY(%(batches)s) GROUP BY a.batch_key""",
        {"batches": list(batch_keys), "since": since},
    ).fetchall()
    names = ("accounts", "histories_read", "matches_listed", "stubs_new", "histories_exhausted", "accounts_with_history")
    return {r[0]: dict(zip(names, map(int, r[1:]), strict=True)) for r in rows}


def score_totals_by_batch(
    conn: psycopg.Connection, batch_keys: Sequence[str], model_version: str, since
) -> dict[str, dict[str, int]]:
    """Per batch: accounts scored by ``model_version`` (all, and in this run) and flagged as smurfs."""
    rows = conn.execute(
        """SELECT batch_key, count(*) AS scored, count(*) FILTER (WHERE scored_at >= %(since)s) AS scored_this_run,
                  count(*) FILTER (WHERE is_smurf) AS smurfs_found
           FROM smurf_scores WHERE batch_key = ANY(%(batches)s) AND model_version = %(version)s GROUP BY batch_key""",
        {"batches": list(batch_keys), "version": model_version, "since": since},
    ).fetchall()
    return {r[0]: {"scored": int(r[1]), "scored_this_run": int(r[2]), "smurfs_found": int(r[3])} for r in rows}
