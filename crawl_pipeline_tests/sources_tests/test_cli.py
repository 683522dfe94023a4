"""`fetch match|player` and `check-key` against the simulator, through the shared budget."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crawl_pipeline.sources.cli import check_key, fetch

from .conftest import OPENDOTA_KEY, SEED, STEAM_KEY, STRATZ_TOKENS, some_match_ids


@pytest.fixture
def env(cli_env, sim, monkeypatch):
    for name in ("OPENDOTA", "STEAM", "STRATZ"):
        monkeypatch.setenv(f"{name}_API_URL", sim.url)
    monkeypatch.setenv("OPENDOTA_API_KEY", OPENDOTA_KEY)
    monkeypatch.setenv("STEAM_API_KEY", STEAM_KEY)
    monkeypatch.setenv("STRATZ_TOKENS", ",".join(STRATZ_TOKENS))
    return cli_env


def test_fetch_match_json_and_table(env, sim):
    match_id = some_match_ids(sim, 1)[0]
    result = CliRunner().invoke(fetch, ["match", str(match_id), "--source", "steam", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["match_id"] == match_id and len(record["players"]) == 10
    table = CliRunner().invoke(fetch, ["match", str(match_id), "--source", "stratz"])
    assert table.exit_code == 0 and "K/D/A" in table.output and f"match_id" in table.output


def test_fetch_player(env):
    result = CliRunner().invoke(fetch, ["player", str(SEED + 76561197960265728)])
    assert result.exit_code == 0 and "personaname" in result.output and str(SEED) in result.output


def test_api_error_is_one_line_exit_1(env):
    result = CliRunner().invoke(fetch, ["match", "5"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["crawl-pipeline: error: opendota match_details HTTP 404: Not Found"]


def test_unsupported_call_is_a_user_mistake(env):
    result = CliRunner().invoke(fetch, ["player", str(SEED), "--source", "steam"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert CliRunner().invoke(fetch, ["player", "abc"]).exit_code == 2


def test_check_key(env, monkeypatch):
    ok = CliRunner().invoke(check_key, ["--source", "stratz"])
    assert ok.exit_code == 0 and ok.output.startswith("stratz: valid (token#1 (…en-1), token#2 (…en-2))")
    monkeypatch.setenv("STEAM_API_KEY", "not-the-right-key-77")
    bad = CliRunner().invoke(check_key, ["--source", "steam"])
    assert bad.exit_code == 1 and "steam: invalid" in bad.output and "key#1 (…y-77)" in bad.output
    assert "not-the-right-key-77" not in bad.output
