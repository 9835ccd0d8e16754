"""The targets file is the one source of the readiness norms: a planner's file with another norm changes
indicators.csv, indicators_district.csv, emergency.csv and targets.csv alike (arithmetic in the comments)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import Point, box

from simulator.config.rules import load_rules
from simulator.config.targets import load_targets, parse_targets
from simulator.evaluate.emergency import emergency_figures
from simulator.evaluate.equity import district_indicators
from simulator.evaluate.indicators import compute_indicators
from simulator.evaluate.targets_table import targets_table

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "simulator" / "config" / "targets" / "liaoning-2023.toml"
NAN = np.nan

# two 0.01° squares at the equator, one grid A and one district D with 30,000 residents each
UNITS = gpd.GeoDataFrame(
    {"unit_id": ["u0", "u1"], "grid_id": ["A", "A"], "district": ["D", "D"], "district_name": ["一区", "一区"],
     "population": [30000.0, 30000.0], "area_km2": [1.0, 1.0], "travel_min_to_lead": [5.0, 10.0],
     "lon": [0.005, 0.015], "lat": [0.005, 0.005]},
    geometry=[box(0.01 * i, 0, 0.01 * (i + 1), 0.01) for i in range(2)], crs="EPSG:4326",
)
# the lead LA stands in u0, the member PCA in u1: 3 ambulances (1 negative-pressure), 6 AEDs, 10 doctors, 25 nurses
FAC = gpd.GeoDataFrame(
    {"facility_id": ["LA", "PCA"], "name": ["甲医院", "乙卫生院"], "grid_id": ["A", "A"], "role": ["lead", "member"],
     "level": ["tertiary", "primary"], "kind": ["general", "community_health_centre"], "beds": [500, NAN],
     "outpatient_daily": [1500, NAN], "doctors": [10, NAN], "nurses": [25, NAN], "ambulances": [2, 1],
     "ambulances_negative_pressure": [1, 0], "aeds": [6, NAN], "in_area": [True, True], "lon": [0.005, 0.015],
     "lat": [0.005, 0.005], "district": ["D", "D"]},
    geometry=[Point(0.005, 0.005), Point(0.015, 0.005)], crs="EPSG:4326",
)
GROUPS = pd.DataFrame({"grid_id": ["A", "A"], "facility_id": ["LA", "PCA"], "role": ["lead", "member"]})
REFERRALS = pd.DataFrame({"grid_id": ["A"], "lead_facility_id": ["LA"], "facility_id": ["PCA"],
                          "residents_served": [60000.0], "reserved_outpatient_slots": [500], "reserved_beds": [125]})
ADJ = sp.csr_matrix(np.array([[0, 1], [1, 0]], dtype=bool))


def _minutes(ui, fi):
    return np.full((len(np.atleast_1d(ui)), len(np.atleast_1d(fi))), 5.0)


def _targets(**changes):
    """The bundled targets file with some targets' fields replaced: ``{target id: {key: value}}``."""
    raw = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    for t in raw["target"]:
        t.update(changes.get(t["id"].replace(".", "_"), {}))
    return parse_targets(raw, "planner_targets.toml")


def _tables(targets):
    rules = load_rules("liaoning-2023")
    ind = compute_indicators(UNITS, FAC, GROUPS, REFERRALS, ADJ, rules, _minutes, targets=targets).set_index("grid_id")
    dist = district_indicators(UNITS, FAC, GROUPS, REFERRALS, ADJ, rules, _minutes, targets=targets)
    dist = dist.set_index("part_id")
    em = emergency_figures(UNITS, FAC, np.array([0, 1]), _minutes, targets).set_index("scope_id")
    table = targets_table(targets, em.reset_index())
    status = table.set_index(["target_id", "scope_id"])["status"]
    return ind, dist, em, status


def test_the_bundled_norms_reach_every_table():
    ind, dist, em, status = _tables(load_targets())
    # 3 ambulances for 60,000 residents: 1.5 per 30,000; the norm 1 per 30,000 requires ⌈60,000 / 30,000⌉ = 2
    assert ind.loc["A", "ambulances_per_30000"] == pytest.approx(1.5) == em.loc["A", "ambulances_per_30000"]
    assert ind.loc["A", "ambulances_per_30000_target"] == 1.0 == dist.loc["D", "ambulances_per_30000_target"]
    assert ind.loc["A", "nurses_per_doctor_target"] == 2.0 and ind.loc["A", "aeds_per_10000_target"] == 1.0
    assert ind.loc["A", "ambulance_negative_pressure_share_target"] == 0.4
    assert em.loc["A", "ambulances_required"] == 2 and em.loc["A", "ambulances_negative_pressure_required"] == 1
    assert em.loc["A", "aeds_required"] == 6  # ⌈60,000 × 1 / 10,000⌉
    assert status[("ems.ambulances", "A")] == "passed" and status[("ems.aeds", "A")] == "passed"


def test_a_planner_norm_changes_indicator_and_emergency_alike():
    """2 ambulances per 30,000, 60 % negative-pressure, 1.5 AEDs per 10,000, 3 nurses per doctor."""
    ts = _targets(ems_ambulances={"norm": 2.0}, ems_negative_pressure={"norm": 0.6}, ems_aeds={"norm": 1.5},
                  staff_nurses_per_doctor={"norm": 3.0})
    ind, dist, em, status = _tables(ts)
    assert ind.loc["A", "ambulances_per_30000_target"] == 2.0 == dist.loc["D", "ambulances_per_30000_target"]
    assert ind.loc["city", "ambulance_negative_pressure_share_target"] == 0.6
    assert ind.loc["A", "aeds_per_10000_target"] == 1.5 and ind.loc["A", "nurses_per_doctor_target"] == 3.0
    # ⌈60,000 × 2 / 30,000⌉ = 4 ambulances, ⌈4 × 0.6⌉ = 3 negative-pressure, ⌈60,000 × 1.5 / 10,000⌉ = 9 AEDs
    assert em.loc["A", "ambulances_required"] == 4 and em.loc["A", "ambulances_shortfall"] == 1
    assert em.loc["A", "ambulances_negative_pressure_required"] == 3
    assert em.loc["D", "aeds_required"] == 9 and em.loc["city", "aeds_shortfall"] == 3
    # the same figure (1.5 per 30,000) now falls short of the norm the indicators table shows
    assert em.loc["A", "ambulances_per_30000"] < ind.loc["A", "ambulances_per_30000_target"]
    assert status[("ems.ambulances", "A")] == "failed" and status[("ems.aeds", "city")] == "failed"
    assert status[("staff.nurses_per_doctor", "A")] == "failed"  # 2.5 < 3


def test_a_planner_per_changes_the_rate_column_alike():
    """1 ambulance per 20,000 residents: a new rate column in both tables, judged, and ⌈60,000 / 20,000⌉ = 3."""
    ts = _targets(ems_ambulances={"per": 20000, "quantity": "ambulances_per_20000",
                                  "unit": "ambulances per 20,000 residents"})
    ind, dist, em, status = _tables(ts)
    assert ind.loc["A", "ambulances_per_20000"] == pytest.approx(1.0) == em.loc["A", "ambulances_per_20000"]
    assert dist.loc["D", "ambulances_per_20000"] == pytest.approx(1.0)
    assert ind.loc["A", "ambulances_per_20000_target"] == 1.0
    assert np.isnan(ind.loc["A", "ambulances_per_30000_target"])  # no target judges the per-30,000 reading now
    assert em.loc["A", "ambulances_required"] == 3 and em.loc["A", "ambulances_shortfall"] == 0
    assert status[("ems.ambulances", "A")] == "passed"


def test_without_the_target_nothing_is_invented():
    raw = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    raw["target"] = [t for t in raw["target"] if not t["id"].startswith("ems.")]
    ts = parse_targets(raw, "no_ems.toml")
    ind, _, em, _ = _tables(ts)
    assert np.isnan(em.loc["A", "ambulances_required"]) and np.isnan(em.loc["A", "aeds_required"])
    assert np.isnan(ind.loc["A", "ambulances_per_30000_target"])
    assert ind.loc["A", "ambulances_per_30000"] == pytest.approx(1.5)  # the figure stays, only the norm is gone


def test_the_rule_file_holds_no_norm():
    """The bundled rule file has no [targets] table (the norms would be a second source)."""
    raw = tomllib.loads((ROOT / "simulator" / "config" / "rules" / "liaoning-2023.toml").read_text(encoding="utf-8"))
    assert "targets" not in raw
