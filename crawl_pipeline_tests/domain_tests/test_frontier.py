import pytest

from crawl_pipeline.domain.frontier import BatchPolicy, batch_key, parse_batch_key, plan_batches


def test_batch_keys_round_trip_and_have_no_commas():
    assert batch_key(2, 153) == "d02-000153"
    assert parse_batch_key("d02-000153") == (2, 153)
    with pytest.raises(ValueError, match="invalid batch key"):
        parse_batch_key("d2,153")


def test_batch_size_grows_with_depth_up_to_a_cap():
    policy = BatchPolicy(base_size=200, growth_per_depth=2.0, max_size=1000)
    assert [policy.size_for_depth(d) for d in range(5)] == [200, 400, 800, 1000, 1000]


def test_full_batches_in_bfs_order_partial_only_when_depth_closed():
    policy = BatchPolicy(base_size=3, growth_per_depth=1.0, max_depth=5)
    unbatched = {0: [1, 2], 1: [10, 11, 12, 13, 14], 2: [20]}
    planned = plan_batches(unbatched, {1: 4}, policy, already_batched=0, closed_depths={0})
    assert [(b.key, b.account_ids) for b in planned] == [
        ("d00-000000", (1, 2)),  # depth 0 is closed: its partial batch is cut
        ("d01-000004", (10, 11, 12)),  # numbering continues; the remainder (13, 14) waits
    ]
    planned = plan_batches(unbatched, {}, policy, already_batched=0, closed_depths={0, 1, 2})
    assert [b.account_ids for b in planned] == [(1, 2), (10, 11, 12), (13, 14), (20,)]


def test_max_depth_and_account_cap_are_honoured():
    policy = BatchPolicy(base_size=2, growth_per_depth=1.0, max_depth=1, max_accounts=5)
    unbatched = {0: [1], 1: [10, 11, 12, 13, 14, 15], 2: [20, 21]}
    planned = plan_batches(unbatched, {}, policy, already_batched=1, closed_depths=set())
    batched = [a for b in planned for a in b.account_ids]
    assert batched == [10, 11, 12, 13]  # 1 already batched + 4 = cap of 5; depth 2 beyond max_depth
    assert all(b.depth <= 1 for b in planned)
