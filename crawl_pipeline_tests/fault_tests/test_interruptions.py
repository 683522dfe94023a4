"""Interruptions: PostgreSQL restarting mid-crawl, and the run worker killed with SIGKILL.

Both end with a re-run that converges to the uninterrupted crawl.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from crawl_pipeline.db.pool import Database
from crawl_pipeline.db.stack import initialize_database
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline_tests.fault_tests.support import CRAWL, SOAK, assert_converged, crawl_config
from crawl_pipeline_tests.support import crawl_definitions, fingerprint

pytestmark = pytest.mark.fault

DETAILS = "SELECT count(*) FROM matches WHERE has_details"


def wait_for(url: str, query: str, *, minimum: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                if conn.execute(query).fetchone()[0] >= minimum:
                    return
        except psycopg.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{query!r} never reached {minimum}")


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test's own (pgserver), which it may stop and start at will."""
    import pgserver
    from pgserver._commands import pg_ctl

    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="crawl_fault_pg_", dir="/tmp"))
    root.chmod(0o755)  # pgserver runs postgres as an unprivileged user when we are root
    server = pgserver.get_server(root / "pg", cleanup_mode="stop")

    class Handle:
        def url(self, database: str = "postgres") -> str:
            return server.get_uri(database)

        def stop(self) -> None:
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)

        def start(self) -> None:
            server.ensure_postgres_running()

    try:
        yield Handle()
    finally:
        try:
            server.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_postgres_restart_mid_crawl_fails_cleanly_and_rerun_converges(
    own_postgres, dagster_instance, clean_simulator, fresh_database
):
    """The seed's batch (SOAK: the whole CRAWL) loses its database while details are being stored."""
    crawl = CRAWL if SOAK else crawl_config(max_depth=0)
    baseline_url, baseline = fresh_database("restart_baseline")
    crawl_locally(crawl_definitions(baseline_url, clean_simulator.url, crawl), dagster_instance, baseline, crawl)
    with psycopg.connect(own_postgres.url(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE crawl")
    url = own_postgres.url("crawl")
    initialize_database(url)
    defs = crawl_definitions(url, clean_simulator.url, crawl)

    def stop_when_details_arrive() -> None:
        wait_for(url, DETAILS, minimum=1)
        own_postgres.stop()

    stopper = threading.Thread(target=stop_when_details_arrive, daemon=True)
    stopper.start()
    with Database(url, max_size=4, timeout=5) as db:  # fail fast while the server is down
        with pytest.raises(psycopg.Error) as failure:
            crawl_locally(defs, dagster_instance, db, crawl)
    stopper.join(timeout=10)
    assert "Traceback" not in str(failure.value)

    own_postgres.start()
    url = own_postgres.url("crawl")  # the socket may have moved
    defs = crawl_definitions(url, clean_simulator.url, crawl)
    with Database(url, max_size=4) as db:
        runs = crawl_locally(defs, dagster_instance, db, crawl)
        assert runs.failed_partitions == []
        assert_converged(db, fingerprint(baseline))


WORKER = """
import sys
import dagster as dg
from crawl_pipeline.db.pool import Database
from crawl_pipeline.defs.crawl.local_runner import crawl_locally
from crawl_pipeline_tests.support import crawl_definitions
from crawl_pipeline_tests.fault_tests.support import CRAWL
url, dagster_url, sim_url, home = sys.argv[1:5]
with Database(url, max_size=4) as db, dg.instance_for_test(
    overrides={"storage": {"postgres": {"postgres_url": dagster_url}}}, temp_dir=home
) as instance:
    crawl_locally(crawl_definitions(url, sim_url, CRAWL), instance, db, CRAWL)
print("finished before the kill")
"""


def test_sigkill_of_the_run_worker_then_rerun_converges(
    db, database_url, dagster_postgres_url, dagster_instance, clean_simulator, fault_baseline, tmp_path
):
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, dagster_postgres_url, clean_simulator.url, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        wait_for(database_url, DETAILS, minimum=1, timeout=180)
    finally:
        worker.send_signal(signal.SIGKILL)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL and "finished" not in out
    killed_with = db.fetch_value(DETAILS)
    assert killed_with > 0

    runs = crawl_locally(crawl_definitions(database_url, clean_simulator.url, CRAWL), dagster_instance, db, CRAWL)
    assert runs.failed_partitions == []
    assert_converged(db, fault_baseline)
