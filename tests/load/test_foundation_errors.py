"""Bad input gets a clear error: file, row/feature, field and what was expected (InputError)."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from conftest import FACILITY_FIELDS, FACILITY_ROWS, GEODATA, write_csv
from shapely.geometry import box

from simulator.config.scenario import load_scenario
from simulator.errors import InputError
from simulator.load.city import load_city
from simulator.load.readers import (
    check_facilities_in_area,
    read_boundaries,
    read_districts,
    read_facilities,
    read_facility_files,
    read_population_raster,
    read_vector,
)
from simulator.load.validate import InputWarning
from simulator.plan.precheck import check_solver_names
from simulator.units.population import aggregate_population

# --------------------------------------------------------------------------------------------- facility tables


def test_missing_column_names_file_column_and_expected_columns(facility_csv):
    fields = [f for f in FACILITY_FIELDS if f != "kind"]
    path = facility_csv(fields=fields)
    with pytest.raises(InputError, match=r"missing column\(s\) kind in the facilities table") as ei:
        read_facilities(path, "EPSG:4326")
    exc = ei.value
    assert exc.path == str(path)
    assert exc.field == "kind"
    assert exc.row is None  # a whole column is missing, not one row
    # the message names the file and lists what was expected and what was found
    assert str(path) in str(exc)
    assert "expected at least facility_id, name, level, kind" in str(exc)
    assert "found " + ", ".join(fields) in str(exc)


def test_two_missing_columns_are_both_named(facility_csv):
    path = facility_csv(fields=[f for f in FACILITY_FIELDS if f not in ("level", "kind")])
    with pytest.raises(InputError, match=r"missing column\(s\) level, kind") as ei:
        read_facilities(path, "EPSG:4326")
    assert ei.value.field == "level"


@pytest.mark.parametrize(
    ("column", "bad", "allowed"),
    [
        ("level", "quaternary", "tertiary (三级), secondary (二级), primary (一级), unrated (未定级)"),
        (
            "kind",
            "spa",
            "general (综合), tcm (中医), integrated (中西医结合), maternal_child (妇幼保健), specialty (专科), "
            "rehab (康复), nursing (护理), hospice (安宁疗护), public_health (疾控), "
            "community_health_centre (社区卫生服务中心), township_hospital (乡镇卫生院)",
        ),
    ],
)
def test_unknown_choice_names_row_field_and_allowed_values(facility_csv, column, bad, allowed):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[1][column] = bad
    path = facility_csv(rows=rows)
    with pytest.raises(InputError, match=rf"unknown value '{bad}'; expected one of {re.escape(allowed)}") as ei:
        read_facilities(path, "EPSG:4326")
    exc = ei.value
    assert (exc.path, exc.row, exc.field) == (str(path), "row 2", column)
    assert str(exc).startswith(f"{path}: row 2: field '{column}': ")


def test_level_and_kind_are_case_insensitive(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[0]["level"], rows[0]["kind"] = " Tertiary ", "GENERAL"
    gdf = read_facilities(facility_csv(rows=rows), "EPSG:4326")
    assert gdf["level"].tolist() == ["tertiary", "secondary"]
    assert gdf["kind"].tolist() == ["general", "tcm"]



def test_blank_level_is_reported_as_missing(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[1]["level"] = ""
    path = facility_csv(rows=rows)
    with pytest.raises(InputError) as ei:
        read_facilities(path, "EPSG:4326")
    assert (ei.value.row, ei.value.field) == ("row 2", "level")
    assert "nan" not in str(ei.value)
    assert "missing" in str(ei.value)


def test_duplicate_id_within_one_file_names_both_rows(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS] + [dict(FACILITY_ROWS[0], name="重复")]
    path = facility_csv(rows=rows)
    with pytest.raises(InputError, match=r"duplicate id 'T-1' \(first seen at row 1\); ids must be unique") as ei:
        read_facilities(path, "EPSG:4326")
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(path), "row 3", "facility_id")


def test_duplicate_id_across_two_files_names_the_other_file(facility_csv):
    a = facility_csv("a.csv")
    b = facility_csv("b.csv", rows=[dict(FACILITY_ROWS[1], facility_id="T-9"), dict(FACILITY_ROWS[0])])
    with pytest.raises(InputError, match=r"duplicate id 'T-1' \(first seen in a\.csv, row 1\)") as ei:
        read_facility_files([a, b], "EPSG:4326")
    assert ei.value.path == str(b)
    assert ei.value.field == "facility_id"


def test_ids_unique_across_files_load_together(facility_csv):
    a = facility_csv("a.csv")
    b = facility_csv("b.csv", rows=[dict(FACILITY_ROWS[0], facility_id="T-9")])
    gdf = read_facility_files([a, b], "EPSG:4326")
    assert gdf["facility_id"].tolist() == ["T-1", "T-2", "T-9"]
    assert gdf["source_file"].tolist() == ["a.csv", "a.csv", "b.csv"]



def test_duplicate_id_across_files_names_the_file_and_row_it_is_in(facility_csv):
    a = facility_csv("a.csv")
    b = facility_csv("b.csv", rows=[dict(FACILITY_ROWS[1], facility_id="T-8"), dict(FACILITY_ROWS[0])])
    c = facility_csv("c.csv", rows=[dict(FACILITY_ROWS[0], facility_id="T-9")])
    with pytest.raises(InputError, match="T-1") as ei:
        read_facility_files([a, b, c], "EPSG:4326")
    assert ei.value.path == str(b)  # the duplicate is in b.csv, not in the last file c.csv
    assert ei.value.row == "row 2"


# ------------------------------------------------------------------------------------------------- geometries


def _feature_collection(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _feature(adcode, geometry):
    return {"type": "Feature", "properties": {"adcode": adcode, "name": f"区{adcode}"}, "geometry": geometry}


def _square(x0, y0, s):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s], [x0, y0]]]}


def test_bow_tie_polygon_is_repaired_with_a_warning(tmp_path):
    s = 0.1
    bow = {
        "type": "Polygon",
        "coordinates": [[[121.0, 41.0], [121.0 + s, 41.0 + s], [121.0 + s, 41.0], [121.0, 41.0 + s], [121.0, 41.0]]],
    }
    path = _feature_collection(tmp_path / "b.geojson", [_feature("1", _square(120.0, 41.0, s)), _feature("2", bow)])
    assert not shapely.geometry.shape(bow).is_valid
    with pytest.warns(InputWarning, match=r"feature 1: repaired invalid geometry \(Self-intersection") as rec:
        gdf = read_boundaries(path, "EPSG:4326")
    assert str(path) in str(rec[0].message)
    fixed = gdf.geometry.iloc[1]
    assert fixed.is_valid
    assert fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    # two triangles meeting at the crossing point: half the square's area (degrees²), centred on the square
    assert fixed.area == pytest.approx(s * s / 2, rel=1e-12)
    assert fixed.centroid.x == pytest.approx(121.0 + s / 2) and fixed.centroid.y == pytest.approx(41.0 + s / 2)
    assert gdf.geometry.iloc[0].equals(shapely.geometry.shape(_square(120.0, 41.0, s)))  # valid one untouched


@pytest.mark.parametrize("geometry", [None, {"type": "Polygon", "coordinates": []}], ids=["null", "empty"])
def test_empty_geometry_is_an_error(tmp_path, geometry):
    path = _feature_collection(
        tmp_path / "b.geojson", [_feature("1", _square(120.0, 41.0, 0.1)), _feature("2", geometry)]
    )
    with pytest.raises(InputError, match="empty or missing geometry in the boundaries") as ei:
        read_boundaries(path, "EPSG:4326")
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(path), "feature 1", "geometry")


def test_point_in_boundaries_is_an_error(tmp_path):
    path = _feature_collection(tmp_path / "b.geojson", [_feature("1", {"type": "Point", "coordinates": [121.0, 41.0]})])
    with pytest.raises(InputError, match="expected a Polygon or MultiPolygon in the boundaries, found Point") as ei:
        read_boundaries(path, "EPSG:4326")
    assert (ei.value.row, ei.value.field) == ("feature 0", "geometry")


# ------------------------------------------------------------------------------------ facility outside the city

CITY = gpd.GeoDataFrame({"adcode": ["1"], "name": ["城"]}, geometry=[box(121.0, 41.0, 121.1, 41.1)], crs="EPSG:4326")
GEOD = pyproj.Geod(ellps="WGS84")


def _lon_at_distance(km: float, lat: float = 41.05) -> float:
    """Longitude east of the city's east edge (121.1°) at ``km`` geodesic distance."""
    lon, _, _ = GEOD.fwd(121.1, lat, 90.0, km * 1000)
    return lon


def test_facility_outside_city_names_facility_and_distance(facility_csv):
    lon = _lon_at_distance(5.03)
    rows = [
        dict(FACILITY_ROWS[0], lon="121.05", lat="41.05"),
        dict(FACILITY_ROWS[1], facility_id="F-OUT", name="城外医院", lon=f"{lon:.6f}", lat="41.05"),
    ]
    path = facility_csv(rows=rows)
    fac = read_facilities(path, "EPSG:4326")
    with pytest.raises(InputError, match=r"facility F-OUT \(城外医院\) at lon .* lies 5\.0 km outside the city") as ei:
        check_facilities_in_area(fac, CITY, path)
    assert ei.value.path == str(path)
    assert ei.value.row == "row 2"
    assert ei.value.field == "lon/lat"
    assert "in_city = false" in str(ei.value)  # says how to mark an external unit


@pytest.mark.parametrize(("km", "raises"), [(0.1, False), (0.35, True)])
def test_outside_tolerance_is_200_m(facility_csv, km, raises):
    rows = [dict(FACILITY_ROWS[0], lon=f"{_lon_at_distance(km):.6f}", lat="41.05")]
    path = facility_csv(rows=rows)
    fac = read_facilities(path, "EPSG:4326")
    if raises:
        with pytest.raises(InputError, match=r"lies 0\.3 km outside"):
            check_facilities_in_area(fac, CITY, path)
    else:
        check_facilities_in_area(fac, CITY, path)


def test_external_facility_far_away_is_allowed(facility_csv):
    rows = [dict(FACILITY_ROWS[0], lon="123.42", lat="41.77", in_city="false")]
    path = facility_csv(rows=rows)
    fac = read_facilities(path, "EPSG:4326")
    assert not fac["in_city"].iloc[0]
    check_facilities_in_area(fac, CITY, path)  # no error: external collaborating units are exempt



def test_facility_outside_city_names_its_own_file(tmp_path, facility_csv):
    good = facility_csv("good.csv")
    bad = facility_csv("bad.csv", rows=[dict(FACILITY_ROWS[0], facility_id="F-OUT", lon="125.0", lat="41.0")])
    other = facility_csv("other.csv", rows=[dict(FACILITY_ROWS[0], facility_id="T-7")])
    scen = _scenario(
        tmp_path,
        f"""
[inputs]
facilities = ["{good}", "{bad}", "{other}"]
facilities_crs = "EPSG:4326"
""",
    )
    with pytest.raises(InputError, match="F-OUT") as ei:
        load_city(load_scenario(scen))
    assert ei.value.path == str(bad)


# ----------------------------------------------------------------------------------------------- district table


def _district_rows():
    return [
        {"adcode": "1", "name": "甲区", "type": "district", "population_2020": "1000"},
        {"adcode": "2", "name": "乙区", "type": "district", "population_2020": "2000"},
        {"adcode": "3", "name": "丙县", "type": "county", "population_2020": "3000"},
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", r"negative value -5(\.0)?; expected a number ≥ 0"),
        ("", r"missing value; expected a number ≥ 0"),
        ("many", r"expected a number, found 'many'"),
    ],
)
def test_bad_district_population(tmp_path, value, message):
    rows = _district_rows()
    rows[1]["population_2020"] = value
    path = write_csv(tmp_path / "districts.csv", rows)
    with pytest.raises(InputError, match=message) as ei:
        read_districts(path)
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(path), "row 2", "population_2020")


def test_good_district_table_reads_exact_populations(tmp_path):
    path = write_csv(tmp_path / "districts.csv", _district_rows())
    df = read_districts(path)
    assert df["population_2020"].tolist() == [1000, 2000, 3000]
    assert df["urban"].tolist() == [True, True, False]  # default: districts are urban, counties not


# ----------------------------------------------------------------------------------------- planner population


def test_negative_value_in_planner_population_file(tmp_path, grid3x3):
    pts = gpd.GeoDataFrame(
        {"population": [10.0, -3.0, 5.0]},
        geometry=gpd.points_from_xy([121.605, 121.615, 121.625], [41.905] * 3),
        crs="EPSG:4326",
    )
    path = tmp_path / "pop.geojson"
    pts.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match=r"negative value -3\.0; expected a number ≥ 0") as ei:
        aggregate_population(grid3x3["units"], path, None, "population")
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(path), "feature 1", "population")


def test_missing_population_field_in_planner_file(tmp_path, grid3x3):
    pts = gpd.GeoDataFrame({"residents": [10.0]}, geometry=gpd.points_from_xy([121.605], [41.905]), crs="EPSG:4326")
    path = tmp_path / "pop.geojson"
    pts.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match=r"missing column 'population'.*found residents") as ei:
        aggregate_population(grid3x3["units"], path, None, "population")
    assert ei.value.field == "population"


def _write_raster(path, values, crs="EPSG:4326"):
    import rasterio
    from affine import Affine

    values = np.asarray(values, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=Affine(0.01, 0.0, 121.6, 0.0, -0.01, 41.93),
    ) as dst:
        dst.write(values, 1)
    return path


def test_negative_value_in_raster(tmp_path, grid3x3):
    path = _write_raster(tmp_path / "pop.tif", [[1, 2, 3], [4, 5, -7], [7, 8, 9]])
    with pytest.raises(InputError, match=r"negative population -7\.0 in raster cell \(row 1, col 2\)") as ei:
        read_population_raster(path)
    assert (ei.value.path, ei.value.field) == (str(path), "band 1")
    with pytest.raises(InputError, match=r"negative population"):
        aggregate_population(grid3x3["units"], path, None)


def test_raster_without_crs_is_an_error(tmp_path):
    path = _write_raster(tmp_path / "pop.tif", [[1, 2], [3, 4]], crs=None)
    with pytest.raises(InputError, match="declares no CRS and none was given; set population_crs") as ei:
        read_population_raster(path)
    assert ei.value.field == "crs"


# ------------------------------------------------------------------------------------------------------ CRS


def test_csv_without_crs_says_to_set_one(facility_csv):
    path = facility_csv()
    for reader in (read_vector, read_facilities):
        with pytest.raises(InputError, match=r"no coordinate reference system.*set e\.g\. crs = 'EPSG:4326'") as ei:
            reader(path, None)
        assert (ei.value.path, ei.value.field) == (str(path), "crs")
        assert "gcj02" in str(ei.value) and "bd09" in str(ei.value)


@pytest.mark.parametrize("crs", ["EPSG:999999", "not-a-crs"])
def test_unknown_crs_string(facility_csv, crs):
    path = facility_csv()
    with pytest.raises(InputError, match=rf"unknown CRS '{crs}'; expected an EPSG code.*'gcj02' or 'bd09'") as ei:
        read_facilities(path, crs)
    assert (ei.value.path, ei.value.field) == (str(path), "crs")


def test_non_numeric_coordinate_names_row_and_column(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[1]["lat"] = "北纬42"
    path = facility_csv(rows=rows)
    with pytest.raises(InputError, match="missing or non-numeric coordinate '北纬42'; expected a number") as ei:
        read_facilities(path, "EPSG:4326")
    assert (ei.value.row, ei.value.field) == ("row 2", "lat")


# ------------------------------------------------------------------------------------------------- scenarios


def _scenario(tmp_path, body: str, data=GEODATA / "fuxin", name="s.toml"):
    text = f'name = "t"\ncity = "fuxin"\ndata = "{data}"\n' + body
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


TOP_KEYS = (
    "name, city, data, districts, rules, targets, output, description, changes, inputs, units, population_model, "
    "grids, travel, solver, plan, ensemble, ems"
)


def test_unknown_top_level_key_lists_allowed_keys(tmp_path):
    path = _scenario(tmp_path, "gird_count = 3\n")
    with pytest.raises(InputError, match="unknown key 'gird_count' in the scenario's top level") as ei:
        load_scenario(path)
    assert (ei.value.path, ei.value.field) == (str(path), "gird_count")
    assert f"allowed keys: {TOP_KEYS}" in str(ei.value)


def test_unknown_key_in_section_lists_allowed_keys(tmp_path):
    path = _scenario(tmp_path, '[solver]\ncontiguty = "fast"\n')
    with pytest.raises(InputError, match=r"unknown key 'contiguty' in \[solver\]") as ei:
        load_scenario(path)
    assert ei.value.field == "contiguty"
    assert "allowed keys: name, time_limit_s, gap, threads, contiguity, objective, candidate_k" in str(ei.value)


def test_bad_choice_names_key_and_choices(tmp_path):
    path = _scenario(tmp_path, '[units]\nkind = "squares"\n')
    with pytest.raises(InputError, match=r"units\.kind = 'squares'; expected one of h3, polygons") as ei:
        load_scenario(path)
    assert (ei.value.path, ei.value.field) == (str(path), "kind")
    # solver names are the optimiser's registry keys, checked by the plan stage (tests/optimise/test_registry.py)
    path = _scenario(tmp_path, '[solver]\ncontiguity = "foo"\n', name="t.toml")
    with pytest.raises(InputError, match=r"solver\.contiguity = 'foo'; expected one of exact, fast, flow, none") as ei:
        check_solver_names(load_scenario(path))
    assert (ei.value.path, ei.value.field) == (str(path), "solver.contiguity")


def test_wrong_type_is_an_input_error(tmp_path):
    path = _scenario(tmp_path, '[units]\nresolution = "8"\n')
    with pytest.raises(InputError, match="resolution") as ei:
        load_scenario(path)
    assert ei.value.field in ("resolution", "units.resolution")


def test_unknown_district_adcode(tmp_path):
    path = _scenario(tmp_path, 'districts = ["210902", "210999"]\n')
    scenario = load_scenario(path)  # the adcode is checked against the data folder when the city loads
    with pytest.raises(
        InputError,
        match=r"unknown district adcode\(s\) 210999; the data folder has 210902 海州区, "
        r"210903 新邱区",
    ) as ei:
        load_city(scenario)
    assert (ei.value.path, ei.value.field) == (str(path), "districts")


def test_known_district_list_selects_exactly_those(tmp_path):
    scenario = load_scenario(_scenario(tmp_path, 'districts = ["210905", "210902"]\n'))
    city = load_city(scenario)
    assert city.area["adcode"].tolist() == ["210902", "210905"]


def test_missing_data_folder(tmp_path):
    path = _scenario(tmp_path, "", data=tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"data folder .*nowhere does not exist") as ei:
        load_scenario(path)
    assert (ei.value.path, ei.value.field) == (str(path), "data")


def test_relative_data_folder_resolves_against_scenario_file(tmp_path):
    (tmp_path / "sub" / "data").mkdir(parents=True)
    path = tmp_path / "sub" / "s.toml"
    path.write_text('name = "t"\ncity = "x"\ndata = "data"\n', encoding="utf-8")
    assert load_scenario(path).data == (tmp_path / "sub" / "data").resolve()
