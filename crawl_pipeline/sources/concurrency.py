"""Fetch many items at once under the shared budget.

The clients are thread-safe and block in ``acquire`` until the budget allows a call, so
the budget, not the thread count, sets the pace: with 100 ms of latency and 20 calls/s
allowed, a few threads keep the budget used while one thread alone would reach 10/s.

The fetchers do not wait for the consumer: each worker takes the next item itself and puts
its outcome on a bounded queue, so while the caller writes a chunk to PostgreSQL the calls
go on (until ``buffer`` outcomes wait to be taken). No future per item and no ``wait()``
over every pending one: one queue hand-off per outcome.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from crawl_pipeline.sources.errors import APIError

ItemT = TypeVar("ItemT")
R = TypeVar("R")


class _Raised:
    """A worker's exception that is not an ``APIError`` (a bug): raised in the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_WORKER_DONE = object()


def fetch_concurrently(
    func: Callable[[ItemT], R], items: Iterable[ItemT], max_workers: int = 8, *, buffer: int | None = None
) -> Iterator[tuple[ItemT, R | APIError]]:
    """Yield ``(item, result)`` or ``(item, APIError)`` for every item, in completion order.

    At most ``max_workers`` calls run at a time and at most ``buffer`` (default
    ``2 * max_workers``) finished outcomes wait for the consumer, so a generator of a million
    ids is consumed lazily and memory stays bounded. Only ``APIError`` is captured: anything
    else is a bug and is raised here. Closing the iterator early starts nothing more and waits
    for the calls already running.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    size = 2 * max_workers if buffer is None else max(1, buffer)
    source = iter(items)
    take = threading.Lock()  # the source may be a generator: one next() at a time
    stop = threading.Event()
    finished: queue.Queue = queue.Queue(maxsize=size)

    def work() -> None:
        try:
            while not stop.is_set():
                with take:
                    if stop.is_set():
                        return
                    try:
                        item = next(source)
                    except StopIteration:
                        return
                try:
                    outcome: object = func(item)
                except APIError as error:
                    outcome = error
                finished.put((item, outcome))
        except BaseException as error:  # a bug in func or in the source: the consumer raises it
            stop.set()
            finished.put((None, _Raised(error)))
        finally:
            finished.put(_WORKER_DONE)

    workers = [
        threading.Thread(target=work, name=f"fetch_{n}", daemon=True) for n in range(min(max_workers, 1 << 16))
    ]
    for worker in workers:
        worker.start()
    running = len(workers)
    try:
        while running:
            got = finished.get()
            if got is _WORKER_DONE:
                running -= 1
                continue
            item, outcome = got
            if isinstance(outcome, _Raised):
                raise outcome.error
            yield item, outcome
    finally:
        stop.set()
        while running:  # let blocked workers put their last outcome, then end
            if finished.get() is _WORKER_DONE:
                running -= 1
        for worker in workers:
            worker.join()
