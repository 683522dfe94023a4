import json
from pathlib import Path

from crawl_pipeline.domain.heroes import RANKED_LOBBY_TYPE, heroes, is_known_hero, lobby_types

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "dota" / "heroes.json"


def test_hero_table_is_the_packaged_reference():
    table = heroes()
    assert len(table) == 127
    assert table[1].localized_name == "Anti-Mage"
    assert not is_known_hero(24) and not is_known_hero(None)  # ids are not contiguous
    if SHARED.exists():  # the package copy must follow shared/ when it is regenerated
        assert {h["id"] for h in json.loads(SHARED.read_text())} == set(table)


def test_lobby_types():
    assert lobby_types()[RANKED_LOBBY_TYPE] == "lobby_type_ranked"
