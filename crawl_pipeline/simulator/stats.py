"""Request counters served at ``/_sim/stats`` (keys are shown only as short hashes)."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, defaultdict
from typing import Any


def redact(secret: str) -> str:
    """A stable short label for a credential that does not reveal it."""
    return "key:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


class SimulatorStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._by_identity: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._status: Counter[str] = Counter()
            self._rate_limited: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()

    def request(self, provider: str, endpoint: str, identity_label: str) -> None:
        with self._lock:
            self._requests[endpoint] += 1
            self._by_identity[provider][identity_label] += 1

    def status(self, code: int) -> None:
        with self._lock:
            self._status[str(code)] += 1

    def rate_limited(self, provider: str) -> None:
        with self._lock:
            self._rate_limited[provider] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests_total": sum(self._requests.values()),
                "requests": dict(self._requests),
                "requests_by_key": {p: dict(c) for p, c in self._by_identity.items()},
                "responses_by_status": dict(self._status),
                "rate_limited": dict(self._rate_limited),
                "rate_limited_total": sum(self._rate_limited.values()),
                "faults": dict(self._faults),
                "faults_total": sum(self._faults.values()),
            }
