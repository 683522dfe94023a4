import dagster as dg
from click.testing import CliRunner

from crawl_pipeline.cli import main


def test_demo_materializes_through_the_persistent_instance_and_prints_a_summary(cli_env, db):
    result = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "demo finished" in result.output and "heroes / hero_stats rows" in result.output
    assert db.fetch_value("SELECT count(*) FROM heroes") == 127
    with dg.DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"crawl_pipeline/trigger": "demo"}))
        assert runs and runs[0].is_success
