"""The serving caches: bounded, never stale, and invisible to clients except in speed.

Kept answers still go through credentials, limits, counters and faults on every request;
changing a behaviour setting drops them; ``response_cache=False`` serves the same bytes.
"""

from __future__ import annotations

import httpx
import numpy as np

from crawl_pipeline.simulator.cache import LRU, ByteLRU
from crawl_pipeline.simulator.content import MatchStore, match_batch
from crawl_pipeline.simulator.testing import start_simulator

from .support import OPENDOTA_KEY, STEAM_KEY, STRATZ_AUTH

AUTH = {"Authorization": f"Bearer {OPENDOTA_KEY}"}


def test_byte_lru_is_bounded_by_bytes() -> None:
    cache = ByteLRU(1000)
    for i in range(100):
        cache.put(i, b"x" * 100, 100)
        assert cache.nbytes <= 1000
    assert len(cache) == 10 and cache.get(99) is not None and cache.get(0) is None
    cache.put("big", b"x" * 300, 300)  # more than a quarter of the capacity: never kept
    assert cache.get("big") is None
    assert ByteLRU(0).get("anything") is None


def test_lru_keeps_the_most_recently_used() -> None:
    cache: LRU[int] = LRU(3)
    for i in range(3):
        cache.put(i, i)
    assert cache.get(0) == 0  # 0 is now the most recent
    cache.put(3, 3)
    assert cache.get(1) is None and cache.get(0) == 0 and len(cache) == 3


def test_match_store_gives_the_same_rows_however_derived(world) -> None:
    lone, blocked = MatchStore(world, blocks=0), MatchStore(world, blocks=4, block=8)
    indexes = [5, 6, 7, 100, 3, 9, 6, 2_001]
    for i in indexes:
        rows_a, r_a = lone.locate(i)
        rows_b, r_b = blocked.locate(i)
        assert rows_a.row(r_a) == rows_b.row(r_b)
    together = blocked.many(indexes + [world.num_matches - 1])
    alone = match_batch(world, np.array(indexes + [world.num_matches - 1]))
    assert [rows.row(r)["kills"] for rows, r in together] == alone.kills.tolist()
    assert len(blocked._blocks) <= 4  # bounded


def test_match_store_derives_a_block_whole_when_the_reader_comes_from_its_neighbour(world) -> None:
    store = MatchStore(world, blocks=8, block=8)
    rows, _ = store.locate(45)  # a first ask, nothing near it derived: this match alone
    assert len(rows) == 1 and len(store.blocks) == 0
    rows, _ = store.locate(44)  # a second match of the block: the whole block
    assert len(rows) == 8 and len(store.blocks) == 1
    rows, r = store.locate(39)  # the newest first: the next block down comes whole on its first match
    assert (len(rows), r, len(store.blocks)) == (8, 7, 2)
    rows, r = store.locate(48)  # and so does the one above (a sequence page read upwards)
    assert (len(rows), r, len(store.blocks)) == (8, 0, 3)
    assert len(store.locate(200)[0]) == 1  # far from the blocks derived last: alone again
    assert rows.row(r) == MatchStore(world, blocks=0).locate(48)[0].row(0)  # the same values either way


def test_kept_answers_still_meet_faults_limits_and_counters() -> None:
    with start_simulator(rate_limits={"opendota_premium_per_minute": 3}) as sim, httpx.Client(base_url=sim.url) as http:
        match_id = int(sim.world.match_id(np.array([10]))[0])
        first = http.get(f"/api/matches/{match_id}", headers=AUTH)
        again = http.get(f"/api/matches/{match_id}", headers=AUTH)
        assert first.status_code == again.status_code == 200 and first.content == again.content
        assert sim.runtime.responses.hits >= 1  # the second answer was the kept bytes
        caches = http.get("/_sim/stats").json()["caches"]
        assert caches["responses"]["hits"] >= 1 and 0 < caches["responses"]["bytes"] <= caches["responses"]["capacity_bytes"]
        assert [first.headers["x-rate-limit-remaining-minute"], again.headers["x-rate-limit-remaining-minute"]] == ["2", "1"]
        sim.configure(fault_rate=1.0, fault_mix={"http_503": 1.0})
        assert http.get(f"/api/matches/{match_id}", headers=AUTH).status_code == 503
        sim.configure(fault_rate=0.0)
        http.get(f"/api/matches/{match_id}", headers=AUTH)
        assert http.get(f"/api/matches/{match_id}", headers=AUTH).status_code == 429  # limits apply to kept answers
        assert sim.stats()["requests"]["GET /api/matches/{id}"] == 5
        assert http.get(f"/api/matches/{match_id}", params={"api_key": "nope"}).status_code == 400


def test_changing_a_setting_drops_kept_answers() -> None:
    query = {"query": "query M($ids: [Long]!) { matches(ids: $ids) { id } }", "variables": {"ids": [1, 2, 3]}}
    with start_simulator(rate_limits={"enabled": False}) as sim, httpx.Client(base_url=sim.url) as http:
        assert "errors" not in http.post("/graphql", json=query, headers=STRATZ_AUTH).json()
        sim.configure(stratz_max_ids=2)
        assert "Too many" in http.post("/graphql", json=query, headers=STRATZ_AUTH).json()["errors"][0]["message"]
        match_id = str(int(sim.world.match_id(np.array([3]))[0]))
        params = {"key": STEAM_KEY, "match_id": match_id}
        assert http.get("/IDOTA2Match_570/GetMatchDetails/v1/", params=params).status_code == 500
        sim.configure(steam_match_details_enabled=True)
        assert http.get("/IDOTA2Match_570/GetMatchDetails/v1/", params=params).json()["result"]["match_id"] == int(match_id)


def test_uncached_path_serves_the_same_bytes() -> None:
    with start_simulator(rate_limits={"enabled": False}) as fast, \
            start_simulator(rate_limits={"enabled": False}, response_cache=False) as slow:  # fmt: skip
        assert slow.runtime.responses.capacity == 0
        ids = [int(m) for m in fast.world.match_id(np.arange(0, fast.world.num_matches, 997))]
        paths = [f"/api/matches/{i}" for i in ids] + ["/api/players/293053907/matches", "/api/heroes"]
        with httpx.Client(base_url=fast.url) as a, httpx.Client(base_url=slow.url) as b:
            for _ in range(2):
                for path in paths:
                    assert a.get(path, headers=AUTH).content == b.get(path, headers=AUTH).content
        assert slow.runtime.responses.hits == 0 and fast.runtime.responses.hits >= len(paths)
