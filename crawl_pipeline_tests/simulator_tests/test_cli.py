"""The ``simulator serve`` command's options and the truth file it writes."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from crawl_pipeline.simulator.cli import _parse_mix, simulator


def test_serve_help_lists_options() -> None:
    result = CliRunner().invoke(simulator, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--seed", "--accounts", "--fault-rate", "--latency-ms", "--no-rate-limit", "--steam-key", "--truth-file"):
        assert option in result.output


def test_fault_mix_parsing() -> None:
    assert _parse_mix("http_500=2,drop") == {"http_500": 2.0, "drop": 1.0}
    assert _parse_mix(None) is None
    with pytest.raises(click.BadParameter):
        _parse_mix("meteor=1")


def test_invalid_options_are_usage_errors() -> None:
    result = CliRunner().invoke(simulator, ["serve", "--accounts", "5"])
    assert result.exit_code == 2 and "accounts" in result.output
