"""Shared centres on Panjin: a host for every group and kind; a planner's capability flag that leaves a group without
a pathology host fails P.shared_centres, and sharing with an adjacent grid repairs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from panjin_data import panjin_copy

from simulator import load_city, load_scenario, planning_units, write_plan
from simulator.evaluate.verify_centres import verify_shared_centres
from simulator.workflow import make_plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flagged_data(tmp_path_factory) -> Path:
    """Panjin's data with the TCM hospital (PJ-H03, lead of the grid around 双台子区) declaring no pathology."""
    def no_pathology(r: dict[str, str]) -> None:
        r["hosts_pathology"] = "false" if r["facility_id"] == "PJ-H03" else ""

    return panjin_copy(tmp_path_factory.mktemp("flags"), "facilities.csv", no_pathology)


def _plan(overrides):
    s = load_scenario(ROOT / "scenarios" / "panjin.toml", overrides)
    city = load_city(s)
    return make_plan(s, city, planning_units(s, city))


def _status(plan, grid):
    c = plan.compliance
    return c.loc[(c.rule_id == "P.shared_centres") & (c.scope == grid), "status"].item()


def test_every_group_gets_every_centre_on_panjin():
    plan = _plan({})
    sc = plan.shared_centres
    leads = set(plan.grid_lead)
    assert set(sc.grid_id) == leads and len(sc) == 7 * len(leads)
    applicable = sc[sc.status != "not_applicable"]
    assert set(applicable.status) == {"own"}
    # every host is a member (or the lead) of the grid's own group
    g = plan.groups[plan.groups.role.isin(["lead", "member"])]
    own = set(zip(g.grid_id, g.facility_id, strict=True))
    assert all((r.grid_id, r.host_facility_id) in own for r in applicable.itertuples())
    # TCM dispensing only where the group holds a TCM hospital
    tcm_grids = {gid for gid, fid in own if fid == "PJ-H03"}
    assert set(sc[(sc.centre_kind == "tcm_dispensing") & (sc.status == "own")].grid_id) == tcm_grids
    assert all(_status(plan, grid) == "passed" for grid in leads)


def test_a_declared_gap_fails_and_sharing_repairs_it(flagged_data, tmp_path):
    alone = _plan({"data": str(flagged_data)})
    g2 = alone.groups.loc[alone.groups.facility_id == "PJ-H03", "grid_id"].item()
    row = alone.shared_centres.query("grid_id == @g2 and centre_kind == 'pathology'").iloc[0]
    assert row.status == "no_host" and bool(row.capability_declared)
    assert _status(alone, g2) == "failed"
    shared = _plan({"data": str(flagged_data), "plan.share_centres": True})
    row = shared.shared_centres.query("grid_id == @g2 and centre_kind == 'pathology'").iloc[0]
    assert row.status == "shared" and row.host_grid_id != g2
    host_row = shared.shared_centres.query("grid_id == @row.host_grid_id and centre_kind == 'pathology'").iloc[0]
    assert host_row.host_facility_id == row.host_facility_id and g2 in host_row.shared_with.split(";")
    assert _status(shared, g2) == "passed"
    # the independent check of the written folder agrees (adjacent grid, home duty, shared_with)
    assert verify_shared_centres(write_plan(shared, tmp_path / "shared")) == []


def test_the_shipped_sharing_scenario_shares_and_verifies(tmp_path):
    s = load_scenario(ROOT / "scenarios" / "panjin_shared_centres.toml")
    city = load_city(s)
    plan = make_plan(s, city, planning_units(s, city))
    sc = plan.shared_centres
    assert (sc.status == "shared").any()
    # every group that could host a kind alone still has a host for it
    assert not (sc.status == "no_host").any()
    assert verify_shared_centres(write_plan(plan, tmp_path / "run")) == []
