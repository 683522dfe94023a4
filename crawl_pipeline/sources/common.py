"""What the three provider clients share besides HTTP: wire-model base, conversions, defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

from pydantic import BaseModel, ConfigDict

from crawl_pipeline.domain.heroes import is_known_hero
from crawl_pipeline.domain.identity import is_anonymous
from crawl_pipeline.domain.records import (
    BanResults,
    DetailsRequest,
    HeroStat,
    HeroStats,
    MatchDetails,
    MatchPage,
    MatchPlayer,
    PlayerProfile,
    RankHistory,
)
from crawl_pipeline.sources.errors import APIError, MalformedResponse, UnsupportedOperation
from crawl_pipeline.sources.http import Problem, ProviderHTTP

DetailsOutcome = tuple[int, "MatchDetails | APIError"]
ItemOutcome = tuple[int, Any]  # (account or match id, its record or the APIError it met)


def only_outcome(outcomes: list[ItemOutcome]) -> Any:
    """The record of a batched call made for one id, or its error raised."""
    [(_, outcome)] = outcomes
    if isinstance(outcome, APIError):
        raise outcome
    return outcome


def each(fetch: Any, ids: Sequence[int]) -> list[ItemOutcome]:
    """One call per id, an outcome per id: the default of every batched call."""
    outcomes: list[ItemOutcome] = []
    for item in ids:
        try:
            outcomes.append((item, fetch(item)))
        except APIError as error:
            outcomes.append((item, error))
    return outcomes


class Wire(BaseModel):
    """A provider payload as sent: unknown fields ignored, missing required ones an error."""

    model_config = ConfigDict(extra="ignore", frozen=True)


MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime holds


def from_epoch(seconds: int | None, field: str = "timestamp") -> datetime | None:
    """Epoch seconds as UTC; a value no calendar holds is a malformed response naming the field."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise Problem(MalformedResponse, f"field {field!r}: {seconds} is not a valid epoch time") from None


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def account_or_none(account_id: int | None) -> int | None:
    """Anonymous players (missing id, 4294967295) have no account."""
    return None if is_anonymous(account_id) else account_id


def known_heroes(rows: Sequence[HeroStat]) -> tuple[list[HeroStat], int]:
    """Rows for heroes in the hero table, and how many rows were skipped as unknown."""
    kept = [row for row in rows if is_known_hero(row.hero_id)]
    return kept, len(rows) - len(kept)


def details(players: list[MatchPlayer], **fields: Any) -> MatchDetails:
    """MatchDetails keeping all players, counting those whose hero the table does not know."""
    unknown = sum(1 for p in players if not is_known_hero(p.hero_id))
    return MatchDetails(players=players, unknown_heroes=unknown, **fields)


def in_date_range(start_time: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    if start_time is None:
        return after is None and before is None
    return (after is None or start_time >= after) and (before is None or start_time <= before)


class BaseSource:
    """A provider client: its HTTP path plus 'this provider cannot do that' defaults.

    Every call family also has a batched form taking many ids and returning an outcome per id
    (``profiles_many``, ``hero_stats_many``, ``match_pages_many``, ``details_groups`` +
    ``match_details_group``). ``batch_sizes`` says how many ids one request of a family covers;
    the defaults make one request per id.

    Methods are synchronous and thread-safe: callers fetch many items concurrently from a thread
    pool, and every call waits for the shared rate budget before it goes out. Errors are the typed
    ``crawl_pipeline.sources.errors`` classes, raised after the client's own retries are spent; the
    batched forms return them per item instead.
    """

    provider: str
    batch_sizes: ClassVar[dict[str, int]] = {}  # call family ("profiles", "hero_stats", ...) -> ids per request
    # call families this provider answers with fewer fields than the others (the planner uses it
    # only when those cannot serve): Steam's matches carry no lane or per-player rank
    partial_calls: frozenset[str] = frozenset()

    def batch_size(self, call: str) -> int:
        return self.batch_sizes.get(call, 1)

    def budget_wait(self, call: str) -> float:
        """Seconds until the shared budget has a permit for ``call`` here (inf: no usable key)."""
        return self.http.budget_wait()

    def same_provider(self, provider: str) -> BaseSource:
        """The client of ``provider`` behind this one (a routed source's candidate; else itself):
        later history pages go where the first came from, since cursors are the provider's own."""
        return self

    def supports(self, call: str) -> bool:
        """Whether this provider has an endpoint for the call family."""
        method = {"profiles": "player_profile", "hero_stats": "hero_stats", "match_history": "match_page",
                  "match_details": "match_details", "bans": "player_bans"}[call]  # fmt: skip
        return getattr(type(self), method) is not getattr(BaseSource, method)

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http!r})"

    def _unsupported(self, call: str) -> NoReturn:
        raise UnsupportedOperation(
            f"{self.provider} has no endpoint for {call}; route this call to another provider",
            provider=self.provider,
            endpoint=call,
        )

    def player_profile(self, account_id: int) -> PlayerProfile:
        self._unsupported("player_profile")

    def hero_stats(self, account_id: int) -> HeroStats:
        self._unsupported("hero_stats")

    def match_page(
        self,
        account_id: int,
        cursor: int | None = None,
        *,
        page_size: int = 100,
        lobby_type: int | None = None,
        date_after: datetime | None = None,
        date_before: datetime | None = None,
    ) -> MatchPage:
        self._unsupported("match_page")

    def match_details(self, match_id: int) -> MatchDetails:
        self._unsupported("match_details")

    def rank_history(self, account_id: int) -> RankHistory:
        """The account's medal changes over time (what a match's rank at its start is read from)."""
        self._unsupported("rank_history")

    def details_groups(self, requests: Sequence[DetailsRequest]) -> list[list[DetailsRequest]]:
        """How ``requests`` are split into calls: ``batch_size("match_details")`` matches per call."""
        size = self.batch_size("match_details")
        return [list(requests[i : i + size]) for i in range(0, len(requests), size)]

    def match_details_group(self, group: Sequence[DetailsRequest]) -> list[DetailsOutcome]:
        """Details of one group from ``details_groups``: an outcome per match, errors per match."""
        return each(self.match_details, [r.match_id for r in group])

    def profiles_many(self, account_ids: Sequence[int]) -> list[ItemOutcome]:
        """Profiles of at most ``batch_size("profiles")`` accounts: an outcome per account."""
        return each(self.player_profile, account_ids)

    def hero_stats_many(self, account_ids: Sequence[int]) -> list[ItemOutcome]:
        return each(self.hero_stats, account_ids)

    def match_pages_many(self, account_ids: Sequence[int], *, page_size: int = 100) -> list[ItemOutcome]:
        """The first history page of each account (later pages go one account at a time)."""
        return each(lambda account_id: self.match_page(account_id, page_size=page_size), account_ids)

    def player_bans(self, account_ids: Sequence[int]) -> BanResults:
        self._unsupported("player_bans")

    def close(self) -> None:
        self.http.close()
