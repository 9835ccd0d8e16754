"""The report's targets page: statuses per scope, sources quoted, names escaped, example data marked."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd

from simulator.config.targets import load_targets
from simulator.evaluate.targets_table import targets_table
from simulator.render.targets_page import targets_context
from simulator.render.templating import render
from simulator.runfolder import schema as s
from simulator.runfolder.writer import write_csv

HOSTILE = '<script>alert(1)</script>"区'


def _run(tmp_path, facilities_files, stations=True):
    figures = pd.DataFrame({
        "scope": ["grid", "district", "city"], "scope_id": ["G1", "211102", "city"],
        "scope_name": ["G1", HOSTILE, "city"], "population": [60000.0, 60000.0, 60000.0],
        "ambulances": [3.0, 3.0, 3.0], "ambulances_required": [2.0, 2.0, 2.0], "ambulances_per_30000": [1.5, 1.5, 1.5],
        "ambulances_negative_pressure": [np.nan] * 3, "ambulances_negative_pressure_required": [1.0] * 3,
        "ambulance_negative_pressure_share": [np.nan] * 3, "aeds": [np.nan] * 3, "aeds_required": [6.0] * 3,
        "aeds_per_10000": [np.nan] * 3, "nurses_per_doctor": [np.nan] * 3,
        "chest_pain_centres": [np.nan, 0.0, 0.0], "chest_pain_share_within": [0.5, 0.5, 0.5],
    })
    write_csv(figures, tmp_path / s.EMERGENCY_CSV)
    write_csv(targets_table(load_targets(), figures), tmp_path / s.TARGETS_CSV)
    record = {"scenario": {"inputs": {"facilities": facilities_files}, "ems": {"centre_minutes": 30.0}},
              "targets": {"id": "liaoning-2023"}}
    if stations:
        write_csv(pd.DataFrame({"station_id": ["S1"], "status": ["existing"], "facility_id": ["F1"], "name": [HOSTILE],
                                "lon": [122.0], "lat": [41.0], "residents_within": [1234.0], "unit_id": ["u1"],
                                "grid_id": ["G1"], "district": ["211102"], "location_quality": ["district_seat"]}),
                  tmp_path / s.EMS_STATIONS_CSV)
        record["ems"] = {"model": "maximal_covering", "minutes": 12.0, "new_stations": 0, "existing_stations": 1,
                         "covered_share": 0.25, "covered_share_existing": 0.25, "status": "optimal"}
    (tmp_path / s.RUN_JSON).write_text(json.dumps(record), encoding="utf-8")
    return SimpleNamespace(path=tmp_path, record=record, scenario=record["scenario"])


def _page(run) -> str:
    return render("targets_page.html.j2", targets_page=targets_context(run))


def test_statuses_sources_and_escaping(tmp_path):
    html = _page(_run(tmp_path, ["facilities.csv"]))
    amb = re.search(r"data-target='ems.ambulances'>(.*?)</tr>", html, re.S).group(1)
    assert amb.count("data-status='passed'") == 3  # 1.5 per 30,000 at every scope
    assert "每3万人口配置1辆救护车,其中至少40%为负压救护车" in amb
    aeds = re.search(r"data-target='ems.aeds'>(.*?)</tr>", html, re.S).group(1)
    assert aeds.count("data-status='no_data'") == 3 and "failed" not in aeds
    # the five centres are judged per district and city, not per grid: a dash, no status, in the grid column
    chest = re.search(r"data-target='centres.chest_pain'>(.*?)</tr>", html, re.S).group(1)
    assert chest.count("data-status='failed'") == 2 and "—" in chest
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;&#34;区" in html
    assert "cg-example" not in html
    station = re.search(r"data-station='S1'>(.*?)</tr>", html, re.S).group(1)
    assert "1,234" in station and "approximate location" in station  # a district-seat location says so


def test_example_statistics_are_marked(tmp_path):
    html = _page(_run(tmp_path, ["../../scenarios/x/facilities_EXAMPLE_made_up_statistics.csv", "other.csv"],
                      stations=False))
    banner = re.search(r"<p class='verdict bad cg-example'>(.*?)</p>", html, re.S).group(1)
    assert "EXAMPLE figures made up for illustration" in banner and "facilities_EXAMPLE_made_up_statistics" in banner
    assert "other.csv" not in banner and "cg-station" not in html


def test_a_folder_without_targets_gets_no_page(tmp_path):
    run = SimpleNamespace(path=tmp_path, record={}, scenario={})
    assert targets_context(run) == {"has_targets": False}
    assert "cg-targets" not in _page(run)


def test_stations_map_layer_escapes_names(tmp_path):
    """The map's stations layer: one marker per station, names shown as text (HTML, JS template literal, jinja)."""
    import folium

    from simulator.render.ems_layer import draw_stations

    hostile = "<script>alert(1)</script>{{ 7*7 }}`${1+1}`"
    write_csv(pd.DataFrame({"station_id": ["S1", "S2"], "status": ["existing", "new"], "facility_id": ["F1", ""],
                            "name": [hostile, ""], "lon": [122.0, 122.1], "lat": [41.0, 41.1],
                            "residents_within": [1234.0, 99.0]}), tmp_path / s.EMS_STATIONS_CSV)
    m = folium.Map(location=[41, 122], zoom_start=9)
    assert draw_stations(m, SimpleNamespace(path=tmp_path)) == 2
    html = m.get_root().render()
    assert html.count("cg-station-existing") == 1 and html.count("cg-station-new") == 1
    assert "<script>alert(1)" not in html and "${1+1}" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#123;&#123; 7*7 &#125;&#125;&#96;&#36;&#123;1+1&#125;&#96;" in html
    # no stations file (a run without siting): no layer
    assert draw_stations(folium.Map(), SimpleNamespace(path=tmp_path / "none")) == 0
