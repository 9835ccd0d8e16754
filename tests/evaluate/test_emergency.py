"""Emergency figures, targets and station siting on a hand-made 6-unit city (arithmetic in the comments)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from simulator.config.scenario import Ems, Travel
from simulator.config.targets import load_targets
from simulator.errors import InputError
from simulator.evaluate.emergency import emergency_figures, evaluate_emergency
from simulator.travel.straight_line import straight_line_minutes

NAN = np.nan
# six 0.02° squares in a row at 41°N; grids A = {0, 1, 2}, B = {3, 4, 5}; districts D1 = {0, 1}, D2 = {2, 3, 4, 5}
LON = 122.0 + 0.02 * np.arange(6) + 0.01
LAT = np.full(6, 41.01)
UNITS = gpd.GeoDataFrame(
    {
        "unit_id": [f"u{i}" for i in range(6)],
        "grid_id": ["A", "A", "A", "B", "B", "B"],
        "district": ["D1", "D1", "D2", "D2", "D2", "D2"],
        "district_name": ["一区", "一区", "二区", "二区", "二区", "二区"],
        "population": [30000.0, 15000.0, 15000.0, 40000.0, 20000.0, 0.0],
        "lon": LON,
        "lat": LAT,
    },
    geometry=[box(122.0 + 0.02 * i, 41.0, 122.02 + 0.02 * i, 41.02) for i in range(6)],
    crs="EPSG:4326",
)


def _facilities(**columns) -> gpd.GeoDataFrame:
    # F0 in unit 0, F1 in unit 2, F2 in unit 4, X outside the planning area
    lon = [LON[0], LON[2], LON[4], 125.0]
    base = {"facility_id": ["F0", "F1", "F2", "X"], "name": ["甲医院", "乙医院", "丙医院", "市外医院"],
            "lon": lon, "lat": [41.01] * 4, "in_area": [True, True, True, False]}
    base.update(columns)
    return gpd.GeoDataFrame(base, geometry=[Point(x, 41.01) for x in lon], crs="EPSG:4326")


def _minutes(units, fac):
    def minutes(ui, fi):
        ui, fi = np.atleast_1d(ui), np.atleast_1d(fi)
        return straight_line_minutes(units["lon"].to_numpy()[ui][:, None], units["lat"].to_numpy()[ui][:, None],
                                     fac["lon"].to_numpy()[fi][None, :], fac["lat"].to_numpy()[fi][None, :], 30, 1.3)
    return minutes


def _figures(fac, centre_minutes=5.0):
    fac_unit = np.array([0, 2, 4, -1])
    df = emergency_figures(UNITS, fac, fac_unit, _minutes(UNITS, fac), load_targets(), centre_minutes)
    return df.set_index("scope_id")


def test_scopes_and_readiness_against_hand_arithmetic():
    fac = _facilities(ambulances=[2, 1, NAN, 50], ambulances_negative_pressure=[1, 0, NAN, 50],
                      aeds=[NAN, NAN, NAN, NAN])
    df = _figures(fac)
    assert list(df.index) == ["A", "B", "D1", "D2", "city"]
    assert df.loc["A", "population"] == 60000 and df.loc["D2", "population"] == 75000
    # grid A holds F0 (2) and F1 (1): 3 ambulances for 60,000 residents = 1.5 per 30,000; 1 of 3 negative-pressure
    assert df.loc["A", "ambulances"] == 3 and df.loc["A", "ambulances_per_30000"] == pytest.approx(1.5)
    assert df.loc["A", "ambulance_negative_pressure_share"] == pytest.approx(1 / 3)
    assert df.loc["A", "ambulances_required"] == 2  # ceil(60,000 / 30,000)
    assert df.loc["A", "ambulances_negative_pressure_required"] == 1  # ceil(0.4 × 2)
    assert df.loc["A", "aeds_required"] == 6  # ceil(60,000 / 10,000)
    # grid B holds only F2, which reports nothing: no data, not zero; the outside facility X counts nowhere
    assert np.isnan(df.loc["B", "ambulances"]) and df.loc["B", "ambulances_reporting"] == 0
    assert np.isnan(df.loc["B", "ambulances_shortfall"])
    assert df.loc["city", "ambulances"] == 3 and df.loc["city", "ambulances_required"] == 4  # ceil(120,000/30,000)
    assert df.loc["city", "ambulances_shortfall"] == 1
    assert df["aeds"].isna().all() and df["aeds_per_10000"].isna().all()


def test_five_centre_coverage_against_direct_minutes():
    fac = _facilities(chest_pain=[1.0, NAN, 0.0, 1.0], stroke=[0.0, 0.0, 0.0, NAN])
    df = _figures(fac, centre_minutes=5.0)
    # minutes from each unit to F0 (the in-area chest-pain centre) and X (far away), computed here directly
    m = straight_line_minutes(LON, LAT, LON[0], 41.01, 30, 1.3)
    reached = m <= 5.0
    pop = UNITS["population"].to_numpy()
    a = np.arange(6) < 3
    assert df.loc["A", "chest_pain_share_within"] == pytest.approx(pop[a & reached].sum() / pop[a].sum())
    assert df.loc["city", "chest_pain_share_within"] == pytest.approx(pop[reached].sum() / pop.sum())
    assert 0 < df.loc["city", "chest_pain_share_within"] < 1
    assert df.loc["D1", "chest_pain_centres"] == 1 and df.loc["D2", "chest_pain_centres"] == 0
    assert df.loc["city", "chest_pain_centres"] == 0  # the fewest in any district: D2 has none
    # flags present but none true: zero, not no data; a flag no facility carries: no data
    assert df.loc["city", "stroke_share_within"] == 0 and df.loc["D1", "stroke_centres"] == 0
    assert df[["trauma_share_within", "trauma_centres"]].isna().all().all()


def _scenario(**ems) -> SimpleNamespace:
    return SimpleNamespace(targets="liaoning-2023", ems=Ems(**ems), travel=Travel(), path=None,
                           solver=SimpleNamespace(name="highs"), input_path=lambda p: p)


def _brute_covered(k_or_share, fixed_ids, fac, limit, set_cover=False):
    """Best coverage over every subset of unit sites (plus fixed facilities), by enumeration."""
    pop = UNITS["population"].to_numpy()
    site = straight_line_minutes(LON[:, None], LAT[:, None], LON[None, :], LAT[None, :], 30, 1.3) <= limit
    fidx = [list(fac["facility_id"]).index(f) for f in fixed_ids]
    fixed = _minutes(UNITS, fac)(np.arange(6), np.array(fidx, dtype=int)) <= limit if fidx else np.zeros((6, 0), bool)
    base = fixed.any(axis=1)
    best = {}
    for r in range(7):
        best[r] = max(pop[base | site[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(6), r))
    if not set_cover:
        return best[k_or_share]
    fewest = min(r for r in best if best[r] >= k_or_share * pop.sum())
    return fewest, best[fewest]


@pytest.mark.parametrize("fixed", [[], ["F2"]])
def test_siting_through_evaluate_emergency_matches_brute_force(fixed):
    fac = _facilities()
    for k in (1, 2):
        e = evaluate_emergency(_scenario(stations=k, minutes=5.0, fixed=fixed), UNITS, fac, _minutes(UNITS, fac))
        assert e.record["ems"]["covered_residents"] == pytest.approx(_brute_covered(k, fixed, fac, 5.0))
        st = e.stations
        assert (st["status"] == "existing").sum() == len(fixed) and (st["status"] == "new").sum() <= k
        assert list(st.loc[st["status"] == "existing", "facility_id"]) == fixed
        city = e.figures.set_index("scope_id").loc["city"]
        assert city["ems_covered_share"] == pytest.approx(e.record["ems"]["covered_share"])
    e = evaluate_emergency(_scenario(coverage=0.9, minutes=5.0, fixed=fixed), UNITS, fac, _minutes(UNITS, fac))
    fewest, covered = _brute_covered(0.9, fixed, fac, 5.0, set_cover=True)
    assert e.record["ems"]["new_stations"] == fewest and e.record["ems"]["status"] == "optimal"
    assert e.record["ems"]["covered_residents"] == pytest.approx(covered)


def test_siting_on_facility_candidates_and_unknown_fixed_id():
    fac = _facilities()
    e = evaluate_emergency(_scenario(stations=1, minutes=5.0, candidates="facilities"), UNITS, fac,
                           _minutes(UNITS, fac))
    new = e.stations[e.stations["status"] == "new"]
    assert len(new) == 1 and new["facility_id"].iloc[0] in ("F0", "F1", "F2")  # in-area facilities only
    assert e.record["ems"]["candidate_sites"] == 3
    with pytest.raises(InputError, match="ems.fixed names unknown facility id") as ei:
        evaluate_emergency(_scenario(stations=1, fixed=["F9"]), UNITS, fac, _minutes(UNITS, fac))
    assert ei.value.field == "ems.fixed"


def test_no_siting_unless_asked_and_targets_recorded():
    fac = _facilities(ambulances=[2, 1, 1, NAN])
    e = evaluate_emergency(_scenario(), UNITS, fac, _minutes(UNITS, fac))
    assert e.stations is None and "ems" not in e.record
    amb = e.targets[e.targets["target_id"] == "ems.ambulances"].set_index("scope_id")["status"]
    # A: 3 per 60,000 = 1.5 per 30,000 passes; B: F2's 1 per 60,000 = 0.5 fails; city 4 per 120,000 = 1.0 passes
    assert amb.to_dict() == {"A": "passed", "B": "failed", "D1": "passed", "D2": "failed", "city": "passed"}
    assert e.record["targets"]["id"] == "liaoning-2023"
    assert sum(e.record["targets"]["status_counts"].values()) == len(e.targets)


def test_example_scenario_run_folder(tmp_path):
    """The EXAMPLE scenario end to end: targets.csv turns figures into statuses, the ems_stations layer is written and
    read back equal to the table, and the existing stations are the scenario's fixed ones."""
    import json
    from pathlib import Path

    from simulator import load_city, load_scenario, planning_units, write_plan
    from simulator.runfolder import schema as s
    from simulator.workflow import make_plan

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "panjin_stats_example.toml")
    city = load_city(sc)
    plan = make_plan(sc, city, planning_units(sc, city))
    out = write_plan(plan, tmp_path / "run")
    targets = pd.read_csv(out / s.TARGETS_CSV, dtype={"scope_id": str})
    city_amb = targets[(targets.target_id == "ems.ambulances") & (targets.scope == "city")].iloc[0]
    # the example's made-up hospitals in the planning area hold 30 ambulances (PJ-H06 stands in 盘山县, outside)
    fig = pd.read_csv(out / s.EMERGENCY_CSV, dtype={"scope_id": str}).set_index("scope_id")
    assert fig.loc["city", "ambulances"] == 30
    pop = fig.loc["city", "population"]
    assert city_amb["baseline"] == pytest.approx(30 / pop * 30000)
    assert city_amb["status"] == ("passed" if 30 / pop * 30000 >= 1 else "failed")
    assert set(targets["status"]) <= {"passed", "failed", "no_data"} and (targets["status"] != "no_data").any()
    layer = gpd.read_file(out / s.PLAN_GPKG, layer=s.EMS_STATIONS_LAYER)
    table = pd.read_csv(out / s.EMS_STATIONS_CSV, dtype=str, keep_default_na=False)
    assert list(layer["station_id"]) == list(table["station_id"])
    assert list(table.loc[table.status == "existing", "facility_id"]) == sc.ems.fixed
    assert (table.status == "new").sum() == 3
    assert set(table.loc[table.status == "new", "location_quality"]) == {"unit_point"}
    assert (table.loc[table.status == "existing", "location_quality"] != "").all()
    record = json.loads((out / s.RUN_JSON).read_text(encoding="utf-8"))
    assert record["ems"]["covered_share"] >= record["ems"]["covered_share_existing"]
    assert record["ems"]["status"] == "optimal" and record["ems"]["bound"] == pytest.approx(record["ems"]["objective"])


def test_siting_edge_cases():
    fac = _facilities()
    # no new station and no existing one: an empty layer, nothing covered
    e = evaluate_emergency(_scenario(stations=0, minutes=5.0), UNITS, fac, _minutes(UNITS, fac))
    assert len(e.stations) == 0 and e.record["ems"]["covered_residents"] == 0 and e.seconds is not None
    with pytest.raises(InputError, match="exceeds the 3 candidate sites") as ei:
        evaluate_emergency(_scenario(stations=4, candidates="facilities"), UNITS, fac, _minutes(UNITS, fac))
    assert ei.value.field == "ems.stations"


def test_other_figures_judge_targets_another_module_computes(tmp_path):
    """A targets file row whose quantity another module computes is judged from the figures it hands in."""
    from simulator.config.targets import parse_targets

    raw = {"id": "t", "target": [{
        "id": "teams", "text_en": "teams", "text_zh": "团队", "quantity": "teams_per_10000", "comparison": "at_least",
        "norm": 2, "unit": "teams per 10,000 residents", "scopes": ["grid"],
        "source": {"quote": "示例", "document": "test", "url": ""}}]}
    fac = _facilities()
    other = pd.DataFrame({"scope": ["grid", "grid"], "scope_id": ["A", "B"], "teams_per_10000": [2.5, 1.0]})
    e = evaluate_emergency(_scenario(), UNITS, fac, _minutes(UNITS, fac), parse_targets(raw, "t.toml"), [other])
    assert e.targets.set_index("scope_id")["status"].to_dict() == {"A": "passed", "B": "failed"}


def test_console_lines_say_targets_and_siting():
    from simulator.evaluate.emergency import console_lines

    fac = _facilities(ambulances=[2, 1, 1, NAN])
    e = evaluate_emergency(_scenario(stations=1, minutes=5.0), UNITS, fac, _minutes(UNITS, fac))
    lines = console_lines(e.record)
    counts = e.record["targets"]["status_counts"]
    assert lines[0].startswith("targets 规划目标: ") and f"{counts['passed']} passed" in lines[0]
    share = e.record["ems"]["covered_share"]
    assert lines[1].startswith("ambulance stations 急救站点: 1 new") and f"{100 * share:.1f}% of residents" in lines[1]
    assert console_lines({}) == []


def test_siting_on_a_road_network(tmp_path):
    """With travel.network the coverage comes from the network (a fast road along the row of units)."""
    from shapely.geometry import LineString

    from simulator.travel import RoadNetwork

    road = tmp_path / "road.gpkg"
    xs = LON  # nodes at the unit points, 120 km/h between them
    gpd.GeoDataFrame({"speed_kmh": np.full(5, 120.0)},
                     geometry=[LineString([(xs[i], 41.01), (xs[i + 1], 41.01)]) for i in range(5)],
                     crs="EPSG:4326").to_file(road)
    fac = _facilities()
    sc = _scenario(stations=1, minutes=5.0)
    sc.travel = Travel(network=str(road))
    e = evaluate_emergency(sc, UNITS, fac, _minutes(UNITS, fac))
    net = RoadNetwork.load(road)
    m = net.minutes(LON, LAT, LON, LAT, 30.0, 1.3)  # (site, unit) minutes from each unit's point as a site
    reach = m <= 5.0
    pop = UNITS["population"].to_numpy()
    best = max(pop[reach[j]].sum() for j in range(6))
    assert e.record["ems"]["covered_residents"] == pytest.approx(best)
    straight = straight_line_minutes(LON[:, None], LAT[:, None], LON[None, :], LAT[None, :], 30, 1.3) <= 5.0
    assert best > max(pop[straight[j]].sum() for j in range(6))  # the fast road reaches further than straight lines
