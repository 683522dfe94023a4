"""The interface every provider client implements: ``BaseSource`` (``common.py``), named here.

Methods are synchronous and thread-safe: callers fetch many items concurrently from a thread
pool, and every call waits for the shared rate budget before it goes out. Errors are the typed
``crawl_pipeline.sources.errors`` classes, raised after the client's own retries are spent; the
batched forms (``profiles_many`` ...) return them per item instead.
"""

from __future__ import annotations

from crawl_pipeline.sources.common import BaseSource

DotaSource = BaseSource  # one interface: a provider client is a BaseSource

__all__ = ["DotaSource"]
