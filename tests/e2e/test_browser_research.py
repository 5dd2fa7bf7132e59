"""The export page's Open mHealth format and its word on an empty export, in Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ARTIFACTS, chromium, running_demo

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from running_demo(tmp_path_factory, seed=5)


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    yield from chromium()


def test_researcher_omh_export_of_raw_says_why_it_is_empty(demo: Any, browser: Any) -> None:
    password = "research passphrase 43"
    done = subprocess.run(
        [sys.executable, "-m", "movereg", "user", "--data-dir", str(demo.data_dir), "add",
         "researcher2", "--role", "researcher", "--password-stdin"],
        input=password + "\n", text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo.url + "/export")
    page.fill("#username", "researcher2")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(demo.url + "/export")))
    page.select_option("#what", "raw")
    page.select_option("#format", "omh")
    # the demo's families agreed to research use of features, not of raw samples
    with page.expect_download(timeout=30_000) as info:
        page.click("#export-go")
    assert info.value.suggested_filename == "movereg-raw.jsonl"
    assert Path(info.value.path()).read_bytes() == b""
    page.wait_for_function("() => document.getElementById('export-status').textContent"
                           ".includes('No rows')", timeout=10_000)
    status = page.inner_text("#export-status")
    assert "No rows for all children (no child has current research consent for " \
        "this export)" in status
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "researcher-export-omh-empty.png"), full_page=False)
    assert errors == [], errors
    ctx.close()
