"""`fetch match|player|matches|sequence` and `check-key` against the simulator, through the shared budget."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crawl_pipeline.commands.fetch import check_key, fetch

from .support import OPENDOTA_KEY, SEED, STEAM_KEY, STRATZ_TOKENS, some_match_ids


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
    seq = int(sim.world.match_seq_num([sim.world.match_index(match_id)])[0])
    result = CliRunner().invoke(fetch, ["match", str(match_id), "--source", "steam", "--seq", str(seq), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["match_id"] == match_id and len(record["players"]) == 10
    table = CliRunner().invoke(fetch, ["match", str(match_id), "--source", "stratz"])
    assert table.exit_code == 0 and "K/D/A" in table.output and "match_id" in table.output


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
    assert ok.exit_code == 0 and ok.output.startswith("stratz: valid (token#1 (…VkMQ), token#2 (…VkMg))")
    monkeypatch.setenv("STEAM_API_KEY", "not-the-right-key-77")
    bad = CliRunner().invoke(check_key, ["--source", "steam"])
    assert bad.exit_code == 1 and "steam: invalid" in bad.output and "key#1 (…y-77)" in bad.output
    assert "not-the-right-key-77" not in bad.output


def test_steam_match_without_sequence_number_is_a_user_mistake(env, sim):
    result = CliRunner().invoke(fetch, ["match", str(some_match_ids(sim, 1)[0]), "--source", "steam"])
    assert result.exit_code == 2 and "--seq" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("source", ["opendota", "steam", "stratz"])
def test_fetch_matches_page_as_normalized_stubs(env, sim, source):
    result = CliRunner().invoke(fetch, ["matches", str(SEED), "--source", source, "--count", "5", "--json"])
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert page["account_id"] == SEED and len(page["matches"]) == 5
    # the fields ranked/normal aggregates and range sync need (OpenDota: projected with repeated keys)
    assert all(m["start_time"] and m["lobby_type"] is not None for m in page["matches"])
    if source != "steam":  # Steam's history pages carry no duration or game mode
        assert all(m["duration"] and m["game_mode"] is not None for m in page["matches"])
    table = CliRunner().invoke(fetch, ["matches", str(SEED), "--source", source, "--count", "3"])
    assert table.exit_code == 0 and "3 matches" in table.output


def test_fetch_sequence(env, sim):
    first = int(sim.world.match_seq_num([0])[0])
    result = CliRunner().invoke(fetch, ["sequence", str(first), "--source", "steam", "--count", "7", "--json"])
    assert result.exit_code == 0, result.output
    matches = json.loads(result.output)
    assert len(matches) == 7 and matches[0]["match_seq_num"] == first
    assert all(len(m["players"]) == 10 and m["region"] is not None for m in matches)
    assert CliRunner().invoke(fetch, ["sequence", str(first), "--source", "opendota"]).exit_code == 2


def test_check_key_refuses_a_malformed_opendota_key(env, monkeypatch):
    monkeypatch.setenv("OPENDOTA_API_KEY", "my-secret-opendota-key")
    result = CliRunner().invoke(check_key, ["--source", "opendota"])
    assert result.exit_code != 0 and "not a valid OpenDota key" in result.output
    assert "my-secret-opendota-key" not in result.output and "Traceback" not in result.output
