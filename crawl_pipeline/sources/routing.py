"""The call planner: serve one call family from every provider that can, spending budgets, not calls.

``RoutedSource`` looks like one provider client. For each group of items it asks every
candidate provider (those that serve the call and have a usable key) two things: how many
requests the group would cost there (Stratz answers 10 accounts or matches per request,
Steam's sequence feed up to 100 matches whose sequence numbers are close, OpenDota one), whether
it gives every field (Steam's matches lack lanes and per-player ranks: used when the others
cannot serve), and whether its shared budget has a permit now (``BaseSource.budget_wait``: every window of every
healthy key, read from the shared budget in PostgreSQL, and the endpoint's own pace: Steam's feed). The group goes to the cheapest ready
provider; items it cannot serve now (rate limited, its day spent, no usable key, no such
endpoint) go on to the next candidate, so a spent OpenDota day moves the crawl to Stratz and
Steam. When no provider is ready the one whose budget frees up first takes the group and waits
(or raises ``RateLimited`` past ``max_budget_wait``: the items stay pending, no attempt spent).

``plan()`` says where items went and what they cost: run metadata.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from crawl_pipeline.domain.records import DetailsRequest
from crawl_pipeline.sources.common import BaseSource, ItemOutcome, only_outcome
from crawl_pipeline.sources.errors import APIError, RateLimited, Redirected, Unauthorized, UnsupportedOperation

READY_WITHIN = 1.0  # seconds: a provider whose budget frees up this soon counts as ready
# errors that say "not here, not now" rather than anything about the item: try the next provider
HAND_ON = (RateLimited, Unauthorized, UnsupportedOperation, Redirected)  # this provider cannot serve now


class RoutedSource(BaseSource):
    provider = "auto"

    def __init__(self, call: str, candidates: Sequence[BaseSource]) -> None:
        if not candidates:
            raise ValueError(f"no provider can serve {call}: configure a key for one that does")
        self.call = call
        self.candidates = list(candidates)
        self._lock = threading.Lock()
        self._items: Counter[str] = Counter()  # provider -> items it served (success or its own error)
        self._requests: Counter[str] = Counter()  # provider -> requests planned for them

    def __repr__(self) -> str:
        return f"RoutedSource({self.call}: {', '.join(c.provider for c in self.candidates)})"

    @property
    def http(self):
        return self.candidates[0].http

    def batch_size(self, call: str) -> int:
        return max(c.batch_size(call) for c in self.candidates)

    def supports(self, call: str) -> bool:
        return any(c.supports(call) for c in self.candidates)

    def plan(self) -> dict[str, Any]:
        with self._lock:
            items, requests = dict(self._items), dict(self._requests)
        return {"items": items, "requests_planned": requests}

    # ------------------------------------------------------------------ choosing
    def _order(self, cost: Callable[[BaseSource], int]) -> list[tuple[BaseSource, int]]:
        """Candidates: ready ones first; among them those giving every field (``partial_calls``),
        then the cheapest; the rest by how soon their budget frees up."""
        ranked = []
        for candidate in self.candidates:
            wait = candidate.budget_wait(self.call)
            if math.isinf(wait):
                continue  # no usable key
            requests = cost(candidate)
            ready = wait <= READY_WITHIN
            partial = self.call in candidate.partial_calls
            ranked.append(((not ready, partial, requests) if ready else (True, wait, partial), requests, candidate))
        ranked.sort(key=lambda r: r[0])
        return [(candidate, requests) for _, requests, candidate in ranked]

    def _serve(
        self, ids: Sequence[Any], key: Callable[[Any], int], cost: Callable[[BaseSource, Sequence[Any]], int],
        fetch: Callable[[BaseSource, Sequence[Any]], list[ItemOutcome]],
    ) -> list[ItemOutcome]:
        """Serve ``ids`` (items with ids ``key(item)``), handing what a provider cannot serve now to the next."""
        todo = list(ids)
        done: dict[int, Any] = {}
        # _order ranks every candidate at once, by the cost of the whole group
        for candidate, requests in self._order(lambda c: cost(c, todo)):  # noqa: B023
            if not todo:
                break
            with self._lock:
                self._requests[candidate.provider] += requests if len(todo) == len(ids) else cost(candidate, todo)
            outcomes = dict(fetch(candidate, todo))
            later = []
            for item in todo:
                outcome = outcomes.get(key(item))
                if isinstance(outcome, HAND_ON):
                    done[key(item)] = outcome  # kept unless a later provider serves it
                    later.append(item)
                else:
                    done[key(item)] = outcome
                    with self._lock:
                        self._items[candidate.provider] += 1
            todo = later
        for item in ids:
            if key(item) not in done:
                done[key(item)] = UnsupportedOperation(
                    f"no configured provider can serve {self.call} now", provider="auto", endpoint=self.call
                )
        return [(key(item), done[key(item)]) for item in ids]

    # ------------------------------------------------------------------ the call families
    def _ids(self, call: str, ids: Sequence[int], method: str, **kwargs: Any) -> list[ItemOutcome]:
        return self._serve(
            ids, key=lambda i: i,
            cost=lambda c, todo: -(-len(todo) // c.batch_size(call)),
            fetch=lambda c, todo: getattr(c, method)(list(todo), **kwargs),
        )

    def profiles_many(self, account_ids: Sequence[int]) -> list[ItemOutcome]:
        return self._ids("profiles", account_ids, "profiles_many")

    def hero_stats_many(self, account_ids: Sequence[int]) -> list[ItemOutcome]:
        return self._ids("hero_stats", account_ids, "hero_stats_many")

    def match_pages_many(self, account_ids: Sequence[int], *, page_size: int = 100) -> list[ItemOutcome]:
        return self._ids("match_history", account_ids, "match_pages_many", page_size=page_size)

    def details_groups(self, requests: Sequence[DetailsRequest]) -> list[list[DetailsRequest]]:
        """Groups as the provider that needs the fewest requests would cut them: whoever serves a
        group cuts it again its own way, and hands on what it cannot serve as one group."""
        usable = [c for c in self.candidates if not math.isinf(c.budget_wait(self.call))] or self.candidates
        return min((c.details_groups(requests) for c in usable), key=len)

    def match_details_group(self, group: Sequence[DetailsRequest]) -> list[ItemOutcome]:
        def fetch(candidate: BaseSource, todo: Sequence[DetailsRequest]) -> list[ItemOutcome]:
            outcomes: list[ItemOutcome] = []
            for sub in candidate.details_groups(todo):
                outcomes += candidate.match_details_group(sub)
            return outcomes

        return self._serve(
            group, key=lambda r: r.match_id, cost=lambda c, todo: len(c.details_groups(todo)), fetch=fetch
        )

    def same_provider(self, provider: str) -> BaseSource:
        return next((c for c in self.candidates if c.provider == provider), self)

    # one item at a time: the same routing (the CLI and tests use these)
    def player_profile(self, account_id: int):
        return only_outcome(self.profiles_many([account_id]))

    def hero_stats(self, account_id: int):
        return only_outcome(self.hero_stats_many([account_id]))

    def match_details(self, match_id: int):
        return only_outcome(self.match_details_group([DetailsRequest(match_id=match_id)]))

    def match_page(self, account_id: int, cursor: int | None = None, **kwargs: Any):
        """Later pages stay with the provider whose cursor they continue: the first ready that serves history."""
        return self._first_ready(lambda c: c.match_page(account_id, cursor, **kwargs), "match_page")

    def player_bans(self, account_ids: Sequence[int]):
        return self._first_ready(lambda c: c.player_bans(account_ids), "player_bans")

    def _first_ready(self, call: Callable[[BaseSource], Any], endpoint: str) -> Any:
        """One call, on the first ready candidate that can make it now."""
        last: APIError | None = None
        for candidate, _ in self._order(lambda c: 1):
            try:
                return call(candidate)
            except HAND_ON as error:
                last = error
        raise last or UnsupportedOperation(f"no provider serves {self.call}", provider="auto", endpoint=endpoint)

    def close(self) -> None:
        """The candidates belong to ``Sources``, which closes them."""
