"""Fetch many items at once under the shared budget.

The clients are thread-safe and block in ``acquire`` until the budget allows a call, so
the budget, not the thread count, sets the pace: with 100 ms of latency and 20 calls/s
allowed, a few threads keep the budget used while one thread alone would reach 10/s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from crawl_pipeline.sources.errors import APIError

I = TypeVar("I")
R = TypeVar("R")


def fetch_concurrently(
    func: Callable[[I], R], items: Iterable[I], max_workers: int = 8
) -> Iterator[tuple[I, R | APIError]]:
    """Yield ``(item, result)`` or ``(item, APIError)`` for every item, in completion order.

    At most ``2 * max_workers`` calls are queued at a time, so a generator of a million ids
    is consumed lazily. Only ``APIError`` is captured: anything else is a bug and is raised.
    Closing the iterator early cancels what has not started.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    source = iter(items)
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fetch") as pool:
        pending: dict[Future[R], I] = {}
        try:
            while True:
                while len(pending) < 2 * max_workers:
                    try:
                        item = next(source)
                    except StopIteration:
                        break
                    pending[pool.submit(func, item)] = item
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    error = future.exception()
                    if error is None:
                        yield item, future.result()
                    elif isinstance(error, APIError):
                        yield item, error
                    else:
                        raise error
        finally:
            for future in pending:
                future.cancel()
