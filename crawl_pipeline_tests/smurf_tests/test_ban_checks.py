"""Phase 3: Steam GetPlayerBans for flagged accounts, 100 per call, against the simulator."""

import json
import logging

import pytest

from crawl_pipeline.crawl.smurf import check_bans
from crawl_pipeline.sources.errors import RateLimited, ServerError
from crawl_pipeline_tests.support import sim_providers

LOG = logging.getLogger("test")
BANS_ENDPOINT = "GET /ISteamUser/GetPlayerBans/v1"
UNKNOWN = 999  # a valid account id the simulated world does not have


def flag(db, account_ids, *, version="smurf-v1", is_smurf=True):
    with db.transaction() as conn:
        conn.execute("INSERT INTO accounts (account_id, depth) SELECT unnest(%s::bigint[]), 0 ON CONFLICT DO NOTHING",
                     (list(account_ids),))
        conn.execute(
            """INSERT INTO smurf_scores (account_id, model_version, matches_used, total_score, threshold, is_smurf, weights)
               SELECT unnest(%s::bigint[]), %s, 20, 0.9, 0.6, %s, %s::jsonb""",
            (list(account_ids), version, is_smurf, json.dumps({"win_rate": 1.0})),
        )


@pytest.fixture
def world(simulator):
    rows = simulator.world.truth_rows()
    banned = [r for r in rows if r["vac_banned"] or r["game_banned"]]
    clean = [r["account_id"] for r in simulator.world.truth_rows(only_labelled=False)[:400]
             if not (r["vac_banned"] or r["game_banned"])]
    return {r["account_id"]: r for r in banned}, clean


class Flaky:
    """A real source whose calls number ``fail_on`` raise ``error`` instead."""

    def __init__(self, source, fail_on, error):
        self.source, self.fail_on, self.error, self.calls = source, set(fail_on), error, 0
        self.provider = source.provider

    def player_bans(self, account_ids):
        self.calls += 1
        if self.calls in self.fail_on:
            raise self.error
        return self.source.player_bans(account_ids)


def steam_calls(simulator):
    return simulator.stats()["requests"].get(BANS_ENDPOINT, 0)


def test_bans_stored_with_not_found_100_per_call(db, simulator, world):
    banned, clean = world
    accounts = sorted(banned)[:20] + clean[:130] + [UNKNOWN]
    flag(db, accounts)
    flag(db, clean[200:210], is_smurf=False)  # not flagged: never checked
    calls_before = steam_calls(simulator)
    with sim_providers(simulator.url).open_sources(db) as sources:
        ledger = check_bans(db, sources.for_call("bans"), model_version="smurf-v1", log=LOG)
    assert steam_calls(simulator) - calls_before == 2  # 151 accounts, 100 steamid64s per call
    assert ledger.rate_limited is None and ledger.counts["due"] == len(accounts)
    assert ledger.counts["ban_checks_done"] == ledger.counts["records_created"] == len(accounts)
    assert ledger.counts["not_found"] == 1
    rows = {r["account_id"]: r for r in db.fetch_all("SELECT * FROM ban_checks")}
    assert set(rows) == set(accounts)
    assert rows[UNKNOWN]["not_found"] and rows[UNKNOWN]["vac_banned"] is None
    for account_id in sorted(banned)[:20]:
        truth, row = banned[account_id], rows[account_id]
        assert row["vac_banned"] == truth["vac_banned"] and not row["not_found"]
        assert row["number_of_vac_bans"] == truth["number_of_vac_bans"]
        assert row["number_of_game_bans"] == truth["number_of_game_bans"]
        assert row["days_since_last_ban"] is not None and row["checked_at"] is not None
    assert ledger.counts["banned"] == 20

    # checked now: not due again until older than max_age_days; an old check is due again (an update)
    with sim_providers(simulator.url).open_sources(db) as sources:
        assert check_bans(db, sources.for_call("bans"), model_version="smurf-v1", log=LOG).counts["due"] == 0
        with db.transaction() as conn:
            conn.execute("UPDATE ban_checks SET checked_at = now() - interval '8 days' WHERE account_id = ANY(%s)",
                         (accounts[:5],))
            conn.execute("UPDATE ban_checks SET checked_at = now() - interval '6 days' WHERE account_id = ANY(%s)",
                         (accounts[5:10],))
        again = check_bans(db, sources.for_call("bans"), model_version="smurf-v1", max_age_days=7, log=LOG)
    assert again.counts["due"] == 5 and again.counts["records_updated"] == 5 and again.counts["records_created"] == 0
    assert db.fetch_value("SELECT count(*) FROM ban_checks WHERE checked_at > now() - interval '1 minute'") == len(accounts) - 5


def test_an_api_error_skips_that_call_and_the_rest_go_on(db, simulator, world):
    _, clean = world
    accounts = clean[:250]
    flag(db, accounts)
    with sim_providers(simulator.url).open_sources(db) as sources:
        source = Flaky(sources.for_call("bans"), {1}, ServerError("boom", provider="steam", endpoint="player_bans", status_code=502))
        ledger = check_bans(db, source, model_version="smurf-v1", log=LOG)
    assert source.calls == 3 and ledger.rate_limited is None
    assert ledger.counts["players_skipped"] == 100 and ledger.counts["ban_checks_done"] == 150
    assert "ServerError" in ledger.errors[0]
    stored = {r["account_id"] for r in db.fetch_all("SELECT account_id FROM ban_checks")}
    assert stored == set(sorted(accounts)[100:])  # the first (skipped) call is due again next run


def test_a_rate_limit_ends_the_ban_phase(db, simulator, world):
    _, clean = world
    flag(db, clean[:250])
    with sim_providers(simulator.url).open_sources(db) as sources:
        source = Flaky(sources.for_call("bans"), {2}, RateLimited("daily cap", provider="steam", endpoint="player_bans",
                                                                  retry_after=3600))
        ledger = check_bans(db, source, model_version="smurf-v1", log=LOG)
    assert source.calls == 2  # the third call never went out
    assert ledger.rate_limited and "RateLimited" in ledger.rate_limited
    assert ledger.counts["ban_checks_done"] == 100


def test_version_filter_and_batches(db, simulator, world):
    _, clean = world
    flag(db, clean[:3], version="smurf-v1")
    flag(db, clean[3:6], version="smurf-v0")
    with sim_providers(simulator.url).open_sources(db) as sources:
        only_v1 = check_bans(db, sources.for_call("bans"), model_version="smurf-v1", log=LOG)
        any_version = check_bans(db, sources.for_call("bans"), model_version=None, log=LOG)
    assert only_v1.counts["due"] == 3 and any_version.counts["due"] == 3  # the v1 ones were just checked
    assert db.fetch_value("SELECT count(*) FROM ban_checks") == 6
