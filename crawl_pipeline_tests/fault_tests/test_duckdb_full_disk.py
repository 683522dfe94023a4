"""A full disk during the DuckDB export: the old file stays whole and no temporary file is left."""

from __future__ import annotations

import errno
import hashlib

import duckdb
import pytest

from crawl_pipeline.analytics import duckdb_export

pytestmark = pytest.mark.fault


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_enospc_mid_export_keeps_the_old_file_and_leaves_no_temp(db, tmp_path, monkeypatch):
    with db.transaction() as conn:
        conn.execute("INSERT INTO accounts (account_id, depth) SELECT g, 0 FROM generate_series(1000, 1099) g")
    target = tmp_path / "analytics.duckdb"
    with db.transaction() as conn:
        first = duckdb_export.export_duckdb(conn, target)
    before = digest(target)
    assert first.rows["accounts"] == 100

    with db.transaction() as conn:  # new data that must not half-arrive
        conn.execute("INSERT INTO accounts (account_id, depth) SELECT g, 1 FROM generate_series(2000, 2099) g")
    real_copy = duckdb_export.copy_table
    copied = []

    def copy_until_disk_full(conn, duck, table, *args, **kwargs):
        if copied:  # the second table meets a full disk, mid-copy
            duck.execute(f'CREATE TABLE "{table}_partial" AS SELECT 1 AS x')
            raise OSError(errno.ENOSPC, "No space left on device")
        copied.append(table)
        return real_copy(conn, duck, table, *args, **kwargs)

    monkeypatch.setattr(duckdb_export, "copy_table", copy_until_disk_full)
    with pytest.raises(OSError) as failure, db.transaction() as conn:
        duckdb_export.export_duckdb(conn, target)
    assert failure.value.errno == errno.ENOSPC

    assert digest(target) == before  # the old file, byte for byte
    with duckdb.connect(str(target), read_only=True) as duck:
        assert duck.execute("SELECT count(*) FROM accounts").fetchone()[0] == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb"]  # no .tmp-*, no .wal
