"""Family-doctor teams: needs from the norm, shortfalls, and who receives the lead's reserved slots and beds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simulator.plan.family_doctors import (
    FamilyDoctorNorm,
    allocate_to_teams,
    family_doctor_figures,
    family_doctor_needs,
)

PC = ["community_health_centre", "township_hospital"]


def _plan(gps=(3.0, np.nan, 1.0), teams=(2.0, np.nan, np.nan)):
    units = pd.DataFrame({"grid_id": ["G1", "G1", "G2"], "population": [20_000, 9_999, 12_000]})
    fac = pd.DataFrame({
        "facility_id": ["L1", "C1", "C2", "L2", "C3"],
        "kind": ["general", "community_health_centre", "community_health_centre", "general", "township_hospital"],
        "general_practitioners": [40.0, gps[0], gps[1], 30.0, gps[2]],
        "family_doctor_teams": [np.nan, teams[0], teams[1], np.nan, teams[2]],
    })
    groups = pd.DataFrame({"grid_id": ["G1", "G1", "G1", "G2", "G2"], "facility_id": ["L1", "C1", "C2", "L2", "C3"],
                           "role": ["lead", "member", "member", "lead", "member"]})
    return units, fac, groups


def test_needs_and_shortfalls_follow_the_norm_and_never_invent_data():
    units, fac, groups = _plan()
    norm = FamilyDoctorNorm(gps_per_10000=2.0, gp_source="国发〔2011〕23号", residents_per_team=2_500)
    out = family_doctor_needs(units, fac, groups, PC, norm).set_index("grid_id")
    # G1: 29,999 residents → ceil(5.9998) = 6 GPs; the lead's doctors are not primary care; C2 reports nothing
    assert out.loc["G1", "general_practitioners_needed"] == 6
    assert out.loc["G1", "general_practitioners"] == 3 and out.loc["G1", "gp_facilities_reporting"] == 1
    assert out.loc["G1", "general_practitioners_shortfall"] == 3
    assert out.loc["G1", "family_doctor_teams_needed"] == 12  # ceil(29,999 / 2,500)
    assert out.loc["G1", "family_doctor_teams_shortfall"] == 10
    # G2 declares no teams: no data, not zero
    assert np.isnan(out.loc["G2", "family_doctor_teams"]) and np.isnan(out.loc["G2", "family_doctor_teams_shortfall"])
    assert out.loc["G2", "general_practitioners_needed"] == 3  # ceil(2.4)
    assert "国发〔2011〕23号" in out.loc["G1", "gp_norm_source"]


def test_without_norms_the_needs_are_no_data():
    units, fac, groups = _plan()
    out = family_doctor_needs(units, fac, groups, PC).set_index("grid_id")
    assert out["family_doctor_teams_needed"].isna().all() and out["general_practitioners_needed"].isna().all()
    assert out["team_norm_source"].str.startswith("no_data").all()
    assert out["gp_norm_source"].str.startswith("no_data").all()
    assert out["general_practitioners_shortfall"].isna().all()


def test_the_norm_comes_from_the_targets_file():
    from types import SimpleNamespace

    from simulator.config.targets import TargetSet, load_targets

    scenario = SimpleNamespace(targets="liaoning-2023", plan=SimpleNamespace(residents_per_family_doctor_team=3000))
    norm = FamilyDoctorNorm.of(scenario)
    assert norm.gps_per_10000 == 2.0 and norm.residents_per_team == 3000
    assert "国发〔2011〕23号" in norm.gp_source and "基本实现城乡每万名居民有2—3名合格的全科医生" in norm.gp_source
    shipped = load_targets("liaoning-2023")
    gp = next(t for t in shipped.targets if t.quantity == "general_practitioners_per_10000")
    # a norm stated per 1,000 residents is converted; a targets file without the target gives no norm
    per_1000 = TargetSet(shipped.id, shipped.title, (dataclasses.replace(gp, norm=0.3, per=1000.0),))
    assert FamilyDoctorNorm.of(scenario, per_1000).gps_per_10000 == pytest.approx(3.0)
    assert FamilyDoctorNorm.of(scenario, TargetSet(shipped.id, shipped.title, ())).gps_per_10000 is None


def test_figures_per_grid_district_and_city_for_the_targets_file():
    units, fac, groups = _plan()
    units = units.assign(district=["D1", "D2", "D2"], district_name=["一区", "二区", "二区"])
    fac = fac.assign(district=["D1", "D1", "D2", "D2", "D2"])
    out = family_doctor_figures(units, fac, groups, PC).set_index(["scope", "scope_id"])
    # G1: C1 declares 3 GPs (C2 nothing) for 29,999 residents; the leads' doctors are not primary care
    assert out.loc[("grid", "G1"), "general_practitioners_per_10000"] == pytest.approx(3 / 29_999 * 1e4)
    assert out.loc[("grid", "G1"), "family_doctor_teams_per_10000"] == pytest.approx(2 / 29_999 * 1e4)
    assert np.isnan(out.loc[("grid", "G2"), "family_doctor_teams_per_10000"])  # no data, not zero
    # D2: C2 (nothing) and C3 (1 GP) for 9,999 + 12,000 residents
    assert out.loc[("district", "D2"), "general_practitioners_per_10000"] == pytest.approx(1 / 21_999 * 1e4)
    assert out.loc[("city", "city"), "general_practitioners_per_10000"] == pytest.approx(4 / 41_999 * 1e4)


def test_teams_receive_equal_parts_that_sum_to_the_facility_figure():
    _, fac, _ = _plan(teams=(3.0, np.nan, 0.0))
    referrals = pd.DataFrame({
        "grid_id": ["G1", "G1", "G2", "G2"], "lead_facility_id": ["L1", "L1", "L2", "L2"],
        "facility_id": ["C1", "C2", "C3", ""],
        "reserved_outpatient_slots": [100.0, 50.0, 7.0, np.nan], "reserved_beds": [25.0, np.nan, 2.0, np.nan],
    })
    out = allocate_to_teams(referrals, fac)
    c1 = out[out.facility_id == "C1"]
    assert list(c1.recipient) == ["team"] * 3 and list(c1.team) == ["1/3", "2/3", "3/3"]
    assert list(c1.reserved_outpatient_slots) == [34, 33, 33] and list(c1.reserved_beds) == [9, 8, 8]
    # C2 declares nothing and C3 declares zero teams: the facility receives its figure; unknown stays unknown
    c2 = out[out.facility_id == "C2"].iloc[0]
    assert c2.recipient == "facility" and c2.reserved_outpatient_slots == 50 and np.isnan(c2.reserved_beds)
    assert out[out.facility_id == "C3"].recipient.tolist() == ["facility"]
    # a grid without primary care has no recipient row; every facility's parts sum to its referrals figure
    assert "" not in set(out.facility_id)
    sums = out.groupby("facility_id")[["reserved_outpatient_slots", "reserved_beds"]].sum(min_count=1)
    ref = referrals[referrals.facility_id != ""].set_index("facility_id")
    pd.testing.assert_frame_equal(sums.sort_index(), ref[["reserved_outpatient_slots", "reserved_beds"]].sort_index(),
                                  check_dtype=False)


@pytest.mark.parametrize("seed", range(10))
def test_random_allocations_add_up(seed):
    rng = np.random.default_rng(seed)
    n = 6
    fac = pd.DataFrame({"facility_id": [f"C{i}" for i in range(n)],
                        "family_doctor_teams": rng.choice([np.nan, 0, 1, 2, 5, 7], n)})
    referrals = pd.DataFrame({"grid_id": "G1", "lead_facility_id": "L1", "facility_id": fac.facility_id,
                              "reserved_outpatient_slots": rng.integers(0, 500, n).astype(float),
                              "reserved_beds": rng.integers(0, 90, n).astype(float)})
    out = allocate_to_teams(referrals, fac)
    got = out.groupby("facility_id")[["reserved_outpatient_slots", "reserved_beds"]].sum()
    want = referrals.set_index("facility_id")[["reserved_outpatient_slots", "reserved_beds"]]
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_dtype=False)
    for _fid, part in out.groupby("facility_id"):
        assert part.reserved_outpatient_slots.max() - part.reserved_outpatient_slots.min() <= 1  # equal parts
