"""The engine (``crawl_pipeline/crawl/``) imports no Dagster: the assets wrap it, never the other way."""

import ast
from pathlib import Path

import crawl_pipeline.crawl

ENGINE = Path(crawl_pipeline.crawl.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_engine_modules_import_no_dagster_and_no_defs():
    modules = sorted(ENGINE.glob("*.py"))
    assert {p.name for p in modules} >= {"phases.py", "smurf.py", "sync.py", "feed.py"}
    for path in modules:
        bad = {n for n in _imports(path) if n.split(".")[0].startswith("dagster") or n.startswith("crawl_pipeline.defs")}
        assert not bad, f"{path.name} imports {sorted(bad)}"
