"""The smurf analyzer end to end: a small crawl, then the three phases through real Dagster runs
against the simulator over HTTP, with the run ledger in metadata and tags."""

import dagster as dg
import httpx

from crawl_pipeline.db.smurf import measure_against_truth
from crawl_pipeline.defs.smurf.assets import analyzer_run_request, smurf_analyzer_job
from crawl_pipeline_tests.support import analyzer_definitions, sim_providers

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
MORE_MATCHES = {"ops": {"smurf_match_history": {"config": {"matches_per_call": 20, "max_accounts": 20}}}}
PHASES = ("smurf_match_history", "smurf_scores", "ban_checks")


def run_analyzer(defs, instance, run_config=None, **kwargs):
    request = analyzer_run_request(instance)
    assert isinstance(request, dg.RunRequest)
    job = defs.resolve_job_def(smurf_analyzer_job.name)
    return job.execute_in_process(
        instance=instance, tags=request.tags, run_config={**QUIET, **(run_config or {})}, raise_on_error=False, **kwargs
    )


def phase_metadata(result, asset: str) -> dict:
    """The whole run's ledger of a phase (its ``run_*`` metadata, without the prefix)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    assert events, f"{asset} was not materialized"
    metadata = {k: v.value for k, v in events[0].materialization.metadata.items()}
    return {**metadata, **{k.removeprefix("run_"): v for k, v in metadata.items() if k.startswith("run_")}}


def partition_metadata(result, asset: str) -> dict[str, dict]:
    return {e.partition: {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)}


def materialized_partitions(result, asset: str) -> set[str]:
    return {e.partition for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)}


def significant_counts(db):
    from crawl_pipeline.db.smurf import SIGNIFICANT_SQL

    return {r["account_id"]: r["n"] for r in db.fetch_all(
        f"""SELECT mp.account_id, count(*) AS n FROM match_players mp JOIN matches m USING (match_id)
            JOIN accounts a ON a.account_id = mp.account_id WHERE a.batch_key IS NOT NULL AND {SIGNIFICANT_SQL}
            GROUP BY 1"""
    )}


def test_three_phases_fetch_score_and_check_bans(crawled, simulator, dagster_instance):
    url, db = crawled
    defs = analyzer_definitions(url, simulator.url)
    keys = dagster_instance.get_dynamic_partitions("account_batches")
    before = significant_counts(db)
    ids_before = {r["match_id"] for r in db.fetch_all("SELECT match_id FROM matches")}

    first = run_analyzer(defs, dagster_instance)
    assert first.success
    history = phase_metadata(first, "smurf_match_history")
    assert history["candidates"] > 0 and history["histories_read"] == history["candidates"]
    assert history["stubs_new"] > 0 and history["details_stored"] > 0 and history["api_requests"] > 0
    assert history["rate_limited"] is False
    new = db.fetch_all("SELECT match_id, lobby_type, owner_batch FROM matches WHERE NOT (match_id = ANY(%s))",
                       (list(ids_before),))
    assert len(new) == history["stubs_new"]
    # new stubs came from a ranked-only listing and are owned by the account's batch; all got details
    assert all(r["lobby_type"] == 7 and r["owner_batch"] in keys for r in new)
    assert db.fetch_value("SELECT count(*) FROM matches WHERE has_details IS NOT TRUE") == 0
    after = significant_counts(db)
    assert sum(after.values()) > sum(before.values())
    # nothing duplicated: every detailed match has exactly ten players
    assert db.fetch_value(
        "SELECT count(*) FROM (SELECT match_id FROM match_players GROUP BY 1 HAVING count(*) <> 10) x"
    ) == 0

    # 10 ranked matches per call by default; 20 more bring most accounts to the target of 20
    last = run_analyzer(defs, dagster_instance, run_config=MORE_MATCHES)
    assert last.success
    scores = phase_metadata(last, "smurf_scores")
    scorable = {a for a, n in significant_counts(db).items() if n >= 20}
    assert scores["players_analyzed"] == scores["scored"] == len(scorable) > 0
    stored = {r["account_id"]: r for r in db.fetch_all("SELECT * FROM smurf_scores")}
    assert set(stored) == scorable
    # the medal history of every scored account with a medal, read once: the second run asked only
    # for those that became scorable since the first
    histories = phase_metadata(last, "smurf_match_history")
    with_history = {r["account_id"] for r in db.fetch_all(
        "SELECT DISTINCT account_id FROM rank_snapshots WHERE source = 'opendota_ratings'")}
    ranked = {r["account_id"] for r in db.fetch_all(
        "SELECT account_id FROM accounts WHERE rank_tier > 0 AND is_private IS NOT TRUE")}
    assert scorable & ranked == with_history
    assert 0 < histories["rank_histories_read"] == histories["rank_histories_wanted"] < len(with_history)
    assert histories["rank_history_api"]["api_calls"] == histories["rank_histories_wanted"]
    row = next(iter(stored.values()))
    assert row["model_version"] == "smurf-v1" and row["batch_key"] in keys and row["matches_used"] >= 20
    assert set(row["weights"]) == {"win_rate", "kda", "account_level", "rank_discrepancy", "rank_progression",
                                   "win_rate_trend", "performance_consistency", "performance_trends", "role_performance"}
    assert all(0 <= r["total_score"] <= 1 and r["is_smurf"] == (r["total_score"] >= r["threshold"]) for r in stored.values())
    # every batch is a materialized partition of each phase, in one run
    for asset in PHASES:
        assert materialized_partitions(last, asset) == set(keys)
    # phase 3: every flagged account has a fresh ban check
    flagged = {a for a, r in stored.items() if r["is_smurf"]}
    checked = {r["account_id"] for r in db.fetch_all("SELECT account_id FROM ban_checks")}
    assert flagged <= checked
    # the ledger is on the run too
    tags = dagster_instance.get_run_by_id(last.run_id).tags
    assert int(tags["smurf/players_analyzed"]) == len(scorable)
    assert int(tags["smurf/smurfs_found"]) == len(flagged)
    assert {"smurf/api_requests_history", "smurf/ban_checks_done", "smurf/records_created_scores"} <= set(tags)
    # quality against the simulator's truth (the scorer never read it)
    truth = httpx.get(f"{simulator.url}/_sim/truth").json()["accounts"]
    quality = measure_against_truth(db, truth)
    assert quality["scored"] == len(scorable) and quality["flagged"] == len(flagged)
    assert 0 <= quality["precision"] <= 1 and 0 <= quality["recall"] <= 1


def test_rate_limit_ends_the_history_phase_and_the_next_phases_run(crawled, simulator, dagster_instance):
    url, db = crawled
    # every provider's day budget nearly spent: the call planner cannot route around the limit
    limited = sim_providers(simulator.url, rate_limits={p: {"per_day": 3} for p in ("opendota", "steam", "stratz")})
    defs = analyzer_definitions(url, simulator.url, providers=limited)
    result = run_analyzer(defs, dagster_instance)
    assert result.success  # a rate limit is not a failure: the phase ends, the run goes on
    history = phase_metadata(result, "smurf_match_history")
    assert history["rate_limited"] is True and "RateLimited" in history["rate_limit"]
    # at most the three calls a day of each provider that can serve a history (the planner fails over
    # from one to the next; which of them answer first depends on the threads), far fewer than wanted
    assert history.get("histories_read", 0) <= 3 * 3 < history["candidates"]
    assert history.get("details_stored", 0) == 0  # the phase ended before its details step
    # phase 2 and 3 still ran in the same run
    assert "players_analyzed" in phase_metadata(result, "smurf_scores")
    assert "due" in phase_metadata(result, "ban_checks")
    # stubs it did store are owned by their batch, so the next run (or the crawl) fetches their details
    assert db.fetch_value("SELECT count(*) FROM matches WHERE has_details IS NULL AND owner_batch IS NULL") == 0




def test_each_partition_shows_its_own_batch_counts(crawled, simulator, dagster_instance):
    """Issue 17.7: one run covers every batch, but each partition's materialization carries that
    batch's counts (from PostgreSQL), and they add up to the run's ledger."""
    url, db = crawled
    defs = analyzer_definitions(url, simulator.url)
    result = run_analyzer(defs, dagster_instance, run_config=MORE_MATCHES)
    assert result.success
    keys = dagster_instance.get_dynamic_partitions("account_batches")
    assert len(keys) >= 2
    history = partition_metadata(result, "smurf_match_history")
    run_history = phase_metadata(result, "smurf_match_history")
    assert set(history) == set(keys)
    for key, meta in history.items():
        assert meta["accounts"] == db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key = %s", (key,))
        assert meta["histories_read"] == db.fetch_value(
            "SELECT count(*) FROM smurf_history_fetches JOIN accounts USING (account_id) WHERE batch_key = %s", (key,))
        assert meta["run_histories_read"] == run_history["histories_read"]  # the run's total, named as such
    assert sum(m["histories_read"] for m in history.values()) == run_history["histories_read"] > 0
    assert sum(m["stubs_new"] for m in history.values()) == run_history["stubs_new"]
    assert len({m["accounts"] for m in history.values()}) > 1 or len({m["histories_read"] for m in history.values()}) > 1
    scores = partition_metadata(result, "smurf_scores")
    for key, meta in scores.items():
        assert meta["scored"] == db.fetch_value("SELECT count(*) FROM smurf_scores WHERE batch_key = %s", (key,))
        assert meta["smurfs_found"] == db.fetch_value(
            "SELECT count(*) FROM smurf_scores WHERE batch_key = %s AND is_smurf", (key,))
    assert sum(m["scored"] for m in scores.values()) == phase_metadata(result, "smurf_scores")["scored"]
    bans = partition_metadata(result, "ban_checks")
    assert sum(m["checked_this_run"] for m in bans.values()) == phase_metadata(result, "ban_checks")["ban_checks_done"]
