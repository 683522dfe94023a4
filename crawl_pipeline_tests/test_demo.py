from datetime import UTC, datetime

import dagster as dg
import duckdb
from click.testing import CliRunner

from crawl_pipeline.cli import main


def test_demo_crawls_through_the_persistent_instance_and_prints_a_summary(cli_env, db, tmp_path):
    started = datetime.now(UTC)  # the session's Dagster database also holds other tests' runs
    result = CliRunner().invoke(
        main,
        [
            "demo", "--world-accounts", "2000", "--max-depth", "1", "--max-accounts", "40",
            "--matches-per-account", "3", "--smurf-candidates", "10",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Progress per depth" in result.output and "demo finished" in result.output
    assert "still failing: none" in result.output
    assert "smurf analyzer ok" in result.output and "precision" in result.output
    # the crawl reached depth 1 and stored details of every stub
    assert db.fetch_value("SELECT count(*) FROM accounts WHERE depth = 1 AND batch_key IS NOT NULL") > 0
    assert db.fetch_value("SELECT count(*) FROM matches WHERE has_details IS NOT TRUE") == 0
    # real runs of the batch job are in the instance make dev opens, one partition per batch
    with dg.DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="crawl_batch_job", created_after=started))
        batches = {r["batch_key"] for r in db.fetch_all("SELECT batch_key FROM account_batches")}
        assert {run.tags["dagster/partition"] for run in runs} == batches
        assert all(run.is_success for run in runs)
    # the analysts' copy and the report were built
    data_dir = tmp_path / "data"
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as duck:
        assert duck.execute("SELECT count(*) FROM matches").fetchone()[0] == db.fetch_value("SELECT count(*) FROM matches")
    assert (data_dir / "report.html").stat().st_size > 10_000
    assert (data_dir / "ground_truth.csv").exists()
