"""SQL of the public match feed: range cursors and the log of feed calls (migration 0012), and
the matches a call listed but could not read (kept as failed detail fetches in ``matches``).

Every write takes a connection inside the caller's transaction. ``record_call`` advances a
range's cursor only from the value the caller read (optimistic: another run that advanced it
first makes this one fail instead of covering the same numbers twice), and the caller stores
the call's matches in the same transaction, so the cursor and the matches land together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from crawl_pipeline.db import crawl as crawl_db
from crawl_pipeline.db.item_states import stub_retriable, stub_waiting


class CursorMoved(RuntimeError):
    """The range's cursor is not where this run left it: another run is reading the same range."""


@dataclass(frozen=True)
class RangeState:
    range_key: str
    range_start: int
    range_end: int
    first_seq_num: int
    next_seq_num: int
    calls: int
    matches_stored: int

    @property
    def complete(self) -> bool:
        return self.next_seq_num >= self.range_end


_STATE = "range_key, range_start, range_end, first_seq_num, next_seq_num, calls, matches_stored"


def range_state(conn: psycopg.Connection, range_key: str) -> RangeState | None:
    row = conn.execute(f"SELECT {_STATE} FROM match_feed_ranges WHERE range_key = %s", (range_key,)).fetchone()
    return None if row is None else RangeState(*row)


def open_range(conn: psycopg.Connection, range_key: str, range_start: int, range_end: int, first_seq_num: int) -> RangeState:
    """The range's state, created with its cursor at ``first_seq_num`` when it has none yet (an
    existing cursor always wins: a run resumes where the last one stopped)."""
    conn.execute(
        """INSERT INTO match_feed_ranges (range_key, range_start, range_end, first_seq_num, next_seq_num, completed_at)
           VALUES (%s, %s, %s, %s, %s, CASE WHEN %s::bigint >= %s::bigint THEN now() END)
           ON CONFLICT (range_key) DO NOTHING""",
        (range_key, range_start, range_end, first_seq_num, first_seq_num, first_seq_num, range_end),
    )
    state = range_state(conn, range_key)
    assert state is not None
    return state


@dataclass(frozen=True)
class CallRecord:
    start_seq_num: int
    end_seq_num: int
    matches_returned: int
    matches_in_range: int
    matches_stored: int
    players_stored: int
    new_accounts: int
    first_match_seq_num: int | None
    last_match_seq_num: int | None


def record_call(conn: psycopg.Connection, range_key: str, call: CallRecord, *, run_id: str | None) -> None:
    """Log one call and move the cursor from ``call.start_seq_num`` to ``call.end_seq_num``."""
    moved = conn.execute(
        """UPDATE match_feed_ranges SET next_seq_num = %(end)s, calls = calls + 1,
               matches_stored = matches_stored + %(stored)s, updated_at = now(),
               completed_at = CASE WHEN %(end)s >= range_end THEN now() END
           WHERE range_key = %(key)s AND next_seq_num = %(start)s AND %(end)s <= range_end""",
        {"key": range_key, "start": call.start_seq_num, "end": call.end_seq_num, "stored": call.matches_stored},
    ).rowcount
    if moved != 1:
        now = conn.execute("SELECT next_seq_num FROM match_feed_ranges WHERE range_key = %s", (range_key,)).fetchone()
        raise CursorMoved(
            f"{range_key}: the cursor is at {now[0] if now else 'nothing (no such range)'}, not at "
            f"{call.start_seq_num} where this run left it; another run is reading this range"
        )
    conn.execute(
        """INSERT INTO match_feed_calls (range_key, start_seq_num, end_seq_num, matches_returned, matches_in_range,
               matches_stored, players_stored, new_accounts, first_match_seq_num, last_match_seq_num, run_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (range_key, call.start_seq_num, call.end_seq_num, call.matches_returned, call.matches_in_range,
         call.matches_stored, call.players_stored, call.new_accounts, call.first_match_seq_num,
         call.last_match_seq_num, run_id),
    )


@dataclass(frozen=True)
class UnreadMatch:
    """A match a feed page listed but that could not be read: kept as a failed detail fetch."""

    match_id: int
    match_seq_num: int | None
    error: str  # ``domain.failures.describe`` of the error
    outcome: str  # ``sources.errors.outcome_of``: retry, give_up or pending


def record_unread(conn: psycopg.Connection, unread: Sequence[UnreadMatch], *, run_id: str | None) -> None:
    """Keep the matches a feed call could not read as the crawl keeps a failed detail fetch: a
    ``matches`` row (inserted with its sequence number when the match is new; a known match keeps
    its row and owner) marked by ``crawl.record_detail_failures`` with the error and one attempt
    per run. In the caller's transaction, the one that moves the cursor past them."""
    if not unread:
        return
    rows = sorted({u.match_id: u for u in unread}.values(), key=lambda u: u.match_id)  # rows locked in match order
    conn.execute(
        """INSERT INTO matches (match_id, match_seq_num)
           SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ORDER BY 1
           ON CONFLICT (match_id) DO NOTHING""",
        ([u.match_id for u in rows], [u.match_seq_num for u in rows]),
    )
    crawl_db.record_detail_failures(conn, [(u.match_id, u.error, u.outcome) for u in rows], run_id=run_id)


def unread_to_retry(conn: psycopg.Connection, limit: int) -> list[int]:
    """Matches no batch owns whose details failed with attempts left, or wait on an error not their
    own, and that Steam can serve again (they have a sequence number): what the feed could not read.
    No batch run fetches a match without an owner, so the feed's next run does; least recently tried
    first (the partial indexes of migration 0022 hold both states)."""
    return [r[0] for r in conn.execute(
        f"""SELECT match_id FROM matches
            WHERE owner_batch IS NULL AND match_seq_num IS NOT NULL AND fetch_error IS NOT NULL
              AND ({stub_retriable()} OR {stub_waiting()})
            ORDER BY last_fetch_attempt NULLS FIRST, match_id LIMIT %s""",
        (limit,),
    ).fetchall()]


def newest_known_seq_num(conn: psycopg.Connection) -> int | None:
    """The newest sequence number the database knows (crawled stubs and details carry it)."""
    return conn.execute("SELECT max(match_seq_num) FROM matches").fetchone()[0]


def head_range(conn: psycopg.Connection) -> RangeState | None:
    """The range furthest along the feed (the one the sensor continues)."""
    row = conn.execute(f"SELECT {_STATE} FROM match_feed_ranges ORDER BY range_start DESC LIMIT 1").fetchone()
    return None if row is None else RangeState(*row)


def all_ranges(conn: psycopg.Connection) -> list[RangeState]:
    return [RangeState(*r) for r in conn.execute(f"SELECT {_STATE} FROM match_feed_ranges ORDER BY range_start").fetchall()]


@dataclass(frozen=True)
class Problem:
    range_key: str
    problem: str
    severity: str  # "error" (coverage or cursor broken) or "warn" (a range left behind, not lost)


def coverage_problems(conn: psycopg.Connection) -> list[Problem]:
    """Everything wrong with the feed's coverage, in one pass over the call log.

    Errors: a call that does not start where the previous call of its range ended (a gap or an
    overlap), a range whose first call is not at its first_seq_num, a cursor that is not where the
    last call ended, calls committed out of order (the cursor went backwards), a range's counters
    that disagree with its calls. Warnings: a range behind the head that is incomplete or does not
    start where the previous range ends (a hole between ranges still to be read)."""
    problems = [Problem(*r, "error") for r in conn.execute(
        """WITH calls AS (
               SELECT c.*, lag(end_seq_num) OVER w AS previous_end, lag(call_id) OVER w AS previous_id,
                      row_number() OVER w AS n
               FROM match_feed_calls c WINDOW w AS (PARTITION BY range_key ORDER BY start_seq_num))
           SELECT c.range_key, format('call %s starts at %s but the previous call ended at %s', c.call_id,
                                      c.start_seq_num, c.previous_end)
           FROM calls c WHERE c.n > 1 AND c.start_seq_num <> c.previous_end
           UNION ALL
           SELECT c.range_key, format('call %s (at %s) was committed before call %s (at an earlier number)',
                                      c.previous_id, c.start_seq_num, c.call_id)
           FROM calls c WHERE c.n > 1 AND c.call_id < c.previous_id
           UNION ALL
           SELECT c.range_key, format('the first call starts at %s, not at first_seq_num %s', c.start_seq_num,
                                      r.first_seq_num)
           FROM calls c JOIN match_feed_ranges r USING (range_key) WHERE c.n = 1 AND c.start_seq_num <> r.first_seq_num
           UNION ALL
           SELECT r.range_key, format('cursor %s but the calls cover [%s, %s) in %s calls storing %s matches '
                                      '(the range says %s calls, %s matches)', r.next_seq_num, r.first_seq_num,
                                      coalesce(s.last_end, r.first_seq_num), coalesce(s.calls, 0),
                                      coalesce(s.stored, 0), r.calls, r.matches_stored)
           FROM match_feed_ranges r
           LEFT JOIN (SELECT range_key, max(end_seq_num) AS last_end, count(*) AS calls, sum(matches_stored) AS stored
                      FROM match_feed_calls GROUP BY range_key) s USING (range_key)
           WHERE r.next_seq_num <> coalesce(s.last_end, r.first_seq_num)
              OR r.calls <> coalesce(s.calls, 0) OR r.matches_stored <> coalesce(s.stored, 0)
           ORDER BY 1, 2"""
    ).fetchall()]
    problems += [Problem(*r, "warn") for r in conn.execute(
        """WITH ordered AS (
               SELECT r.*, lead(range_start) OVER (ORDER BY range_start) AS next_start,
                      lag(range_end) OVER (ORDER BY range_start) AS previous_end
               FROM match_feed_ranges r)
           SELECT range_key, format('behind the head but incomplete: cursor %s of [%s, %s)', next_seq_num,
                                    range_start, range_end)
           FROM ordered WHERE next_start IS NOT NULL AND next_seq_num < range_end
           UNION ALL
           SELECT range_key, format('starts at %s but the range before it ends at %s: [%s, %s) is unread',
                                    first_seq_num, previous_end, least(previous_end, first_seq_num),
                                    first_seq_num)
           FROM ordered WHERE previous_end IS NOT NULL AND first_seq_num <> previous_end
           ORDER BY 1, 2"""
    ).fetchall()]
    return problems


def coverage_totals(conn: psycopg.Connection) -> dict[str, int | None]:
    row = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE completed_at IS NOT NULL), min(first_seq_num), max(next_seq_num),
                  coalesce(sum(calls), 0), coalesce(sum(matches_stored), 0)
           FROM match_feed_ranges"""
    ).fetchone()
    return dict(zip(("ranges", "ranges_complete", "first_seq_num", "head_seq_num", "calls", "matches_stored"), row, strict=True))


def recent_calls(conn: psycopg.Connection, range_key: str, limit: int = 10) -> list[tuple]:
    """The range's latest calls, newest first, for the Markdown preview."""
    return conn.execute(
        """SELECT start_seq_num, end_seq_num, matches_returned, matches_stored, new_accounts,
                  to_char(called_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
           FROM match_feed_calls WHERE range_key = %s ORDER BY start_seq_num DESC LIMIT %s""",
        (range_key, limit),
    ).fetchall()
