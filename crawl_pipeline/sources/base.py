"""The interface every provider client implements.

Methods are synchronous and thread-safe: callers fetch many items concurrently from a thread
pool, and every call waits for the shared rate budget before it goes out. Errors are the typed
``crawl_pipeline.sources.errors`` classes, raised after the client's own retries are spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from crawl_pipeline.sources.errors import APIError
from crawl_pipeline.sources.models import BanResults, DetailsRequest, HeroStats, MatchDetails, MatchPage, PlayerProfile

PROVIDERS = ("opendota", "steam", "stratz")


@runtime_checkable
class DotaSource(Protocol):
    provider: str

    def player_profile(self, account_id: int) -> PlayerProfile: ...

    def hero_stats(self, account_id: int) -> HeroStats: ...

    def match_page(
        self,
        account_id: int,
        cursor: int | None = None,
        *,
        page_size: int = 100,
        lobby_type: int | None = None,
        date_after: datetime | None = None,
        date_before: datetime | None = None,
    ) -> MatchPage: ...

    def match_details(self, match_id: int) -> MatchDetails: ...

    def details_groups(self, requests: Sequence[DetailsRequest]) -> list[list[DetailsRequest]]: ...

    def match_details_group(self, group: Sequence[DetailsRequest]) -> list[tuple[int, MatchDetails | APIError]]: ...

    def player_bans(self, account_ids: Sequence[int]) -> BanResults: ...

    def close(self) -> None: ...
