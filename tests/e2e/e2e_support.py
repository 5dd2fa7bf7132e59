"""Shared pieces of the browser tests (not a test module): Debian's Chromium through
Playwright, a running ``movereg demo``, and where screenshots go."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ARGS", "ARTIFACTS", "CHROMIUM", "chromium", "running_demo"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def running_demo(tmp_path_factory: pytest.TempPathFactory, *, seed: int,
                 env: dict[str, str] | None = None) -> Iterator[Any]:
    """``movereg demo`` with two simulated bands on a free port (skips without Chromium
    or Playwright; ``env``: settings as ``MOVEREG_*`` variables); stopped afterwards."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) missing")
    from benchmarks.demo_proc import DemoProcess

    proc = DemoProcess(data_dir=tmp_path_factory.mktemp("demo"), bands=2, seed=seed,
                       env=dict(env or {}))
    proc.start(timeout_s=120)
    try:
        yield proc
    finally:
        proc.stop()


def chromium() -> Iterator[Any]:
    """A headless Debian Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                               else shutil.which("chromium"), args=ARGS)
        try:
            yield b
        finally:
            b.close()
