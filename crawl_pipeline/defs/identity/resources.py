"""Tracked identities: ``me`` and the ``teammates`` (replay-sync configuration)."""

from dagster import ConfigurableResource
from pydantic import Field


class TrackedIdentities(ConfigurableResource):
    """Who "me" is and which accounts are my teammates; every player of a match me played gets a
    role relative to them (``domain/roles.py``)."""

    me: int | None = Field(default=None, description="The tracked account (32-bit account id).")
    teammates: list[int] = Field(default_factory=list, description="Friends' account ids.")
    listed_only: bool = Field(
        default=False, description="Unlisted known players on me's side count as anon_teammate (not one of ours)."
    )
    top_players: int = Field(default=10, description="Players met most often shown in the metadata.")
    recent_matches: int = Field(default=10, description="Matches shown per match in the metadata.")
