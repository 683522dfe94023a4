"""Hero, game-mode, lobby-type and region reference tables (from dotaconstants, MIT).

The JSON files in ``crawl_pipeline/reference`` are copies of ``shared/reference/dota``;
regenerate them from the npm package ``dotaconstants`` when Valve adds heroes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

RANKED_LOBBY_TYPE = 7
NORMAL_LOBBY_TYPE = 0


@dataclass(frozen=True, slots=True)
class Hero:
    id: int
    name: str  # npc_dota_hero_*
    localized_name: str
    primary_attr: str
    attack_type: str
    roles: tuple[str, ...]


def _load(name: str):
    return json.loads(resources.files("crawl_pipeline.reference").joinpath(name).read_text("utf-8"))


@lru_cache(maxsize=1)
def heroes() -> dict[int, Hero]:
    """All known heroes by id (ids are not contiguous)."""
    return {
        h["id"]: Hero(
            id=h["id"],
            name=h["name"],
            localized_name=h["localized_name"],
            primary_attr=h["primary_attr"],
            attack_type=h["attack_type"],
            roles=tuple(h["roles"]),
        )
        for h in _load("heroes.json")
    }


def is_known_hero(hero_id: int | None) -> bool:
    return hero_id is not None and hero_id in heroes()


@lru_cache(maxsize=1)
def lobby_types() -> dict[int, str]:
    return {int(k): v["name"] for k, v in _load("lobby_type.json").items()}


@lru_cache(maxsize=1)
def game_modes() -> dict[int, str]:
    return {int(k): v["name"] for k, v in _load("game_mode.json").items()}


@lru_cache(maxsize=1)
def regions() -> dict[int, str]:
    return {int(k): v for k, v in _load("region.json").items()}


@lru_cache(maxsize=1)
def cluster_regions() -> dict[int, int]:
    return {int(k): int(v) for k, v in _load("cluster.json").items()}


def region_of_cluster(cluster: int | None) -> int | None:
    """The region of a Valve server cluster (Steam answers carry ``cluster``); None when unknown."""
    return None if cluster is None else cluster_regions().get(cluster)
