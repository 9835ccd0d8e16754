"""The page of ``caregrid app`` in a real browser: Playwright driving Debian's chromium (``executable_path``, no
browser download), against the server on 127.0.0.1 with the synthetic city.

Every request the page makes is recorded and anything not on 127.0.0.1 is aborted and fails the test; the
hostile facility name (``<script>``, ``${…}``, quotes) must show as text and never run.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from browser_support import launch_browser

from simulator.app.server import create_app
from simulator.app.state import Workspace
from simulator.evaluate.verify import verify_run

from .conftest import HOSTILE_NAME


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(workspace):
    """The app served by uvicorn on 127.0.0.1 in a thread; yields (base URL, workspace)."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(workspace), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    t0 = time.monotonic()
    while not srv.started:
        assert time.monotonic() - t0 < 20, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", workspace
    srv.should_exit = True
    t.join(10)


class Page:
    """A page with a log of its requests, console errors and dialogs; outside requests are aborted."""

    def __init__(self, browser, base: str):
        self.base = base
        # bypass_csp: Playwright evaluates its wait conditions with eval, which the page's CSP forbids
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        self.page = self.ctx.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base + "/")
                       else route.abort())

    def open(self):
        self.page.goto(self.base + "/", wait_until="load")
        self.page.wait_for_function("document.body.dataset.ready === 'true'", timeout=30_000)
        return self

    def version(self) -> int:
        return int(self.page.evaluate("document.body.dataset.version"))

    def wait_version(self, v: int) -> None:
        self.page.wait_for_function(f"Number(document.body.dataset.version) >= {v}", timeout=30_000)

    def paint(self, unit_ids: list[str]) -> None:
        """One mouse stroke over the units' centres (press on the first, move over the others, release)."""
        pts = [self.page.evaluate("(id) => window.caregridApp.unitPoint(id)", u) for u in unit_ids]
        m = self.page.mouse
        m.move(pts[0]["x"], pts[0]["y"])
        m.down()
        for p in pts[1:]:
            m.move(p["x"], p["y"], steps=4)
        m.up()

    def rules_text(self) -> str:
        return self.page.inner_text("#rule-panel")

    def close(self):
        self.ctx.close()

    @property
    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.base + "/")]


def _three_west_units(ws: Workspace) -> list[str]:
    """Three adjacent units inside 甲区, none on its border with 乙区 (a chain, so one stroke paints them): painted
    into 乙区 they make it a grid in two pieces, which rule 6 (contiguity) fails."""
    adj = ws.units.adjacency
    west = ws.labels == "甲区"
    with_facility = set(ws.live.job.fac_unit.tolist())  # a marker over the unit's centre would take the press
    inner = [i for i in range(len(west)) if west[i] and west[adj[i].indices].all() and i not in with_facility]
    for a in inner:
        for b in adj[a].indices:
            if b not in inner:
                continue
            for c in adj[b].indices:
                if c in inner and c != a:
                    return [ws.unit_ids[a], ws.unit_ids[b], ws.unit_ids[c]]
    raise AssertionError("no chain of three inner west units")


def _compactness_cells(p: Page) -> dict[str, float]:
    """Grid → the compactness the grid table shows."""
    rows = p.page.eval_on_selector_all(
        "#grids tbody tr", "rows => rows.map(r => [r.dataset.grid, r.querySelector('td.compactness').textContent])")
    return {g: float(text) for g, text in rows}


def test_paint_undo_drag_repair_reload_export(browser, server):
    base, ws = server
    p = Page(browser, base).open()
    try:
        # the hostile name is text: in the grid table and the tooltip, never markup, never run
        assert p.page.locator(".fac").count() >= 10
        assert HOSTILE_NAME in p.page.inner_text("#grids")
        assert p.page.locator("#side script, #side img, #map img").count() == 0
        before_rules = p.rules_text()
        before_pp = _compactness_cells(p)
        # paint three units of 甲区 into 乙区
        units = _three_west_units(ws)
        p.page.select_option("#grid-select", "乙区")
        v = p.version()
        p.paint(units)
        p.wait_version(v + 1)
        assert [ws.labels[ws.unit_index([u])[0]] for u in units] == ["乙区"] * 3
        painted_rules = p.rules_text()
        assert painted_rules != before_rules  # the panel changed with the stroke
        # the grid table's compactness column shows the live panel's figure, which the stroke changed
        shown_pp = _compactness_cells(p)
        live_pp = {g["grid_id"]: g["polsby_popper"] for g in ws.state()["grids"]}
        assert shown_pp.keys() == live_pp.keys()
        assert all(abs(shown_pp[g] - live_pp[g]) <= 0.005 + 1e-9 for g in live_pp), (shown_pp, live_pp)
        assert shown_pp["乙区"] != before_pp["乙区"]
        assert p.page.locator("#rule-panel li[data-rule='R6.contiguous'][data-grid='乙区']").count() == 1
        live = {(r["rule_id"], r["grid_id"], r["status"]) for r in ws.state()["compliance"]}
        shown = p.page.eval_on_selector_all(
            "#rule-panel li[data-rule]", "els => els.map(e => [e.dataset.rule, e.dataset.grid, e.dataset.status])")
        assert {tuple(x) for x in shown} == {x for x in live if x[2] != "passed"}
        # undo (Ctrl+Z), redo (Ctrl+Y), undo (the button)
        p.page.mouse.click(5, 5)  # the map keeps the focus, not a form field
        p.page.keyboard.press("Control+z")
        p.wait_version(v + 2)
        assert all(ws.labels[ws.unit_index([u])[0]] == "甲区" for u in units)
        assert p.rules_text() == before_rules
        p.page.keyboard.press("Control+y")
        p.wait_version(v + 3)
        assert all(ws.labels[ws.unit_index([u])[0]] == "乙区" for u in units)
        p.page.click("#undo")
        p.wait_version(v + 4)
        assert all(ws.labels[ws.unit_index([u])[0]] == "甲区" for u in units)
        # choose a grid's lead in the grid table, then undo
        v = p.version()
        p.page.select_option(".lead-select[data-grid='甲区']", "T3")
        p.wait_version(v + 1)
        assert ws.grid_lead()["甲区"] == "T3" and "甲区中心医院" in p.page.inner_text("#grids")
        p.page.click("#undo")
        p.wait_version(v + 2)
        assert ws.grid_leads == {}
        # drag a facility (T3, placed at the district seat: "place me")
        marker = p.page.locator(".fac[data-facility-id='T3']")
        assert "approx" in marker.get_attribute("class")
        box = marker.bounding_box()
        v = p.version()
        p.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        p.page.mouse.down()
        p.page.mouse.move(box["x"] + 60, box["y"] - 40, steps=8)
        p.page.mouse.up()
        p.wait_version(v + 1)
        assert [c["action"] for c in ws.changes] == ["move"] and ws.changes[0]["id"] == "T3"
        moved = ws.city.facilities.set_index("facility_id").loc["T3"]
        assert moved["location_quality"] == "exact" and abs(moved["lon"] - 122.015) > 1e-3
        # hover the hostile hospital: its name shows as text
        p.page.hover(".fac[data-facility-id='T2']")
        tip = p.page.locator(".leaflet-tooltip", has_text="T2 ·")
        tip.wait_for(timeout=5_000)
        assert HOSTILE_NAME in tip.inner_text()
        assert p.page.locator(".leaflet-tooltip script, .leaflet-tooltip img").count() == 0
        p.page.mouse.move(5, 5)
        # lasso: Shift + drag a small outline around one unit's centre paints that unit
        target = next(u for u in ws.unit_ids[ws.labels == "甲区"] if u not in units
                      and ws.unit_index([u])[0] not in set(ws.live.job.fac_unit.tolist()))
        c = p.page.evaluate("(id) => window.caregridApp.unitPoint(id)", target)
        v = p.version()
        p.page.select_option("#grid-select", "乙区")
        p.page.keyboard.down("Shift")
        p.page.mouse.move(c["x"] - 10, c["y"] - 10)
        p.page.mouse.down()
        for dx, dy in ((10, -10), (10, 10), (-10, 10), (-10, -10)):
            p.page.mouse.move(c["x"] + dx, c["y"] + dy, steps=3)
        p.page.mouse.up()
        p.page.keyboard.up("Shift")
        p.wait_version(v + 1)
        assert ws.undo_stack[-1]["units"] == [target] and ws.labels[ws.unit_index([target])[0]] == "乙区"
        p.page.click("#undo")
        p.wait_version(v + 2)
        # brush radius (Districtr's brush): one click paints the units around the pointer too
        p.page.evaluate("document.getElementById('brush').value = '80'")
        v = p.version()
        p.page.mouse.move(c["x"], c["y"])
        p.page.mouse.down()
        p.page.mouse.up()
        p.wait_version(v + 1)
        assert len(ws.undo_stack[-1]["units"]) >= 3 and target in ws.undo_stack[-1]["units"]
        p.page.click("#undo")
        p.wait_version(v + 2)
        p.page.evaluate("document.getElementById('brush').value = '0'")
        # Alt + click: the whole district
        v = p.version()
        p.page.keyboard.down("Alt")
        p.page.mouse.move(c["x"], c["y"])
        p.page.mouse.down()
        p.page.mouse.up()
        p.page.keyboard.up("Alt")
        p.wait_version(v + 1)
        assert set(ws.labels) == {"乙区"}
        p.page.click("#undo")
        p.wait_version(v + 2)
        assert set(ws.labels) == {"甲区", "乙区"}
        # a what-if change from the page: select a facility, close it, undo
        p.page.click(".fac[data-facility-id='S3']")
        assert "甲区中西医结合医院" in p.page.inner_text("#facility-info")
        v = p.version()
        p.page.click("#facility-close")
        p.wait_version(v + 1)
        assert ws.changes[-1]["action"] == "close" and ws.changes[-1]["id"] == "S3"
        assert p.page.locator(".fac[data-facility-id='S3']").count() == 0
        p.page.click("#undo")
        p.wait_version(v + 2)
        assert [c["action"] for c in ws.changes] == ["move"]
        # convert S3's kind, then add a planned centre (named like markup) at the map centre; undo both
        p.page.click(".fac[data-facility-id='S3']")
        p.page.select_option("#facility-kind", "tcm")
        v = p.version()
        p.page.click("#facility-kind-apply")
        p.wait_version(v + 1)
        assert ws.changes[-1] == {"action": "change", "id": "S3", "kind": "tcm", "label": "change_S3"}
        p.page.select_option("#facility-main", "T1")
        p.page.click("#facility-link-apply")
        p.wait_version(v + 2)
        assert ws.changes[-1] == {"action": "link", "ids": ["T1", "S3"], "label": "link_T1"}
        p.page.click("#undo")
        p.wait_version(v + 3)
        v += 2
        p.page.fill("#new-facility-name", "<b>新</b>社区中心${x}")
        p.page.select_option("#new-facility-level", "primary")
        p.page.select_option("#new-facility-kind", "community_health_centre")
        p.page.click("#add-facility")
        p.wait_version(v + 2)
        added = p.page.locator(".fac[data-facility-id='APP-1']")
        assert "approx" in added.get_attribute("class")  # a planner's assumption is marked "place me"
        assert "<b>新</b>社区中心${x}" in p.page.inner_text("#facility-info")
        assert ws.city.facilities.set_index("facility_id").at["APP-1", "location_quality"] == "modelled"
        p.page.click("#undo")
        p.wait_version(v + 3)
        p.page.click("#undo")
        p.wait_version(v + 4)
        assert [c["action"] for c in ws.changes] == ["move"]
        # repair a grid without a lead: progress, then the result
        p.page.click("#new-grid-name")
        p.page.fill("#new-grid-name", "无牵头")
        p.page.click("#new-grid")
        v = p.version()
        p.paint(units)
        p.wait_version(v + 1)
        assert "无牵头" in ws.grids
        p.page.click("#solve-repair")
        p.page.wait_for_function("document.body.dataset.job === 'done'", timeout=60_000)
        assert "repair" in p.page.inner_text("#job-status")
        p.page.wait_for_function("!Array.from(document.querySelectorAll('#grid-select option'))"
                                 ".some(o => o.value === '无牵头')", timeout=10_000)
        assert "无牵头" not in ws.grids
        kept = ws.labels.copy()
        # reload: every edit is kept
        p.page.reload(wait_until="load")
        p.page.wait_for_function("document.body.dataset.ready === 'true'", timeout=30_000)
        assert (Workspace.open(ws.folder).labels == kept).all()
        shown = p.page.evaluate("Array.from(window.caregridApp.units, ([id, u]) => [id, u.grid_id])")
        assert dict(shown) == dict(zip(ws.unit_ids, kept, strict=True))
        # export, then the independent verifier
        p.page.fill("#export-name", "browser_export")
        p.page.click("#export")
        p.page.wait_for_function("document.body.dataset.exported", timeout=120_000)
        assert verify_run(ws.folder / "browser_export") == []
        assert p.outside == [], p.outside
        assert p.dialogs == [] and p.errors == [], (p.dialogs, p.errors)
    finally:
        p.close()
