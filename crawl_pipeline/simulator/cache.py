"""Bounded, thread-safe LRU caches for the serving path.

Everything the simulator serves is a pure function of the world (and of the behaviour
settings, which clear the caches when they change), so answers can be kept and served
again. Both caches are bounded so a 1M-account world still fits in memory: ``ByteLRU`` by
the bytes it holds, ``LRU`` by its number of entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """At most ``size`` entries; the least recently used one goes first."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if not self.size:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get_many(self, keys: list[Hashable]) -> list[V | None]:
        """``get`` of each key under one lock acquisition."""
        with self._lock:
            data, out = self._data, []
            for key in keys:
                value = data.get(key)
                if value is not None:
                    data.move_to_end(key)
                out.append(value)
            found = sum(v is not None for v in out)
            self.hits += found
            self.misses += len(out) - found
            return out

    def put_many(self, items: list[tuple[Hashable, V]]) -> None:
        if not self.size:
            return
        with self._lock:
            for key, value in items:
                self._data[key] = value
                self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class ByteLRU:
    """Values with a byte size; holds at most ``capacity`` bytes (an entry larger than a
    quarter of it is never kept)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, capacity)
        self._data: OrderedDict[Hashable, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, value: object, size: int) -> None:
        if size > self.capacity // 4:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.nbytes -= old[0]
            self._data[key] = (size, value)
            self.nbytes += size
            while self.nbytes > self.capacity:
                _, (dropped, _) = self._data.popitem(last=False)
                self.nbytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._data)
