"""Input files as planners really have them: encodings, empty files, folders, Chinese terms, implausible numbers."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from conftest import FACILITY_FIELDS, FACILITY_ROWS, ROOT, write_csv

from simulator.errors import InputError
from simulator.load.readers import read_districts, read_facilities, read_table
from simulator.load.validate import InputWarning


def _csv_text(rows, fields) -> str:
    lines = [",".join(fields)] + [",".join(str(r.get(f, "")) for f in fields) for r in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_facility_csv_in_the_encodings_planners_save(tmp_path, encoding):
    path = tmp_path / "fac.csv"
    path.write_bytes(_csv_text(FACILITY_ROWS, FACILITY_FIELDS).encode(encoding))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gdf = read_facilities(path, "EPSG:4326")
    assert list(gdf["name"]) == ["测试医院甲", "测试医院乙"]
    said = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    if encoding.startswith("utf"):
        assert not said
    else:
        assert said == [f"{path}: read as GB18030 (not UTF-8)"]


def test_undecodable_csv_names_the_row_and_asks_for_utf8(tmp_path):
    path = tmp_path / "bad.csv"
    body = _csv_text(FACILITY_ROWS, FACILITY_FIELDS).encode("utf-8")
    lines = body.split(b"\n")
    lines[2] = lines[2] + b"\xff\xfe\xff"  # not UTF-8, not GB18030
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match="save the file as UTF-8") as ei:
        read_table(path)
    assert ei.value.row == "row 2" and ei.value.path == str(path)


def test_empty_file_folder_and_link_loop_are_named(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)") as ei:
        read_facilities(empty, "EPSG:4326")
    assert ei.value.path == str(empty)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder; expected a file"):
        read_table(folder)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(InputError, match="link loop"):
        read_table(a)
    header_only_blank = tmp_path / "blank.csv"
    header_only_blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no header row"):
        read_table(header_only_blank)


@pytest.mark.parametrize(
    ("column", "written", "level", "kind", "ownership", "grade"),
    [
        ("level", "三级", "tertiary", "general", "", ""),
        ("level", "三级甲等", "tertiary", "general", "", "三级甲等"),
        ("level", "二级乙等", "secondary", "general", "", "二级乙等"),
        ("level", "未定级", "unrated", "general", "", ""),
        ("kind", "中西医结合", "tertiary", "integrated", "", ""),
        ("kind", "社区卫生服务中心", "tertiary", "community_health_centre", "", ""),
        ("kind", "疾控", "tertiary", "public_health", "", ""),
        ("ownership", "市属", "tertiary", "general", "city", ""),
        ("ownership", "企业", "tertiary", "general", "enterprise", ""),
        ("ownership", "部队", "tertiary", "general", "military", ""),
    ],
)
def test_chinese_terms_are_read(facility_csv, column, written, level, kind, ownership, grade):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[0][column] = written
    fields = FACILITY_FIELDS + ([column] if column not in FACILITY_FIELDS else [])
    path = write_csv(facility_csv(rows=rows).parent / "zh.csv", rows, fields)
    row = read_facilities(path, "EPSG:4326").iloc[0]
    assert (row["level"], row["kind"], row["ownership"], row["grade"]) == (level, kind, ownership, grade)


def test_a_grade_does_not_overwrite_a_given_grade(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[0].update(level="三级甲等", grade="三级乙等")
    path = write_csv(facility_csv(rows=rows).parent / "g.csv", rows, FACILITY_FIELDS + ["grade"])
    assert read_facilities(path, "EPSG:4326").iloc[0]["grade"] == "三级乙等"


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("beds", "inf", "infinite value"),
        ("beds", "1e12", "implausible value 1,000,000,000,000; expected at most 30,000 beds"),
        ("outpatient_daily", "-3", "negative value"),
        ("doctors", "abc", "expected a number"),
        ("ambulances", "2.5", "2.5 is not a whole number; expected a count"),
        ("aeds", "-1", "negative value"),
        ("ambulances_negative_pressure", "一辆", "expected a number"),
        ("chest_pain", "maybe", r"expected true or false \(blank = no data\)"),
        ("fever_clinic", "2", "expected true or false"),
        ("general_practitioners", "-1", "negative value"),
        ("general_practitioners", "1e6", "implausible value 1,000,000; expected at most 5,000 general practitioners"),
        ("family_doctor_teams", "2.5", "2.5 is not a whole number; expected a count"),
        ("family_doctor_teams", "三个", "expected a number"),
        ("hosts_lab", "maybe", r"expected true or false \(blank = no data\)"),
    ],
)
def test_facility_numbers_out_of_range(facility_csv, column, value, words):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[1][column] = value
    path = write_csv(facility_csv(rows=rows).parent / "n.csv", rows, FACILITY_FIELDS + [column])
    with pytest.raises(InputError, match=words) as ei:
        read_facilities(path, "EPSG:4326")
    assert (ei.value.row, ei.value.field) == ("row 2", column)


def test_team_counts_and_capability_flags_read_blank_as_no_data(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[0].update(family_doctor_teams="3", hosts_lab="yes")
    rows[1].update(family_doctor_teams="", hosts_lab="")
    path = write_csv(facility_csv(rows=rows).parent / "t.csv", rows,
                     FACILITY_FIELDS + ["family_doctor_teams", "hosts_lab"])
    gdf = read_facilities(path, "EPSG:4326")
    assert gdf["family_doctor_teams"].iloc[0] == 3 and np.isnan(gdf["family_doctor_teams"].iloc[1])
    assert bool(gdf["hosts_lab"].iloc[0]) is True
    assert gdf["hosts_lab"].isna().iloc[1]


def test_implausible_district_population(tmp_path):
    path = write_csv(
        tmp_path / "districts.csv",
        [{"adcode": "210902", "name": "海州区", "type": "district", "population_2020": str(10**15)}],
    )
    with pytest.raises(InputError, match="implausible value") as ei:
        read_districts(path)
    assert ei.value.field == "population_2020"
    ok = write_csv(
        tmp_path / "ok.csv", [{"adcode": "210902", "name": "海州区", "type": "district", "population_2020": "300000"}]
    )
    assert int(np.asarray(read_districts(ok)["population_2020"])[0]) == 300000


# ------------------------------------------------------------------------------------------------------ CRS
def _gpkg(tmp_path, crs: str):
    import geopandas as gpd
    from shapely.geometry import Point

    rows = [dict(r) for r in FACILITY_ROWS]
    pts = gpd.GeoDataFrame(rows, geometry=[Point(float(r["lon"]), float(r["lat"])) for r in rows], crs="EPSG:4326")
    path = tmp_path / "fac.gpkg"
    pts.drop(columns=["lon", "lat"]).to_crs(crs).to_file(path, driver="GPKG")
    return path


def test_a_declared_crs_wins_over_the_default_and_a_contradiction_is_an_error(tmp_path):
    path = _gpkg(tmp_path, "EPSG:32651")
    got = read_facilities(path, None, default_crs="gcj02")  # the file's own CRS wins over a default
    np.testing.assert_allclose(got["lon"], [float(r["lon"]) for r in FACILITY_ROWS], atol=1e-7)
    with pytest.raises(InputError, match="declares its CRS as EPSG:32651 but the scenario says EPSG:4326") as ei:
        read_facilities(path, "EPSG:4326")
    assert ei.value.field == "crs" and ei.value.path == str(path)
    assert len(read_facilities(path, "EPSG:32651")) == 2  # stating the same CRS is fine


def test_csv_sidecar_prj_declares_the_crs(facility_csv):
    path = facility_csv()
    path.with_suffix(".prj").write_text("EPSG:4326\n", encoding="utf-8")
    same = read_facilities(path, None, default_crs="gcj02")  # not shifted: the file says WGS-84
    assert same["lon"].tolist() == [float(r["lon"]) for r in FACILITY_ROWS]
    # gcj02 coordinates are plain degrees: stating gcj02 for a file that declares WGS-84 degrees is allowed
    shifted = read_facilities(path, "gcj02")
    assert 0.002 < abs(shifted["lon"].iloc[0] - same["lon"].iloc[0]) < 0.02


def test_a_planners_gcj02_file_does_not_shift_the_bundled_facilities(tmp_path):
    """The bundled CSVs declare WGS-84 in sidecars: facilities_crs = 'gcj02' applies to the planner's file only."""
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city

    panjin = tmp_path / "p.toml"
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    base = (root / "scenarios" / "panjin.toml").read_text(encoding="utf-8")
    base = base.replace('data = "../geodata/panjin"', f'data = "{root}/geodata/panjin"')
    city = load_city(load_scenario(_write(panjin, base)))
    bundled = city.facilities.set_index("facility_id")
    mine = write_csv(
        tmp_path / "mine.csv",
        [dict(FACILITY_ROWS[0], facility_id="NEW-1", district="211103", lon="122.07", lat="41.12")],
    )
    text = base.replace('facilities_crs = "EPSG:4326"', 'facilities_crs = "gcj02"').replace(
        '"../liaoning/collaborating_units.csv"]', f'"../liaoning/collaborating_units.csv", "{mine}"]'
    )
    city2 = load_city(load_scenario(_write(tmp_path / "q.toml", text)))
    again = city2.facilities.set_index("facility_id")
    common = bundled.index
    np.testing.assert_array_equal(again.loc[common, "lon"], bundled["lon"])
    assert abs(again.loc["NEW-1", "lon"] - 122.07) > 0.002  # the planner's gcj02 point was converted
    # a per-file table states one file's CRS
    text3 = base.replace('"../liaoning/collaborating_units.csv"]', f'"../liaoning/collaborating_units.csv", '
                         f'{{path = "{mine}", crs = "gcj02"}}]')
    city3 = load_city(load_scenario(_write(tmp_path / "r.toml", text3)))
    assert city3.facilities.set_index("facility_id").loc["NEW-1", "lon"] == again.loc["NEW-1", "lon"]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_district_seat_outside_its_district(tmp_path):
    import shutil

    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    data = tmp_path / "panjin"
    shutil.copytree(root / "geodata" / "panjin", data)
    text = (data / "districts.csv").read_text(encoding="utf-8")
    # swap one seat's lon and lat, as a spreadsheet column mix-up would
    text = text.replace("122.065284,41.117815", "41.117815,122.065284")
    (data / "districts.csv").write_text(text, encoding="utf-8")
    base = (root / "scenarios" / "panjin.toml").read_text(encoding="utf-8")
    base = base.replace('data = "../geodata/panjin"', f'data = "{data}"').replace(
        '"../liaoning/collaborating_units.csv"', f'"{root}/geodata/liaoning/collaborating_units.csv"'
    )
    with pytest.raises(InputError, match="seat of 兴隆台区 .* outside its district") as ei:
        load_city(load_scenario(_write(tmp_path / "s.toml", base)))
    assert ei.value.row == "row 2" and ei.value.field == "seat_lon/seat_lat"


def test_a_field_a_rule_needs_is_missing_and_validate_names_the_rule(tmp_path, capsys):
    """A planner's tertiary hospital without ownership: not "OK" and "0 eligible to lead" but rule 2 named."""
    from simulator import cli

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    mine = write_csv(
        tmp_path / "mine.csv",
        [dict(FACILITY_ROWS[0], facility_id="NEW-T", district="211103", lon="122.07", lat="41.12")],
    )
    base = (root / "scenarios" / "panjin.toml").read_text(encoding="utf-8")
    base = base.replace('data = "../geodata/panjin"', f'data = "{root}/geodata/panjin"').replace(
        '"../liaoning/collaborating_units.csv"]', f'"../liaoning/collaborating_units.csv", "{mine}"]'
    )
    rc = cli.main(["validate", str(_write(tmp_path / "s.toml", base))])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{mine}: row 1: field 'ownership': NEW-T 测试医院甲 has no ownership, which rule 2" in err


# ------------------------------------------------------------------------------------------------------------
# continuing_care flag and declared affiliations (rule 3 and rule 4 inputs)
def test_continuing_care_flag_is_read_and_blank_means_not_flagged(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[0]["continuing_care"], rows[1]["continuing_care"] = "yes", ""
    gdf = read_facilities(facility_csv(rows=rows, fields=[*FACILITY_FIELDS, "continuing_care"]), "EPSG:4326")
    assert gdf["continuing_care"].tolist() == [True, False]
    assert read_facilities(facility_csv(), "EPSG:4326")["continuing_care"].tolist() == [False, False]


def test_continuing_care_flag_that_is_not_true_or_false(facility_csv):
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[1]["continuing_care"] = "maybe"
    path = facility_csv(rows=rows, fields=[*FACILITY_FIELDS, "continuing_care"])
    with pytest.raises(InputError, match="expected true or false, found 'maybe'") as ei:
        read_facilities(path, "EPSG:4326")
    assert (ei.value.row, ei.value.field) == ("row 2", "continuing_care")


AFFILIATION_FIELDS = ["city", "facility_id", "partner_facility_id", "relation", "source"]
AFFILIATION_CASES = [
    # (case, row, field, words, row named)
    ("unknown-id", {"facility_id": "PJ-H4"}, "facility_id", "unknown facility id 'PJ-H4'", "near ids: PJ-H04"),
    ("unknown-partner", {"partner_facility_id": "LN-X1"}, "partner_facility_id", "unknown facility id 'LN-X1'",
     "near ids: LN-X01"),
    ("no-source", {"source": ""}, "source", "missing value; expected the document that states the tie", ""),
    ("self-tie", {"partner_facility_id": "PJ-H04"}, "partner_facility_id", "a facility is tied to itself", ""),
]


@pytest.mark.parametrize(("case", "change", "field", "words", "near"), AFFILIATION_CASES,
                         ids=[c[0] for c in AFFILIATION_CASES])
def test_bad_affiliations_name_row_field_and_near_ids(tmp_path, case, change, field, words, near):
    from simulator.load.validate import validate_affiliations

    other = {"city": "fuxin", "facility_id": "FX-H99", "partner_facility_id": "LN-X99", "relation": "x", "source": ""}
    row = {"city": "panjin", "facility_id": "PJ-H04", "partner_facility_id": "LN-X01", "relation": "managed_branch",
           "source": "test"}
    path = write_csv(tmp_path / "aff.csv", [other, {**row, **change}], AFFILIATION_FIELDS)
    known = ["PJ-H01", "PJ-H04", "LN-X01", "LN-X02"]
    # the other city's row (unknown ids, no source) is left out; the Panjin row is checked
    with pytest.raises(InputError, match=words) as ei:
        validate_affiliations(read_table(path), path, known, "panjin")
    assert (ei.value.row, ei.value.field) == ("row 2", field)
    assert near in str(ei.value)
    ok = validate_affiliations(read_table(write_csv(tmp_path / "ok.csv", [other, row], AFFILIATION_FIELDS)),
                               path, known, "panjin")
    assert ok[["facility_id", "partner_facility_id"]].values.tolist() == [["PJ-H04", "LN-X01"]]


def test_a_scenario_naming_a_missing_affiliations_file(tmp_path):
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city

    scenario = load_scenario(ROOT / "scenarios" / "panjin.toml", {"inputs.affiliations": str(tmp_path / "no.csv")})
    with pytest.raises(InputError, match="not found|does not exist|no such"):
        load_city(scenario)


# ------------------------------------------------------------------------------ declared referral reservations
RESERVATION_FIELDS = ["facility_id", "reserved_outpatient_daily", "reserved_beds", "source"]
KNOWN_IDS = ["PJ-H01", "PJ-H02", "PJ-H04", "PJ-M001"]
GOOD_RESERVATION = {"facility_id": "PJ-H01", "reserved_outpatient_daily": "500", "reserved_beds": "125",
                    "source": "盘锦市卫健委 2024-03"}

# (case id, change to the second row (None: drop the column), row, field, words in the message)
RESERVATION_CASES = [
    ("unknown-id", {"facility_id": "PJ-H03x"}, "row 2", "facility_id",
     "unknown facility id 'PJ-H03x'; expected an id of the scenario's facility files (known ids near it: PJ-H0"),
    ("unknown-id-far", {"facility_id": "盘锦医院"}, "row 2", "facility_id", "no known id is near it"),
    ("duplicate-id", {"facility_id": "PJ-H01"}, "row 2", "facility_id", "duplicate id 'PJ-H01' (first seen at row 1)"),
    ("blank-id", {"facility_id": ""}, "row 2", "facility_id", "missing value; expected a facility id"),
    ("negative", {"reserved_beds": "-5"}, "row 2", "reserved_beds", "negative value -5; expected a number ≥ 0"),
    ("not-a-number", {"reserved_outpatient_daily": "五百"}, "row 2", "reserved_outpatient_daily",
     "expected a number, found '五百'"),
    ("fractional", {"reserved_outpatient_daily": "500.5"}, "row 2", "reserved_outpatient_daily",
     "expected a whole number ≥ 0"),
    ("implausible", {"reserved_beds": "200000"}, "row 2", "reserved_beds", "implausible value 200,000"),
    ("infinite", {"reserved_beds": "inf"}, "row 2", "reserved_beds", "infinite value"),
    ("neither-figure", {"reserved_outpatient_daily": "", "reserved_beds": ""}, "row 2", "reserved_outpatient_daily",
     "declares neither figure"),
    ("no-source", {"source": ""}, "row 2", "source", "expected who declared it (a document or a date)"),
    ("missing-column", None, None, "source", "missing column(s) source in the reservations table"),
]


@pytest.mark.parametrize(("case", "change", "row", "field", "words"), RESERVATION_CASES,
                         ids=[c[0] for c in RESERVATION_CASES])
def test_bad_reservations_file(tmp_path, case, change, row, field, words):
    from simulator.load.reservations import read_reservations

    second = dict(GOOD_RESERVATION, facility_id="PJ-H04", reserved_outpatient_daily="100", reserved_beds="20")
    fields = RESERVATION_FIELDS
    if change is None:
        fields = [f for f in RESERVATION_FIELDS if f != field]
    else:
        second.update(change)
    path = write_csv(tmp_path / "reservations.csv", [GOOD_RESERVATION, second], fields)
    with pytest.raises(InputError) as ei:
        read_reservations(path, KNOWN_IDS)
    assert words in ei.value.detail, ei.value.detail
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(path), row, field)


def test_reservations_file_missing_or_empty(tmp_path):
    from simulator.load.reservations import read_reservations

    with pytest.raises(InputError, match="file not found"):
        read_reservations(tmp_path / "absent.csv", KNOWN_IDS)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        read_reservations(tmp_path / "empty.csv", KNOWN_IDS)


def test_good_reservations_are_attached_blank_means_not_declared(tmp_path):
    import pandas as pd

    from simulator.load.reservations import attach_reservations

    rows = [GOOD_RESERVATION, dict(GOOD_RESERVATION, facility_id=" PJ-H04 ", reserved_beds="")]
    path = tmp_path / "r.csv"
    path.write_bytes(_csv_text(rows, RESERVATION_FIELDS).encode("gbk"))  # Excel on Chinese Windows
    fac = pd.DataFrame({"facility_id": KNOWN_IDS})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        out = attach_reservations(fac, path).set_index("facility_id")
    assert out.loc["PJ-H01", "declared_outpatient_daily"] == 500 and out.loc["PJ-H01", "declared_beds"] == 125
    assert out.loc["PJ-H04", "declared_outpatient_daily"] == 500 and np.isnan(out.loc["PJ-H04", "declared_beds"])
    assert out.loc["PJ-H01", "declared_source"] == "盘锦市卫健委 2024-03"
    assert np.isnan(out.loc["PJ-H02", "declared_outpatient_daily"]) and out.loc["PJ-H02", "declared_source"] == ""
    nothing = attach_reservations(fac, None)  # no file: the columns exist, nothing declared
    assert nothing["declared_beds"].isna().all() and (nothing["declared_source"] == "").all()


def test_the_scenario_names_the_reservations_file_and_load_city_checks_it(tmp_path):
    """inputs.reservations resolves like the other inputs; a bad id in it stops loading with the file named."""
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    base = (root / "scenarios" / "panjin.toml").read_text(encoding="utf-8")
    base = base.replace('data = "../geodata/panjin"', f'data = "{root}/geodata/panjin"')
    bad = write_csv(tmp_path / "res.csv", [dict(GOOD_RESERVATION, facility_id="PJ-H1")], RESERVATION_FIELDS)
    text = base.replace("[inputs]\n", f'[inputs]\nreservations = "{bad}"\n')
    with pytest.raises(InputError, match="unknown facility id 'PJ-H1'.*known ids near it: PJ-H") as ei:
        load_city(load_scenario(_write(tmp_path / "s.toml", text)))
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(bad), "row 1", "facility_id")
    write_csv(bad, [GOOD_RESERVATION], RESERVATION_FIELDS)
    fac = load_city(load_scenario(tmp_path / "s.toml")).facilities.set_index("facility_id")
    assert fac.loc["PJ-H01", "declared_beds"] == 125 and np.isnan(fac.loc["PJ-H04", "declared_beds"])


def test_a_change_naming_an_unknown_facility_lists_the_ids_near_it(tmp_path):
    """A what-if change with a typo in the facility id: the closest known ids, not a silent no-op."""
    from simulator import cli
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    base = (root / "scenarios" / "panjin.toml").read_text(encoding="utf-8")
    base = base.replace('data = "../geodata/panjin"', f'data = "{root}/geodata/panjin"')
    base += '\n[[changes]]\naction = "change"\nid = "PJ-H50"\nlevel = "三级"\n'
    path = _write(tmp_path / "s.toml", base)
    with pytest.raises(InputError) as ei:
        load_city(load_scenario(path))
    assert ei.value.row == "changes[0]" and ei.value.field == "id"
    assert "unknown facility id 'PJ-H50'" in str(ei.value) and "PJ-H05 盘锦市大洼区人民医院" in str(ei.value)
    assert cli.main(["validate", str(path)]) == 2


def test_capability_flags_and_counts_blank_is_no_data(facility_csv):
    """Declared capability flags read as 1/0, blank or absent as no data (NaN), never as "no"."""
    rows = [dict(r) for r in FACILITY_ROWS]
    rows[0].update(chest_pain="是", stroke="false", ambulances="3")
    rows[1].update(chest_pain="", stroke="TRUE", ambulances="")
    path = write_csv(facility_csv(rows=rows).parent / "cap.csv", rows,
                     FACILITY_FIELDS + ["chest_pain", "stroke", "ambulances"])
    gdf = read_facilities(path, "EPSG:4326")
    assert gdf["chest_pain"].iloc[0] == 1.0 and np.isnan(gdf["chest_pain"].iloc[1])
    assert gdf["stroke"].tolist() == [0.0, 1.0]
    assert gdf["ambulances"].iloc[0] == 3 and np.isnan(gdf["ambulances"].iloc[1])
    assert gdf["trauma"].isna().all()  # column absent: no data


# ---------------------------------------------------------------- locked planning units (plan.locked_units)
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """The synthetic two-district city at H3 resolution 7: scenario, city, units, rules."""
    from synthetic_city import scenario_text, write_city

    from simulator.config.rules import load_rules
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city
    from simulator.units.pipeline import planning_units

    scenario = load_scenario(write_city(tmp_path_factory.mktemp("locks_city"), scenario_text(resolution=7)))
    city = load_city(scenario)
    return scenario, city, planning_units(scenario, city), load_rules(scenario.rules)


# (case id, change to the second row (None: drop the column), row, field, words in the message)
LOCK_CASES = [
    ("missing-column", None, None, "lead_id", "missing column(s) lead_id in the locked units table"),
    ("blank-unit", {"unit_id": ""}, "row 2", "unit_id", "missing value; expected a planning unit id"),
    ("blank-lead", {"lead_id": " "}, "row 2", "lead_id",
     "missing value; expected the facility id of the lead whose grid the unit keeps"),
    ("unknown-unit", {"unit_id": "87xxxxxxxffffff"}, "row 2", "unit_id",
     "unknown planning unit id '87xxxxxxxffffff'; expected a unit of the scenario's planning units"),
    ("duplicate-unit", "same-unit", "row 2", "unit_id", "duplicate id"),
    ("unknown-lead", {"lead_id": "T9"}, "row 2", "lead_id", "unknown facility id 'T9'; expected the id of a hospital "
     "that may lead, from the scenario's facility files; near ids: T"),
    ("lead-not-eligible", {"lead_id": "S1"}, "row 2", "lead_id", "facility S1 may not lead a grid"),
]


@pytest.mark.parametrize(("case", "change", "row", "field", "words"), LOCK_CASES, ids=[c[0] for c in LOCK_CASES])
def test_bad_locked_units_file(tmp_path, synthetic, case, change, row, field, words):
    from simulator.plan.locks import LOCK_COLUMNS, read_locks

    scenario, city, units, rules = synthetic
    ids = units.gdf["unit_id"].tolist()
    first, second = {"unit_id": ids[0], "lead_id": "T1"}, {"unit_id": ids[1], "lead_id": "T2"}
    fields = list(LOCK_COLUMNS)
    if change is None:
        fields.remove(field)
    elif change == "same-unit":
        second["unit_id"] = ids[0]
    else:
        second.update(change)
    path = write_csv(tmp_path / "locked.csv", [first, second], fields)
    with pytest.raises(InputError) as ei:
        read_locks(path, ids, city.facilities, rules, False)
    assert words in ei.value.detail, ei.value.detail
    assert (ei.value.path, ei.value.row, ei.value.field) == (str(path), row, field)


def test_locked_units_file_read_and_missing(tmp_path, synthetic):
    """A good file gives unit position → lead (ids trimmed, GBK read); a scenario naming an absent file stops the
    run with the file named."""
    from simulator.plan.locks import read_locks
    from simulator.workflow import make_plan

    scenario, city, units, rules = synthetic
    ids = units.gdf["unit_id"].tolist()
    path = tmp_path / "locked.csv"
    path.write_bytes(f"unit_id,lead_id\n {ids[3]} ,T2\n{ids[0]},T1\n".encode("gbk"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        assert read_locks(path, ids, city.facilities, rules, False) == {3: "T2", 0: "T1"}
    plan = dataclasses.replace(scenario.plan, locked_units=str(tmp_path / "no.csv"))
    absent = dataclasses.replace(scenario, plan=plan)
    with pytest.raises(InputError, match="file not found") as ei:
        make_plan(absent, city, units)
    assert ei.value.path == str(tmp_path / "no.csv")


def test_caregrid_validate_checks_the_locked_units_file(tmp_path, synthetic, capsys):
    from simulator import cli

    scenario, city, units, rules = synthetic
    ids = units.gdf["unit_id"].tolist()
    locked = tmp_path / "locked.csv"
    locked.write_text(f"unit_id,lead_id\n{ids[0]},T1\n{ids[1]},S1\n", encoding="utf-8")
    path = tmp_path / "s.toml"
    text = scenario.path.read_text(encoding="utf-8").replace('data = "data"', f'data = "{scenario.data}"')
    path.write_text(text + f'locked_units = "{locked}"\n', encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    assert "facility S1 may not lead a grid" in capsys.readouterr().err
    locked.write_text(f"unit_id,lead_id\n{ids[0]},T1\n{ids[1]},T2\n", encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 0
    assert f"Locked units 锁定单元: 2 ({locked})" in capsys.readouterr().out
