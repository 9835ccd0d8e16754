"""The plan layers in map.html and report.html: shared-centre hosts as a map layer with escaped popups, and the
report section (shared centres, equity by district, service lines, family doctors) read from the run folder."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.render.plan_layers import centre_hosts
from simulator.render.report import report_context
from simulator.runfolder import schema as s
from simulator.runfolder.reader import read_run


def test_hosts_drawn_are_those_of_shared_centres_csv(run_dir):
    table = pd.read_csv(run_dir / s.SHARED_CENTRES_CSV, dtype={"host_facility_id": str})
    hosts = centre_hosts(read_run(run_dir))
    assert {h["facility_id"] for h in hosts} == set(table["host_facility_id"].dropna())
    for h in hosts:
        mine = table[table["host_facility_id"] == h["facility_id"]]
        assert {c["centre_kind"] for c in h["centres"]} == set(mine["centre_kind"])
    page = (run_dir / s.MAP_HTML).read_text(encoding="utf-8")
    assert page.count("cg-centre-host") == len(hosts)


def test_report_section_reads_the_tables(run_dir):
    ctx = report_context(read_run(run_dir, required=s.REQUIRED_COMPLETE))["plan_layers"]
    table = pd.read_csv(run_dir / s.SHARED_CENTRES_CSV)
    assert len(ctx["centres"]) == len(table)
    district = pd.read_csv(run_dir / s.INDICATORS_DISTRICT_CSV, dtype={"part_id": str})
    assert [r["part_id"] for r in ctx["equity"]] == list(district["part_id"])
    assert len(ctx["family_doctors"]) == 2 and "国发〔2011〕23号" in ctx["norm_sources"][0]
    html = (run_dir / s.REPORT_HTML).read_text(encoding="utf-8")
    for marker in ("cg-centres", "cg-equity", "cg-service-lines", "cg-family-doctors"):
        assert f"class='{marker}'" in html


def test_hostile_host_names_are_text_in_the_popup_and_the_report(hostile_run, hostile_names, open_page, map_ready):
    seen = open_page(hostile_run / "map.html", map_ready)
    page = seen.page
    page.locator(".leaflet-control-layers-overlays label", has_text="Shared centres").locator("input").click()
    page.wait_for_function("document.querySelectorAll('path.cg-centre-host').length > 0")
    rings = page.locator("path.cg-centre-host")
    hosts = [h["facility_id"] for h in centre_hosts(read_run(hostile_run))]
    assert rings.count() == len(hosts)
    shown = []
    for i in range(rings.count()):
        page.evaluate("document.querySelectorAll('.leaflet-popup').forEach(p => p.remove())")
        rings.nth(i).dispatch_event("click")
        page.wait_for_function("document.querySelector('.leaflet-popup-content .cg-centre-popup') !== null")
        shown.append(page.inner_text(".leaflet-popup-content"))
    assert sorted(next(h for h in hosts if h in t) for t in shown) == sorted(hosts)
    text = "\n".join(shown)
    for name in hostile_names:
        assert name in text, (name, text)
    assert "盘锦49医院" not in text and "Medical laboratory centre" in text
    assert seen.dialogs == [] and seen.errors == [], (seen.dialogs, seen.errors)
    report = open_page(hostile_run / "report.html", "document.querySelector('h1') !== null")
    body = report.page.inner_text("section.cg-centres")
    assert all(name in body for name in hostile_names)
    assert report.dialogs == [] and report.page.evaluate("document.scripts.length") == 0


def test_compare_shows_the_gini_of_travel_minutes(run_dir):
    from simulator.compare import compare_runs

    cmp = compare_runs([run_dir, run_dir])
    row = cmp.table.set_index("indicator").loc["travel_gini"]
    city = pd.read_csv(run_dir / s.INDICATORS_CSV).set_index("grid_id").loc["city", "travel_gini"]
    assert 0 < city < 1
    assert [float(row[n]) for n in cmp.names] == pytest.approx([city, city])
