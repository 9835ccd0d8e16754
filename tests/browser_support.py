"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright for Python (no download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: flags every browser test starts Chromium with (no background traffic, no sandbox in containers)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--no-first-run"]


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser")):
        if p and Path(p).exists():
            return p
    return None


def launch_browser(extra_args: tuple[str, ...] = ()) -> Iterator[Any]:
    """Yield a Playwright ``Browser`` on headless Chromium (for a fixture); skip without Chromium, fail on CI."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but headless Chromium is missing (.ci/run installs Debian's chromium)")
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, *extra_args], headless=True)
        yield b
        b.close()
