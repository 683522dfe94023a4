from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from crawl_pipeline.db import frontier
from crawl_pipeline.db.accounts import add_seeds
from crawl_pipeline.domain.frontier import BatchPolicy

POLICY = BatchPolicy(base_size=3, growth_per_depth=1.0, max_depth=2)
LINGER = timedelta(hours=1)


def _discover(db, depth, ids, parent=None):
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO accounts (account_id, depth, discovered_from) SELECT unnest(%s::bigint[]), %s, %s",
            (ids, depth, parent),
        )


def test_each_account_lands_in_exactly_one_batch_even_with_overlapping_ticks(db, session_db):
    with db.transaction() as conn:
        add_seeds(conn, list(range(1, 8)))

    def tick(_):
        with session_db.transaction() as conn:
            return [b.key for b in frontier.cut_batches(conn, POLICY, linger=LINGER)]

    with ThreadPoolExecutor(4) as pool:
        keys = [k for ks in pool.map(tick, range(4)) for k in ks]
    assert sorted(keys) == ["d00-000000", "d00-000001", "d00-000002"]
    counts = db.fetch_all("SELECT batch_key, count(*) AS n FROM accounts GROUP BY 1 ORDER BY 1")
    assert [c["n"] for c in counts] == [3, 3, 1]
    assert db.fetch_value("SELECT sum(account_count) FROM account_batches") == 7


def test_deeper_partial_batch_waits_until_parents_settle(db):
    with db.transaction() as conn:
        add_seeds(conn, [1])
        frontier.cut_batches(conn, POLICY, linger=LINGER)
    _discover(db, 1, [10, 11, 12, 13], parent=1)
    with db.transaction() as conn:
        assert [b.account_ids for b in frontier.cut_batches(conn, POLICY, linger=LINGER)] == [(10, 11, 12)]
    with db.transaction() as conn:  # the seed's history is not synced yet: depth 1 is open
        assert frontier.cut_batches(conn, POLICY, linger=LINGER) == []
        conn.execute("UPDATE accounts SET matches_synced_at = now() WHERE depth = 0")
        assert [b.account_ids for b in frontier.cut_batches(conn, POLICY, linger=LINGER)] == [(13,)]
    _discover(db, 3, [30])  # beyond max_depth: never batched
    with db.transaction() as conn:
        assert frontier.cut_batches(conn, POLICY, linger=timedelta(0)) == []


def test_hero_phase_first_gates_match_discovery_by_depth(db):
    with db.transaction() as conn:
        add_seeds(conn, [1, 2, 3, 4])
        frontier.cut_batches(conn, POLICY, linger=LINGER)
        phases = frontier.runnable_phases(conn, POLICY, hero_phase_first=True, limit=10)
        assert [(p.batch_key, p.phase) for p in phases] == [("d00-000000", "heroes"), ("d00-000001", "heroes")]
        frontier.mark_requested(conn, phases)
        assert frontier.runnable_phases(conn, POLICY, hero_phase_first=True, limit=10) == []
        conn.execute("UPDATE accounts SET hero_stats_at = now() WHERE account_id IN (1, 2, 3)")
        assert frontier.runnable_phases(conn, POLICY, hero_phase_first=True, limit=10) == []  # account 4 pending
        conn.execute("UPDATE accounts SET hero_stats_attempts = 3 WHERE account_id = 4")  # gave up: settled
        phases = frontier.runnable_phases(conn, POLICY, hero_phase_first=True, limit=1)
        assert [(p.batch_key, p.phase) for p in phases] == [("d00-000000", "matches")]
        assert [p.phase for p in frontier.runnable_phases(conn, POLICY, hero_phase_first=False, limit=5)] == []


def test_without_hero_phase_first_a_batch_is_requested_once_as_a_whole(db):
    with db.transaction() as conn:
        add_seeds(conn, [1, 2])
        frontier.cut_batches(conn, POLICY, linger=LINGER)
        phases = frontier.runnable_phases(conn, POLICY, hero_phase_first=False, limit=5)
        assert [(p.batch_key, p.phase) for p in phases] == [("d00-000000", "all")]
        frontier.mark_requested(conn, phases)
        assert frontier.runnable_phases(conn, POLICY, hero_phase_first=False, limit=5) == []
