"""Match types of player_match_type_stats.

``ranked`` is lobby_type 7 and ``normal`` lobby_type 0. Every other lobby type (practice 1,
tournament 2, tutorial 3, co-op with bots 4, team match 5, solo queue 6, battle cup 9,
event 12 ...) and a missing lobby type count only in ``all``, which holds every detailed match.
"""

from __future__ import annotations

from crawl_pipeline.domain.heroes import NORMAL_LOBBY_TYPE, RANKED_LOBBY_TYPE

RANKED = "ranked"
NORMAL = "normal"
ALL = "all"
MATCH_TYPES = (RANKED, NORMAL, ALL)


def match_types_for_lobby(lobby_type: int | None) -> tuple[str, ...]:
    """The match types one match of this lobby type counts in (always including ``all``)."""
    if lobby_type == RANKED_LOBBY_TYPE:
        return (ALL, RANKED)
    if lobby_type == NORMAL_LOBBY_TYPE:
        return (ALL, NORMAL)
    return (ALL,)


def match_type_case(column: str) -> str:
    """SQL expression: the specific match type of ``column`` (a lobby_type), NULL for the others."""
    return f"CASE {column} WHEN {RANKED_LOBBY_TYPE} THEN '{RANKED}' WHEN {NORMAL_LOBBY_TYPE} THEN '{NORMAL}' END"
