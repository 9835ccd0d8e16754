"""Equity: indicators per district and urban/rural part, the Gini of travel minutes, max/min ratios, service lines.

Each figure is recomputed here independently (double-sum Gini, per-district sums by hand) on tiny cities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from simulator.config.centres import ServiceLine, load_service_lines
from simulator.config.rules import load_rules
from simulator.evaluate.equity import district_indicators, service_lines, weighted_gini


def brute_gini(x, w):
    x, w = np.asarray(x, float), np.asarray(w, float)
    mu = (w * x).sum() / w.sum()
    return (w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])).sum() / (2 * w.sum() ** 2 * mu)


@pytest.mark.parametrize("seed", range(25))
def test_weighted_gini_matches_the_double_sum(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    x = rng.integers(0, 60, n).astype(float)
    w = rng.integers(0, 1000, n).astype(float)
    if (w * x).sum() <= 0:
        assert np.isnan(weighted_gini(x, w))
        return
    assert weighted_gini(x, w) == pytest.approx(brute_gini(x[w > 0], w[w > 0]))


def test_gini_edge_cases():
    assert weighted_gini([5, 5, 5], [1, 2, 3]) == pytest.approx(0.0)
    # all residents in one unit at 10 min, none elsewhere: equal
    assert weighted_gini([10, 40], [100, 0]) == pytest.approx(0.0)
    # one of two equal groups travels, the other does not: 1/2
    assert weighted_gini([0, 10], [1, 1]) == pytest.approx(0.5)
    assert weighted_gini([np.nan, 3, 3], [5, 1, 1]) == pytest.approx(0.0)


def _tiny():
    """Four units in two districts (D1 urban district, D2 county), two grids, four facilities."""
    units = pd.DataFrame({
        "unit_id": list("abcd"),
        "district": ["D1", "D1", "D2", "D2"],
        "district_name": ["一区", "一区", "二县", "二县"],
        "population": [1000, 3000, 500, 500],
        "area_km2": [1.0, 2.0, 10.0, 20.0],
        "grid_id": ["G1", "G1", "G2", "G2"],
        "travel_min_to_lead": [2.0, 10.0, 5.0, 35.0],
    })
    fac = pd.DataFrame({
        "facility_id": ["L1", "P1", "L2", "P2"],
        "name": ["甲", "乙", "丙", "丁"],
        "district": ["D1", "D1", "D2", "D2"],
        "level": ["tertiary", "primary", "tertiary", "primary"],
        "kind": ["general", "community_health_centre", "tcm", "township_hospital"],
        "beds": [400.0, np.nan, 100.0, 20.0],
        "beds_status": ["fact", "", "estimate", "fact"],
        "outpatient_daily": [1200.0, 50.0, 300.0, np.nan],
        "outpatient_status": ["fact", "fact", "fact", ""],
        "grid_id": ["G1", "G1", "G2", "G2"],
        "role": ["lead", "member", "lead", "member"],
        "continuing_care": [False, False, False, True],
    })
    fac_unit = np.array([0, 1, 2, 3])
    groups = pd.DataFrame({"grid_id": ["G1", "G1", "G2", "G2"], "facility_id": ["L1", "P1", "L2", "P2"],
                           "role": ["lead", "member", "lead", "member"]})
    referrals = pd.DataFrame({"grid_id": ["G1", "G2"], "facility_id": ["P1", "P2"],
                              "reserved_outpatient_slots": [400.0, 100.0], "reserved_beds": [100.0, 25.0]})
    adj = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]]))
    districts = pd.DataFrame({"adcode": ["D1", "D2"], "urban": [True, False]})

    def minutes(u, f):
        return 3.0 * np.abs(np.asarray(u)[:, None] - fac_unit[np.asarray(f)][None, :]) + 1.0

    return units, fac, groups, referrals, adj, districts, minutes


def test_district_rows_are_the_district_sums():
    units, fac, groups, referrals, adj, districts, minutes = _tiny()
    out = district_indicators(units, fac, groups, referrals, adj, load_rules("liaoning-2023"), minutes, districts,
                              access_minutes=30, primary_care_minutes=2)
    d = out.set_index("part_id")
    assert list(out.part_type) == ["district", "district", "urban_rural", "urban_rural", "city", "max_min_ratio"]
    assert d.loc["D1", "population"] == 4000 and d.loc["D2", "population"] == 1000
    assert d.loc["D1", "travel_mean_min"] == pytest.approx((1000 * 2 + 3000 * 10) / 4000)
    assert d.loc["D2", "share_within_access"] == pytest.approx(0.5)  # the unit at 35 min is beyond 30
    assert d.loc["D1", "travel_gini"] == pytest.approx(brute_gini([2, 10], [1000, 3000]))
    # capacity of the group facilities standing in the district; P1's beds are unknown, not zero
    assert d.loc["D1", "beds_per_1000"] == pytest.approx(400 / 4000 * 1000)
    assert d.loc["D2", "beds_per_1000"] == pytest.approx(120 / 1000 * 1000)
    assert d.loc["D2", "beds_estimated_share"] == pytest.approx(100 / 120)
    assert d.loc["D1", "reserved_slots_per_10000"] == pytest.approx(400 / 4000 * 1e4)
    # primary care within 2 min: unit b holds P1 (1 min), unit d holds P2; a (3 units away … 4 min) and c do not
    assert d.loc["D1", "share_within_primary_care"] == pytest.approx(3000 / 4000)
    # urban = the urban district, rural = the county
    assert d.loc["urban", "population"] == 4000 and d.loc["rural", "beds_per_1000"] == pytest.approx(120)
    assert d.loc["city", "population"] == 5000
    assert d.loc["city", "travel_gini"] == pytest.approx(brute_gini([2, 10, 5, 35], [1000, 3000, 500, 500]))
    assert d.loc["max_min_ratio", "beds_per_1000"] == pytest.approx(120 / 100)
    assert d.loc["max_min_ratio", "population"] == pytest.approx(4.0)
    # no readiness data: missing, never zero, and no ratio
    assert pd.isna(d.loc["D1", "aeds_per_10000"]) and pd.isna(d.loc["max_min_ratio", "aeds_per_10000"])


def test_without_a_district_table_there_is_no_urban_rural_row():
    units, fac, groups, referrals, adj, _, minutes = _tiny()
    out = district_indicators(units, fac, groups, referrals, adj, load_rules("liaoning-2023"), minutes)
    assert "urban_rural" not in set(out.part_type)


def test_service_lines_follow_the_kinds_and_the_continuing_care_flag():
    _, fac, groups, *_ = _tiny()
    lines = (ServiceLine("tcm", "TCM", "中医", ("tcm",), False, "t"),
             ServiceLine("nursing", "Nursing", "护理", ("nursing",), True, "t"))
    out = service_lines(groups, fac, lines).set_index(["grid_id", "service_line"])
    assert not out.loc[("G1", "tcm"), "offered"] and out.loc[("G2", "tcm"), "facility_ids"] == "L2"
    assert out.loc[("G2", "nursing"), "facility_ids"] == "P2"  # flagged continuing care
    assert not out.loc[("G1", "nursing"), "offered"]


def test_the_shipped_service_lines():
    assert [x.id for x in load_service_lines()] == ["prevention", "rehab", "nursing", "maternal_child", "tcm"]


def test_indicators_csv_carries_the_gini_per_grid_and_city():
    from simulator.evaluate.indicators import compute_indicators

    units, fac, groups, referrals, adj, _, minutes = _tiny()
    ind = compute_indicators(units, fac.assign(lon=0.0, lat=0.0), groups, referrals, adj, load_rules("liaoning-2023"),
                             minutes).set_index("grid_id")
    assert ind.loc["G1", "travel_gini"] == pytest.approx(brute_gini([2, 10], [1000, 3000]))
    assert ind.loc["city", "travel_gini"] == pytest.approx(brute_gini([2, 10, 5, 35], [1000, 3000, 500, 500]))


def test_a_facility_without_a_district_takes_its_units():
    import geopandas as gpd
    from shapely.geometry import Point, box

    units, fac, groups, referrals, adj, districts, minutes = _tiny()
    units = gpd.GeoDataFrame(units, geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs="EPSG:4326")
    fac = gpd.GeoDataFrame(fac.assign(district=["D1", "D1", "", "D2"], in_area=True),
                           geometry=[Point(i + 0.5, 0.5) for i in range(4)], crs="EPSG:4326")
    out = district_indicators(units, fac, groups, referrals, adj, load_rules("liaoning-2023"), minutes, districts)
    # L2 (100 beds) stands in unit c of D2: counted there although its district cell is blank
    assert out.set_index("part_id").loc["D2", "beds_per_1000"] == pytest.approx(120)
