"""The discovery sensor, the retry schedule and the tracked-accounts job."""

import os
import subprocess
import sys
from datetime import datetime

import dagster as dg

from crawl_pipeline.db.accounts import add_seeds, set_tracked
from crawl_pipeline.db.stack import PROJECT_ROOT, write_instance_config
from crawl_pipeline.defs.crawl.assets import crawl_batch_job
from crawl_pipeline.defs.crawl.local_runner import QUIET_LOGGING
from crawl_pipeline.defs.crawl.resources import CrawlConfig
from crawl_pipeline.defs.crawl.sensors import crawl_discovery_sensor, retry_failed_schedule
from crawl_pipeline.defs.pools import ensure_pool_limits
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.simulator.testing import start_simulator
from crawl_pipeline_tests.support import SMALL_CRAWL, crawl_definitions

SEED = 293053907


def _evaluate(instance, database_url, crawl):
    with dg.build_sensor_context(
        instance=instance, resources={"postgres": PostgresResource(database_url=database_url), "crawl": crawl}
    ) as context:
        result = crawl_discovery_sensor(context)
    for request in result.dynamic_partitions_requests:  # not applied by the test context: do what the daemon does
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_sensor_seeds_batches_in_bfs_order_and_never_assigns_an_account_twice(db, database_url, dagster_instance):
    crawl = CrawlConfig(batch_size=2, batch_growth=1.0, max_runs_in_flight=10, seeds=[SEED])
    first = _evaluate(dagster_instance, database_url, crawl)
    assert [r.partition_key for r in first.run_requests] == ["d00-000000"]
    assert first.run_requests[0].run_key == "d00-000000:heroes"
    # the whole batch multi-asset, tagged with the phase: the run stops after hero_stats
    assert first.run_requests[0].asset_selection is None
    assert first.run_requests[0].tags["crawl_pipeline/phase"] == "heroes"
    with db.transaction() as conn:
        add_seeds(conn, [11, 12, 13])
    second = _evaluate(dagster_instance, database_url, crawl)
    again = _evaluate(dagster_instance, database_url, crawl)
    assert [r.partition_key for r in second.run_requests] == ["d00-000001", "d00-000002"]
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key IS NULL") == 0
    assert db.fetch_all("SELECT batch_key, count(*) AS n FROM accounts GROUP BY 1 ORDER BY 1") == [
        {"batch_key": "d00-000000", "n": 1}, {"batch_key": "d00-000001", "n": 2}, {"batch_key": "d00-000002", "n": 1},
    ]
    assert dagster_instance.get_dynamic_partitions("account_batches") == ["d00-000000", "d00-000001", "d00-000002"]


def test_sensor_never_floods_the_run_queue(db, database_url, dagster_instance):
    with db.transaction() as conn:
        add_seeds(conn, list(range(100, 120)))
    crawl = CrawlConfig(batch_size=2, batch_growth=1.0, max_runs_in_flight=3, seeds=[SEED])
    result = _evaluate(dagster_instance, database_url, crawl)
    assert len(result.dynamic_partitions_requests[0].partition_keys) == 10
    assert len(result.run_requests) == 3
    job = crawl_definitions(database_url, "http://127.0.0.1:9").resolve_job_def(crawl_batch_job.name)
    started = [  # the three requested runs are now in progress
        dagster_instance.create_run_for_job(
            job, tags={"dagster/partition": request.partition_key}, status=dg.DagsterRunStatus.STARTED
        )
        for request in result.run_requests
    ]
    try:
        assert _evaluate(dagster_instance, database_url, crawl).run_requests == []
    finally:  # the instance's database is shared by the session's tests
        for run in started:
            dagster_instance.delete_run(run.run_id)


OVERLAPPING_RUN = """
import sys
import dagster as dg
from crawl_pipeline.defs.crawl.local_runner import QUIET_LOGGING
from crawl_pipeline_tests.support import crawl_definitions
database_url, sim_url, dagster_home = sys.argv[1:]
job = crawl_definitions(database_url, sim_url).resolve_job_def("crawl_batch_job")
with dg.DagsterInstance.from_config(dagster_home) as instance:
    result = job.execute_in_process(partition_key="d00-000000", instance=instance, run_config=QUIET_LOGGING,
                                    raise_on_error=False)
sys.exit(0 if result.success else 1)
"""


def test_overlapping_runs_of_one_partition_do_not_double_insert(
    db, database_url, dagster_instance, dagster_postgres_url, clean_simulator, tmp_path
):
    with db.transaction() as conn:
        add_seeds(conn, [SEED])
    _evaluate(dagster_instance, database_url, SMALL_CRAWL)
    # Pools must exist before runs start at once: Dagster creates a missing pool's row on first use,
    # and two runs doing so together collide (UniqueViolation on concurrency_limits).
    ensure_pool_limits(dagster_instance)
    home = tmp_path / "home"
    write_instance_config(home)
    env = {**os.environ, "DAGSTER_POSTGRES_URL": dagster_postgres_url, "DAGSTER_HOME": str(home)}
    args = [sys.executable, "-c", OVERLAPPING_RUN, database_url, clean_simulator.url, str(home)]
    runs = [subprocess.Popen(args, env=env, cwd=PROJECT_ROOT) for _ in range(2)]  # two processes, same partition
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    stubs = db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = 'd00-000000'")
    assert stubs == SMALL_CRAWL.max_matches_per_account
    assert db.fetch_value("SELECT count(*) FROM match_players") == 10 * stubs
    assert db.fetch_value("SELECT count(*) FROM hero_stats WHERE account_id = %s", (SEED,)) > 0
    # each match's encounters were counted once: at most 9 other players per match
    assert db.fetch_value("SELECT sum(teammate_games + opponent_games) FROM players_encountered") <= 9 * stubs


def test_retry_schedule_requests_batches_with_unfinished_work(db, database_url, dagster_instance):
    with db.transaction() as conn:
        add_seeds(conn, [1, 2])
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count, heroes_requested_at, "
                     "matches_requested_at) VALUES ('d00-000000', 0, 0, 2, now(), now())")
        conn.execute("UPDATE accounts SET batch_key = 'd00-000000', profile_fetched_at = now(), hero_stats_at = now(), "
                     "matches_synced_at = now()")
        conn.execute("INSERT INTO matches (match_id, owner_batch, has_details, retry_count) VALUES (5, 'd00-000000', false, 1)")
    with dg.build_schedule_context(
        instance=dagster_instance, resources={"postgres": PostgresResource(database_url=database_url)},
        scheduled_execution_time=datetime(2026, 11, 23, 10, 17),
    ) as context:
        requests = retry_failed_schedule(context)
        assert [(r.partition_key, r.run_key) for r in requests] == [("d00-000000", "d00-000000:retry:20261123T1017")]
        with db.transaction() as conn:
            conn.execute("UPDATE matches SET retry_count = 3")  # gave up: recorded, not retried forever
        assert retry_failed_schedule(context) == []


def test_tracked_account_job_fetches_new_matches_and_discovers_players(db, database_url, dagster_instance, clean_simulator):
    defs = crawl_definitions(database_url, clean_simulator.url)
    with db.transaction() as conn:
        set_tracked(conn, [SEED])
    job = defs.resolve_job_def("tracked_accounts_job")
    result = job.execute_in_process(instance=dagster_instance, run_config=QUIET_LOGGING)
    assert result.success
    detailed = db.fetch_value("SELECT count(*) FROM matches WHERE has_details AND discovered_by = %s", (SEED,))
    assert detailed == SMALL_CRAWL.max_matches_per_account
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE depth = 1 AND discovered_from = %s", (SEED,)) > 0
    assert db.fetch_value("SELECT count(*) FROM rank_snapshots WHERE account_id = %s", (SEED,)) == 1
    # a second run finds nothing new: incremental from the newest known match
    again = job.execute_in_process(instance=dagster_instance, run_config=QUIET_LOGGING)
    materialization = again.asset_materializations_for_node("tracked_matches")[0]
    assert materialization.metadata["stubs_new"].value == 0


def test_sensor_and_retry_schedule_skip_a_batch_with_a_run_in_flight(db, database_url, dagster_instance):
    """A backfill or a UI materialization runs the batch as __ASSET_JOB: no second run of that batch
    is requested while it is queued or running, whatever job it runs in."""
    import uuid

    from dagster._core.storage.dagster_run import DagsterRun

    from crawl_pipeline.defs.crawl.assets import BATCH_ASSET_KEYS

    with db.transaction() as conn:
        add_seeds(conn, [1, 2, 3, 4])
    crawl = CrawlConfig(batch_size=1, batch_growth=1.0, max_runs_in_flight=10, seeds=[SEED])
    backfill_run = DagsterRun(
        job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
        asset_selection=BATCH_ASSET_KEYS, tags={"dagster/partition": "d00-000001", "dagster/backfill": "abc"},
    )
    dagster_instance.add_run(backfill_run)
    try:
        first = _evaluate(dagster_instance, database_url, crawl)
        assert [r.partition_key for r in first.run_requests] == ["d00-000000", "d00-000002", "d00-000003"]
        # the busy batch was not marked requested: the next tick after the run ends asks for it
        assert db.fetch_value("SELECT heroes_requested_at FROM account_batches WHERE batch_key = 'd00-000001'") is None
        with db.transaction() as conn:  # every batch has work left: the retry schedule still skips the busy one
            conn.execute("UPDATE account_batches SET heroes_requested_at = now() WHERE batch_key <> 'd00-000001'")
        with dg.build_schedule_context(
            instance=dagster_instance, resources={"postgres": PostgresResource(database_url=database_url)},
            scheduled_execution_time=datetime(2026, 11, 23, 10, 17),
        ) as context:
            assert [r.partition_key for r in retry_failed_schedule(context)] == ["d00-000000", "d00-000002", "d00-000003"]
    finally:
        dagster_instance.delete_run(backfill_run.run_id)
    second = _evaluate(dagster_instance, database_url, crawl)
    assert [r.partition_key for r in second.run_requests] == ["d00-000001"]


def test_stale_recrawl_covers_accounts_whose_history_was_never_synced(db, database_url, dagster_instance, clean_simulator):
    """Issue 17.3: an account that gave up on its history (or whose run died) is re-crawled a week after its
    match phase was requested, like an account synced a week ago; fresh or not-yet-requested ones are not."""
    from crawl_pipeline.defs.crawl.sensors import stale_recrawl_schedule

    with db.transaction() as conn:
        add_seeds(conn, [SEED, 2, 3, 4])
        conn.execute(
            """INSERT INTO account_batches (batch_key, depth, batch_number, account_count, heroes_requested_at,
                                            matches_requested_at) VALUES
               ('d00-000000', 0, 0, 1, now() - interval '9 days', now() - interval '9 days'),
               ('d00-000001', 0, 1, 1, now() - interval '9 days', now() - interval '9 days'),
               ('d00-000002', 0, 2, 1, now() - interval '1 day', now() - interval '1 day'),
               ('d00-000003', 0, 3, 1, now() - interval '9 days', NULL)""")
        conn.execute("UPDATE accounts SET batch_key = 'd00-000000', matches_attempts = 3, matches_error = 'gave up' "
                     "WHERE account_id = %s", (SEED,))  # never synced: gave up on every attempt
        conn.execute("UPDATE accounts SET batch_key = 'd00-000001', matches_synced_at = now() - interval '8 days' "
                     "WHERE account_id = 2")  # synced long ago
        conn.execute("UPDATE accounts SET batch_key = 'd00-000002' WHERE account_id = 3")  # asked for yesterday
        conn.execute("UPDATE accounts SET batch_key = 'd00-000003' WHERE account_id = 4")  # match phase not asked for
    dagster_instance.add_dynamic_partitions("account_batches", ["d00-000000", "d00-000001", "d00-000002", "d00-000003"])
    with dg.build_schedule_context(
        instance=dagster_instance, resources={"postgres": PostgresResource(database_url=database_url)},
        scheduled_execution_time=datetime(2026, 11, 23, 3, 43),
    ) as context:
        requests = stale_recrawl_schedule(context)
    assert [r.partition_key for r in requests] == ["d00-000000", "d00-000001"]
    # the request re-crawls the never-synced account from scratch (refresh), through a real run
    job = crawl_definitions(database_url, clean_simulator.url).resolve_job_def(crawl_batch_job.name)
    request = requests[0]
    result = job.execute_in_process(
        partition_key=request.partition_key, instance=dagster_instance, tags=request.tags,
        run_config={**QUIET_LOGGING, **request.run_config},
    )
    assert result.success
    assert db.fetch_value("SELECT matches_synced_at IS NOT NULL FROM accounts WHERE account_id = %s", (SEED,))
    assert db.fetch_value("SELECT count(*) FROM matches WHERE owner_batch = 'd00-000000'") > 0


def test_tracked_job_rate_limited_before_finishing_fails_and_is_in_the_ledger(
    db, database_url, dagster_instance, clean_simulator
):
    """Issue 17.6: a rate limit that stops the tracked-accounts job early fails the run with a headline
    saying so; every run is in the job ledger with its API requests, records written and failures by
    kind, and `status` reports the ledger."""
    from crawl_pipeline.db.status import crawl_status
    from crawl_pipeline_tests.support import analyzer_definitions, sim_providers

    with db.transaction() as conn:
        set_tracked(conn, [SEED])
    ok = crawl_definitions(database_url, clean_simulator.url).resolve_job_def("tracked_accounts_job")
    first = ok.execute_in_process(instance=dagster_instance, run_config=QUIET_LOGGING)
    assert first.success
    players = [r["account_id"] for r in db.fetch_all("SELECT account_id FROM accounts WHERE depth = 1 "
                                                      "ORDER BY account_id LIMIT 8")]
    with db.transaction() as conn:  # players met in those matches are tracked too
        set_tracked(conn, players)
    # a day's budget of two calls per provider: spent before the job is through, so it is rate limited
    spent = {p: {"per_day": 2} for p in ("opendota", "steam", "stratz")}
    defs = analyzer_definitions(database_url, clean_simulator.url,
                                providers=sim_providers(clean_simulator.url, rate_limits=spent))
    with db.transaction() as conn:  # new matches wait for every tracked account
        conn.execute("UPDATE accounts SET newest_match_id = NULL WHERE is_tracked")
    second = defs.resolve_job_def("tracked_accounts_job").execute_in_process(
        instance=dagster_instance, run_config=QUIET_LOGGING, raise_on_error=False
    )
    meta = {k: v.value for k, v in second.asset_materializations_for_node("tracked_matches")[0].metadata.items()} if second.success else {}
    assert not second.success, {k: meta[k] for k in ("failures_by_kind", "error_sample", "api_calls_by_status") if k in meta}
    description = second.get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert description.startswith("tracked_matches: rate limited before finishing (") and "next run" in description
    ledger = {r["run_id"]: r for r in crawl_status(db)["job_runs"]}
    good, bad = ledger[first.run_id], ledger[second.run_id]
    assert good["status"] == "succeeded" and good["job_name"] == "tracked_accounts_job"
    assert good["api_requests"] > 0 and good["records_written"] > 0 and good["finished_at"]
    assert bad["status"] == "rate_limited" and "RateLimited" in bad["rate_limited"]
    assert bad["api_requests"] > 0
    assert any(kind.endswith("RateLimited") or kind == "match_details:pending" for kind in bad["failures"]), bad["failures"]
    assert next(iter(ledger)) == second.run_id  # newest first


def test_one_run_spends_one_attempt_even_when_its_step_is_retried(db, database_url, dagster_instance):
    """Every answer malformed: the step fails, Dagster retries it in the same run (RetryPolicy),
    and the run still spends exactly one of each account's three attempts."""
    with db.transaction() as conn:
        add_seeds(conn, [SEED])
    _evaluate(dagster_instance, database_url, SMALL_CRAWL)
    with start_simulator(fault_rate=1.0, fault_mix={"malformed": 1}, rate_limits={"enabled": False}) as broken:
        job = crawl_definitions(database_url, broken.url, max_retries=0).resolve_job_def(crawl_batch_job.name)
        result = job.execute_in_process(partition_key="d00-000000", instance=dagster_instance,
                                        run_config=QUIET_LOGGING, raise_on_error=False)
    assert not result.success
    retried = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert retried, "the step was not retried within the run"
    attempts = db.fetch_all("SELECT profile_attempts, profile_error FROM accounts WHERE account_id = %s", (SEED,))[0]
    assert attempts["profile_attempts"] == 1 and "MalformedResponse" in attempts["profile_error"]


def _tracked_state(db, account_id):
    [row] = db.fetch_all(
        "SELECT profile_fetched_at, profile_error, profile_attempts, matches_synced_at, matches_error, matches_attempts "
        "FROM accounts WHERE account_id = %s",
        (account_id,),
    )
    return row


def test_tracked_account_failures_are_recorded_on_the_account_and_settle(db, database_url, dagster_instance, clean_simulator):
    """A tracked account the provider does not know gets its error and attempts on the account, as in a
    batch, and is not asked for again every minute until `crawl-pipeline retry` re-opens it; a failure
    with attempts left spends one attempt per run, for the profile and the history alike."""
    from crawl_pipeline.db import retry as retry_db
    from crawl_pipeline.db.item_states import MAX_ATTEMPTS

    gone = 12345  # not in the simulated world: the profile is a 404
    with db.transaction() as conn:
        set_tracked(conn, [gone])
    healthy = job = crawl_definitions(
        database_url, clean_simulator.url, profiles="opendota", match_history="opendota"
    ).resolve_job_def("tracked_accounts_job")

    def run():
        result = job.execute_in_process(instance=dagster_instance, run_config=QUIET_LOGGING)
        return {k: v.value for k, v in result.asset_materializations_for_node("tracked_matches")[0].metadata.items()}

    first = run()
    assert first["failures_by_kind"] == {"player_profiles:NotFound": 1}
    state = _tracked_state(db, gone)
    assert state["profile_fetched_at"] is None and state["profile_error"].startswith("NotFound")
    assert state["profile_attempts"] == MAX_ATTEMPTS  # a 404 gives up at once
    second = run()
    assert second["failures_by_kind"] == {} and second["player_profiles_gave_up_skipped"] == 1  # not asked again
    with db.transaction() as conn:
        assert retry_db.reopen_exhausted(conn, kinds=["accounts"]).account_phases["player_profiles"] == 1
    assert run()["failures_by_kind"] == {"player_profiles:NotFound": 1}  # re-opened: asked once more

    with db.transaction() as conn:
        set_tracked(conn, [gone], tracked=False)
        set_tracked(conn, [SEED])
    with start_simulator(fault_rate=1.0, fault_mix={"malformed": 1}, rate_limits={"enabled": False}) as broken:
        job = crawl_definitions(
            database_url, broken.url, profiles="opendota", match_history="opendota"
        ).resolve_job_def("tracked_accounts_job")
        for attempt in (1, 2):
            assert run()["failures_by_kind"] == {"player_profiles:MalformedResponse": 1, "match_stubs:MalformedResponse": 1}
            state = _tracked_state(db, SEED)
            assert state["profile_error"].startswith("MalformedResponse") and state["profile_attempts"] == attempt
            assert state["matches_error"].startswith("MalformedResponse") and state["matches_attempts"] == attempt
    job = healthy
    run()  # the provider answers again: done, errors cleared
    state = _tracked_state(db, SEED)
    assert state["profile_fetched_at"] and state["profile_error"] is None
    assert state["matches_synced_at"] and state["matches_error"] is None


def test_a_provider_outage_spends_no_attempt_of_a_tracked_account(db, database_url, dagster_instance):
    """Every minute, one account a request: a 5xx cannot be told from the account's fault, so it
    leaves the account pending with its error instead of giving it up after three minutes."""
    with db.transaction() as conn:
        set_tracked(conn, [SEED])
    with start_simulator(fault_rate=1.0, fault_mix={"http_500": 1}, rate_limits={"enabled": False}) as down:
        job = crawl_definitions(database_url, down.url, profiles="opendota", match_history="opendota"
                                ).resolve_job_def("tracked_accounts_job")
        result = job.execute_in_process(instance=dagster_instance, run_config=QUIET_LOGGING)
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("tracked_matches")[0].metadata.items()}
    assert metadata["failures_by_kind"] == {"player_profiles:ServerError": 1, "match_stubs:ServerError": 1}
    state = _tracked_state(db, SEED)
    assert state["profile_error"].startswith("ServerError") and state["profile_attempts"] == 0
    assert state["matches_error"].startswith("ServerError") and state["matches_attempts"] == 0
