"""The operator docs stay true to the code: generated tables, every setting, every metric, every path."""

from __future__ import annotations

import re

from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline.ops import config_reference

DOCS = PROJECT_ROOT / "docs"


def test_configuration_tables_match_the_classes():
    text = (DOCS / "configuration.md").read_text()
    assert config_reference.refresh(text) == text, (
        "docs/configuration.md is stale: run `python -m crawl_pipeline.ops.config_reference --write`"
    )


def test_every_environment_variable_of_settings_is_documented():
    source = (PROJECT_ROOT / "crawl_pipeline" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.get\(|, )"([A-Z][A-Z0-9_]+)"', source))
    assert {"DATABASE_URL", "STRATZ_TOKENS", "CRAWL_DATA_DIR"} <= names  # the pattern still finds them
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", (DOCS / "configuration.md").read_text(), re.M))
    assert names - documented == set(), "add these to docs/configuration.md"


def test_every_metric_is_documented():
    from crawl_pipeline.ops import metrics

    source = (PROJECT_ROOT / "crawl_pipeline" / "ops" / "metrics.py").read_text()
    names = set(re.findall(r'MetricFamily\(\s*"(crawl_[a-z_]+)"', source))
    assert len(names) > 15 and metrics.DEFAULT_PORT == 9108
    operations = (DOCS / "operations.md").read_text()
    assert [n for n in sorted(names) if n not in operations] == []


def test_architecture_names_only_files_that_exist():
    """Every `path/file.py` named in the layout block of architecture.md exists."""
    text = (DOCS / "architecture.md").read_text()
    layout = text.split("```")[1]
    stack: list[tuple[int, str]] = []
    missing = []
    for line in layout.splitlines():
        match = re.match(r"^(\s*)(\S+)", line)
        if not match or match.group(2).startswith("#"):
            continue
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "/".join([p for _, p in stack] + [name.rstrip("/")])
        if name.endswith("/"):
            stack.append((indent, name.rstrip("/")))
        if "*" in name or not re.search(r"\.(py|yaml|sql|md|json|toml)$|/$", name):
            continue
        if not (PROJECT_ROOT / path).exists():
            missing.append(path)
    assert missing == []
