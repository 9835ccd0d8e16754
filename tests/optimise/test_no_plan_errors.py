"""How make_plan turns an optimiser result without a plan into an error (the block of plan/make.py the optimiser owns).

Infeasible → PlanningError whose failures carry compliance-table rule ids (the diagnosis speaks of constraint
families only); time limit → SolverTimeLimit (exit 4); any other solver status → SolverError (exit 5).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import simulator as cg
import simulator.plan.make as plan_mod
from simulator.errors import PlanningError, SolverError, SolverTimeLimit
from simulator.optimise import AssignmentResult, Diagnosis, ModelSpec, Relaxation

PANJIN = Path(__file__).resolve().parents[2] / "scenarios" / "panjin.toml"


@pytest.fixture(scope="module")
def panjin():
    scenario = cg.load_scenario(PANJIN, {"grids.count": 2})
    city = cg.load_city(scenario)
    return scenario, city, cg.planning_units(scenario, city)


def no_plan(status: str) -> AssignmentResult:
    empty = np.array([], dtype=np.int64)
    return AssignmentResult(empty, empty, status, math.nan, None, None, "fast", "HiGHS")


def test_population_bounds_the_grid_count_cannot_meet_are_refused_at_once(panjin):
    """2 grids of at most 500,000 cannot hold Panjin's 1,166,481 residents: arithmetic, no solver (was 90 s)."""
    _, city, units = panjin
    for over, text in (({"grids.count": 2, "grids.max_population": 500_000},
                        "at most 2 grid(s) of at most grids.max_population = 500,000 residents hold 1,000,000, but the "
                        "planning area has 1,166,481 residents; raise grids.max_population to at least 583,241"),
                       ({"grids.count": 3, "grids.min_population": 400_000},
                        "3 grid(s) of at least grids.min_population = 400,000 residents need 1,200,000, but the "
                        "planning area has 1,166,481 residents; lower grids.min_population to at most 388,827")):
        scenario = cg.load_scenario(PANJIN, over)
        with pytest.raises(PlanningError) as exc:
            cg.make_plan(scenario, city, units)
        assert exc.value.rule_ids == ["S.population"] and exc.value.exit_code == 3
        assert text in str(exc.value), str(exc.value)


def test_population_relaxations_map_to_the_scenario_population_rule(panjin, monkeypatch):
    """Bounds the residents allow in total but the geography does not: each grid's relaxation in planner's words.

    (The slack diagnosis itself is checked against brute force in test_optimise.py; on Panjin it takes minutes.)
    """
    _, city, units = panjin
    scenario = cg.load_scenario(PANJIN, {"grids.count": 2, "grids.max_population": 590_000})

    def diagnose(spec, **how):
        return Diagnosis(False, "optimal", [
            Relaxation("pop_upper", 166_400.0, "neutral", candidate=0, grid_units=480),
            Relaxation("pop_upper", 5_369.0, "neutral", candidate=1, grid_units=415),
        ], ["pop_upper"])

    monkeypatch.setattr(plan_mod, "assign_units_to_grids", lambda spec, **kw: no_plan("infeasible"))
    monkeypatch.setattr(plan_mod, "diagnose_infeasibility", diagnose)
    with pytest.raises(PlanningError) as exc:
        cg.make_plan(scenario, city, units)
    err = exc.value
    assert err.exit_code == 3
    assert err.rule_ids and set(err.rule_ids) == {"S.population"}
    assert str(err) == "no plan satisfies the rules; to make one possible: " + "; ".join(
        f.message for f in err.failures
    )
    amounts = []
    for f in err.failures:
        m = re.fullmatch(
            r"the grid led by [^;]+ \(PJ-H\d+, (\d+) planning unit\(s\)\) cannot stay within grids.max_population: "
            r"it must rise by ([\d,]+) residents",
            f.message,
        )
        assert m, f.message
        amounts.append((int(m.group(1)), m.group(2)))
        assert "max_population" in f.fix
    assert amounts == [(480, "166,400"), (415, "5,369")]


def test_member_kinds_map_to_rules_3_and_5_with_the_old_wording(panjin, monkeypatch):
    scenario, city, units = panjin
    seen = {}

    def diagnose(spec, **how):
        seen.update(spec=spec, how=how)
        return Diagnosis(
            False,
            "optimal",
            [
                Relaxation("member_units", 1.0, "neutral text", candidate=0, kind=0, grid_units=5),
                Relaxation("member_units", 1.0, "neutral text", candidate=1, kind=1, grid_units=7),
                Relaxation("grid_count", 1.0, "grid count lower bound must fall by 1 (at most 1 grids are possible)",
                           side="lower"),
            ],
            ["grid_count", "member_units"],
        )

    monkeypatch.setattr(plan_mod, "assign_units_to_grids", lambda spec, **kw: no_plan("infeasible"))
    monkeypatch.setattr(plan_mod, "diagnose_infeasibility", diagnose)
    with pytest.raises(PlanningError) as exc:
        cg.make_plan(scenario, city, units)
    assert exc.value.rule_ids == ["R3.member", "R5.primary_care", "R1.grids"]
    assert re.fullmatch(
        r"no plan satisfies the rules; to make one possible: "
        r"the grid led by [^;]+ \(PJ-H\d+, 5 planning unit\(s\)\) has no unit with a secondary general hospital or "
        r"continuing-care facility: rule 3 needs 1 more member; "
        r"the grid led by [^;]+ \(PJ-H\d+, 7 planning unit\(s\)\) has no primary-care facility to receive the "
        r"lead's referrals \(rule 5\); "
        r"grid count lower bound must fall by 1 \(at most 1 grids are possible\)",
        str(exc.value),
    ), str(exc.value)
    assert isinstance(seen["spec"], ModelSpec) and seen["spec"].member_units.shape[0] == 2
    assert seen["how"] == {"contiguity": "fast", "time_limit_s": 120, "gap": 0.001, "threads": None,
                           "solver": "highs"}


def test_time_limit_without_a_plan_is_exit_4_with_advice(panjin, monkeypatch):
    scenario, city, units = panjin
    monkeypatch.setattr(plan_mod, "assign_units_to_grids", lambda spec, **kw: no_plan("time_limit_no_solution"))
    with pytest.raises(SolverTimeLimit, match=r"no plan within the time limit \(120 s; status time_limit_no_solution"
                       r"\) for [\d,]+ units and \d+ candidate leads; raise solver.time_limit_s") as exc:
        cg.make_plan(scenario, city, units)
    assert exc.value.exit_code == 4


def test_other_solver_status_without_a_plan_is_a_solver_error(panjin, monkeypatch):
    scenario, city, units = panjin
    monkeypatch.setattr(plan_mod, "assign_units_to_grids", lambda spec, **kw: no_plan("error"))
    with pytest.raises(SolverError, match="status 'error'") as exc:
        cg.make_plan(scenario, city, units)
    assert exc.value.exit_code == 5


def test_cli_exits_4_on_a_time_limit_with_one_line(panjin, monkeypatch, tmp_path, capsys):
    from simulator import cli

    monkeypatch.setattr(plan_mod, "assign_units_to_grids", lambda spec, **kw: no_plan("time_limit_no_solution"))
    out = tmp_path / "pj"
    assert cli.main(["run", str(PANJIN), "--out", str(out), "--set", "grids.count=2"]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("caregrid: time limit 求解超时: the solver found no plan within the time limit")
    assert "Traceback" not in "\n".join(err)
    assert not out.exists()


def test_sweep_records_a_time_limit_and_goes_on(monkeypatch, tmp_path):
    from simulator.sweep import _run_variant

    monkeypatch.setattr(plan_mod, "assign_units_to_grids", lambda spec, **kw: no_plan("time_limit_no_solution"))
    row = _run_variant((str(PANJIN), {"grids.count": 2}, str(tmp_path / "v1"), False))
    assert row["status"] == SolverTimeLimit.label and row["passed"] is False
    assert row["exit_code"] == 4 and "no plan within the time limit" in row["error"]
