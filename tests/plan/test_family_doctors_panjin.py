"""Family-doctor teams on Panjin with declared staffing: the GP target is judged in targets.csv per grid, agreeing
with family_doctors.csv, and a facility's declared teams receive its share of the lead's reserved slots and beds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from panjin_data import panjin_copy

from simulator import load_city, load_scenario, planning_units
from simulator.workflow import make_plan

ROOT = Path(__file__).resolve().parents[2]


def test_declared_gps_and_teams_on_panjin(tmp_path):
    def staffing(r: dict[str, str]) -> None:  # made-up staffing for the test: 大洼区's sites few GPs, the others many
        r["general_practitioners"] = "5" if r["district"] == "211104" else "25"
        r["family_doctor_teams"] = "3" if r["facility_id"] == "PJ-M001" else ""

    panjin_copy(tmp_path, "primary_care_modelled.csv", staffing)
    s = load_scenario(ROOT / "scenarios" / "panjin.toml", {"data": str(tmp_path / "panjin")})
    city = load_city(s)
    plan = make_plan(s, city, planning_units(s, city))
    fd = plan.family_doctors.set_index("grid_id")
    t = plan.targets
    gp = t[(t.quantity == "general_practitioners_per_10000") & (t.scope == "grid")].set_index("scope_id")
    for g, row in fd.iterrows():
        assert row.general_practitioners_needed == math.ceil(row.residents * 2 / 1e4 - 1e-9)
        short = row.general_practitioners < row.general_practitioners_needed
        assert gp.loc[g, "status"] == ("failed" if short else "passed"), (g, row.general_practitioners)
        assert float(gp.loc[g, "baseline"]) == pytest.approx(row.general_practitioners / row.residents * 1e4, rel=1e-6)
    assert set(gp.status) == {"passed", "failed"}  # 大洼区's grid falls short, the others do not
    alloc = plan.referral_allocations
    teams = alloc[alloc.facility_id == "PJ-M001"]
    ref = plan.referrals.set_index("facility_id").loc["PJ-M001"]
    assert list(teams.recipient) == ["team"] * 3
    assert teams.reserved_outpatient_slots.sum() == ref.reserved_outpatient_slots
    assert teams.reserved_beds.sum() == ref.reserved_beds
    assert set(alloc[alloc.facility_id != "PJ-M001"].recipient) == {"facility"}
