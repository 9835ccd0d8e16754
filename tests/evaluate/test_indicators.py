"""Indicators against values computed by hand on a 4-unit, 2-grid fixture (see the comments for the arithmetic)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import box

from simulator.config.rules import load_rules
from simulator.evaluate.indicators import compute_indicators, weighted_quantile

# units 0..3 in a row of 0.01° squares at the equator; grid A = {0, 1}, grid B = {2, 3}
UNITS = pd.DataFrame(
    {
        "unit_id": ["u0", "u1", "u2", "u3"],
        "grid_id": ["A", "A", "B", "B"],
        "population": [100, 300, 200, 400],
        "area_km2": [1.0, 1.0, 1.0, 1.0],
        "travel_min_to_lead": [5.0, 20.0, 10.0, 40.0],
    }
)
GEOMS = np.array([box(0.01 * i, 0, 0.01 * (i + 1), 0.01) for i in range(4)], dtype=object)
ADJ = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=bool))
NAN = np.nan
FAC = pd.DataFrame(
    {
        "facility_id": ["LA", "LB", "PCA", "PCB", "SA", "EXT"],
        "grid_id": ["A", "B", "A", "B", "A", ""],
        "role": ["lead", "lead", "member", "member", "member", "collaborating"],
        "level": ["tertiary", "tertiary", "primary", "primary", "secondary", "tertiary"],
        "kind": ["general", "general", "community_health_centre", "community_health_centre", "general", "general"],
        "beds": [500, 300, NAN, NAN, 100, 2000],
        "outpatient_daily": [1500, 900, NAN, NAN, 300, 6000],
        "doctors": [NAN, NAN, NAN, NAN, 10, NAN],
        "nurses": [NAN, NAN, NAN, NAN, 25, NAN],
    }
)
GROUPS = pd.DataFrame(
    {"grid_id": ["A", "A", "A", "B", "B"], "facility_id": ["LA", "PCA", "SA", "LB", "PCB"],
     "role": ["lead", "member", "member", "lead", "member"]}
)
REFERRALS = pd.DataFrame(
    {"grid_id": ["A", "B"], "lead_facility_id": ["LA", "LB"], "facility_id": ["PCA", "PCB"],
     "residents_served": [400.0, 600.0], "reserved_outpatient_slots": [500, 300], "reserved_beds": [125, 75]}
)
# minutes unit → facility (rows: units, columns: LA, LB, PCA, PCB, SA, EXT)
MINUTES = np.array(
    [
        [5, 25, 3, 20, 9, 300],
        [20, 15, 16, 14, 9, 300],
        [30, 10, 20, 12, 9, 300],
        [50, 40, 30, 18, 9, 300],
    ],
    dtype=float,
)


@pytest.fixture(scope="module")
def ind():
    df = compute_indicators(
        UNITS, FAC, GROUPS, REFERRALS, ADJ, load_rules("liaoning-2023"), lambda u, f: MINUTES[np.ix_(u, f)],
        access_minutes=30.0, primary_care_minutes=15.0, unit_geometry=GEOMS,
    )
    return df.set_index("grid_id")


def test_population_and_access(ind):
    assert ind.loc["A", "population"] == 400 and ind.loc["B", "population"] == 600
    assert ind.loc["A", "population_share"] == pytest.approx(0.4)
    # A: (100·5 + 300·20) / 400; B: (200·10 + 400·40) / 600; city: 24,500 / 1,000
    assert ind.loc["A", "travel_mean_min"] == pytest.approx(16.25)
    assert ind.loc["B", "travel_mean_min"] == pytest.approx(30.0)
    assert ind.loc["city", "travel_mean_min"] == pytest.approx(24.5)
    # weighted medians: A 5 holds 25 % → 20; B 10 holds 33 % → 40; city cum 10/30/60 % at 5/10/20 → 20
    assert ind.loc["A", "travel_median_min"] == 20 and ind.loc["B", "travel_median_min"] == 40
    assert ind.loc["city", "travel_median_min"] == 20 and ind.loc["city", "travel_p90_min"] == 40
    assert ind.loc["city", "travel_max_min"] == 40
    # within 30 min: A all; B 200 of 600; city 600 of 1,000
    assert ind.loc["A", "share_within_access"] == 1.0
    assert ind.loc["B", "share_within_access"] == pytest.approx(1 / 3)
    assert ind.loc["city", "share_within_access"] == pytest.approx(0.6)


def test_primary_care_circle(ind):
    # nearest in-grid primary care: u0 3 min, u1 16, u2 12, u3 18 → within 15: u0 (100), u2 (200)
    assert ind.loc["A", "share_within_primary_care"] == pytest.approx(0.25)
    assert ind.loc["B", "share_within_primary_care"] == pytest.approx(1 / 3)
    assert ind.loc["city", "share_within_primary_care"] == pytest.approx(0.3)


def test_capacity_per_1000(ind):
    assert ind.loc["A", "beds_per_1000"] == pytest.approx(600 / 400 * 1000)  # LA 500 + SA 100
    assert ind.loc["B", "beds_per_1000"] == pytest.approx(300 / 600 * 1000)
    assert ind.loc["city", "beds_per_1000"] == pytest.approx(900.0)  # the external unit is not a member
    assert ind.loc["A", "tertiary_beds_per_1000"] == pytest.approx(1250.0)
    assert ind.loc["A", "outpatient_slots_per_1000"] == pytest.approx(1800 / 400 * 1000)
    assert ind.loc["city", "outpatient_slots_per_1000"] == pytest.approx(2700.0)


def test_referral_per_10000(ind):
    assert ind.loc["A", "reserved_slots_per_10000"] == pytest.approx(500 / 400 * 1e4)
    assert ind.loc["B", "reserved_beds_per_10000"] == pytest.approx(75 / 600 * 1e4)
    assert ind.loc["city", "reserved_slots_per_10000"] == pytest.approx(8000.0)


def test_boundary_cost(ind):
    # u1 (300 residents, grid A) is 15 min from LB but 20 from its own lead LA: 5 extra minutes
    assert ind.loc["A", "share_nearest_lead_elsewhere"] == pytest.approx(0.75)
    assert ind.loc["A", "extra_min_nearest_lead_elsewhere"] == pytest.approx(5.0)
    assert ind.loc["B", "share_nearest_lead_elsewhere"] == 0.0
    assert ind.loc["city", "share_nearest_lead_elsewhere"] == pytest.approx(0.3)


def test_balance_and_shape(ind):
    # populations 400 and 600: CV = 100 / 500, max/min = 1.5
    assert ind.loc["city", "population_cv"] == pytest.approx(0.2)
    assert ind.loc["city", "population_max_min_ratio"] == pytest.approx(1.5)
    # each grid is a 0.02° × 0.01° rectangle at the equator; on the WGS-84 ellipsoid a degree is 111.3195 km
    # east-west and 110.574 km north-south there, so w = 2.22639 km, h = 1.10574 km and PP = 4π·w·h / (2(w + h))²
    w, h = 0.02 * 111.3195, 0.01 * 110.574
    assert ind.loc["A", "polsby_popper"] == pytest.approx(4 * np.pi * w * h / (2 * (w + h)) ** 2, rel=2e-4)
    assert ind.loc["A", "cut_edges"] == 1 and ind.loc["city", "cut_edges"] == 1


def test_readiness_no_data_is_not_zero(ind):
    assert ind.loc["A", "nurses_per_doctor"] == pytest.approx(2.5)
    assert pd.isna(ind.loc["B", "nurses_per_doctor"])
    assert pd.isna(ind.loc["A", "ambulances_per_30000"]) and pd.isna(ind.loc["A", "aeds_per_10000"])


def test_weighted_quantile_edges():
    assert weighted_quantile([1, 2, 3], [1, 1, 2], 0.5) == 2
    assert weighted_quantile([1, 2, 3], [1, 1, 2], 0.51) == 3
    assert np.isnan(weighted_quantile([1, 2], [0, 0], 0.5))


def test_access_with_a_grid_without_lead():
    from simulator.evaluate.indicators import _access

    # 100 residents 10 min from their lead; 300 in a layout grid with no lead (no travel time)
    got = _access(np.array([10.0, np.nan]), np.array([100.0, 300.0]), 30.0)
    assert got["travel_mean_min"] == 10.0 and got["travel_max_min"] == 10.0
    assert got["share_within_access"] == pytest.approx(0.25)  # the unled residents count as not reached
    none = _access(np.array([np.nan]), np.array([50.0]), 30.0)
    assert np.isnan(none["travel_mean_min"]) and none["share_within_access"] == 0.0


def test_unserved_residents_of_a_grid_without_lead():
    """Grid B of the fixture without a lead (a planner's layout grid no hospital can lead): its 600 residents are
    unserved, count as not reached in both access shares, and the minutes are of A's 400 served residents."""
    units = UNITS.assign(travel_min_to_lead=[5.0, 20.0, np.nan, np.nan])
    groups = GROUPS[GROUPS["grid_id"] == "A"]
    fac = FAC.assign(role=["lead", "unassigned", "member", "unassigned", "member", "collaborating"])
    ind = compute_indicators(
        units, fac, groups, REFERRALS[REFERRALS["grid_id"] == "A"], ADJ, load_rules("liaoning-2023"),
        lambda u, f: MINUTES[np.ix_(u, f)], access_minutes=30.0, primary_care_minutes=15.0,
    ).set_index("grid_id")
    assert ind.loc["A", "unserved_residents"] == 0 and ind.loc["A", "unserved_share"] == 0
    assert ind.loc["B", "unserved_residents"] == 600 and ind.loc["B", "unserved_share"] == 1.0
    assert ind.loc["city", "unserved_residents"] == 600 and ind.loc["city", "unserved_share"] == pytest.approx(0.6)
    assert ind.loc["city", "share_within_access"] == pytest.approx(0.4)  # A's 400 of all 1,000
    # PCB is 12 min from u2 but B has no group, hence no 15-minute circle: only u0 (100) of 1,000 is within
    assert ind.loc["B", "share_within_primary_care"] == 0.0
    assert ind.loc["city", "share_within_primary_care"] == pytest.approx(0.1)
    assert ind.loc["city", "travel_mean_min"] == pytest.approx(16.25)  # of served residents only


def test_everyone_served_when_every_grid_has_a_lead(ind):
    assert (ind["unserved_residents"] == 0).all() and (ind["unserved_share"] == 0).all()


def test_estimated_capacity_shares():
    """LA's 500 beds are a grade-rule estimate, SA's 100 a sourced fact, LB's 300 modelled: A 500/600, B all, city
    800/900; without an outpatient_status column the slots are the planner's figures, taken as given."""
    fac = FAC.assign(beds_status=["estimate (rule: 三级 → 500)", "modelled", "gap", "gap", "fact (annual report)", ""])
    ind = compute_indicators(
        UNITS, fac, GROUPS, REFERRALS, ADJ, load_rules("liaoning-2023"), lambda u, f: MINUTES[np.ix_(u, f)],
    ).set_index("grid_id")
    assert ind.loc["A", "beds_estimated_share"] == pytest.approx(500 / 600)
    assert ind.loc["B", "beds_estimated_share"] == 1.0
    assert ind.loc["city", "beds_estimated_share"] == pytest.approx(800 / 900)
    assert (ind["outpatient_estimated_share"] == 0).all()  # no outpatient_status column: the planner's figures
