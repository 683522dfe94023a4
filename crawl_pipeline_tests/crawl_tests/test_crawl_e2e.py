"""End to end: the crawl through real Dagster runs against the simulator's HTTP server."""

import dagster as dg

from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions, fingerprint

SEED = 293053907


def test_clean_crawl_reaches_depth_one_and_records_runs(baseline_crawl):
    db, instance, runs = baseline_crawl
    assert runs.failed_partitions == []
    assert not [phase for phase in runs.runs if phase.endswith("failure")]
    depth_counts = {r["depth"]: r["n"] for r in db.fetch_all("SELECT depth, count(*) AS n FROM accounts GROUP BY 1")}
    assert depth_counts[0] == 1 and depth_counts[1] >= 20 and depth_counts[2] > depth_counts[1]
    # every account up to max_depth is batched; deeper ones are stored but not batched
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE depth <= 1 AND batch_key IS NULL") == 0
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE depth = 2 AND batch_key IS NOT NULL") == 0
    # hero phase first: each batch's match phase ran after every hero phase of its depth
    assert runs.runs["heroes:success"] == runs.runs["matches:success"] == db.fetch_value("SELECT count(*) FROM account_batches")
    # every stub got its details; every detailed match has its ten players; nothing failed
    assert db.fetch_value("SELECT count(*) FROM matches WHERE has_details IS NOT TRUE OR retry_count > 0") == 0
    assert db.fetch_value(
        "SELECT count(*) FROM (SELECT match_id FROM match_players GROUP BY 1 HAVING count(*) <> 10) x"
    ) == 0
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE account_id = %s AND hero_stats_at IS NOT NULL", (SEED,)) == 1
    # the runs are in the instance, partitioned by batch, and every asset check passed
    keys = instance.get_dynamic_partitions("account_batches")
    assert keys == [r["batch_key"] for r in db.fetch_all("SELECT batch_key FROM account_batches ORDER BY 1")]
    assert instance.get_materialized_partitions(dg.AssetKey("match_details")) == set(keys)
    for check in ("pending_stubs_have_owner", "match_players_consistent", "failed_details_under_threshold"):
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("match_details" if check != "pending_stubs_have_owner" else "match_stubs"), check)]
        )
        evaluation = next(iter(record.values())).event.dagster_event.event_specific_data
        assert evaluation.passed, check
        scope = evaluation.metadata["scope"].value  # the player check reads the run's batch, the others all
        assert scope == ([keys[-1]] if check == "match_players_consistent" else "all batches"), (check, scope)


def test_faulty_provider_loses_nothing_and_reruns_converge(db, database_url, dagster_instance, baseline_crawl):
    with start_simulator(
        rate_limits={"enabled": False}, fault_rate=0.35,  # batched calls: few requests, so a heavy rate
        fault_mix={"http_500": 2, "http_502": 1, "http_503": 1, "malformed": 1, "truncated": 1, "drop": 1},
    ) as faulty:
        defs = crawl_definitions(database_url, faulty.url, max_retries=1)
        runs = crawl_locally(defs, dagster_instance, db, SMALL_CRAWL, retry_rounds=6)
        faults = faulty.stats()["faults_total"]
    assert faults > 5  # the faults really happened (batched calls: a few dozen requests in all) ...
    failed_once = db.fetch_value("SELECT count(*) FROM matches WHERE retry_count > 0") + db.fetch_value(
        "SELECT count(*) FROM accounts WHERE profile_attempts + hero_stats_attempts + matches_attempts > 0"
    )
    assert failed_once > 0  # ... and items failed, were recorded, and were fetched on a later attempt
    assert runs.failed_partitions == []
    assert fingerprint(db) == fingerprint(baseline_crawl[0])
