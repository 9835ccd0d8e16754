"""Solver back-ends: the start guard (with injected back-ends), the CBC fallback, failures as SolverError."""

from __future__ import annotations

import dataclasses

import highspy
import numpy as np
import pulp
import pytest
from test_optimise import TIGHT, brute, check_plan, random_inst, rel_eq, square_adjacency, wt

from simulator.errors import SolverError
from simulator.optimise import (
    SOLVERS,
    CbcPulp,
    HighsArrays,
    HighsPulp,
    Milp,
    ModelSpec,
    SolveOutcome,
    SolverBackend,
    StartGuard,
    assign_units_to_grids,
    note_codes,
)


def tiny_milp() -> Milp:
    """min x0 + 2 x1 subject to x0 + x1 >= 1, binary: optimum x = (1, 0), objective 1."""
    mp = Milp()
    x = mp.add_cols(2, 0.0, 1.0, True, np.array([1.0, 2.0]), "x")
    mp.add_rows(np.zeros(2, np.int64), x, 1.0, 1, 1.0, 1)
    return mp


class Scripted:
    """A back-end that answers from a script and records how it was called."""

    name = "scripted"

    def __init__(self, *answers: SolveOutcome) -> None:
        self.answers = list(answers)
        self.starts: list[np.ndarray | None] = []

    def solve(self, milp, time_limit, gap, start):
        self.starts.append(None if start is None else start.copy())
        return dataclasses.replace(self.answers.pop(0))


def test_start_guard_resolves_without_the_start_when_the_objective_does_not_match_the_columns():
    # the HiGHS 1.16 defect: the columns are the start (objective 2), the reported objective (1) is another point's
    liar = Scripted(
        SolveOutcome("optimal", np.array([0.0, 1.0]), 1.0, 1.0, solve_s=0.25),
        SolveOutcome("optimal", np.array([1.0, 0.0]), 1.0, 1.0, solve_s=0.5),
    )
    guard = StartGuard(liar)
    assert isinstance(guard, SolverBackend) and guard.name == "scripted"
    out = guard.solve(tiny_milp(), 10.0, 1e-4, np.array([0.0, 1.0]))
    assert [s is None for s in liar.starts] == [False, True]  # second solve without the start
    assert np.array_equal(out.values, [1.0, 0.0]) and out.objective == 1.0
    assert out.solve_s == pytest.approx(0.75)  # both solves are paid for
    (note,) = out.notes
    assert note.code == "start_guard" and note.facts == {"reported": 1.0, "recomputed": 2.0}


def test_start_guard_passes_consistent_answers_and_unstarted_solves_through():
    ok = SolveOutcome("optimal", np.array([1.0, 0.0]), 1.0, 1.0, solve_s=0.1)
    liar = Scripted(ok, SolveOutcome("optimal", np.array([0.0, 1.0]), 1.0, 1.0, solve_s=0.1))
    guard = StartGuard(liar)
    assert guard.solve(tiny_milp(), 10.0, 1e-4, np.array([1.0, 0.0])).notes == ()
    # without a start there is nothing to suspect: even a wrong objective is passed through, in one solve
    out = guard.solve(tiny_milp(), 10.0, 1e-4, None)
    assert out.notes == () and np.array_equal(out.values, [0.0, 1.0])
    assert len(liar.starts) == 2


class StartEcho:
    """Real HiGHS with the defect injected: a warm-started solve returns the start's columns with the true optimum."""

    name = "HiGHS-echo"

    def __init__(self, inner=HighsPulp) -> None:
        self.inner = inner()
        self.started = 0

    def solve(self, milp, time_limit, gap, start):
        out = self.inner.solve(milp, time_limit, gap, start)
        if start is not None and out.values is not None:
            self.started += 1
            out.values = start.copy()
        return out


def exact_case():
    """An instance whose fast-mode plan (the exact loop's warm start) is not optimal among contiguous plans."""
    inst = random_inst(square_adjacency(3, 4, 3), [0, 6, 11], 3)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    feas, _ = brute(inst, 2)
    return inst, spec, wt(inst, feas).min()


@pytest.mark.parametrize("inner", [HighsArrays, HighsPulp])
def test_guarded_back_end_recovers_the_optimum_from_an_inconsistent_answer(inner):
    inst, spec, best = exact_case()
    fast = assign_units_to_grids(spec, contiguity="fast", **TIGHT)
    assert fast.objective > best + 1.0  # the start handed to the exact masters is suboptimal
    echo = StartEcho(inner)
    res = assign_units_to_grids(spec, contiguity="exact", solver=StartGuard(echo), **TIGHT)
    assert echo.started >= 1
    assert "start_guard" in note_codes(res.notes)
    assert res.status == "optimal" and rel_eq(res.objective, best)
    check_plan(res, inst, 2)


def test_without_the_guard_the_inconsistent_answer_would_be_returned():
    _, spec, best = exact_case()
    res = assign_units_to_grids(spec, contiguity="exact", solver=StartEcho(), **TIGHT)
    assert "start_guard" not in note_codes(res.notes)
    assert res.objective > best + 1.0  # the warm start came back as the "optimum"


def test_default_highs_back_end_is_guarded():
    inst = random_inst(square_adjacency(3, 4, 1), [0, 11], 1)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    backend = SOLVERS["highs"](None, [])
    assert isinstance(backend, StartGuard) and isinstance(backend.inner, HighsArrays)
    assert assign_units_to_grids(spec, solver=backend, **TIGHT).solver == "HiGHS"


def test_missing_highspy_falls_back_to_cbc_with_a_note(monkeypatch):
    monkeypatch.setattr(HighsArrays, "available", staticmethod(lambda: False))
    inst = random_inst(square_adjacency(3, 4, 1), [0, 11], 1)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    res = assign_units_to_grids(spec, contiguity="fast", **TIGHT)
    assert res.solver == "PULP_CBC_CMD" and res.status == "optimal"
    assert "solver_fallback" in note_codes(res.notes)


def test_no_solver_at_all_is_a_solver_error(monkeypatch):
    monkeypatch.setattr(HighsArrays, "available", staticmethod(lambda: False))
    monkeypatch.setattr(CbcPulp, "available", staticmethod(lambda: False))
    inst = random_inst(square_adjacency(3, 4, 1), [0, 11], 1)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    with pytest.raises(SolverError, match="neither HiGHS") as exc:
        assign_units_to_grids(spec)
    assert exc.value.exit_code == 5


@pytest.mark.parametrize("solver", ["highs", "highs_pulp", "cbc"])
def test_a_failing_solver_library_is_a_solver_error(monkeypatch, solver):
    def broken(self, *args, **kwargs):
        raise RuntimeError("licence server unreachable")

    monkeypatch.setattr(pulp.LpProblem, "solve", broken)
    monkeypatch.setattr(highspy.Highs, "run", broken)
    inst = random_inst(square_adjacency(3, 4, 1), [0, 11], 1)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    with pytest.raises(SolverError, match="solver failed: RuntimeError: licence server unreachable") as exc:
        assign_units_to_grids(spec, solver=solver)
    assert exc.value.exit_code == 5


@pytest.mark.parametrize("contiguity", ["none", "fast", "exact"])
@pytest.mark.parametrize("objective", ["weighted_time", "minmax"])
def test_array_back_end_matches_brute_force_and_the_pulp_path(contiguity, objective):
    """HiGHS handed the arrays finds the brute-force optimum, as HiGHS through PuLP's model objects does."""
    inst = random_inst(square_adjacency(3, 4, 2), [0, 6, 11], 2)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    feas, _ = brute(inst, 2, contiguous=contiguity != "none")
    arrays = assign_units_to_grids(spec, contiguity=contiguity, objective=objective, solver="highs", **TIGHT)
    via_pulp = assign_units_to_grids(spec, contiguity=contiguity, objective=objective, solver="highs_pulp", **TIGHT)
    assert arrays.status == via_pulp.status == "optimal"
    assert rel_eq(arrays.objective, via_pulp.objective)
    if objective == "weighted_time":
        assert rel_eq(arrays.objective, wt(inst, feas).min())
    check_plan(arrays, inst, 2, contiguous=contiguity != "none")


def test_array_back_end_appends_cut_rows_instead_of_rebuilding(monkeypatch):
    """The exact cut loop re-solves one model: it is passed to HiGHS once, later rounds only add rows."""
    passed, added = [], []
    real_pass, real_add = highspy.Highs.passModel, highspy.Highs.addRows
    monkeypatch.setattr(highspy.Highs, "passModel", lambda self, *a: passed.append(1) or real_pass(self, *a))
    monkeypatch.setattr(highspy.Highs, "addRows", lambda self, *a: added.append(a[0]) or real_add(self, *a))
    inst, spec, best = exact_case()
    backend = HighsArrays()
    res = assign_units_to_grids(spec, contiguity="exact", solver=backend, **TIGHT)
    assert res.status == "optimal" and rel_eq(res.objective, best)
    assert added and all(n > 0 for n in added)  # separator cuts arrived as appended rows
    # one build per distinct model (the fast incumbent's model, the exact master), not one per cut round
    assert len(passed) == 2, (passed, added)


def test_array_back_end_takes_changed_bounds_and_a_mip_start():
    mp = tiny_milp()
    backend = HighsArrays()
    first = backend.solve(mp, 10.0, 1e-6, np.array([0.0, 1.0]))
    assert first.status == "optimal" and first.values.tolist() == [1.0, 0.0]
    mp.ub[0][0] = 0.0  # forbid x0 in place: the cached model must see the new bound
    second = backend.solve(mp, 10.0, 1e-6, None)
    assert second.values.tolist() == [0.0, 1.0] and rel_eq(second.objective, 2.0)
    mp.add_rows(np.zeros(1, np.int64), np.array([1]), 1.0, -1, 0.0, 1)  # x1 <= 0: now infeasible
    assert backend.solve(mp, 10.0, 1e-6, None).status == "infeasible"
