"""Tracked identities: me's accounts and the named teammates (replay-sync configuration)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from crawl_pipeline.domain.roles import Identities
from crawl_pipeline.settings import Settings, parse_identities


class TrackedIdentities(ConfigurableResource):
    """Me's accounts (one person: a main, smurfs) and the named teammates, whose matches get roles.

    Every player of a match one of me's accounts played gets a role relative to them
    (``domain/roles.py``); ``identities()`` validates them as ``settings.parse_identities`` does."""

    me: list[int] = Field(
        default_factory=list, description="Me's account ids (main, smurfs); empty: nothing is tracked (TRACKED_IDENTITIES)."
    )
    teammates: dict[str, list[int]] = Field(
        default_factory=dict, description='Named teammates and their account ids, e.g. {"alice": [123, 456]}.'
    )
    top_players: int = Field(default=10, description="Players met most often shown in the metadata.")
    recent_matches: int = Field(default=10, description="Matches shown per match in the metadata.")

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackedIdentities:
        found = settings.identities
        if found is None:
            return cls()
        return cls(me=list(found.me), teammates={n: list(a) for n, a in found.teammates.items()})

    def identities(self) -> Identities | None:
        """The validated identities (settings.parse_identities: SettingsError names the resource); None when no me."""
        if not self.me and not self.teammates:
            return None
        return parse_identities({"me": list(self.me), "teammates": dict(self.teammates)}, "resource identities")
