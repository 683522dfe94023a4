"""One rate budget per (provider, endpoint group, key), shared through PostgreSQL.

Why not pyrate-limiter: its PostgresBucket inserts one row per permit (a database round
trip per request) and, before PR #250 (vutran1710/PyrateLimiter #248), its check and put
were not atomic, so concurrent processes exceeded short rates. What we need is cheaper and
provably atomic, so it is written here in ~200 lines:

* Windows are fixed and aligned to the epoch (the second, minute, hour, UTC day), the way
  OpenDota's and Stratz's counters reset. Each window of a bucket is one row in
  ``rate_limit_windows``.
* A process *leases* a slice of N permits for the current windows in one short
  transaction: the rows are upserted and locked together (``INSERT .. ON CONFLICT DO
  UPDATE .. RETURNING`` takes the row locks), the grant is the smallest free share, and
  one ``UPDATE`` adds it to every window. Two processes can never both see the same free
  permits, so the total granted in a window never exceeds its capacity.
* Permits are then spent locally without touching the database. When the shortest window
  rolls over, unused permits are handed back to the windows that are still current
  (the minute, hour, day), so nothing of the longer budgets is wasted.
* A 429 writes ``rate_limit_backoff``; every lease reads it, so other processes pause too.
* The server's own count wins when it is lower: ``X-Rate-Limit-Remaining-*`` headers are kept
  per window and the next lease raises the window's ``used`` to ``limit - remaining`` (another
  client on the same key or address, or a limit lower than the tier we were told); a limit the
  server announces (Stratz's ``X-RateLimit-Limit-*``) below the tier's caps the window, and a
  window row keeps the least limit any process heard (``announced``), which caps every process.

All windows use this host's wall clock; processes on several hosts need NTP.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from crawl_pipeline.db import rate_limits as rate_db
from crawl_pipeline.db.pool import Database

log = logging.getLogger(__name__)

WINDOW_NAMES = {1: "second", 60: "minute", 3600: "hour", 86_400: "day"}
PRUNE_EVERY_SECONDS = 60.0
SLOW_LEASE_WARN_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class RateWindow:
    seconds: int
    limit: int

    def start(self, now: float) -> int:
        return int(now // self.seconds) * self.seconds


@dataclass(frozen=True)
class RateTier:
    """The limits of one bucket: every window must have room for a call to go out."""

    name: str
    windows: tuple[RateWindow, ...]

    @classmethod
    def of(
        cls,
        name: str,
        *,
        per_second: int | None = None,
        per_minute: int | None = None,
        per_hour: int | None = None,
        per_day: int | None = None,
    ) -> RateTier:
        pairs = ((1, per_second), (60, per_minute), (3600, per_hour), (86_400, per_day))
        windows = tuple(RateWindow(s, n) for s, n in pairs if n is not None)
        if not windows or any(w.limit < 1 for w in windows):
            raise ValueError(f"rate tier {name!r} needs at least one window with a positive limit")
        return cls(name, windows)

    @property
    def shortest(self) -> RateWindow:
        """The window that rolls over first: leases are sized by it."""
        return min(self.windows, key=lambda w: w.seconds)

    def starts(self, now: float) -> tuple[int, ...]:
        """The start of each window that ``now`` falls in (a bucket's state is kept for these)."""
        return tuple(w.start(now) for w in self.windows)

    def describe(self) -> str:
        return ", ".join(f"{w.limit}/{WINDOW_NAMES.get(w.seconds, f'{w.seconds}s')}" for w in self.windows)


# The providers' limits as their servers enforce them today (docs/providers.md says where each
# was checked). Every one can be replaced per provider: ``*_RATE_LIMIT`` or the resource.
def bucket_name(provider: str, group: str, fingerprint: str) -> str:
    """``provider:group:fingerprint``: never the key itself."""
    return f"{provider}:{group}:{fingerprint}"


class WaitLine:
    """The threads of one client waiting for a permit, served first come, first served: only the
    head of the line asks the budget, the others wait behind it. Without it, a window's permits
    went to whichever threads asked first when it opened, and the threads whose calls had just
    come back asked again before the sleepers were scheduled: one of four workers sharing 5/s
    waited 4 s for a permit while the three others made 20 calls, and gave up at its deadline.
    In line, a thread waits at most as long as the permits of the threads ahead of it take.

    Leaving wakes the next thread only (its own event), not every waiter: with 16 threads a
    shared condition's wake-ups of all of them cost a third of the throughput."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._line: deque[threading.Event] = deque()

    def __len__(self) -> int:
        """Threads in line, the head included (read without the lock: a hint, exact when idle)."""
        return len(self._line)

    @contextmanager
    def turn(self, timeout: float) -> Iterator[int | None]:
        """Hold the head of the line. Yields None once at the head, or how many threads were
        still ahead when ``timeout`` ran out (the caller gives up without asking the budget)."""
        me = threading.Event()
        with self._lock:
            self._line.append(me)
            if self._line[0] is me:
                me.set()
        try:  # from here an interrupt too must leave the line, or every later call would queue behind it
            me.wait(timeout)
            with self._lock:  # the head's event is set under the lock: this read cannot race it
                ahead = None if me.is_set() else self._line.index(me)
            yield ahead
        finally:
            with self._lock:
                was_head = self._line[0] is me
                self._line.remove(me)
                if was_head and self._line:
                    self._line[0].set()


@dataclass
class _BucketState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    starts: tuple[int, ...] = ()
    seconds: tuple[int, ...] = ()  # window lengths matching ``starts``
    permits: int = 0
    exhausted_until: float = 0.0  # the database said no: do not ask again before this
    paused_until: float = 0.0  # a backoff (ours or another process's)
    observed: dict[int, tuple[int, int]] = field(default_factory=dict)  # window s -> (start, server's remaining)
    advertised: dict[int, int] = field(default_factory=dict)  # window s -> the limit the server last announced
    slow_lease_warned: float = float("-inf")  # when a lease outliving its window was last logged


class SharedRateLimiter:
    """Leases slices of the shared budget from PostgreSQL and spends them locally.

    ``lease_fraction`` of the shortest window's limit is leased at a time (at least 1, at
    most ``max_lease``): small enough that several processes share a window fairly and
    little is held back at a window's end, large enough that most calls never touch the
    database. A permit is not used in the last ``guard`` of a window (10 %, at most 0.25 s),
    so a call cannot reach the server after its window has rolled over.
    """

    def __init__(
        self,
        db: Database,
        *,
        lease_fraction: float = 0.25,
        max_lease: int = 50,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._lease_fraction = lease_fraction
        self._max_lease = max_lease
        self._clock = clock
        self._states: dict[str, _BucketState] = {}
        self._states_lock = threading.Lock()
        self._last_prune = 0.0
        self.leases = 0  # database transactions that asked for permits (for tests and metrics)

    def __repr__(self) -> str:
        return f"SharedRateLimiter({self._db!r}, buckets={len(self._states)})"

    def _state(self, bucket: str) -> _BucketState:
        state = self._states.get(bucket)  # a dict read is atomic: the lock (and a new state) only for a new bucket
        if state is None:
            with self._states_lock:
                state = self._states.setdefault(bucket, _BucketState())
        return state

    # ------------------------------------------------------------------ acquiring
    def try_acquire(self, bucket: str, tier: RateTier) -> float:
        """Take one permit: 0.0 when granted, else the seconds to wait before trying again.

        The clock is read under the bucket's lock, and again after a lease: a thread that waited
        for the lock (another thread's lease holds it for a database round trip), or whose own
        lease took that long, must not spend a permit of a window that has ended in the one after
        it, which other processes may have filled."""
        state = self._state(bucket)
        with state.lock:
            now = self._clock()
            if now < state.paused_until:
                return state.paused_until - now
            guard_wait = _guard_wait(tier, now)
            if guard_wait:
                return guard_wait
            starts = tier.starts(now)
            if starts != state.starts:
                self._roll(bucket, tier, state, starts)
            if state.permits == 0:
                if now < state.exhausted_until:
                    return state.exhausted_until - now
                asked_at = now
                wait = self._lease(bucket, tier, state, now)
                if wait:
                    return wait
                now = self._clock()
                if tier.starts(now) != state.starts:
                    self._warn_slow_lease(bucket, tier, state, now - asked_at)
                    return 0.001  # the lease outlived its windows: the next try rolls them over
                guard_wait = _guard_wait(tier, now)
                if guard_wait:
                    return guard_wait
            state.permits -= 1
            return 0.0

    def now(self) -> float:
        """The budget's clock (the wall clock unless a test gives another): what ``granted_at`` is read on."""
        return self._clock()

    def still_in_window(self, tier: RateTier, granted_at: float) -> bool:
        """Whether a permit granted at ``granted_at`` can still go out: the request is about to be
        sent and must reach the server before the windows it was counted in end. A thread that a
        loaded CPU descheduled between the grant and the send would otherwise land in the next
        window, which other processes may have filled, and draw a 429."""
        now = self._clock()
        return all(w.start(now) == w.start(granted_at) and w.start(now) + w.seconds - now >= _guard(w) / 2
                   for w in tier.windows)

    def give_back(self, bucket: str, tier: RateTier, granted_at: float) -> None:
        """A permit granted at ``granted_at`` that ``still_in_window`` kept from going out: back to
        the windows it was counted in that are still current (the minute, hour, day after its
        second ended), as a rollover gives back what was leased and not spent."""
        now = self._clock()
        still = [(w.seconds, w.start(granted_at)) for w in tier.windows if w.start(now) == w.start(granted_at)]
        if still:
            self._release(bucket, still, 1)

    def peek(self, bucket: str, tier: RateTier) -> float:
        """Seconds until ``bucket`` could grant a permit (0.0: now), without taking one. Reads the
        shared windows when this process holds no permit, so a spent day elsewhere shows here."""
        state = self._state(bucket)
        with state.lock:
            now = self._clock()
            starts = tier.starts(now)
            if now < state.paused_until:
                return state.paused_until - now
            if starts == state.starts:
                if state.permits:
                    return 0.0
                if now < state.exhausted_until:
                    return state.exhausted_until - now
        paused = rate_db.paused_until_db(self._db, bucket, now)
        if paused:
            return paused - now
        free = rate_db.free_in_windows(self._db, bucket, [w.seconds for w in tier.windows], starts)
        spent = [w for w in tier.windows if free.get(w.seconds, 1) <= 0]
        if not spent:
            return 0.0
        until = max(start + w.seconds for start, w in zip(starts, tier.windows, strict=True) if w in spent)
        self._say_spent(bucket, spent, until)
        return until - now

    def observe_remaining(
        self, bucket: str, tier: RateTier, remaining: dict[int, int], limits: dict[int, int] | None = None
    ) -> None:
        """The server's ``{window seconds: calls remaining}`` (and, where it says them, its limits):
        kept for the next lease, and permits held beyond what the server still allows are dropped.
        A limit below the tier's caps the window from the next lease on, in every process (the
        window rows keep the least limit any process heard, ``announced``)."""
        state = self._state(bucket)
        with state.lock:
            now = self._clock()
            for seconds, limit in (limits or {}).items():
                if limit > 0:
                    state.advertised[seconds] = limit
            for window in tier.windows:
                left = remaining.get(window.seconds)
                if left is None:
                    continue
                start = window.start(now)
                seen = state.observed.get(window.seconds)
                if seen is None or seen[0] != start or left < seen[1]:
                    state.observed[window.seconds] = (start, left)
                state.permits = min(state.permits, max(0, left))

    def _capacities(self, tier: RateTier, state: _BucketState) -> list[int]:
        """Per window, the tier's limit, or the server's where it announced a lower one."""
        return [min(w.limit, state.advertised.get(w.seconds, w.limit)) for w in tier.windows]

    def _used_floor(self, tier: RateTier, state: _BucketState, capacities: list[int]) -> list[int]:
        """Per window, the least ``used`` the server's remaining counts allow (0 without one)."""
        floors = []
        for window, start, capacity in zip(tier.windows, state.starts, capacities, strict=True):
            seen = state.observed.get(window.seconds)
            floors.append(max(0, capacity - seen[1]) if seen and seen[0] == start else 0)
        return floors

    def _roll(self, bucket: str, tier: RateTier, state: _BucketState, starts: tuple[int, ...]) -> None:
        """A window rolled over: give unused permits back to the windows still current."""
        if state.permits and state.starts:
            still = [(w.seconds, s) for w, s, old in zip(tier.windows, starts, state.starts, strict=True) if s == old]
            if still:
                self._release(bucket, still, state.permits)
        state.starts, state.permits, state.exhausted_until = starts, 0, 0.0
        state.seconds = tuple(w.seconds for w in tier.windows)

    def _lease(self, bucket: str, tier: RateTier, state: _BucketState, now: float) -> float:
        """Lease a slice for ``state.starts`` from the database; return 0.0 or the wait."""
        capacities = self._capacities(tier, state)
        shortest = capacities[tier.windows.index(tier.shortest)]
        want = max(1, min(self._max_lease, math.ceil(shortest * self._lease_fraction)))
        self.leases += 1
        seconds = [w.seconds for w in tier.windows]
        with self._db.transaction() as conn:
            paused = rate_db.paused_until(conn, bucket, now)
            if paused:
                state.paused_until = paused
                return max(0.001, state.paused_until - self._clock())
            free = rate_db.lock_windows(
                conn, bucket, seconds, state.starts, [w.limit for w in tier.windows],
                self._used_floor(tier, state, capacities), [state.advertised.get(s) for s in seconds],
            )
            grant = max(0, min(want, *free.values()))
            if grant:
                rate_db.add_used(conn, bucket, grant, seconds, state.starts)
        self._maybe_prune(now)
        if grant:
            state.permits += grant
            return 0.0
        # Wait for the latest-ending exhausted window to roll over.
        spent = [w for w in tier.windows if free[w.seconds] <= 0]
        ends = [s + w.seconds for w, s in zip(tier.windows, state.starts, strict=True) if free[w.seconds] <= 0]
        state.exhausted_until = max(ends)
        self._say_spent(bucket, spent, state.exhausted_until)
        return max(0.001, state.exhausted_until - self._clock())  # from the end of the lease, not its start

    def _warn_slow_lease(self, bucket: str, tier: RateTier, state: _BucketState, seconds: float) -> None:
        """Say why calls wait when leasing keeps outliving the window (a slow database): otherwise
        the only sign is a ``RateLimited`` once the budget wait runs out. At most once a minute."""
        now = self._clock()
        if now - state.slow_lease_warned < SLOW_LEASE_WARN_EVERY_SECONDS:
            return
        state.slow_lease_warned = now
        shortest = tier.shortest
        log.warning(
            "leasing permits of %s took %.2f s, past the end of its %s window: none spent, asking again; "
            "while the database is this slow, calls wait and may end in RateLimited",
            bucket, seconds, WINDOW_NAMES.get(shortest.seconds, f"{shortest.seconds}s"),
        )

    def _say_spent(self, bucket: str, spent: list[RateWindow], until: float) -> None:
        """An hour's or a day's budget spent: a backoff row until it resets, where ``status`` looks."""
        if max(w.seconds for w in spent) >= 3600:
            names = ", ".join(f"{w.limit}/{WINDOW_NAMES.get(w.seconds, f'{w.seconds}s')}" for w in spent)
            self._write_backoff(bucket, until, f"budget spent ({names}); resets when the window does")

    def _release(self, bucket: str, windows: list[tuple[int, int]], permits: int) -> None:
        try:
            with self._db.transaction() as conn:
                rate_db.give_back(conn, bucket, permits, [s for s, _ in windows], [t for _, t in windows])
        except psycopg.Error as exc:  # returning permits is an optimisation: never fail a call for it
            log.warning("could not return %d unused permits of %s: %s", permits, bucket, type(exc).__name__)

    def _maybe_prune(self, now: float) -> None:
        """Delete windows that ended over a minute ago (per-second rows add up quickly)."""
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        with self._db.transaction() as conn:
            rate_db.prune_windows(conn, now)

    # ------------------------------------------------------------------ backoff
    def record_backoff(self, bucket: str, seconds: float, reason: str) -> None:
        """Pause ``bucket`` for ``seconds`` here and, through the database, everywhere."""
        state = self._state(bucket)
        until = self._clock() + seconds
        with state.lock:
            state.paused_until = max(state.paused_until, until)
            state.permits = 0  # the server disagrees with our count: what we hold is worthless
        self._write_backoff(bucket, until, reason)

    def _write_backoff(self, bucket: str, until: float, reason: str) -> None:
        with self._db.transaction() as conn:
            rate_db.write_backoff(conn, bucket, until, reason)

    def close(self) -> None:
        """Return every unused permit to its windows (called when the sources close)."""
        now = self._clock()
        with self._states_lock:
            states = list(self._states.items())
        for bucket, state in states:
            with state.lock:
                if state.permits and state.starts:
                    windows = [(s, t) for s, t in zip(state.seconds, state.starts, strict=True) if t + s > now]
                    if windows:
                        self._release(bucket, windows, state.permits)
                state.permits = 0


def _guard(window: RateWindow) -> float:
    return min(0.25, 0.1 * window.seconds)


def _guard_wait(tier: RateTier, now: float) -> float:
    """Seconds until the next window starts when ``now`` is in the last guard of a window."""
    for w in tier.windows:
        end = w.start(now) + w.seconds
        if end - now < _guard(w):
            return end - now + 0.001
    return 0.0
