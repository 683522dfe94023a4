"""The medal history is read once per scorable account, also when OpenDota has no row to show:
the read is remembered (``rank_history_fetches``), so an empty answer is not asked for again on
every run of the analyzer; after ``refetch_days`` it is."""

from datetime import UTC, datetime

from crawl_pipeline.db import smurf as smurf_db
from crawl_pipeline.domain.records import RankChange, RankHistory

BATCH = "d00-000000"


def _scorable_accounts(db, *account_ids: int) -> None:
    """Ranked accounts of one batch, one significant detailed match each."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO account_batches (batch_key, depth, batch_number, account_count) VALUES (%s, 0, 0, 2)",
                     (BATCH,))
        for n, account_id in enumerate(account_ids):
            conn.execute("INSERT INTO accounts (account_id, depth, batch_key, rank_tier) VALUES (%s, 0, %s, 35)",
                         (account_id, BATCH))
            conn.execute(
                "INSERT INTO matches (match_id, has_details, lobby_type, game_mode, duration, start_time) "
                "VALUES (%s, true, 7, 22, 2400, now())", (100 + n,))
            conn.execute("INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant) "
                         "VALUES (%s, 0, %s, 1, true)", (100 + n, account_id))


def _wanted(db, refetch_days: float = 30.0) -> list[int]:
    with db.transaction() as conn:
        return smurf_db.accounts_wanting_rank_history(conn, [BATCH], min_matches=1, limit=10, refetch_days=refetch_days)


def test_an_empty_history_is_not_asked_for_again_until_refetch_days(db):
    _scorable_accounts(db, 5, 6)
    assert _wanted(db) == [5, 6]
    changed = RankChange(observed_at=datetime(2026, 1, 2, tzinfo=UTC), rank_tier=35)
    with db.transaction() as conn:
        added = smurf_db.store_rank_histories(conn, [RankHistory(account_id=5, source="opendota_ratings", changes=[]),
                                                     RankHistory(account_id=6, source="opendota_ratings", changes=[changed])])
    assert added == 1
    assert _wanted(db) == []  # the empty answer of 5 counts as read
    with db.transaction() as conn:
        conn.execute("UPDATE rank_history_fetches SET fetched_at = now() - interval '31 days' WHERE account_id = 5")
    assert _wanted(db) == [5]
    assert db.fetch_all("SELECT account_id, changes FROM rank_history_fetches ORDER BY 1") == [
        {"account_id": 5, "changes": 0}, {"account_id": 6, "changes": 1}]
