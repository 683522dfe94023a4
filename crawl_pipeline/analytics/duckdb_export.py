"""PostgreSQL -> DuckDB (and optionally Parquet): the analysts' read-optimised copy.

How the copy works, per table:
  PostgreSQL ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``  (server-side, streamed)
  -> a file-like adapter handing ~1 MiB blocks to Arrow's multi-threaded streaming CSV reader
  -> Arrow record batches (explicit column types taken from the PostgreSQL catalog)
  -> DuckDB ``CREATE TABLE ... AS SELECT * FROM <record batch reader>`` (columnar, no Python rows).
All tables are read in one REPEATABLE READ READ ONLY transaction: a consistent snapshot
whose row counts are stored in the ``export_manifest`` table of the DuckDB file.

The file is written under a temporary name in the same directory, checkpointed, fsynced and
moved over the old one with ``os.replace``: an analyst never sees a half-written file, and a
connection still holding the old file keeps reading it (POSIX keeps the unlinked inode alive).
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from crawl_pipeline.analytics.duckdb_sql import sql_quote
from crawl_pipeline.analytics.views import VIEWS
from crawl_pipeline.db import snapshots as snapshots_db
from crawl_pipeline.domain.heroes import game_modes, lobby_types, regions

# Tables copied from PostgreSQL, in this order (heroes first: the views need it): every domain
# table of the migrations. crawl_pipeline_tests/analytics_tests/test_export_coverage.py fails when a
# migration adds a table that is in neither tuple.
EXPORT_TABLES: tuple[str, ...] = (
    "heroes",
    "account_batches",
    "accounts",
    "rank_snapshots",
    "hero_stats",
    "hero_top100",
    "leaderboards",
    "matches",
    "match_players",
    "players_encountered",
    "player_match_type_stats",
    "smurf_scores",
    "smurf_history_fetches",
    "rank_history_fetches",
    "ban_checks",
    "identity_match_roles",
    "tracked_identities",
    "sync_log",
)
# Operational bookkeeping, not domain data: the rate budget, request accounting, migrations, the job
# ledger, the match feed's cursors and calls (the matches it stores are in matches / match_players).
OPERATIONAL_TABLES: tuple[str, ...] = (
    "schema_migrations",
    "rate_limit_windows",
    "rate_limit_backoff",
    "api_requests",
    "job_runs",
    "match_feed_ranges",
    "match_feed_calls",
    "hero_stats_changes",  # leaderboard builds' change log and state (migration 0021)
    "leaderboard_builds",
    "leaderboard_account_totals",
)
COPY_BLOCK_BYTES = 1 << 20

_ARROW_TYPES = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "numeric": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
_ARRAY_ELEMENTS = {"_text": "VARCHAR[]", "_varchar": "VARCHAR[]", "_int2": "BIGINT[]", "_int4": "BIGINT[]", "_int8": "BIGINT[]"}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # pg_type.typname

    @property
    def select_expr(self) -> str:
        """What PostgreSQL sends for this column (arrays and JSON as JSON text)."""
        ident = sql_quote(self.name, identifier=True)
        if self.pg_type in _ARRAY_ELEMENTS:
            return f"array_to_json({ident})::text"
        if self.pg_type == "numeric":
            return f"{ident}::float8"
        if self.pg_type in _ARROW_TYPES:
            return ident
        return f"{ident}::text"

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES.get(self.pg_type, pa.string())

    @property
    def duck_expr(self) -> str:
        """How DuckDB turns the Arrow column into its final type."""
        ident = sql_quote(self.name, identifier=True)
        if self.pg_type in _ARRAY_ELEMENTS:
            return f"CAST(CAST({ident} AS JSON) AS {_ARRAY_ELEMENTS[self.pg_type]}) AS {ident}"
        if self.pg_type in ("json", "jsonb"):
            return f"CAST({ident} AS JSON) AS {ident}"
        return ident


# What DuckDB raises when its file cannot be written (a full disk is an IOException, or a
# FatalException that invalidates the database); neither is an OSError.
DUCKDB_WRITE_ERRORS = (duckdb.IOException, duckdb.FatalException, duckdb.OutOfMemoryException)


class ExportWriteError(OSError):
    """The export could not write its file; the previous file (if any) is untouched."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        message = " ".join(str(cause).split()) or type(cause).__name__
        code = errno.ENOSPC if "no space left" in message.lower() else errno.EIO
        super().__init__(code, f"{type(cause).__name__}: {message}", str(path))


@dataclass
class ExportResult:
    path: Path
    rows: dict[str, int]
    seconds: dict[str, float]
    bytes: int
    snapshot: str
    exported_at: datetime
    parquet_dir: Path | None = None
    parquet_files: list[Path] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class _CopyReader:
    """A read-only file object over ``cursor.copy(...)``: joins libpq's per-row chunks into blocks."""

    def __init__(self, copy) -> None:
        self._copy = copy
        self._pending = bytearray()
        self._done = False
        self.closed = False

    def readable(self) -> bool:
        return True

    def at_end(self) -> bool:
        """True when the COPY sent no data at all (reads ahead one chunk otherwise)."""
        if not self._pending and not self._done:
            chunk = self._copy.read()
            if chunk:
                self._pending += chunk
            else:
                self._done = True
        return self._done and not self._pending

    def read(self, size: int = -1) -> bytes:
        want = COPY_BLOCK_BYTES if size is None or size < 0 else size
        pending = self._pending
        read = self._copy.read
        while len(pending) < want and not self._done:
            chunk = read()
            if not chunk:
                self._done = True
                break
            pending += chunk
        out = bytes(pending[:want])
        del pending[:want]
        return out

    def close(self) -> None:
        self.closed = True


def table_columns(conn: psycopg.Connection, table: str) -> list[Column]:
    return [Column(name, typname) for name, typname in snapshots_db.table_columns(conn, table)]


def copy_table(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, table: str, target: str | None = None) -> int:
    """Stream one PostgreSQL table (or query-able relation) into a new DuckDB table; return rows."""
    target = target or table
    columns = table_columns(conn, table)
    select = ", ".join(c.select_expr for c in columns)
    convert = pacsv.ConvertOptions(
        column_types={c.name: c.arrow_type for c in columns},
        true_values=["t"],
        false_values=["f"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,  # PostgreSQL writes NULL as an empty field, '' as ""
    )
    read_options = pacsv.ReadOptions(column_names=[c.name for c in columns], block_size=COPY_BLOCK_BYTES)
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
    with snapshots_db.copy_as_csv(conn, table, select) as copy:
        source = _CopyReader(copy)
        if source.at_end():  # Arrow refuses an empty CSV stream: an empty table of the same schema
            batches: pa.RecordBatchReader | pa.Table = schema.empty_table()
        else:
            batches = pacsv.open_csv(source, read_options=read_options, convert_options=convert)
        duck.register("_pg_stream", batches)
        try:
            duck.execute(
                f"CREATE TABLE {sql_quote(target, identifier=True)} AS SELECT {', '.join(c.duck_expr for c in columns)} "
                "FROM _pg_stream"
            )
        finally:
            duck.unregister("_pg_stream")
    return duck.execute(f"SELECT count(*) FROM {sql_quote(target, identifier=True)}").fetchall()[0][0]


def _reference_tables(duck: duckdb.DuckDBPyConnection) -> None:
    for name, key, mapping in (
        ("lobby_types", "lobby_type", lobby_types()),
        ("game_modes", "game_mode", game_modes()),
        ("regions", "region", regions()),
    ):
        table = pa.table({key: pa.array(list(mapping), pa.int16()), "name": pa.array(list(mapping.values()), pa.string())})
        duck.register("_ref", table)
        duck.execute(
            f"CREATE TABLE {sql_quote(name, identifier=True)} AS SELECT * FROM _ref ORDER BY {sql_quote(key, identifier=True)}"
        )
        duck.unregister("_ref")


def temporary_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            candidate.unlink()
        except FileNotFoundError:
            pass


def export_duckdb(
    conn: psycopg.Connection,
    path: Path,
    *,
    parquet_dir: Path | None = None,
    tables: Iterable[str] = EXPORT_TABLES,
    threads: int | None = None,
) -> ExportResult:
    """Build the DuckDB file at ``path`` from ``conn``'s database and swap it in atomically.

    ``conn`` must be at the start of a transaction (``db.transaction()``): the export pins
    it to one REPEATABLE READ READ ONLY snapshot.
    """
    path = Path(path).absolute()
    if "\\" in str(path):  # DuckDB opens database files with backslashes read as separators
        raise OSError(errno.EINVAL, "DuckDB cannot open a database file whose path holds a backslash", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot = snapshots_db.pin_read_only_snapshot(conn)
    exported_at = datetime.now(UTC)
    tmp = temporary_path(path)
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    parquet_files: list[Path] = []
    try:
        config = {"threads": threads} if threads else {}
        with duckdb.connect(str(tmp), config=config) as duck:
            for table in tables:
                started = time.perf_counter()
                rows[table] = copy_table(conn, duck, table)
                seconds[table] = time.perf_counter() - started
            _reference_tables(duck)
            for name, body in VIEWS.items():
                duck.execute(f"CREATE VIEW {sql_quote(name, identifier=True)} AS {body}")
            manifest = pa.table(
                {
                    "table_name": pa.array(list(rows), pa.string()),
                    "pg_rows": pa.array(list(rows.values()), pa.int64()),
                    "exported_at": pa.array([exported_at] * len(rows), pa.timestamp("us", tz="UTC")),
                    "pg_snapshot": pa.array([snapshot] * len(rows), pa.string()),
                }
            )
            duck.register("_manifest", manifest)
            duck.execute("CREATE TABLE export_manifest AS SELECT * FROM _manifest")
            duck.unregister("_manifest")
            if parquet_dir is not None:
                parquet_files = _write_parquet(duck, Path(parquet_dir), list(rows) + ["lobby_types", "game_modes", "regions"])
            duck.execute("CHECKPOINT")
        _fsync(tmp)
        os.replace(tmp, path)
    except DUCKDB_WRITE_ERRORS as exc:  # not OSErrors: give callers one kind of "cannot write"
        raise ExportWriteError(path, exc) from exc
    finally:
        _remove(tmp)
    return ExportResult(
        path=path,
        rows=rows,
        seconds=seconds,
        bytes=path.stat().st_size,
        snapshot=snapshot,
        exported_at=exported_at,
        parquet_dir=Path(parquet_dir).absolute() if parquet_dir is not None else None,
        parquet_files=parquet_files,
    )


def _write_parquet(duck: duckdb.DuckDBPyConnection, directory: Path, tables: list[str]) -> list[Path]:
    """One Parquet file per table; each file is written aside and moved into place atomically."""
    directory = directory.absolute()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        final = directory / f"{table}.parquet"
        tmp = temporary_path(final)
        try:
            duck.table(sql_quote(table, identifier=True)).write_parquet(str(tmp), compression="zstd")
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()
        written.append(final)
    return written


def open_analytics(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analytics file that always sees the file now at ``path``.

    ``duckdb.connect(path, read_only=True)`` is right for an analyst's own process. Inside a
    process that may still hold a connection to a replaced file, DuckDB's per-process instance
    cache would hand back the *old* file; attaching into a fresh in-memory instance does not.
    """
    path = Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: materialize analytics_duckdb or run `crawl-pipeline export`")
    duck = duckdb.connect(":memory:")
    duck.execute(f"ATTACH {sql_quote(path)} AS analytics (READ_ONLY)")
    duck.execute("USE analytics")
    return duck


def duckdb_row_counts(duck: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per exported table: rows in the file and rows PostgreSQL had in the export's snapshot."""
    counts = {}
    for table, pg_rows in duck.execute("SELECT table_name, pg_rows FROM export_manifest ORDER BY table_name").fetchall():
        rows = duck.execute(f"SELECT count(*) FROM {sql_quote(table, identifier=True)}").fetchall()[0][0]
        counts[table] = {"duckdb": rows, "postgres": pg_rows}
    return counts
