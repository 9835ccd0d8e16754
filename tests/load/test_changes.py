"""What-if changes (a scenario's ``[[changes]]``): applied after loading, recorded, shown, switchable in a sweep.

Each test writes a copy of a bundled Panjin scenario with the changes under test and checks what the facility table,
the run folder, the report and the map say about them.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from simulator import cli
from simulator.config.scenario import load_scenario, select_changes
from simulator.errors import InputError
from simulator.evaluate.verify import verify_run
from simulator.load.changes import CHANGE_STATUS, nearest_campus_minutes
from simulator.load.city import load_city
from simulator.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
PANJIN = ROOT / "scenarios" / "panjin.toml"
PANJIN_ALL = ROOT / "scenarios" / "panjin_all.toml"
WHATIF = ROOT / "scenarios" / "panjin_whatif.toml"


def _scenario(tmp_path: Path, changes: str, base: Path = PANJIN, name: str = "s.toml") -> Path:
    """A copy of ``base`` (data folder made absolute) with ``changes`` (TOML text) appended."""
    text = base.read_text(encoding="utf-8").replace('data = "../geodata/panjin"', f'data = "{ROOT}/geodata/panjin"')
    text = text.replace('output = "../out/', f'output = "{tmp_path}/out/')
    path = tmp_path / name
    path.write_text(text + "\n" + changes, encoding="utf-8")
    return path


def _city(tmp_path: Path, changes: str, base: Path = PANJIN):
    return load_city(load_scenario(_scenario(tmp_path, changes, base)))


ADD_CHC = """
[[changes]]
label = "new_chc"
action = "add"
id = "PJ-X01"
name = "辽河新城社区卫生服务中心（规划）"
level = "一级"
kind = "社区卫生服务中心"
ownership = "区属"
lon = 122.06
lat = 41.10
crs = "gcj02"
beds = 20
"""


def test_an_added_facility_is_marked_as_the_planners_not_as_sourced_data(tmp_path):
    city = _city(tmp_path, ADD_CHC)
    f = city.facilities.set_index("facility_id")
    row = f.loc["PJ-X01"]
    assert (row["level"], row["kind"], row["ownership"]) == ("primary", "community_health_centre", "district")
    # the GCJ-02 point (AMap) was converted to WGS-84, a few hundred metres away
    assert 0.002 < abs(row["lon"] - 122.06) < 0.01 and row["lat"] != 41.10
    assert row["district"] == "211103" and row["in_area"] and not row["modelled"]
    assert row["source"] == "scenario change: s.toml"
    assert row["change"] == "added by scenario change 方案调整新增"
    assert row["beds_status"] == CHANGE_STATUS  # neither "fact" nor "estimate"
    assert np.isnan(row["outpatient_daily"]) and row["outpatient_status"] == ""
    # facilities that no change touches keep their data and carry no change note
    assert (f.drop(index="PJ-X01")["change"] == "").all()
    assert f["in_city"].dtype == bool and f["modelled"].dtype == bool and f["in_area"].dtype == bool
    [rec] = city.changes
    assert rec["label"] == "new_chc" and rec["action"] == "add" and rec["facility_id"] == "PJ-X01"
    assert rec["fields"]["beds"] == [None, 20.0]
    json.dumps(city.changes)  # the record goes into run.json as it is


def test_a_change_records_before_and_after_and_a_new_level_drops_the_old_grade(tmp_path):
    city = _city(tmp_path, """
[[changes]]
action = "change"
id = "PJ-H05"
level = "三级"
beds = 400

[[changes]]
label = "rehab"
action = "change"
id = "PJ-H08"
kind = "康复医院"
level = "二级"
""")
    f = city.facilities.set_index("facility_id")
    h05 = f.loc["PJ-H05"]
    assert (h05["level"], h05["grade"], h05["beds"]) == ("tertiary", "", 400.0)
    assert h05["beds_status"] == CHANGE_STATUS
    assert h05["outpatient_status"].startswith("estimate")  # an unchanged figure keeps its own status
    assert h05["change"] == ("changed by scenario change 方案调整变更: level 二级 → 三级; grade 二级甲等 → —; "
                             "beds 100 → 400")
    assert (f.loc["PJ-H08", "kind"], f.loc["PJ-H08", "level"]) == ("rehab", "secondary")
    first, second = city.changes
    assert first["label"] == "change_PJ-H05"  # the default label
    assert first["fields"] == {"level": ["secondary", "tertiary"], "grade": ["二级甲等", ""], "beds": [100.0, 400.0]}
    assert second["fields"]["kind"] == ["specialty", "rehab"]


def test_a_planner_flags_continuing_care(tmp_path):
    city = _city(tmp_path, '[[changes]]\naction = "change"\nid = "PJ-H07"\ncontinuing_care = true\n' + ADD_CHC
                 + "continuing_care = true\n")
    f = city.facilities.set_index("facility_id")
    assert f.loc["PJ-H07", "continuing_care"] and f.loc["PJ-X01", "continuing_care"]
    assert f["continuing_care"].dtype == bool and not f.loc["PJ-H01", "continuing_care"]
    assert city.changes[0]["fields"] == {"continuing_care": [False, True]}
    assert city.changes[0]["text"].endswith(": continuing_care no → yes")


def test_a_grade_given_as_level_sets_both(tmp_path):
    city = _city(tmp_path, '[[changes]]\naction = "change"\nid = "PJ-H05"\nlevel = "三级乙等"\n')
    h05 = city.facilities.set_index("facility_id").loc["PJ-H05"]
    assert (h05["level"], h05["grade"]) == ("tertiary", "三级乙等")


def test_a_closed_facility_is_gone_and_listed(tmp_path):
    city = _city(tmp_path, '[[changes]]\naction = "close"\nid = "PJ-H08"\nnote = "merged"\n')
    assert "PJ-H08" not in set(city.facilities["facility_id"])
    [rec] = city.changes
    assert (rec["action"], rec["name"], rec["note"]) == ("close", "盘锦市传染病医院", "merged")
    assert rec["text"] == "Close 关闭 PJ-H08 盘锦市传染病医院"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ('action = "close"\nid = "PJ-H5"', "id", "closest known ids: PJ-H05 盘锦市大洼区人民医院"),
        ('action = "change"\nid = "大洼区人民医院"\nlevel = "三级"', "id", "PJ-H05 盘锦市大洼区人民医院"),
        ('action = "link"\nids = ["PJ-H06", "PJ-H7"]', "ids", "PJ-H07"),
    ],
    ids=["typo", "name-for-id", "link-typo"],
)
def test_an_unknown_facility_id_lists_the_closest_known_ids(tmp_path, change, field, words):
    with pytest.raises(InputError) as ei:
        _city(tmp_path, "[[changes]]\n" + change + "\n")
    assert ei.value.path == str((tmp_path / "s.toml").resolve())
    assert ei.value.row == "changes[0]" and ei.value.field == field
    assert "unknown facility id" in str(ei.value) and words in str(ei.value)


def test_a_facility_the_scenario_names_as_a_lead_cannot_be_closed(tmp_path):
    path = _scenario(tmp_path, '[[changes]]\naction = "close"\nid = "PJ-H03"\n')
    with pytest.raises(InputError, match="close: PJ-H03 盘锦市中医医院 is named in plan.leads") as ei:
        load_city(load_scenario(path, {"plan.mode": "fixed_leads", "plan.leads": ["PJ-H01", "PJ-H03"]}))
    assert ei.value.row == "changes[0]" and ei.value.field == "id"


def test_a_named_lead_cannot_become_a_campus(tmp_path):
    path = _scenario(tmp_path, '[[changes]]\naction = "link"\nids = ["PJ-H01", "PJ-H03"]\n')
    with pytest.raises(InputError, match="link: PJ-H03 is named in plan.leads; only the main campus") as ei:
        load_city(load_scenario(path, {"plan.mode": "fixed_leads", "plan.leads": ["PJ-H01", "PJ-H03"]}))
    assert ei.value.field == "ids"


def test_a_change_to_a_facility_closed_before_is_an_unknown_id(tmp_path):
    with pytest.raises(InputError, match=r"changes\[1\].*unknown facility id 'PJ-H08'"):
        _city(tmp_path, '[[changes]]\naction = "close"\nid = "PJ-H08"\n\n'
                        '[[changes]]\naction = "change"\nid = "PJ-H08"\nbeds = 10\n')


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (ADD_CHC.replace('id = "PJ-X01"', 'id = "PJ-H01"'), "id", "already names 盘锦市中心医院"),
        (ADD_CHC.replace("lon = 122.06", "lon = 120.0"), "lon/lat", "outside the city boundary"),
        (ADD_CHC.replace("beds = 20", "beds = 200000"), "beds", "implausible"),
        (ADD_CHC.replace('crs = "gcj02"', 'crs = "EPSG:99999"'), "changes[0].crs", "unknown CRS"),
    ],
    ids=["existing-id", "outside-city", "implausible-beds", "bad-crs"],
)
def test_bad_added_facilities(tmp_path, change, field, words):
    with pytest.raises(InputError) as ei:
        _city(tmp_path, change)
    assert ei.value.field == field and words in str(ei.value)


def test_an_added_facility_without_any_crs_is_refused_not_guessed(tmp_path):
    path = _scenario(tmp_path, ADD_CHC.replace('crs = "gcj02"\n', ""))
    path.write_text(path.read_text(encoding="utf-8").replace('facilities_crs = "EPSG:4326"\n', ""), encoding="utf-8")
    with pytest.raises(InputError, match="no CRS for lon/lat") as ei:
        load_city(load_scenario(path))
    assert ei.value.row == "changes[0]" and ei.value.field == "crs"
    # the facilities' CRS is the default
    city = _city(tmp_path, ADD_CHC.replace('crs = "gcj02"\n', ""))
    assert city.facilities.set_index("facility_id").loc["PJ-X01", "lon"] == 122.06


def test_linked_campuses_are_one_institution(tmp_path):
    city = _city(tmp_path, '[[changes]]\nlabel = "panshan"\naction = "link"\nids = ["PJ-H06", "PJ-H07"]\n',
                 PANJIN_ALL)
    f = city.facilities.set_index("facility_id")
    assert f.loc["PJ-H07", "campus_of"] == "PJ-H06" and not f.loc["PJ-H07", "in_area"]
    assert f.loc["PJ-H06", "in_area"] and f.loc["PJ-H06", "campus_of"] == ""
    assert f.loc["PJ-H07", "change"].startswith("campus of 院区，隶属 PJ-H06")
    [rec] = city.changes
    assert rec["campuses"] == ["PJ-H07"] and "campuses of one institution" in rec["text"]


def test_travel_to_a_linked_institution_is_to_its_nearest_campus():
    fac = pd.DataFrame({"facility_id": ["A", "B", "C"], "campus_of": ["", "A", ""]})
    table = np.array([[10.0, 3.0, 7.0], [2.0, 9.0, 1.0]])  # units × facilities, per site
    calls = []

    def per_site(units, facs):
        calls.append(list(np.atleast_1d(facs)))
        return table[np.ix_(np.atleast_1d(units), np.atleast_1d(facs))]

    minutes = nearest_campus_minutes(per_site, fac)
    np.testing.assert_array_equal(minutes(np.arange(2), np.array([0, 2])), [[3.0, 7.0], [2.0, 1.0]])
    np.testing.assert_array_equal(table, [[10.0, 3.0, 7.0], [2.0, 9.0, 1.0]])  # the cached minutes are untouched
    assert nearest_campus_minutes(per_site, fac.assign(campus_of="")) is per_site  # nothing linked: unchanged


def test_select_changes_by_label(tmp_path):
    path = WHATIF.resolve()
    changes = load_scenario(path).changes
    labels = [c.label for c in changes]
    assert labels == ["upgrade_dawa", "new_chc_liaohe", "close_infectious", "nursing_dawa"]
    assert select_changes(path, changes, "none") == []
    assert select_changes(path, changes, "all") == changes
    assert [c.label for c in select_changes(path, changes, "nursing_dawa+upgrade_dawa")] == [
        "upgrade_dawa", "nursing_dawa"]  # the scenario file's order
    assert [c.label for c in load_scenario(path, {"changes": ["close_infectious"]}).changes] == ["close_infectious"]
    with pytest.raises(InputError, match="unknown change label.*upgrade_dava.*upgrade_dawa, new_chc_liaohe") as ei:
        load_scenario(path, {"changes": "upgrade_dava"})
    assert ei.value.field == "--set changes"


# ------------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def whatif_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("whatif") / "run"
    assert cli.main(["run", str(WHATIF), "--out", str(out), "--set", "units.resolution=6"]) == 0
    return out


def test_validate_and_run_print_the_changes(capsys):
    assert cli.main(["validate", str(WHATIF), "--set", "units.resolution=6"]) == 0
    out = capsys.readouterr().out
    assert "What-if changes 方案调整:\n  upgrade_dawa: Change 变更 PJ-H05 盘锦市大洼区人民医院: level 二级 → 三级" \
        in out
    assert "  close_infectious: Close 关闭 PJ-H08 盘锦市传染病医院" in out


def test_the_whatif_scenario_runs_and_its_run_folder_records_the_changes(whatif_run):
    record = json.loads((whatif_run / "run.json").read_text(encoding="utf-8"))
    assert [c["label"] for c in record["changes"]] == ["upgrade_dawa", "new_chc_liaohe", "close_infectious",
                                                       "nursing_dawa"]
    assert [c["action"] for c in record["changes"]] == ["change", "add", "close", "add"]
    groups = pd.read_csv(whatif_run / "groups.csv", dtype=str)
    assert "PJ-H08" not in set(groups["facility_id"])  # closed
    assert {"PJ-X01", "PJ-X02"} <= set(groups["facility_id"])  # the new facilities joined groups
    fac = gpd.read_file(whatif_run / "plan.gpkg", layer="facilities").set_index("facility_id")
    assert "PJ-H08" not in fac.index
    assert fac.loc["PJ-H05", "level"] == "tertiary"
    assert fac.loc["PJ-H05", "change"].startswith("changed by scenario change 方案调整变更: level 二级 → 三级")
    assert fac.loc["PJ-X01", "beds_status"] == CHANGE_STATUS
    assert fac.loc["PJ-X01", "source"].startswith("scenario change: panjin_whatif.toml")
    assert verify_run(whatif_run) == []


def test_the_report_lists_the_changes_on_its_first_page(whatif_run):
    html = (whatif_run / "report.html").read_text(encoding="utf-8")
    section = html.index("What-if changes 方案调整")
    assert section < html.index("Rule compliance 规则核查") and section < html.index("<img class='map'")
    assert html.count("class='cg-change'") == 4
    assert "<b>upgrade_dawa</b>: Change 变更 PJ-H05 盘锦市大洼区人民医院: level 二级 → 三级" in html
    assert "Close 关闭 PJ-H08 盘锦市传染病医院" in html
    assert "20 (planned 规划: Scenario change 方案调整)" in html  # the new centre's beds in its group table
    # the group tables mark the facilities a change added or changed
    assert "<span class='est cg-changed'>added by scenario change 方案调整新增</span>" in html
    assert "<span class='est cg-changed'>changed by scenario change 方案调整变更: level 二级 → 三级" in html


def test_map_popups_say_added_or_changed_by_scenario_change(whatif_run):
    html = (whatif_run / "map.html").read_text(encoding="utf-8")

    def in_script(text: str) -> bool:  # popups travel as JavaScript strings with \uXXXX escapes
        escaped = json.dumps(text)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")
        return escaped in html

    assert in_script("<b>Scenario change 方案调整</b>")
    assert in_script("added by scenario change 方案调整新增")
    assert in_script("changed by scenario change 方案调整变更: level 二级 → 三级")
    assert in_script("20 (planned 规划: Scenario change 方案调整)")


def test_changes_switch_off(tmp_path):
    out = tmp_path / "none"
    assert cli.main(["run", str(WHATIF), "--out", str(out), "--set", "units.resolution=6",
                     "--set", "changes=none"]) == 0
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["changes"] == [] and record["scenario"]["changes"] == []
    assert "PJ-H08" in set(pd.read_csv(out / "groups.csv", dtype=str)["facility_id"])
    fac = gpd.read_file(out / "plan.gpkg", layer="facilities")
    assert "change" not in fac.columns and not fac["facility_id"].str.startswith("PJ-X").any()
    assert "What-if changes" not in (out / "report.html").read_text(encoding="utf-8")


def test_linked_campus_run_lists_the_campus_in_its_main_campus_group(tmp_path):
    path = _scenario(tmp_path, '[[changes]]\naction = "link"\nids = ["PJ-H06", "PJ-H07"]\n', PANJIN_ALL)
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--set", "units.resolution=6"]) == 0
    groups = pd.read_csv(out / "groups.csv", dtype=str)
    main = groups[groups["facility_id"] == "PJ-H06"]
    campus = groups[groups["facility_id"] == "PJ-H07"]
    assert list(campus["role"]) == ["campus"] and list(campus["grid_id"]) == list(main["grid_id"])
    fac = gpd.read_file(out / "plan.gpkg", layer="facilities").set_index("facility_id")
    assert fac.loc["PJ-H07", "role"] == "campus" and fac.loc["PJ-H07", "campus_of"] == "PJ-H06"
    assert verify_run(out) == []
    # the report lists the campus in its main campus's group; the map popup names it a campus
    assert "data-facility='PJ-H07' data-role='campus'" in (out / "report.html").read_text(encoding="utf-8")
    html = (out / "map.html").read_text(encoding="utf-8")
    assert json.dumps("Campus of the lead or member 院区")[1:-1] in html
    assert json.dumps("campus of 院区，隶属 PJ-H06")[1:-1] in html


def test_sweep_switches_changes_on_and_off(tmp_path):
    table = run_sweep(WHATIF, ["changes=none,all,close_infectious", "resolution=6"], tmp_path / "sweep", jobs=1,
                      progress=False)
    by = table.set_index("changes")
    assert set(by.index) == {"none", "all", "close_infectious"}
    assert (by["exit_code"] == 0).all()
    applied = {}
    for selection, variant in zip(table["changes"], table["variant"], strict=True):
        record = json.loads((tmp_path / "sweep" / "variants" / variant / "run.json").read_text(encoding="utf-8"))
        applied[selection] = [c["label"] for c in record["changes"]]
    assert applied["none"] == [] and applied["close_infectious"] == ["close_infectious"]
    assert applied["all"] == ["upgrade_dawa", "new_chc_liaohe", "close_infectious", "nursing_dawa"]
    assert "| changes |" in (tmp_path / "sweep" / "sweep.md").read_text(encoding="utf-8")


def test_sweep_refuses_an_unknown_change_label_before_running(tmp_path):
    with pytest.raises(InputError, match="unknown change label"):
        run_sweep(WHATIF, ["changes=none,upgrade_dava"], tmp_path / "sweep", jobs=1, progress=False)
    assert not (tmp_path / "sweep").exists()


def test_residents_travel_to_the_nearest_campus_of_a_linked_lead(tmp_path):
    from simulator.travel.straight_line import unit_to_point_minutes

    path = _scenario(tmp_path, """
[[changes]]
label = "north_campus"
action = "add"
id = "PJ-X09"
name = "盘锦市人民医院（北院区，设想）"
level = "三级"
kind = "综合"
ownership = "市属"
lon = 122.034364
lat = 41.197567

[[changes]]
action = "link"
ids = ["PJ-H04", "PJ-X09"]
""")
    from simulator.units.pipeline import planning_units
    from simulator.workflow import make_plan

    scenario = load_scenario(path, {"units.resolution": 6})
    city = load_city(scenario)
    plan = make_plan(scenario, city, planning_units(scenario, city))
    sites = city.facilities.set_index("facility_id").loc[["PJ-H04", "PJ-X09"]]
    mine = plan.units[plan.units["lead_facility_id"] == "PJ-H04"]
    assert len(mine)
    per_site = unit_to_point_minutes(mine["lon"].to_numpy(), mine["lat"].to_numpy(), sites["lon"].to_numpy(),
                                     sites["lat"].to_numpy(), 30.0, 1.3)
    np.testing.assert_allclose(mine["travel_min_to_lead"], per_site.min(axis=1))
    # every resident's minutes to the institution, as the plan measures them (the optimiser's costs too)
    everyone = plan.units
    lead_at = int(np.flatnonzero(city.facilities["facility_id"].to_numpy() == "PJ-H04")[0])
    per_site = unit_to_point_minutes(everyone["lon"].to_numpy(), everyone["lat"].to_numpy(), sites["lon"].to_numpy(),
                                     sites["lat"].to_numpy(), 30.0, 1.3)
    np.testing.assert_allclose(plan.travel_minutes(np.arange(len(everyone)), np.array([lead_at]))[:, 0],
                               per_site.min(axis=1))
    assert (per_site[:, 1] < per_site[:, 0]).any()  # some residents are nearer the north campus
    assert "PJ-X09" not in plan.record["candidate_leads"]  # a campus is not a lead of its own


def test_a_facility_file_column_named_like_the_change_columns_links_nothing(tmp_path):
    """``campus_of`` / ``change`` belong to the scenario changes: a file's own column of that name is ignored."""
    data = tmp_path / "panjin"
    import shutil

    shutil.copytree(ROOT / "geodata" / "panjin", data)
    table = pd.read_csv(data / "facilities.csv", dtype=str)
    table["campus_of"] = np.where(table["facility_id"] == "PJ-H07", "PJ-H06", "")
    table.to_csv(data / "facilities.csv", index=False)
    text = PANJIN.read_text(encoding="utf-8").replace('data = "../geodata/panjin"', f'data = "{data}"').replace(
        '"../liaoning/', f'"{ROOT}/geodata/liaoning/')
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.warns(UserWarning, match="reserved for scenario changes"):
        city = load_city(load_scenario(path))
    assert "campus_of" not in city.facilities
    assert city.facilities.set_index("facility_id").loc["PJ-H07", "in_area"]


def test_an_added_facility_says_no_to_the_files_yes_no_columns(tmp_path):
    """A yes/no column of the facility files (here a planner's flag) is False for an added facility, not missing."""
    import warnings

    import shapely

    from simulator.config.scenario import parse_changes
    from simulator.load.changes import apply_changes

    boundaries = gpd.GeoDataFrame({"adcode": ["100001"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    f = gpd.GeoDataFrame(
        {"facility_id": ["A"], "name": ["甲医院"], "level": ["secondary"], "grade": [""], "kind": ["general"],
         "ownership": ["city"], "in_city": [True], "modelled": [False], "flagged": [True]},
        geometry=[shapely.Point(0.5, 0.5)], crs="EPSG:4326",
    )
    changes = parse_changes(tmp_path / "s.toml", [{"action": "add", "id": "B", "name": "乙", "level": "一级",
                                                   "kind": "社区卫生服务中心", "lon": 0.2, "lat": 0.3}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, [rec] = apply_changes(f, changes, path=tmp_path / "s.toml", boundaries=boundaries,
                                   default_crs="EPSG:4326")
    assert out["flagged"].dtype == bool and out["flagged"].tolist() == [True, False]
    assert out["continuing_care"].dtype == bool and out["continuing_care"].tolist() == [False, False]
    assert out.set_index("facility_id").loc["B", "district"] == "100001"
    assert rec["text"] == "Add 新增 B 乙: level 一级; kind 社区卫生服务中心"
