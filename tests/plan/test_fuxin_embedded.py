"""The embedded Fuxin data cannot be planned, and the tool says every reason at once (README, Data gaps)."""

from pathlib import Path

import pytest

import simulator as cg
from simulator import cli

FUXIN = Path(__file__).resolve().parents[2] / "scenarios" / "fuxin.toml"


def test_fuxin_refuses_with_every_failing_rule():
    scenario = cg.load_scenario(FUXIN, {"units.resolution": 7, "plan.lead_inside_grid": True})
    city = cg.load_city(scenario)
    units = cg.planning_units(scenario, city)
    with pytest.raises(cg.PlanningError) as ei:
        cg.make_plan(scenario, city, units)
    # all three eligible leads share the 海州区 seat (the enterprise-owned FX-H02 does not lead by default); no
    # secondary hospital is sourced in the urban districts; the tertiary hospitals count as members when they do not
    # lead (二级 read as a floor), but all four stand in one unit, so one grid at most holds one
    assert ei.value.rule_ids == ["R1.grids", "R3.member"]
    leads, members = ei.value.failures
    assert "all stand in 1 planning unit(s)" in leads.message
    for fid in ("FX-H01", "FX-H03", "FX-H04"):
        assert fid in leads.message
    assert "FX-H02" not in leads.message
    assert "has 4 such facilities" in members.message
    assert "3 of them hospitals that may lead" in members.message
    assert "in 1 planning unit(s), so at most 1 grid(s) can comply" in members.message
    # what is unknown, and the way through it
    assert "their real locations are unknown" in members.message
    assert f"caregrid ensemble {FUXIN}" in members.message
    # the printed message lists both failures, one per line
    assert str(ei.value) == "\n  - " + "\n  - ".join(f.message for f in ei.value.failures)


def test_fuxin_shared_lead_seat_is_no_failure_by_default():
    """Issue 10: only members are 网格内, so four leads in one unit can each lead a grid; rule 3 still fails."""
    scenario = cg.load_scenario(FUXIN, {"units.resolution": 7})
    assert scenario.plan.lead_inside_grid is False
    city = cg.load_city(scenario)
    with pytest.raises(cg.PlanningError) as ei:
        cg.make_plan(scenario, city, cg.planning_units(scenario, city))
    assert "R1.grids" not in ei.value.rule_ids
    assert "R3.member" in ei.value.rule_ids


def test_cli_exit_code_3_and_no_output_written(tmp_path, capsys):
    out = tmp_path / "fx"
    assert cli.main(["run", str(FUXIN), "--out", str(out), "--set", "units.resolution=7"]) == 3
    assert "no plan 无可行方案" in capsys.readouterr().err
    assert not out.exists()


def test_time_limit_without_a_plan_is_not_called_infeasible(monkeypatch):
    """Running out of time is reported as such (exit 4, with what to change), never as 'no plan satisfies the rules'."""
    import numpy as np

    import simulator.plan.make as plan_mod
    from simulator.errors import SolverTimeLimit
    from simulator.optimise import AssignmentResult

    def out_of_time(spec, **kwargs):
        return AssignmentResult(unit_lead=np.array([], dtype=np.int64), open_leads=np.array([], dtype=np.int64),
                                status="time_limit_no_solution", objective=float("nan"), bound=None, gap=None,
                                contiguity="fast", solver="HiGHS")

    monkeypatch.setattr(plan_mod, "assign_units_to_grids", out_of_time)
    scenario = cg.load_scenario(FUXIN.with_name("panjin.toml"))
    city = cg.load_city(scenario)
    with pytest.raises(SolverTimeLimit, match=r"no plan within the time limit \(120 s; status time_limit_no_solution"):
        cg.make_plan(scenario, city, cg.planning_units(scenario, city))
