"""Generate the resource and run-config tables of docs/configuration.md from the classes.

    python -m crawl_pipeline.ops.config_reference          # print the tables
    python -m crawl_pipeline.ops.config_reference --write  # refresh docs/configuration.md in place

crawl_pipeline_tests/ops_tests/test_docs.py fails when the file and the classes disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from pathlib import Path

from pydantic_core import PydanticUndefined

BEGIN = "<!-- BEGIN GENERATED: config tables (python -m crawl_pipeline.ops.config_reference --write) -->"
END = "<!-- END GENERATED: config tables -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _classes() -> list[tuple[str, str, type]]:
    """(heading, where it is set, class) for every resource and run-config class operators touch."""
    from crawl_pipeline.defs.analytics.assets import (
        AggregationConfig,
        DuckDBExportConfig,
        HeroTop100Config,
        LagConfig,
        LeaderboardsConfig,
        ReportConfig,
    )
    from crawl_pipeline.defs.crawl.assets import RefreshConfig
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.identity.resources import TrackedIdentities
    from crawl_pipeline.defs.providers import ProvidersResource
    from crawl_pipeline.defs.resources import PostgresResource

    return [
        ("PostgresResource", "resource `postgres`", PostgresResource),
        ("ProvidersResource", "resource `providers`", ProvidersResource),
        ("CrawlConfig", "resource `crawl`", CrawlConfig),
        ("TrackedIdentities", "resource `identities` (from TRACKED_IDENTITIES)", TrackedIdentities),
        ("RefreshConfig", "run config of `crawl_batch` (the four per-batch assets), `{\"ops\": {\"crawl_batch\": {\"config\": {\"refresh\": true}}}}`", RefreshConfig),
        ("HeroTop100Config", "run config of `hero_top100`", HeroTop100Config),
        ("LeaderboardsConfig", "run config of `leaderboards`", LeaderboardsConfig),
        ("AggregationConfig", "run config of `player_match_type_stats`", AggregationConfig),
        ("LagConfig", "config of the `player_match_type_stats_lag` check", LagConfig),
        ("DuckDBExportConfig", "run config of `analytics_duckdb`", DuckDBExportConfig),
        ("ReportConfig", "run config of `analytics_report`", ReportConfig),
    ]


def _type_name(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    text = text or str(annotation).replace("typing.", "")
    return text.replace("NoneType", "None").replace(" | None", " \\| None").replace("|", "\\|").replace("\\\\|", "\\|")


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    return f"`{json.dumps(value)}`"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render() -> str:
    out = [BEGIN, ""]
    for heading, where, cls in _classes():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        out += [f"### {heading}", "", f"{where}. {doc}".strip(), "", "| field | type | default | meaning |",
                "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            out.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {_cell(field.description)} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def refresh(text: str) -> str:
    """``text`` with its generated block replaced by the current tables."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{DOC.name} has no generated block ({BEGIN!r} ... {END!r})")
    return pattern.sub(lambda _: render(), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {DOC} in place")
    args = parser.parse_args(argv)
    if args.write:
        DOC.write_text(refresh(DOC.read_text()))
        print(f"updated {DOC}")
    else:
        print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
