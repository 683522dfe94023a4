"""The BFS frontier: batch keys, batch sizes and which accounts go into which batch.

Batches are Dagster dynamic partitions. Dagster handles about 100,000 partitions per
definition well, so batches grow with depth (the population grows geometrically with
depth) and no batch is ever made for a single account unless the frontier is closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BATCH_KEY = re.compile(r"^d(\d{2})-(\d{6})$")
MAX_DEPTH_IN_KEY = 99
MAX_BATCH_NUMBER = 999_999


def batch_key(depth: int, number: int) -> str:
    """``d02-000153``: no commas, so the UI can backfill it (dagster-io/dagster #15105)."""
    if not 0 <= depth <= MAX_DEPTH_IN_KEY or not 0 <= number <= MAX_BATCH_NUMBER:
        raise ValueError(f"batch depth {depth} / number {number} out of range")
    return f"d{depth:02d}-{number:06d}"


def parse_batch_key(key: str) -> tuple[int, int]:
    match = _BATCH_KEY.match(key)
    if not match:
        raise ValueError(f"invalid batch key {key!r}: expected d<depth>-<number> such as d02-000153")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class BatchPolicy:
    """How big batches are and how far the crawl goes."""

    base_size: int = 200
    growth_per_depth: float = 2.0  # depth d gets base_size * growth**d accounts per batch ...
    max_size: int = 5000  # ... up to this many
    max_depth: int = 2
    max_accounts: int | None = None  # cap on accounts ever batched; None = no cap

    def size_for_depth(self, depth: int) -> int:
        return max(1, min(self.max_size, round(self.base_size * self.growth_per_depth**depth)))


@dataclass(frozen=True)
class PlannedBatch:
    key: str
    depth: int
    account_ids: tuple[int, ...]


def plan_batches(
    unbatched: dict[int, list[int]],
    next_number: dict[int, int],
    policy: BatchPolicy,
    *,
    already_batched: int,
    closed_depths: set[int],
) -> list[PlannedBatch]:
    """Cut the unbatched accounts into batches, shallowest depth first (BFS order).

    ``unbatched`` maps depth -> account ids in discovery order. Full batches are always cut;
    the remainder of a depth becomes a partial batch only when that depth is closed (no
    running batch can still add accounts to it), so a trickle of discoveries does not
    turn into a flood of tiny partitions. ``max_depth`` and ``max_accounts`` are honoured.
    """
    budget = None if policy.max_accounts is None else max(0, policy.max_accounts - already_batched)
    planned: list[PlannedBatch] = []
    for depth in sorted(unbatched):
        if depth > policy.max_depth:
            break
        ids = unbatched[depth]
        if budget is not None:
            ids = ids[:budget]
        size = policy.size_for_depth(depth)
        number = next_number.get(depth, 0)
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            if len(chunk) < size and depth not in closed_depths and (budget is None or len(chunk) < budget):
                break
            planned.append(PlannedBatch(batch_key(depth, number), depth, tuple(chunk)))
            number += 1
            if budget is not None:
                budget -= len(chunk)
        if budget == 0:
            break
    return planned
