"""Without DATABASE_URL the CLI starts the embedded PostgreSQL under CRAWL_DATA_DIR."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

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


@pytest.fixture
def tmp_path():
    """A directory of this test's own that the unprivileged server user can reach when we are root.

    pytest's tmp_path sits under /tmp/pytest-of-root (mode 0700), whose permissions concurrent
    pytest sessions reset while pgserver widens them: initdb then fails with "Permission denied".
    """
    root = Path(tempfile.mkdtemp(prefix="crawl_embedded_test_", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _env(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_POSTGRES_URL", "DAGSTER_HOME")}
    env["CRAWL_DATA_DIR"] = str(data_dir)
    return env


def _cli(data_dir, *args):
    return subprocess.run(
        [sys.executable, "-m", "crawl_pipeline.cli", *args],
        env=_env(data_dir), capture_output=True, text=True, timeout=120, check=False,
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
    leftover = subprocess.run([sys.executable, "-c", SERVER_SCRIPT, str(pgdata)], capture_output=True, text=True, check=False)
    pid = int(leftover.stdout.strip())
    try:
        attached = subprocess.run(
            [sys.executable, "-c", ATTACH_SCRIPT], env=_env(tmp_path / "data"), capture_output=True, text=True, timeout=120,
            check=False,
        )
        assert attached.stdout.split() == [str(pid), "True"], attached.stderr
    finally:
        subprocess.run(
            [sys.executable, "-c", "import sys, pgserver; pgserver.get_server(sys.argv[1], cleanup_mode='stop')", str(pgdata)],
            capture_output=True, check=False,
        )


def _postmaster_pid_naming(pgdata, pid: int) -> None:
    """A postmaster.pid as a crash leaves it, but naming ``pid``."""
    (pgdata / "postmaster.pid").write_text(
        f"{pid}\n{pgdata}\n1796207226\n5432\n{pgdata}\n\n  2146653        10\nready   \n"
    )


def test_a_stale_postmaster_pid_naming_a_live_unrelated_process_is_removed_and_the_process_spared(tmp_path):
    data = tmp_path / "data"
    assert _cli(data, "db", "upgrade").returncode == 0  # initialized, then stopped at exit
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        _postmaster_pid_naming(data / "pg", bystander.pid)
        again = _cli(data, "db", "upgrade")
        assert again.returncode == 0, again.stderr
        assert "removed stale" in again.stderr and "postmaster.pid" in again.stderr
        assert bystander.poll() is None  # pgserver would have killed it at exit, taking it for the server
    finally:
        bystander.kill()
        bystander.wait()


def test_a_postmaster_pid_that_cannot_be_cleared_safely_is_one_line_naming_the_file(tmp_path):
    pgdata = tmp_path / "data" / "pg"
    pgdata.parent.mkdir(parents=True)
    leftover = subprocess.run([sys.executable, "-c", SERVER_SCRIPT, str(pgdata)], capture_output=True, text=True, check=False)
    assert leftover.returncode == 0, leftover.stderr
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        _postmaster_pid_naming(pgdata, bystander.pid)  # the real server still runs on the directory
        blocked = _cli(tmp_path / "data", "status")
        assert blocked.returncode == 2
        lines = blocked.stderr.strip().splitlines()
        assert len(lines) == 1 and str(pgdata / "postmaster.pid") in lines[0] and "delete" in lines[0], blocked.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
        _postmaster_pid_naming(pgdata, int(leftover.stdout.strip()))  # give the server its file back to stop it
        subprocess.run(
            [sys.executable, "-c", "import sys, pgserver; pgserver.get_server(sys.argv[1], cleanup_mode='stop')", str(pgdata)],
            capture_output=True, check=False,
        )


def test_a_data_dir_holding_only_its_readme_initializes(tmp_path):
    """A fresh clone has data/README.md (and nothing else) in data/: the embedded server still starts."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "README.md").write_text("runtime output\n")
    first = _cli(data, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert (data / "pg" / "PG_VERSION").exists() and (data / "README.md").read_text() == "runtime output\n"
