"""The Dagster UI on a crawled database, in a real headless Chromium (Debian's, driven by Playwright).

Screenshots go to ``$CRAWL_DATA_DIR/screenshots/`` (default ``data/screenshots/``) for people to
look at. Chromium comes from Debian (``.ci/setup-browser``); Playwright never downloads a browser.
Without Chromium the test skips on a laptop and fails in CI (``CI`` set), where it must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from crawl_pipeline.db.stack import PROJECT_ROOT
from crawl_pipeline.settings import get_settings
from crawl_pipeline_tests.ops_tests.support import in_ci
from crawl_pipeline_tests.ops_tests.test_metrics import free_port

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CRAWL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # --headless comes from headless=True; --user-data-dir from launch_persistent_context
TIMEOUT_MS = int(os.environ.get("CRAWL_UI_TIMEOUT_MS", "60000"))


def _require_browser():
    missing = []
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"Chromium ({CHROMIUM}; install with .ci/setup-browser)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if in_ci():
            pytest.fail(message + ": CI must run it", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def webserver(crawled_stack, tmp_path_factory):
    """dagster-webserver on the crawled stack's instance, on a free port; stopped at the end."""
    port = free_port()
    env = {**os.environ, **crawled_stack.env(), "DAGSTER_DISABLE_TELEMETRY": "1"}
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-webserver")), "-w", str(PROJECT_ROOT / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"dagster-webserver exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"dagster-webserver did not answer: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page(tmp_path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()


def _screenshot(page, name: str) -> Path:
    target = get_settings().data_dir / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=False)
    return target


@contextmanager
def step(page, name: str):
    """Screenshot ``name`` when the step passes, ``name-failure`` (what the browser showed) when it fails."""
    try:
        yield
    except BaseException:
        _screenshot(page, f"{name}-failure")
        raise
    _screenshot(page, name).with_name(f"{name}-failure.png").unlink(missing_ok=True)


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    skip = page.get_by_role("button", name="Skip")  # the first visit's "Join the Dagster community" dialog
    if skip.count():
        skip.first.click()


def test_ui_shows_asset_graph_partitions_and_a_run(webserver, crawled_stack, page):
    keys = [r["batch_key"] for r in crawled_stack.db.fetch_all("SELECT batch_key FROM account_batches ORDER BY 1")]
    assert keys

    # 1. the asset graph of the crawl group: the four per-batch assets are nodes of the graph
    with step(page, "asset_graph"):
        _open(page, f"{webserver}/locations/crawl_pipeline/asset-groups/crawl")
        for name in ("player_profiles", "hero_stats", "match_stubs", "match_details"):
            page.get_by_text(name, exact=True).first.wait_for()
        page.get_by_text("100% filled").first.wait_for()  # partition health shown on the nodes

    # 2. match_details partitions: the batch keys are listed
    with step(page, "match_details_partitions"):
        _open(page, f"{webserver}/assets/match_details?view=partitions")
        for key in keys:
            page.get_by_text(key, exact=True).first.wait_for()
        page.get_by_text(f"Materialized ({len(keys)})").first.wait_for()
        page.get_by_text("Failed (0)").first.wait_for()

    # 3. a run page: the last crawl run, its job and its success
    run_id = crawled_stack.run_ids[-1]
    with step(page, "run"):
        _open(page, f"{webserver}/runs/{run_id}")
        page.get_by_text("crawl_batch_job").first.wait_for()
        page.get_by_text("Success", exact=False).first.wait_for()
        page.get_by_text("match_details").first.wait_for()
