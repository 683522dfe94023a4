from crawl_pipeline.db.accounts import add_seeds, set_tracked


def test_seeding_is_idempotent_and_keeps_known_depth(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO accounts (account_id, depth) VALUES (111, 2)")
        assert add_seeds(conn, [111, 222, 222, 333]) == 2
        assert add_seeds(conn, [222, 333]) == 0
    rows = {r["account_id"]: r for r in db.fetch_all("SELECT account_id, depth, is_seed FROM accounts")}
    assert rows[111]["depth"] == 2 and rows[111]["is_seed"]
    assert rows[222]["depth"] == 0 and rows[333]["is_seed"]


def test_tracking_adds_unknown_accounts_and_can_be_undone(db):
    with db.transaction() as conn:
        assert set_tracked(conn, [555]) == 1
        assert set_tracked(conn, [555]) == 0
        assert set_tracked(conn, [555], tracked=False) == 1
    assert db.fetch_all("SELECT is_tracked, depth FROM accounts WHERE account_id = 555") == [
        {"is_tracked": False, "depth": 0}
    ]
