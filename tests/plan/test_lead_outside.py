"""``plan.lead_inside_grid`` on the synthetic city of ``test_run_modes``, with a downtown cluster of leads.

Issue 10: only members are 网格内 (the 2023 Liaoning pilot plan), so by default (``lead_inside_grid = false``) two
tertiary hospitals standing in one planning unit may both lead a grid, the lead of one of them then standing outside
its grid. ``lead_inside_grid = true`` keeps the old reading: one candidate per planning unit, the lead inside.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from synthetic_city import write_facilities
from test_run_modes import city, leads_of, run_plan  # noqa: F401  (city: module fixture)

from simulator.errors import PlanningError
from simulator.evaluate.verify import verify_run


@pytest.fixture(scope="module")
def downtown(city):  # noqa: F811
    """The synthetic city with 乙市第二医院 (T2) moved next door to 甲市第一医院 (T1): one planning unit, two leads."""
    write_facilities(city / "data" / "facilities_downtown.csv", change={"T2": {"lon": 122.0452, "lat": 41.0551}})
    return city


def _over(extra: dict | None = None) -> dict:
    return {"inputs.facilities": ["facilities_downtown.csv"], **(extra or {})}


def _record(out) -> dict:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


def _unit_of(out, fid: str) -> str:
    fac = pd.read_csv(out / "groups.csv", dtype=str)
    assert fid in set(fac["facility_id"])
    import geopandas as gpd

    units = gpd.read_file(out / "plan.gpkg", layer="units")
    f = gpd.read_file(out / "plan.gpkg", layer="facilities")
    pt = f.loc[f.facility_id == fid, "geometry"].iat[0]
    return str(units.loc[units.contains(pt), "grid_id"].iat[0])


def test_default_plans_three_grids_with_two_leads_in_one_unit(downtown, tmp_path):
    out = tmp_path / "default"
    plan = run_plan(downtown, out, _over({"grids.count": 3}))
    assert plan.scenario.plan.lead_inside_grid is False
    assert _record(out)["scenario"]["plan"]["lead_inside_grid"] is False
    leads = leads_of(out)
    assert sorted(leads.values()) == ["T1", "T2", "T3"]
    # T1 and T2 share a unit, which lies in one grid: at least one of them leads a grid it stands outside of
    grid_of = {fid: g for g, fid in leads.items()}
    assert _unit_of(out, "T1") == _unit_of(out, "T2")
    assert grid_of["T1"] != _unit_of(out, "T1") or grid_of["T2"] != _unit_of(out, "T2")
    notes = _record(out)["solver_notes"]
    assert any("stand outside their own grid" in n for n in notes)
    assert not any("co-located candidate leads" in n for n in plan.notes)
    # each lead is listed once, as the lead of its own grid (groups.csv and the facilities layer agree)
    groups = pd.read_csv(out / "groups.csv", dtype=str)
    for fid in ("T1", "T2"):
        rows = groups[groups.facility_id == fid]
        assert rows["role"].tolist() == ["lead"] and rows["grid_id"].iat[0] == grid_of[fid]
    assert plan.passed
    assert verify_run(out) == []


def test_inside_reading_keeps_todays_result(downtown, tmp_path):
    """``lead_inside_grid = true``: one candidate per unit (the larger T1 kept), every lead inside its grid."""
    out = tmp_path / "inside"
    plan = run_plan(downtown, out, _over({"plan.lead_inside_grid": True}))
    assert _record(out)["scenario"]["plan"]["lead_inside_grid"] is True
    assert any("co-located candidate leads" in n and "乙市第二医院" in n for n in plan.notes)
    assert _record(out)["candidate_leads"] == ["T1", "T3"]
    for g, fid in leads_of(out).items():
        assert _unit_of(out, fid) == g
    assert not any("stand outside their own grid" in n for n in _record(out)["solver_notes"])
    assert verify_run(out) == []
    # three grids need three distinct lead units: impossible in the inside reading
    with pytest.raises(PlanningError) as ei:
        run_plan(downtown, tmp_path / "inside3", _over({"plan.lead_inside_grid": True, "grids.count": 3}))
    assert "R2.lead" in ei.value.rule_ids
    assert "distinct planning units" in str(ei.value)


def test_fixed_leads_sharing_a_unit(downtown, tmp_path):
    out = tmp_path / "fixed"
    run_plan(downtown, out, _over({"plan.mode": "fixed_leads", "plan.leads": ["T1", "T2"]}))
    assert sorted(leads_of(out).values()) == ["T1", "T2"]
    assert verify_run(out) == []
    with pytest.raises(PlanningError) as ei:
        run_plan(downtown, tmp_path / "fixed_in",
                 _over({"plan.mode": "fixed_leads", "plan.leads": ["T1", "T2"], "plan.lead_inside_grid": True}))
    assert ei.value.rule_ids == ["R1.coverage"]


def test_flow_needs_the_inside_reading(downtown, tmp_path):
    from simulator.errors import InputError

    with pytest.raises(InputError, match="plan.lead_inside_grid = true"):
        run_plan(downtown, tmp_path / "flow", _over({"solver.contiguity": "flow"}))


def test_interchangeable_leads_prefer_the_larger():
    """Two hospitals at one location with the same minutes: the larger (beds) leads, whichever the solver opened."""
    from types import SimpleNamespace

    import numpy as np

    from simulator.optimise import AssignmentResult
    from simulator.plan.make import _Candidates, _prefer_larger

    f = pd.DataFrame(
        {"facility_id": ["A", "B", "C"], "name": ["甲医院", "乙医院", "丙医院"], "beds": [100.0, 500.0, 300.0]}
    )
    cost = np.array([[1.0, 1.0, 5.0], [2.0, 2.0, 4.0], [3.0, 3.0, 3.0], [5.0, 5.0, 1.0]])

    def solve(c, cost=cost):
        job = SimpleNamespace(f=f, fac_unit=np.array([0, 0, 3]), notes=[])
        res = AssignmentResult(np.array([0, 0, 2, 2]), np.array([0, 2]), "optimal", 1.0, 1.0, 0.0, "fast", "HiGHS")
        return _prefer_larger(job, c, res, cost), job.notes

    out, notes = solve(_Candidates(np.arange(3), np.ones((2, 4), bool), np.zeros(3, bool), 2, 2))
    assert out.unit_lead.tolist() == [1, 1, 2, 2] and out.open_leads.tolist() == [1, 2]
    assert "乙医院 instead of 甲医院" in notes[-1]
    other = cost.copy()
    other[0, 1] = 1.5  # B is a little farther for unit 0: not interchangeable
    for c, cc in [(_Candidates(np.arange(3), np.ones((2, 4), bool), np.zeros(3, bool), 2, 2), other),
                  (_Candidates(np.arange(3), np.ones((2, 4), bool), np.zeros(3, bool), 2, 2,
                               must_open=np.array([True, False, True])),
                   cost),
                  (_Candidates(np.arange(3), np.ones((2, 4), bool), np.zeros(3, bool), 2, 2,
                               reference=np.array([0, 0, 2, 2])), cost)]:
        out, notes = solve(c, cc)
        assert out.unit_lead.tolist() == [0, 0, 2, 2] and not notes
