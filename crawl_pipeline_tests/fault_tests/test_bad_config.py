"""Configuration mistakes end with one line on stderr and exit code 2, never a traceback (issue 18.9)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from crawl_pipeline.cli import main
from crawl_pipeline.db import stack as stack_module
from crawl_pipeline.db.stack import INSTANCE_TEMPLATE, PROJECT_ROOT
from crawl_pipeline.settings import Settings, SettingsError


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawl_pipeline.cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("crawl-pipeline: error: ")
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("garbage://x", "DATABASE_URL must start with postgresql://"),
        ("not a url", "DATABASE_URL is neither a postgresql:// URL nor libpq key=value pairs"),
        ("mysql://root:hunter2@db/crawl", "DATABASE_URL must start with postgresql://"),
    ],
)
def test_a_database_url_that_is_not_postgresql_is_one_line(tmp_path, value, expected):
    line = one_line(cli({"PATH": "/usr/bin:/bin", "DATABASE_URL": value, "CRAWL_DATA_DIR": str(tmp_path)}, "status"))
    assert expected in line and "hunter2" not in line
    assert not (tmp_path / "pg").exists()


def test_a_bad_dagster_postgres_url_is_one_line(cli_env, tmp_path):
    env = {**os.environ, **cli_env, "DAGSTER_POSTGRES_URL": "garbage://user:hunter2@x/dagster"}
    line = one_line(cli(env, "db", "upgrade"))
    assert "DAGSTER_POSTGRES_URL must start with postgresql://" in line and "hunter2" not in line


@pytest.mark.parametrize("variable", ["OPENDOTA_API_URL", "STEAM_API_URL", "STRATZ_API_URL"])
def test_credentials_in_a_provider_url_are_refused_without_echoing_them(tmp_path, variable):
    url = "https://crawler:hunter2@api.example.com"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: url})
    assert variable in str(refused.value) and "hunter2" not in str(refused.value) and "crawler" not in str(refused.value)
    env = {"PATH": "/usr/bin:/bin", variable: url, "CRAWL_DATA_DIR": str(tmp_path)}
    for args in (("status",), ("fetch", "player", "293053907", "--source", "opendota")):
        line = one_line(cli(env, *args))
        assert f"{variable} must not contain credentials" in line and "hunter2" not in line


def test_a_provider_url_without_credentials_still_works():
    settings = Settings.from_env({"OPENDOTA_API_URL": "https://api.opendota.com/", "STEAM_API_URL": "http://127.0.0.1:8765"})
    assert settings.opendota_api_url == "https://api.opendota.com" and "@" not in repr(settings)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("storage:\n  postgres: [\n", "is not valid YAML (line 3, column 1)"),
        ("- storage\n- postgres\n", "must be a YAML mapping"),
        (INSTANCE_TEMPLATE.read_text().replace("run_monitoring:", "run_monitoring_typo:"), "is not a valid Dagster instance config"),
    ],
)
def test_dev_with_a_corrupted_instance_template_is_one_line_naming_it(cli_env, tmp_path, monkeypatch, template, expected):
    broken = tmp_path / "dagster.yaml"
    broken.write_text(template)
    monkeypatch.setattr(stack_module, "INSTANCE_TEMPLATE", broken)
    result = CliRunner().invoke(main, ["dev", "--port", str(free_port())], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and expected in lines[0], result.stderr


def test_a_corrupted_copy_in_dagster_home_is_replaced_by_the_template(cli_env):
    copy = stack_module.Path(cli_env["DAGSTER_HOME"]) / "dagster.yaml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text("storage:\n  postgres: [\n")  # e.g. a crash mid-write, or a bad hand edit
    result = CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert copy.read_bytes() == INSTANCE_TEMPLATE.read_bytes()


def test_a_dagster_home_copy_that_cannot_be_written_is_one_line(cli_env):
    copy = stack_module.Path(cli_env["DAGSTER_HOME"]) / "dagster.yaml"
    copy.mkdir(parents=True)  # a directory where the file belongs
    result = CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 2
    assert str(copy) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_provider_urls_from_resources_can_be_checked_by_the_same_rule():
    from crawl_pipeline.settings import check_provider_url

    assert check_provider_url("opendota_api_url", "https://api.opendota.com/") == "https://api.opendota.com"
    with pytest.raises(SettingsError) as refused:
        check_provider_url("opendota_api_url", "https://u:hunter2@api.opendota.com")
    assert "hunter2" not in str(refused.value)
