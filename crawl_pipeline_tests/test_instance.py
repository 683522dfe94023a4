"""The Dagster instance keeps runs and events in PostgreSQL through dagster-postgres."""

import os
import subprocess
import sys

import dagster as dg
import yaml

from crawl_pipeline.db.stack import INSTANCE_TEMPLATE, PROJECT_ROOT, write_instance_config
from crawl_pipeline.defs.reference.assets import heroes, heroes_match_reference
from crawl_pipeline.defs.resources import PostgresResource


def test_project_instance_config_round_trips_a_run_through_postgres(
    dagster_postgres_url, database_url, tmp_path, monkeypatch
):
    # The URL must name psycopg2: with SQLAlchemy 2.1 and psycopg 3 installed a plain
    # postgresql:// URL breaks dagster-postgres (NOTIFY run_events, $1).
    assert dagster_postgres_url.startswith("postgresql+psycopg2://")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_postgres_url)
    home = tmp_path / "dagster_home"
    write_instance_config(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled
        result = dg.materialize(
            [heroes, heroes_match_reference],
            instance=instance,
            resources={"postgres": PostgresResource(database_url=database_url)},
        )
        assert result.success
        run_id = result.run_id
    # A new instance object (as the webserver would open) reads the run and its metadata back.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(run_id).is_success
        materialization = instance.get_latest_materialization_event(dg.AssetKey("heroes")).asset_materialization
        assert materialization.metadata["heroes"].value == 127
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("heroes"), "heroes_match_reference")]
        )
        assert check


def test_instance_template_enables_queue_limits_and_monitoring():
    config = yaml.safe_load(INSTANCE_TEMPLATE.read_text())
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}
    assert config["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0


def test_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(PROJECT_ROOT / "workspace.yaml")],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr
