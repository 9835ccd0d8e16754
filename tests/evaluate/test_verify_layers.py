"""The independent check of issue 15's plan layers: a real run folder (Panjin with the example statistics and a
station siting) passes verify_run; each corrupted figure is named by verify_run."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from simulator import load_city, load_scenario, planning_units, write_plan
from simulator.evaluate.verify import verify_run
from simulator.evaluate.verify_layers import unverifiable, verify_plan_layers

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "panjin_stats_example.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from simulator.workflow import make_plan

    s = load_scenario(SCENARIO)
    city = load_city(s)
    return write_plan(make_plan(s, city, planning_units(s, city)), tmp_path_factory.mktemp("layers") / "run")


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _edit_csv(name: str, change):
    def edit(folder: Path) -> None:
        df = _csv(folder / name)
        change(df)
        df.to_csv(folder / name, index=False)
    return edit


def _cell(df: pd.DataFrame, where: dict, col: str, value) -> None:
    sel = pd.Series(True, index=df.index)
    for k, v in where.items():
        sel &= df[k] == v
    assert sel.sum() == 1, (where, sel.sum())
    df.loc[sel, col] = str(value)


def _plus(df: pd.DataFrame, where: dict, col: str, delta: float) -> None:
    sel = pd.Series(True, index=df.index)
    for k, v in where.items():
        sel &= df[k] == v
    df.loc[sel, col] = (pd.to_numeric(df.loc[sel, col]) + delta).astype(str)


def _edit_record(change):
    def edit(folder: Path) -> None:
        rec = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        change(rec)
        (folder / "run.json").write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    return edit


def _edit_stations(change):
    def edit(folder: Path) -> None:
        st = gpd.read_file(folder / "plan.gpkg", layer="ems_stations")
        st = change(st)
        st.to_file(folder / "plan.gpkg", layer="ems_stations", driver="GPKG")
    return edit


def _move_new_stations(st: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The new stations 0.2° east (their residents_within and the covered shares no longer hold)."""
    moved = st.geometry.translate(xoff=0.2)
    return st.set_geometry(moved.where(st["status"] == "new", st.geometry))


def _first_plus(df: pd.DataFrame, col: str, delta: float) -> None:
    df.loc[df.index[0], col] = str(float(df[col].iat[0]) + delta)


AMB_G1 = {"target_id": "ems.ambulances", "scope_id": "G1"}
CASES = {
    # targets.csv: the status follows from baseline and norm; no_data exactly where the baseline is empty
    "status-flipped": (_edit_csv("targets.csv", lambda d: _cell(d, AMB_G1, "status", "passed")),
                       "targets.csv row 2 (ems.ambulances, grid G1): status passed but baseline"),
    "baseline-blanked": (_edit_csv("targets.csv", lambda d: _cell(d, AMB_G1, "baseline", "")),
                         "status failed but baseline empty against at_least 1 gives no_data"),
    "no-data-with-a-figure": (_edit_csv("targets.csv", lambda d: _cell(d, AMB_G1, "status", "no_data")),
                              "status no_data but baseline 0.869"),
    "baseline-not-the-figure": (_edit_csv("targets.csv", lambda d: _cell(d, AMB_G1, "baseline", "0.5")),
                                "baseline 0.5 but emergency.csv holds 0.869"),
    "norm-not-the-files": (_edit_csv("targets.csv", lambda d: _cell(d, AMB_G1, "norm", "0.8")),
                           "norm 0.8 but the targets file says 1"),
    # emergency.csv: requirements from the targets file, rates, sums over grids and districts
    "required": (_edit_csv("emergency.csv", lambda d: _plus(d, {"scope_id": "G1"}, "ambulances_required", -1)),
                 "emergency.csv (grid G1): ambulances_required 16 but the targets file requires 17"),
    "aeds-required": (_edit_csv("emergency.csv", lambda d: _plus(d, {"scope_id": "city"}, "aeds_required", 5)),
                      "emergency.csv (city city): aeds_required"),
    "count-not-summing": (_edit_csv("emergency.csv", lambda d: _plus(d, {"scope_id": "G2"}, "ambulances", 1)),
                          "emergency.csv: ambulances of the grid rows sums to"),
    "rate": (_edit_csv("emergency.csv", lambda d: _plus(d, {"scope_id": "G3"}, "aeds_per_10000", 0.1)),
             "emergency.csv (grid G3): aeds_per_10000"),
    "population": (_edit_csv("emergency.csv", lambda d: _plus(d, {"scope": "district"}, "population", 1000)),
                   "but the units layer holds"),
    # the stations layer: counts, and coverage recomputed from the units layer and the run's travel model
    "residents-within": (_edit_stations(lambda s: s.assign(residents_within=s["residents_within"] * 1.1)),
                         "ems_stations S1: residents_within"),
    "covered-share": (_edit_record(lambda r: r["ems"].update(covered_share=r["ems"]["covered_share"] + 0.05)),
                      "run.json ems.covered_share"),
    "station-dropped": (_edit_stations(lambda s: s[s["station_id"] != s["station_id"].iat[-1]]),
                        "ems_stations: 2 new stations but run.json records 3"),
    "station-moved": (_edit_stations(_move_new_stations), "ems.covered_share"),
    # family doctors and who receives the reserved slots and beds
    "gps-needed": (_edit_csv("family_doctors.csv", lambda d: _plus(d, {"grid_id": "G1"},
                                                                  "general_practitioners_needed", -1)),
                   "family_doctors.csv (G1): general_practitioners_needed 96 but the targets file's norm gives 97"),
    "allocation": (_edit_csv("referral_allocations.csv", lambda d: _first_plus(d, "reserved_beds", 3)),
                   "reserved_beds sum to"),
}


def test_a_written_run_passes(run):
    assert verify_plan_layers(run) == []
    assert verify_run(run) == []
    # straight-line travel: the stations' reach is re-checked; the facility counts behind emergency.csv are not kept
    assert [x.split(":")[0] for x in unverifiable(run)] == ["emergency.csv"]


@pytest.mark.parametrize("case", list(CASES))
def test_each_corruption_is_named_by_verify_run(run, tmp_path, case):
    edit, words = CASES[case]
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    edit(copy)
    found = verify_run(copy)
    assert any(words in x for x in found), found


def test_the_allocations_match_the_leads_reservation(run, tmp_path):
    """Moving beds between two receivers of one grid keeps the grid's total but not each facility's."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    al = _csv(copy / "referral_allocations.csv")
    g1 = al.index[al["grid_id"] == "G1"][:2]
    beds = pd.to_numeric(al.loc[g1, "reserved_beds"])
    al.loc[g1, "reserved_beds"] = (beds + [1, -1]).astype(str).to_numpy()
    al.to_csv(copy / "referral_allocations.csv", index=False)
    found = verify_plan_layers(copy)
    assert len([x for x in found if "reserved_beds sum to" in x]) == 2, found
    assert not any("but the lead" in x for x in found), found  # the grid's total still equals the lead's reservation


def test_a_road_network_run_says_what_is_not_rechecked(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    _edit_record(lambda r: r["scenario"]["travel"].update(network="roads.gpkg"))(copy)
    _edit_stations(lambda s: s.assign(residents_within=s["residents_within"] * 1.1))(copy)
    notes = [x for x in unverifiable(copy) if x.startswith("ems_stations")]
    assert len(notes) == 1 and "road network (roads.gpkg)" in notes[0] and "not re-checked" in notes[0]
    assert verify_plan_layers(copy) == []  # residents_within cannot be judged without the network's minutes


def test_the_check_is_independent_of_the_engine():
    """It reads files and the targets file (data) only; no module that computed the layers is imported."""
    tree = ast.parse((ROOT / "simulator" / "evaluate" / "verify_layers.py").read_text(encoding="utf-8"))
    internal = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    internal |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
                 if a.name.startswith("simulator")}
    assert internal == {"config.targets", "errors"}, internal


# ------------------------------------------------------------------------- a planner's own targets file, end to end
@pytest.fixture(scope="module")
def planner_run(tmp_path_factory) -> Path:
    """The same scenario naming a planner's targets file: 2 ambulances per 30,000 residents, 60 % negative-pressure,
    1 AED per 5,000 (quantity aeds_per_5000), 3 GPs per 10,000."""
    import tomllib

    from simulator.workflow import make_plan

    base = tmp_path_factory.mktemp("planner_targets")
    raw = (ROOT / "simulator" / "config" / "targets" / "liaoning-2023.toml").read_text(encoding="utf-8")
    edits = [('norm = 1.0\nper = 30000', 'norm = 2.0\nper = 30000'), ('norm = 0.4', 'norm = 0.6'),
             ('quantity = "aeds_per_10000"', 'quantity = "aeds_per_5000"'), ('per = 10000\nunit = "AEDs',
                                                                           'per = 5000\nunit = "AEDs'),
             ('norm = 2.0\nper = 10000', 'norm = 3.0\nper = 10000')]
    for old, new in edits:
        assert raw.count(old) == 1, old
        raw = raw.replace(old, new)
    tomllib.loads(raw)
    (base / "my_targets.toml").write_text(raw, encoding="utf-8")
    s = load_scenario(SCENARIO, {"targets": str(base / "my_targets.toml")})
    city = load_city(s)
    return write_plan(make_plan(s, city, planning_units(s, city)), base / "run")


def test_a_planners_targets_file_changes_every_figure_alike(planner_run):
    ind = pd.read_csv(planner_run / "indicators.csv", dtype={"grid_id": str})
    dist = pd.read_csv(planner_run / "indicators_district.csv", dtype={"part_id": str})
    em = pd.read_csv(planner_run / "emergency.csv", dtype={"scope_id": str})
    tg = pd.read_csv(planner_run / "targets.csv", dtype={"scope_id": str})
    fd = pd.read_csv(planner_run / "family_doctors.csv", dtype={"grid_id": str})
    for table in (ind, dist[dist.part_type != "max_min_ratio"]):
        assert (table["ambulances_per_30000_target"] == 2.0).all()
        assert (table["ambulance_negative_pressure_share_target"] == 0.6).all()
        assert (table["aeds_per_5000_target"] == 1.0).all() and table["aeds_per_10000_target"].isna().all()
    # requirements: ⌈residents × 2 / 30,000⌉ ambulances, ⌈that × 0.6⌉ negative-pressure, ⌈residents / 5,000⌉ AEDs
    assert (em["ambulances_required"] == np.ceil(em["population"] * 2 / 30000 - 1e-9)).all()
    assert (em["ambulances_negative_pressure_required"] == np.ceil(em["ambulances_required"] * 0.6 - 1e-9)).all()
    assert (em["aeds_required"] == np.ceil(em["population"] / 5000 - 1e-9)).all()
    assert np.allclose(em["aeds_per_5000"], em["aeds"] / em["population"] * 5000, equal_nan=True)
    # the indicator and emergency.csv read the same facilities in the city row: the same figure, the same norm
    city_ind, city_em = ind[ind.grid_id == "city"].iloc[0], em[em.scope == "city"].iloc[0]
    assert city_ind["aeds_per_5000"] == pytest.approx(city_em["aeds_per_5000"])
    amb = tg[tg.target_id == "ems.ambulances"]
    assert (amb["norm"] == 2.0).all() and amb["target"].str.startswith("≥ 2 ").all()
    assert set(tg.loc[tg.target_id == "ems.aeds", "quantity"]) == {"aeds_per_5000"}
    assert (fd["general_practitioners_needed"] == np.ceil(fd["residents"] * 3 / 10000 - 1e-9)).all()
    assert verify_run(planner_run) == []  # the verifier judges by the run's own targets file


def test_the_verifier_uses_the_runs_targets_file(planner_run, tmp_path):
    """Judged by the bundled file instead, the planner's run would fail: the check reads the file the run names."""
    copy = tmp_path / "copy"
    shutil.copytree(planner_run, copy)
    _edit_record(lambda r: r["scenario"].update(targets="liaoning-2023"))(copy)
    found = verify_plan_layers(copy)
    assert any("ambulances_required" in x and "but the targets file requires" in x for x in found), found
    _edit_record(lambda r: r["scenario"].update(targets=str(tmp_path / "gone.toml")))(copy)
    found = verify_run(copy)
    assert any("cannot load the targets file" in x for x in found), found
