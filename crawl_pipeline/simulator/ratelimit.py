"""Server-side fixed-window rate limiting, so clients are judged by the server.

Windows are aligned to the epoch (a minute starts at :00, a day at 00:00 UTC), the way
OpenDota's Redis counters expire at the start of the next minute and day. Two counting
policies exist because the providers differ: OpenDota increments first and rejects when
the count passes the limit (so rejected calls still cost), while Stratz and Steam only
count calls they serve. One lock guards all state: uvicorn's worker threads and the event
loop may call ``hit`` concurrently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # "minute", "day", ...
    seconds: int
    limit: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: dict[str, int] = field(default_factory=dict)  # per window name
    exceeded: str | None = None  # the first window that refused
    retry_after: float = 0.0  # seconds until that window resets


class FixedWindowLimiter:
    """Counts hits per (identity, window name, window length) in the current aligned window."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], list[int]] = {}  # -> [window start, count]

    def hit(self, identity: str, windows: Sequence[Window], count_rejected: bool) -> Decision:
        """Record one call by ``identity`` against ``windows`` and say whether to serve it."""
        now = self._clock()
        with self._lock:
            states = []
            for w in windows:
                start = int(now // w.seconds) * w.seconds
                state = self._counts.setdefault((identity, w.name, w.seconds), [start, 0])
                if state[0] != start:
                    state[0], state[1] = start, 0
                states.append(state)
            would = [s[1] + 1 for s in states]
            refused = next((w for w, n in zip(windows, would, strict=True) if n > w.limit), None)
            if refused is None or count_rejected:
                for s in states:
                    s[1] += 1
            counted = [s[1] for s in states]
        remaining = {w.name: w.limit - n for w, n in zip(windows, counted, strict=True)}
        if refused is None:
            return Decision(True, remaining)
        reset_at = (int(now // refused.seconds) + 1) * refused.seconds
        return Decision(False, remaining, refused.name, max(0.0, reset_at - now))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
