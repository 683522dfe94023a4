import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from crawl_pipeline.cli import main

CONTRACT_COMMANDS = {"demo", "dev", "status", "seed", "track", "db"}


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_help_lists_the_contract_commands():
    result = run("--help")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed >= CONTRACT_COMMANDS


def test_unknown_command_and_bad_option_are_short_usage_errors():
    result = run("crawl-everything")
    assert result.exit_code == 2 and "No such command" in result.output
    result = run("status", "--yaml")
    assert result.exit_code == 2 and "No such option" in result.output


def test_invalid_account_id_is_rejected_before_anything_is_written(cli_env, db):
    result = run("seed", "293053907", "not-a-number")
    assert result.exit_code == 2
    assert "invalid account id 'not-a-number'" in result.output
    assert db.fetch_value("SELECT count(*) FROM accounts") == 0


def test_seed_track_and_status_json(cli_env, db):
    assert run("seed", "293053907", "76561197960265829").exit_code == 0
    result = run("seed", "--range", "1000", "1004")
    assert "5 new seed account(s)" in result.output
    assert "1 account(s) now tracked" in run("track", "293053907").output
    report = json.loads(run("status", "--json").output)
    assert report["accounts"] == 7 and report["seeds"] == 7 and report["tracked"] == 1
    assert report["by_depth"] == [
        {"depth": 0, "accounts": 7, "batches": 0, "batched": 0, "hero_stats_done": 0, "matches_synced": 0, "failed": 0}
    ]


def test_seed_range_must_be_ordered(cli_env):
    result = run("seed", "--range", "10", "5")
    assert result.exit_code == 2 and "range start 10 is above its end 5" in result.output


def test_db_upgrade_reports_version(cli_env):
    result = run("db", "upgrade")
    assert result.exit_code == 0 and "schema version" in result.output


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://crawler:hunter2@127.0.0.1:1/crawl", "127.0.0.1:1/crawl"),
        ("postgresql://crawler:hunter2@127.0.0.1:5432/no_such_database_here", "127.0.0.1:5432/no_such_database_here"),
    ],
)
def test_unreachable_database_is_one_clear_line_without_password(tmp_path, url, expected):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "CRAWL_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "crawl_pipeline.cli", "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0] and "hunter2" not in proc.stderr + proc.stdout
    assert not (tmp_path / "pg").exists()  # nothing embedded is started when DATABASE_URL is set


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"connect_timeout": "abc"}, "bad value for connect_timeout: 'abc'"),
        ({"sslmode": "bogus"}, 'invalid sslmode value: "bogus"'),
    ],
)
def test_a_bad_database_url_option_is_one_line_naming_it_without_password(tmp_path, database_url, option, expected):
    """A reachable server with an option libpq cannot use: one line naming DATABASE_URL and the option,
    exit 2, no traceback; the check used to override connect_timeout, and the migrations' connection
    then raised psycopg.ProgrammingError."""
    from psycopg.conninfo import make_conninfo

    from crawl_pipeline.db import migrate
    from crawl_pipeline.db.connection import DatabaseUnavailable

    url = make_conninfo(database_url, password="hunter2", **option)  # the test server trusts: no password needed
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "CRAWL_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "crawl_pipeline.cli", "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "DATABASE_URL" in lines[0] and expected in lines[0]
    assert "hunter2" not in proc.stderr + proc.stdout
    with pytest.raises(DatabaseUnavailable, match="connection option"):  # a later connection says the same
        migrate.upgrade(url)
