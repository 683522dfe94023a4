"""Writes of the per-batch crawl, set-based and idempotent.

Each function takes a connection inside the caller's transaction: a chunk of work either
lands whole or not at all, and a re-run finds only what is still pending.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from crawl_pipeline.db.item_states import (
    MAX_ATTEMPTS,
    PHASES,
    phase_retriable,
    phase_settled,
    stub_pending,
    stub_retriable,
    stub_unsettled,
    stub_waiting,
)
from crawl_pipeline.db.pool import Database
from crawl_pipeline.domain.records import DetailsRequest, HeroStats, MatchDetails, MatchStub, PlayerProfile

ATTEMPT_RUN = {  # phase -> the column naming the run that last counted an attempt
    "player_profiles": "profile_attempt_run",
    "hero_stats": "hero_stats_attempt_run",
    "match_stubs": "matches_attempt_run",
}


@dataclass(frozen=True)
class AccountTodo:
    account_id: int
    depth: int
    newest_match_id: int | None
    rank_tier: int | None
    batch_key: str | None = None
    is_private: bool | None = None


def accounts_to_fetch(conn: psycopg.Connection, batch_key: str, phase: str, *, refresh: bool) -> list[AccountTodo]:
    """The batch's accounts whose ``phase`` is pending (all of them with ``refresh``)."""
    rows = conn.execute(
        f"""SELECT account_id, depth, newest_match_id, rank_tier, batch_key, is_private FROM accounts
            WHERE batch_key = %s AND (%s OR NOT {phase_settled(phase)})
            ORDER BY account_id""",
        (batch_key, refresh),
    ).fetchall()
    return [AccountTodo(*row) for row in rows]


def tracked_accounts(conn: psycopg.Connection) -> list[AccountTodo]:
    rows = conn.execute(
        "SELECT account_id, depth, newest_match_id, rank_tier, batch_key, is_private FROM accounts WHERE is_tracked "
        "ORDER BY account_id"
    ).fetchall()
    return [AccountTodo(*row) for row in rows]


def record_account_failures(
    conn: psycopg.Connection, phase: str, failures: Sequence[tuple[int, str, str]], *, run_id: str | None = None
) -> None:
    """``failures``: (account_id, error, outcome) — see ``sources.errors.outcome_of`` for the outcomes. With
    ``run_id``, a ``retry`` counts one attempt per run: a step retry of the same run spends none."""
    if not failures:
        return
    _, error, attempts = PHASES[phase]
    run = ATTEMPT_RUN[phase]
    ids, errors, outcomes = (list(c) for c in zip(*failures, strict=True))
    conn.execute(
        f"""UPDATE accounts a SET {error} = f.error,
                   {attempts} = CASE WHEN f.outcome = 'give_up' THEN greatest(a.{attempts}, {MAX_ATTEMPTS})
                                     WHEN f.outcome = 'retry' AND (%s::text IS NULL OR a.{run} IS DISTINCT FROM %s::text)
                                         THEN least(a.{attempts} + 1, 32767)
                                     ELSE a.{attempts} END,
                   {run} = CASE WHEN f.outcome = 'retry' THEN coalesce(%s::text, a.{run}) ELSE a.{run} END
            FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS f(account_id, error, outcome)
            WHERE a.account_id = f.account_id""",
        (run_id, run_id, run_id, ids, errors, outcomes),
    )


def store_profiles(conn: psycopg.Connection, profiles: Sequence[PlayerProfile]) -> tuple[int, int]:
    """Update profile fields; add a rank snapshot where the rank changed. Returns (updated, snapshots)."""
    if not profiles:
        return 0, 0
    columns = list(zip(*[
        (p.account_id, p.personaname, p.avatar, p.loccountrycode, p.plus, p.last_login, p.rank_tier,
         p.leaderboard_rank, p.source, p.is_private)
        for p in profiles
    ], strict=True))
    rows = conn.execute(
        """WITH incoming AS (
               SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::boolean[],
                                    %s::timestamptz[], %s::smallint[], %s::integer[], %s::text[], %s::boolean[])
                   AS p(account_id, personaname, avatar, loccountrycode, plus, last_login, rank_tier,
                        leaderboard_rank, source, is_private)),
           previous AS (
               SELECT a.account_id, a.rank_tier, a.leaderboard_rank, a.profile_fetched_at
               FROM accounts a JOIN incoming USING (account_id) FOR UPDATE OF a),
           updated AS (
               UPDATE accounts a SET personaname = p.personaname, avatar = p.avatar,
                   loccountrycode = p.loccountrycode, plus = p.plus, last_login = p.last_login,
                   rank_tier = p.rank_tier, leaderboard_rank = p.leaderboard_rank,
                   is_private = coalesce(p.is_private, a.is_private),
                   profile_fetched_at = now(), profile_error = NULL
               FROM incoming p WHERE a.account_id = p.account_id
               RETURNING a.account_id)
           INSERT INTO rank_snapshots (account_id, observed_at, rank_tier, leaderboard_rank, source)
           SELECT p.account_id, clock_timestamp(), p.rank_tier, p.leaderboard_rank, p.source
           FROM incoming p JOIN previous o USING (account_id)
           WHERE o.profile_fetched_at IS NULL
              OR (o.rank_tier, o.leaderboard_rank) IS DISTINCT FROM (p.rank_tier, p.leaderboard_rank)
           ON CONFLICT DO NOTHING
           RETURNING account_id""",
        [list(c) for c in columns],
    ).fetchall()
    return len(profiles), len(rows)


def replace_hero_stats(conn: psycopg.Connection, stats: Sequence[HeroStats]) -> tuple[int, int]:
    """Replace the hero rows of these accounts atomically. Returns (rows stored, unknown heroes skipped).

    Heroes missing from the hero table are skipped and counted, never stored.
    """
    if not stats:
        return 0, 0
    ids = [s.account_id for s in stats]
    rows = [(s.account_id, h.hero_id, h.matches, h.wins, h.last_played) for s in stats for h in s.heroes]
    conn.execute("DELETE FROM hero_stats WHERE account_id = ANY(%s)", (ids,))
    stored = 0
    if rows:
        columns = [list(c) for c in zip(*rows, strict=True)]
        stored = conn.execute(
            """INSERT INTO hero_stats (account_id, hero_id, matches, wins, last_played)
               SELECT s.* FROM unnest(%s::bigint[], %s::smallint[], %s::integer[], %s::integer[], %s::timestamptz[])
                   AS s(account_id, hero_id, matches, wins, last_played)
               JOIN heroes h USING (hero_id)""",
            columns,
        ).rowcount
    conn.execute(
        "UPDATE accounts SET hero_stats_at = now(), hero_stats_error = NULL WHERE account_id = ANY(%s)", (ids,)
    )
    skipped = sum(s.unknown_heroes_skipped for s in stats) + (len(rows) - stored)
    return stored, skipped


def store_stubs(conn: psycopg.Connection, stubs: Sequence[MatchStub], *, owner_batch: str | None, discovered_by: int) -> int:
    """Insert match stubs (has_details NULL); a match already known keeps its owner. Returns new stubs."""
    if not stubs:
        return 0
    columns = [list(c) for c in zip(*[
        (s.match_id, s.match_seq_num, s.start_time, s.lobby_type, s.game_mode, s.duration, s.radiant_win) for s in stubs
    ], strict=True)]
    return conn.execute(
        """INSERT INTO matches (match_id, match_seq_num, start_time, lobby_type, game_mode, duration, radiant_win,
                                owner_batch, discovered_by)
           SELECT s.*, %s::text, %s::bigint FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::smallint[],
                                          %s::smallint[], %s::integer[], %s::boolean[]) AS s
           ORDER BY 1
           ON CONFLICT (match_id) DO NOTHING""",
        [owner_batch, discovered_by, *columns],
    ).rowcount


def finish_history(
    conn: psycopg.Connection,
    account_id: int,
    *,
    newest_match_id: int | None,
    last_match_time: datetime | None,
    total: int | None,
    is_private: bool,
) -> None:
    conn.execute(
        """UPDATE accounts SET matches_synced_at = now(), matches_error = NULL, is_private = %s,
               matches_total = coalesce(%s, matches_total),
               newest_match_id = greatest(newest_match_id, %s),
               last_match_time = greatest(last_match_time, %s)
           WHERE account_id = %s""",
        (is_private, total, newest_match_id, last_match_time, account_id),
    )


def stubs_to_fetch(conn: psycopg.Connection, batch_key: str) -> list[int]:
    """Stubs the batch owns that still need details (pending, or failed with attempts left)."""
    return [r[0] for r in conn.execute(
        f"""SELECT match_id FROM matches
           WHERE owner_batch = %s AND {stub_unsettled()}
           ORDER BY match_id""",
        (batch_key,),
    ).fetchall()]


@dataclass(frozen=True)
class DetailsWritten:
    stored: int  # matches that got their details in this call
    players: int
    new_accounts: int


def store_details(conn: psycopg.Connection, details: Sequence[MatchDetails], *, discovery_depth: int) -> DetailsWritten:
    """Store details of several matches in one transaction.

    A match already detailed (an overlapping run got there first) is skipped whole, so
    players and encounters are never counted twice. Participants not yet known become
    accounts at ``discovery_depth``, discovered from the account whose history listed
    the match. Anonymous players never become accounts.

    Three round trips: the staging tables (``CREATE ... IF NOT EXISTS``, a no-op after a
    connection's first chunk), the players by COPY, then one pipeline: the claim (one upsert: a
    match we had no stub for, a tracked account's, is inserted whole) and the statements that read
    the claimed matches' players from the staging table, never back from ``match_players`` (whose
    plan a stale row estimate turned into a scan of every stored player: 12 of 20 ms a chunk).

    COPY formats the rows in psycopg's C code. Text COPY, not binary: PostgreSQL parses every value
    against its column, so a number out of a column's range is a DataError as with the
    ``::smallint[]`` casts (binary COPY would let psycopg wrap 40000 into a smallint without a word).
    The staging tables are temporary, ``ON COMMIT DELETE ROWS``: empty at every commit, and rolled
    back with the transaction.
    """
    unique: dict[int, MatchDetails] = {}
    for d in details:  # one row per match: an upsert may not touch a row twice
        unique.setdefault(d.match_id, d)
    if not unique:
        return DetailsWritten(0, 0, 0)
    ordered = [unique[m] for m in sorted(unique)]  # rows locked in match order by every writer
    match_columns = [list(c) for c in zip(*[
        (d.match_id, d.match_seq_num, d.start_time, d.duration, d.lobby_type, d.game_mode, d.radiant_win, d.region,
         d.source)
        for d in ordered
    ], strict=True)]
    conn.execute(_CREATE_STAGING)
    with conn.cursor() as cur, cur.copy(f"COPY {_STAGED_PLAYERS} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for d in ordered:
            for p in d.players:
                copy.write_row((d.match_id, *_player_values(p)))
    with conn.pipeline():
        claimed = conn.execute(_CLAIM, match_columns)
        players = conn.execute(_MOVE_PLAYERS)
        new_accounts = conn.execute(_NEW_ACCOUNTS, (discovery_depth,))
        conn.execute(_COUNT_ENCOUNTERS)
    return DetailsWritten(claimed.rowcount, players.rowcount, new_accounts.rowcount)


# match_players' columns after match_id, in the order of MatchPlayer's fields
PLAYER_COLUMNS = (
    "player_slot", "account_id", "hero_id", "is_radiant", "win", "kills", "deaths", "assists", "gold_per_min",
    "xp_per_min", "last_hits", "denies", "net_worth", "hero_damage", "lane_role", "rank_tier",
)
_player_values = operator.attrgetter(*PLAYER_COLUMNS)
_STAGED_PLAYERS = "staged_match_players"
_CLAIMED = "claimed_matches"  # the matches this transaction claimed, with what the later statements need
_COLUMN_LIST = ", ".join(("match_id", *PLAYER_COLUMNS))
# emptied here too, not only at commit: a second call in one transaction must not count the first
# call's rows again (encounters add up)
_CREATE_STAGING = f"""
    CREATE TEMP TABLE IF NOT EXISTS {_STAGED_PLAYERS} (LIKE match_players) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS {_CLAIMED} (match_id bigint, discovered_by bigint, start_time timestamptz)
        ON COMMIT DELETE ROWS;
    DELETE FROM {_STAGED_PLAYERS};
    DELETE FROM {_CLAIMED}"""
# A match already detailed is left as it is, and not claimed. It is filtered out before the upsert:
# ON CONFLICT DO UPDATE locks a conflicting row even when its WHERE is false, and a re-read feed
# range would then lock (and dirty) every detailed match in it, in the aggregator's way. The WHERE
# still decides for a match detailed by another writer meanwhile.
_CLAIM = f"""
    WITH claimed AS (
        INSERT INTO matches AS m (match_id, match_seq_num, start_time, duration, lobby_type, game_mode, radiant_win,
                                  region, details_source, has_details, details_fetched_at, last_fetch_attempt)
        SELECT d.*, true, now(), now()
        FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::integer[], %s::smallint[], %s::smallint[],
                    %s::boolean[], %s::smallint[], %s::text[])
            AS d(match_id, match_seq_num, start_time, duration, lobby_type, game_mode, radiant_win, region, source)
        WHERE NOT EXISTS (SELECT 1 FROM matches x WHERE x.match_id = d.match_id AND x.has_details)
        ORDER BY 1
        ON CONFLICT (match_id) DO UPDATE SET has_details = true,
            match_seq_num = coalesce(EXCLUDED.match_seq_num, m.match_seq_num),
            start_time = coalesce(EXCLUDED.start_time, m.start_time), duration = EXCLUDED.duration,
            lobby_type = coalesce(EXCLUDED.lobby_type, m.lobby_type),
            game_mode = coalesce(EXCLUDED.game_mode, m.game_mode), radiant_win = EXCLUDED.radiant_win,
            region = EXCLUDED.region, details_source = EXCLUDED.details_source,
            details_fetched_at = now(), last_fetch_attempt = now(), fetch_error = NULL
        WHERE m.has_details IS NOT TRUE
        RETURNING m.match_id, m.discovered_by, m.start_time)
    INSERT INTO {_CLAIMED} SELECT * FROM claimed"""
_MOVE_PLAYERS = f"""
    INSERT INTO match_players ({_COLUMN_LIST})
    SELECT {", ".join(f"p.{c}" for c in ("match_id", *PLAYER_COLUMNS))}
    FROM {_STAGED_PLAYERS} p JOIN {_CLAIMED} USING (match_id)
    ORDER BY p.match_id, p.player_slot
    ON CONFLICT DO NOTHING"""
# The staged rows stand for what landed in match_players: a MatchDetails's players are each in a
# slot of their own (its validator), so no staged row is one ON CONFLICT DO NOTHING skipped.
_NEW_ACCOUNTS = f"""
    INSERT INTO accounts (account_id, depth, discovered_from)
    SELECT DISTINCT ON (p.account_id) p.account_id, %s, known.account_id
    FROM {_STAGED_PLAYERS} p JOIN {_CLAIMED} c USING (match_id)
    LEFT JOIN accounts known ON known.account_id = c.discovered_by
    WHERE p.account_id > 0 AND p.account_id < 4294967295
    ORDER BY p.account_id, p.match_id
    ON CONFLICT (account_id) DO NOTHING"""
# teammates and opponents met by the account whose history listed each match; rows come sorted so
# concurrent writers lock them in the same order (no deadlocks)
_COUNT_ENCOUNTERS = f"""
    INSERT INTO players_encountered AS pe (account_id, other_account_id, teammate_games, teammate_wins,
        opponent_games, opponent_wins, last_match_id, last_played)
    SELECT me.account_id, other.account_id,
           count(*) FILTER (WHERE me.is_radiant = other.is_radiant),
           count(*) FILTER (WHERE me.is_radiant = other.is_radiant AND me.win),
           count(*) FILTER (WHERE me.is_radiant <> other.is_radiant),
           count(*) FILTER (WHERE me.is_radiant <> other.is_radiant AND me.win),
           max(c.match_id), max(c.start_time)
    FROM {_CLAIMED} c
    JOIN {_STAGED_PLAYERS} me ON me.match_id = c.match_id AND me.account_id = c.discovered_by
    JOIN {_STAGED_PLAYERS} other ON other.match_id = c.match_id AND other.account_id IS NOT NULL
                                AND other.account_id <> me.account_id
    GROUP BY me.account_id, other.account_id
    ORDER BY me.account_id, other.account_id
    ON CONFLICT (account_id, other_account_id) DO UPDATE SET
        teammate_games = pe.teammate_games + EXCLUDED.teammate_games,
        teammate_wins = pe.teammate_wins + EXCLUDED.teammate_wins,
        opponent_games = pe.opponent_games + EXCLUDED.opponent_games,
        opponent_wins = pe.opponent_wins + EXCLUDED.opponent_wins,
        last_match_id = greatest(pe.last_match_id, EXCLUDED.last_match_id),
        last_played = greatest(pe.last_played, EXCLUDED.last_played)"""


def record_detail_failures(
    conn: psycopg.Connection, failures: Sequence[tuple[int, str, str]], *, run_id: str | None = None
) -> None:
    """``failures``: (match_id, error, outcome). ``pending`` (not the match's fault: an outage, a
    rate limit, a bad key, Steam's 500) keeps the stub NULL and counts nothing, but keeps the error;
    ``give_up`` (404) spends every attempt; ``retry`` marks it failed and counts one attempt per run."""
    if not failures:
        return
    ids, errors, outcomes = (list(c) for c in zip(*failures, strict=True))
    conn.execute(
        f"""UPDATE matches m SET last_fetch_attempt = now(), fetch_error = f.error,
                   has_details = CASE WHEN f.outcome = 'pending' THEN m.has_details ELSE false END,
                   retry_count = CASE WHEN f.outcome = 'give_up' THEN greatest(m.retry_count, {MAX_ATTEMPTS})
                                      WHEN f.outcome = 'retry' AND (%s::text IS NULL OR m.attempt_run IS DISTINCT FROM %s::text)
                                          THEN m.retry_count + 1
                                      ELSE m.retry_count END,
                   attempt_run = CASE WHEN f.outcome = 'retry' THEN coalesce(%s::text, m.attempt_run) ELSE m.attempt_run END
            FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS f(match_id, error, outcome)
            WHERE m.match_id = f.match_id AND m.has_details IS NOT TRUE""",
        (run_id, run_id, run_id, ids, errors, outcomes),
    )


def detail_requests(conn: psycopg.Connection, match_ids: Sequence[int]) -> list[DetailsRequest]:
    """The matches of ``match_ids`` still without details, with the sequence number Steam needs.
    A match already detailed is never fetched again, whoever found it."""
    rows = conn.execute(
        """SELECT DISTINCT i.match_id, m.match_seq_num FROM unnest(%s::bigint[]) AS i(match_id)
           LEFT JOIN matches m USING (match_id)
           WHERE m.has_details IS NOT TRUE ORDER BY i.match_id""",
        (list(match_ids),),
    ).fetchall()
    return [DetailsRequest(match_id=m, match_seq_num=seq) for m, seq in rows]


def unsettled_accounts(db: Database, batch_key: str, phase: str) -> int:
    """Accounts of the batch whose ``phase`` failed and is not settled (attempts left, or left pending
    by an error not theirs): while there are any, the partition fails."""
    return db.fetch_value(
        f"SELECT count(*) FROM accounts WHERE batch_key = %s AND {phase_retriable(phase)}", (batch_key,)
    )


def unsettled_details(db: Database, batch_key: str) -> tuple[int, int]:
    """(unsettled, still pending) stubs of the batch. Unsettled: failed with attempts left, or left
    pending by an error that was not the match's fault (an outage, a rate limit, a bad key)."""
    row = db.fetch_all(
        f"""SELECT count(*) FILTER (WHERE {stub_retriable()} OR {stub_waiting()}) AS unsettled,
                  count(*) FILTER (WHERE {stub_pending()}) AS pending
           FROM matches WHERE owner_batch = %s""",
        (batch_key,),
    )[0]
    return row["unsettled"], row["pending"]


def tracked_gave_up(conn: psycopg.Connection, phase: str) -> set[int]:
    """Tracked accounts whose ``phase`` failed on every attempt (or gave up at once: a 404): the
    tracked-accounts job leaves them alone, as a batch run does, until ``crawl-pipeline retry``
    re-opens them."""
    from crawl_pipeline.db.item_states import phase_gave_up

    return {r[0] for r in conn.execute(f"SELECT account_id FROM accounts WHERE is_tracked AND {phase_gave_up(phase)}")}
