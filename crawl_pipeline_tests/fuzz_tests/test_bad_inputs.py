"""Invalid command lines and invalid configuration: exit 2, one clear line, nothing written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawl_pipeline.cli import main

COUNT = "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM matches)"


def invoke(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=True)


def assert_user_error(result) -> None:
    text = result.output  # click 8.2+: stdout and stderr interleaved
    assert result.exit_code == 2, (result.exit_code, text, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, text  # one line says what is wrong


BAD_IDS = st.one_of(
    st.integers(max_value=0).map(str),
    st.integers(min_value=2**64).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), min_size=1, max_size=12).filter(
        lambda s: s.strip() and not s.startswith("-")
    ),
    st.sampled_from(["1.5", "0x10", "4294967295", "1e9", "293053907abc", " ", "７６５"]),  # full-width digits too
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(good=st.integers(1, 2**31), bad=BAD_IDS)
def test_bad_account_ids_are_refused_before_anything_is_written(cli_env, session_db, good, bad):
    before = session_db.fetch_value(COUNT)
    for args in (["seed", str(good), bad], ["track", bad], ["seed", "--range", str(good), bad]):
        assert_user_error(invoke(args))
    assert session_db.fetch_value(COUNT) == before


@pytest.mark.parametrize(
    "args",
    [
        ["seed"],
        ["seed", "--range", "10", "5"],
        ["seed", "--range", "1", "5000000"],
        ["seed", "--range", "1"],
        ["track"],
        ["status", "--yaml"],
        ["no-such-command"],
        ["fetch", "match", "not-a-match", "--source", "opendota"],
        ["fetch", "match", "1", "--source", "bogus"],
        ["fetch", "player", "-5", "--source", "steam"],
        ["demo", "--fault-rate", "2"],
        ["demo", "--max-depth", "-1"],
        ["demo", "--world-accounts", "ten"],
    ],
)
def test_bad_arguments_are_one_line_exit_2(cli_env, db, args):
    before = db.fetch_value(COUNT)
    assert_user_error(invoke(args))
    assert db.fetch_value(COUNT) == before


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRAWL_BATCH_SIZE", "lots"),
        ("CRAWL_BATCH_SIZE", "0"),
        ("CRAWL_DB_POOL_SIZE", "-3"),
        ("CRAWL_MAX_DEPTH", "1.5"),
        ("CRAWL_SEEDS", "293053907,not-an-id"),
        ("OPENDOTA_API_URL", "ftp://api.opendota.com"),
        ("STEAM_API_URL", "api.steampowered.com"),
        ("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_variable(cli_env, db, variable, value):
    before = db.fetch_value(COUNT)
    result = invoke(["seed", "293053907"], env={variable: value})
    assert_user_error(result)
    shown = variable if variable != "DATABASE_URL" else "127.0.0.1:1/none"
    assert shown in result.output
    assert db.fetch_value(COUNT) == before
