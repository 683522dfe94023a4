"""Counter-based randomness: a value is a pure function of (seed, keys...).

Lazily generated match content must not depend on which requests came first or how
they were batched, so instead of a stateful RNG we hash the coordinates with splitmix64.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


def hash64(seed: int, *keys: ArrayLike) -> NDArray[np.uint64]:
    """64-bit hash of the broadcast keys (non-negative integers)."""
    return extend(start(seed), *keys) if keys else start(seed).copy()


@lru_cache(maxsize=64)
def start(seed: int) -> NDArray[np.uint64]:
    """The hash chain's state after the seed: ``extend(start(seed), *keys) == hash64(seed, *keys)``.

    Cached and read-only (``extend`` never writes into its input)."""
    with np.errstate(over="ignore"):
        h = _mix(np.atleast_1d(np.asarray(seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)) + _GOLDEN)
    h.flags.writeable = False
    return h


def extend(h: NDArray[np.uint64], *keys: ArrayLike) -> NDArray[np.uint64]:
    """Continue a hash chain with more keys (broadcasting like ``hash64``).

    Hashes sharing a prefix of keys share its work: ``extend(extend(start(s), a), b)`` is
    ``hash64(s, a, b)``, and a stacked last key (``tags[:, None, None]``) hashes many
    streams in one pass. Integer arithmetic only, so exact whatever the shapes.
    """
    with np.errstate(over="ignore"):
        for key in keys:
            k = np.asarray(key).astype(np.uint64)
            h = _mix(h ^ (k * _GOLDEN + _GOLDEN))
    return h


def unit(h: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Hashes to uniform floats in [0, 1): ``unit(hash64(s, *k)) == uniform(s, *k)``."""
    return (h >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def box_muller(u1: NDArray[np.float64], u2: NDArray[np.float64]) -> NDArray[np.float64]:
    """``normal``'s transform of its two uniforms (streams 0x5151 and 0xA2A2)."""
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


NORMAL_STREAMS = np.array([0x5151, 0xA2A2], dtype=np.int64)


def uniform(seed: int, *keys: ArrayLike) -> NDArray[np.float64]:
    """Uniform floats in [0, 1) determined by (seed, keys)."""
    return unit(hash64(seed, *keys))


def normal(seed: int, *keys: ArrayLike) -> NDArray[np.float64]:
    """Standard normal floats (Box-Muller over two derived uniforms)."""
    u1 = uniform(seed, *keys, 0x5151)
    u2 = uniform(seed, *keys, 0xA2A2)
    return box_muller(u1, u2)


def choice_index(seed: int, n: int, *keys: ArrayLike) -> NDArray[np.int64]:
    """Uniform integers in [0, n)."""
    return (hash64(seed, *keys) % np.uint64(n)).astype(np.int64)


# ---------------------------------------------------------------------- scalar twins
# The same hash on plain Python integers, for one value per request (a fault draw): numpy's
# per-call overhead is tens of microseconds, these take one. Bit-identical to the arrays.
_MASK = 0xFFFFFFFFFFFFFFFF
_G, _P1, _P2 = int(_GOLDEN), int(_M1), int(_M2)


def _mix_int(x: int) -> int:
    x ^= x >> 30
    x = (x * _P1) & _MASK
    x ^= x >> 27
    x = (x * _P2) & _MASK
    return x ^ (x >> 31)


def hash64_int(seed: int, *keys: int) -> int:
    """``int(hash64(seed, *keys)[0])`` for non-negative integer keys, without numpy."""
    h = _mix_int(((seed & _MASK) + _G) & _MASK)
    for key in keys:
        h = _mix_int(h ^ (((key & _MASK) * _G + _G) & _MASK))
    return h


def uniform_int(seed: int, *keys: int) -> float:
    """``float(uniform(seed, *keys)[0])`` without numpy."""
    return (hash64_int(seed, *keys) >> 11) * (1.0 / 9007199254740992.0)
