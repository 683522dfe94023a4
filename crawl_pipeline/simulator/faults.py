"""Deterministic fault injection.

A request's fate is a pure function of (seed, request fingerprint, attempt number):
the fingerprint is the method, path, query (without credentials) and body; the attempt
counts how often that fingerprint has been seen since the last reset. The same client
sequence therefore meets the same faults on every run, concurrent clients do not disturb
each other's draws, and a retry is a fresh draw, so retrying eventually gets through.
"""

from __future__ import annotations

import hashlib
import threading
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .hashing import uniform_int

_COUNTER_SLOTS = 1 << 20  # fixed memory however long the server runs


@dataclass(frozen=True, slots=True)
class FaultDecision:
    attempt: int
    kind: str | None  # None: serve normally
    latency_s: float
    fraction: float  # for truncation: share of the body that is sent (0.0 when no fault)


class FaultInjector:
    def __init__(self, seed: int, rate: float, mix: Mapping[str, float], latency_ms: float) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._attempts = np.zeros(_COUNTER_SLOTS, dtype=np.uint32)
        self.configure(rate, mix, latency_ms)

    def configure(self, rate: float, mix: Mapping[str, float], latency_ms: float) -> None:
        kinds = [k for k, w in mix.items() if w > 0]
        weights = np.array([mix[k] for k in kinds], dtype=np.float64)
        with self._lock:
            self.rate = rate
            self.mix = dict(mix)
            self.latency_ms = latency_ms
            self._kinds = kinds
            self._cumulative = (np.cumsum(weights) / weights.sum()).tolist() if kinds else []

    def decide(self, fingerprint: bytes) -> FaultDecision:
        key = int.from_bytes(hashlib.blake2b(fingerprint, digest_size=8).digest(), "little")
        with self._lock:
            slot = key % _COUNTER_SLOTS
            self._attempts[slot] += 1
            attempt = int(self._attempts[slot])
            rate, kinds, cumulative, latency_ms = self.rate, self._kinds, self._cumulative, self.latency_ms
        # u_i = uniform(seed, key >> 1, attempt, np.arange(4))[i], each drawn only where it decides something
        u = lambda i: uniform_int(self._seed, key >> 1, attempt, i)
        kind = None
        if kinds and rate > 0 and u(0) < rate:
            kind = kinds[min(bisect_right(cumulative, u(1)), len(kinds) - 1)]  # = np.searchsorted(side="right")
        latency = latency_ms * (0.5 + u(2)) / 1000.0 if latency_ms > 0 else 0.0
        return FaultDecision(attempt, kind, latency, 0.2 + 0.6 * u(3) if kind is not None else 0.0)

    def reset(self) -> None:
        with self._lock:
            self._attempts[:] = 0
