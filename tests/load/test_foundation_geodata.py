"""Provenance and consistency of the embedded geodata (facilities, modelled primary care, districts, SOURCES.md)."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely
from conftest import GEODATA, read_rows

from simulator.load.readers import read_facilities
from simulator.load.validate import LOCATION_QUALITIES

CITIES = ("fuxin", "panjin")
FACILITY_FILES = [f"{c}/{name}" for c in CITIES for name in ("facilities.csv", "primary_care_modelled.csv")]
FACILITY_FILES.append("liaoning/collaborating_units.csv")


@pytest.fixture(scope="module")
def polygons():
    out = {}
    for city in CITIES:
        gdf = gpd.read_file(GEODATA / city / "boundaries.geojson")
        out.update(dict(zip(gdf["adcode"].astype(str), gdf.geometry, strict=True)))
    return out


@pytest.mark.parametrize("name", FACILITY_FILES)
def test_every_row_has_a_source(name):
    rows = read_rows(GEODATA / name)
    assert rows, f"{name} is empty"
    blank = [r["facility_id"] for r in rows if not r.get("source", "").strip()]
    assert not blank, f"{name}: rows without a source: {blank}"


@pytest.mark.parametrize("name", FACILITY_FILES)
def test_beds_status_is_fact_estimate_or_gap(name):
    for r in read_rows(GEODATA / name):
        status = r["beds_status"].strip()
        fid = r["facility_id"]
        if r["beds"].strip() == "":
            assert status.startswith("gap"), f"{name} {fid}: beds empty but beds_status {status!r}"
        else:
            assert float(r["beds"]) >= 0
            assert re.match(r"^(fact|estimate)\b", status), f"{name} {fid}: beds given but beds_status {status!r}"


@pytest.mark.parametrize("name", FACILITY_FILES)
def test_facility_files_load_and_have_known_location_quality(name):
    gdf = read_facilities(GEODATA / name, "EPSG:4326")
    assert gdf["facility_id"].is_unique
    assert set(gdf["location_quality"]) <= set(LOCATION_QUALITIES)
    assert len(gdf) == len(read_rows(GEODATA / name))


@pytest.mark.parametrize("city", CITIES)
def test_modelled_rows_are_marked_modelled(city):
    rows = read_rows(GEODATA / city / "primary_care_modelled.csv")
    assert rows
    for r in rows:
        assert r["modelled"].strip().lower() == "true", r["facility_id"]
        assert r["location_quality"] == "modelled", r["facility_id"]
        assert r["kind"] in ("community_health_centre", "township_hospital"), r["facility_id"]
        assert "MODELLED" in r["source"] or "modelled" in r["source"].lower(), r["facility_id"]
    # and no real facility is marked modelled
    for r in read_rows(GEODATA / city / "facilities.csv"):
        assert r.get("modelled", "false").strip().lower() == "false", r["facility_id"]
        assert r["location_quality"] != "modelled", r["facility_id"]


def test_collaborating_units_are_external():
    for r in read_rows(GEODATA / "liaoning" / "collaborating_units.csv"):
        assert r["in_city"] == "false", r["facility_id"]
        assert r["district"] == "", r["facility_id"]


@pytest.mark.parametrize("name", [n for n in FACILITY_FILES if not n.startswith("liaoning")])
def test_in_city_facility_lies_in_its_district(polygons, name):
    city = name.split("/")[0]
    codes = {r["adcode"] for r in read_rows(GEODATA / city / "districts.csv")}
    checked = 0
    for r in read_rows(GEODATA / name):
        if r["in_city"].strip().lower() != "true":
            continue
        assert r["district"] in codes, f"{name} {r['facility_id']}: district {r['district']!r} not in {city}"
        pt = shapely.Point(float(r["lon"]), float(r["lat"]))
        assert polygons[r["district"]].contains(pt), f"{name} {r['facility_id']} outside district {r['district']}"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("city", CITIES)
def test_district_seat_inside_its_polygon(polygons, city):
    rows = read_rows(GEODATA / city / "districts.csv")
    for r in rows:
        pt = shapely.Point(float(r["seat_lon"]), float(r["seat_lat"]))
        assert polygons[r["adcode"]].contains(pt), f"{city} {r['adcode']} {r['name']}: seat outside its polygon"
        # and in no other district
        others = [a for a, g in polygons.items() if a != r["adcode"] and g.contains(pt)]
        assert not others


@pytest.mark.parametrize("city", CITIES)
def test_district_population_is_positive_and_sourced(city):
    rows = read_rows(GEODATA / city / "districts.csv")
    for r in rows:
        assert int(r["population_2020"]) > 0
        assert r["population_source"].strip(), r["adcode"]
        assert r["population_status"].strip(), r["adcode"]


@pytest.mark.parametrize("folder", sorted(p.name for p in GEODATA.iterdir() if p.is_dir()))
def test_every_data_file_is_named_in_sources_md(folder):
    here = GEODATA / folder
    sources = here / "SOURCES.md"
    assert sources.exists(), f"{sources} missing"
    text = sources.read_text(encoding="utf-8")
    data_files = sorted(p.name for p in here.iterdir() if p.is_file() and p.suffix not in (".md", ".py"))
    assert data_files
    # the exact file name, not part of a longer one (facilities.csv ≠ facilities_curated.csv)
    missing = [n for n in data_files if not re.search(r"(?<![\w.-])" + re.escape(n) + r"(?!\w)", text)]
    assert not missing, f"{sources} does not name: {', '.join(missing)}"
