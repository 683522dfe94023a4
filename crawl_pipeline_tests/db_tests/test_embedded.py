"""Without DATABASE_URL the CLI starts the embedded PostgreSQL under CRAWL_DATA_DIR."""

import os
import subprocess
import sys

from crawl_pipeline.db.migrate import available_migrations

SERVER_SCRIPT = """
import sys, pgserver
server = pgserver.get_server(sys.argv[1], cleanup_mode=None)  # left running, as after a crash
print(server.get_pid())
"""


ATTACH_SCRIPT = """
import psycopg
from crawl_pipeline.db.stack import prepare_stack
stack = prepare_stack()
with psycopg.connect(stack.database_url) as conn:
    data_dir = conn.execute("SHOW data_directory").fetchone()[0]
print(open(data_dir + "/postmaster.pid").readline().strip())
with psycopg.connect(stack.dagster_postgres_url.replace("+psycopg2", "")) as conn:  # Dagster's own database
    print(conn.execute("SELECT current_database() = 'dagster'").fetchone()[0])
"""


def _env(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_POSTGRES_URL", "DAGSTER_HOME")}
    env["CRAWL_DATA_DIR"] = str(data_dir)
    return env


def _cli(data_dir, *args):
    return subprocess.run(
        [sys.executable, "-m", "crawl_pipeline.cli", *args], env=_env(data_dir), capture_output=True, text=True, timeout=120
    )


def test_cli_starts_and_migrates_the_embedded_server_on_a_fresh_data_dir(tmp_path):
    first = _cli(tmp_path / "data", "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"{len(available_migrations())} migration(s) applied")
    second = _cli(tmp_path / "data", "db", "upgrade")
    assert second.stdout.startswith("0 migration(s) applied")
    assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()


def test_a_leftover_server_from_a_crash_is_reused_not_duplicated(tmp_path):
    pgdata = tmp_path / "data" / "pg"
    pgdata.parent.mkdir(parents=True)
    leftover = subprocess.run([sys.executable, "-c", SERVER_SCRIPT, str(pgdata)], capture_output=True, text=True)
    pid = int(leftover.stdout.strip())
    try:
        attached = subprocess.run(
            [sys.executable, "-c", ATTACH_SCRIPT], env=_env(tmp_path / "data"), capture_output=True, text=True, timeout=120
        )
        assert attached.stdout.split() == [str(pid), "True"], attached.stderr
    finally:
        subprocess.run(
            [sys.executable, "-c", "import sys, pgserver; pgserver.get_server(sys.argv[1], cleanup_mode='stop')", str(pgdata)],
            capture_output=True,
        )
