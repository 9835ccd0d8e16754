"""Fixtures of the render tests: real run folders, and headless Chromium driven by Playwright.

Chromium is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``; .ci/run installs it), launched by
Playwright with ``executable_path`` (no browser download). Without it the browser tests skip with the reason,
except under CI (``CI=true``), where a missing browser is a failure: a silent skip there would hide breakage.
Every request a page makes is recorded and anything but ``file:``/``data:``/``about:`` is refused, so a page that
needs the network fails its test instead of loading from a CDN.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_support import launch_browser

from simulator import cli

ROOT = Path(__file__).resolve().parents[2]
#: besides the route below, belt and braces: no proxy can be reached, no host name resolves
OFFLINE_ARGS = ("--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")
#: names that must show as text wherever they appear (HTML, JS strings, JS template literals, jinja templates)
XSS_NAME = "<script>alert(1)</script>"
TEMPLATE_NAME = "盘锦{{ 7*7 }}医院`${1+1}`\\"
#: facilities renamed in the hostile run: the two hospitals that lead Panjin's grids
RENAMED = {"PJ-H01": XSS_NAME, "PJ-H04": TEMPLATE_NAME}
#: a district name that breaks out of an HTML attribute and runs a handler if written raw (GeoJsonTooltip)
ATTR_NAME = '"><img src=x onerror="alert(2)">双台子区'
#: the district renamed in the hostile run (双台子区)
RENAMED_DISTRICT = "211102"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A Playwright ``Browser`` on headless Chromium (session-wide), offline."""
    yield from launch_browser(OFFLINE_ARGS)


@dataclass
class Opened:
    """A page opened in Chromium with what it did: console errors, uncaught exceptions, requests, dialogs."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def external(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:", "about:", "blob:"))]


@pytest.fixture
def open_page(browser) -> Iterator[Any]:
    """``open_page(path, ready_js)`` opens a local file and waits until the JS expression ``ready_js`` is true."""
    contexts = []

    def open_(path: Path, ready_js: str, *, width: int = 1400, height: int = 1000) -> Opened:
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        page = ctx.new_page()
        seen = Opened(page)
        page.on("console", lambda m: seen.errors.append(m.text) if m.type in ("error", "assert") else None)
        page.on("pageerror", lambda e: seen.errors.append(str(e)))
        page.on("request", lambda r: seen.requests.append(r.url))

        def on_dialog(d: Any) -> None:
            seen.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        ctx.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("file:", "data:", "about:", "blob:"))
                else route.abort()
            ),
        )
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        page.wait_for_function(ready_js, timeout=60_000)
        return seen

    yield open_
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def map_ready() -> str:
    """JS condition: the interactive map has drawn its markers, grids and boxes."""
    return (
        "document.querySelectorAll('.cg-fac').length > 0 && document.querySelectorAll('path.cg-grid').length > 0"
        " && document.querySelector('.cg-title') !== null && document.querySelector('.cg-legend') !== null"
    )


@pytest.fixture(scope="session")
def hostile_names() -> tuple[str, str]:
    """(markup-like name, template-like name) given to the leads of :func:`hostile_run`."""
    return XSS_NAME, TEMPLATE_NAME


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """The Panjin scenario run end to end (maps and report included), with two grids (led by PJ-H01 and PJ-H04)."""
    out = tmp_path_factory.mktemp("maps") / "panjin"
    assert cli.main(["run", str(ROOT / "scenarios" / "panjin.toml"), "--out", str(out), "--set", "grids.count=2"]) == 0
    return out


def _rename_facilities(csv_path: Path, names: dict[str, str]) -> None:
    with csv_path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    for r in rows:
        r["name"] = names.get(r["facility_id"], r["name"])
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def _rename_district(folder: Path, adcode: str, name: str) -> None:
    """Give one district a new name in both the boundaries and the district table."""
    import json

    path = folder / "boundaries.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    for feat in data["features"]:
        if str(feat["properties"]["adcode"]) == adcode:
            feat["properties"]["name"] = name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with (folder / "districts.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if r["adcode"] == adcode:
            r["name"] = name
    with (folder / "districts.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory) -> Path:
    """Panjin run whose two lead hospitals are named like markup and template code (:data:`RENAMED`)."""
    base = tmp_path_factory.mktemp("hostile")
    data = base / "geodata"
    shutil.copytree(ROOT / "geodata" / "panjin", data / "panjin")
    shutil.copytree(ROOT / "geodata" / "liaoning", data / "liaoning")
    _rename_facilities(data / "panjin" / "facilities.csv", RENAMED)
    _rename_district(data / "panjin", RENAMED_DISTRICT, ATTR_NAME)
    out = base / "run"
    args = ["run", str(ROOT / "scenarios" / "panjin.toml"), "--out", str(out), "--set", f'data="{data / "panjin"}"']
    assert cli.main(args) == 0
    return out
