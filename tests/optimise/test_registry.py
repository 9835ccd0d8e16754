"""Adding a contiguity family or an objective is one class plus one registry line (here: from the test file).

Both toys are checked against brute-force enumeration, so the test fails if the registered code is not
the code that runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_optimise import TIGHT, barrier_inst, brute, check_plan, random_inst, rel_eq, square_adjacency, wt

from simulator.optimise import (
    CONTIGUITY,
    OBJECTIVES,
    SOLVERS,
    ContiguityFamily,
    ModelSpec,
    Objective,
    Terms,
    assign_units_to_grids,
)
from simulator.optimise.contiguity import add_pred_rows, arc_pairs

PANJIN = Path(__file__).resolve().parents[2] / "scenarios" / "panjin.toml"


def cost_rank(cost: np.ndarray, lead_unit: np.ndarray) -> np.ndarray:
    """(m, n) position of every unit in the order (minutes to candidate j, unit index), lead unit first."""
    n, m = cost.shape
    rank = np.empty((m, n), np.int64)
    for j in range(m):
        key = cost[:, j].copy()
        key[lead_unit[j]] = -np.inf
        rank[j, np.lexsort((np.arange(n), key))] = np.arange(n)
    return rank


class CostStar(ContiguityFamily):
    """Toy family: every non-lead unit needs a same-grid neighbour that is strictly nearer the lead *by cost*.

    Every unit then has a path of decreasing rank to its lead, so grids are contiguous.
    """

    name = "cost_star"

    def add_rows(self, build) -> None:
        spec, pairs = build.spec, build.pairs
        rank = cost_rank(spec.cost, spec.lead_unit)
        a, b, jj = arc_pairs(spec, pairs)
        earlier = rank[jj, b] < rank[jj, a]
        non_lead = np.flatnonzero(pairs.i != spec.lead_unit[pairs.j])
        add_pred_rows(build.mp, pairs, build.x, build.ub, (a[earlier], b[earlier], jj[earlier]), non_lead)


class UnitMinutes(Objective):
    """Toy objective: total minutes with every unit counted once (residents ignored)."""

    name = "unit_minutes"

    def terms(self, spec, pairs) -> Terms:
        return Terms(spec.cost[pairs.i, pairs.j].copy())

    def value(self, spec, lab) -> float:
        return float(spec.cost[np.arange(spec.n), lab].sum())


def star_ok(inst, lab: np.ndarray) -> np.ndarray:
    """(N,) True where every labelling satisfies the cost-star rule."""
    adj = inst.adjacency.toarray() != 0
    rank = cost_rank(inst.cost, inst.lead_unit)
    ok = np.ones(lab.shape[0], bool)
    for j, lead in enumerate(inst.lead_unit):
        earlier = adj & (rank[j][None, :] < rank[j][:, None])  # earlier[i, v]: v neighbours i and is nearer j
        mask = lab == j
        supported = (mask.astype(int) @ earlier.T.astype(int)) > 0
        need = mask.copy()
        need[:, lead] = False
        ok &= ~(need & ~supported).any(axis=1)
    return ok


def test_registered_contiguity_family_solves_to_its_brute_force_optimum(monkeypatch):
    monkeypatch.setitem(CONTIGUITY, "cost_star", CostStar())  # the one registry line
    inst = barrier_inst()  # p-median cuts units 4 and 8 out as an exclave of lead B
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    res = assign_units_to_grids(spec, contiguity="cost_star", **TIGHT)
    assert res.status == "optimal" and res.contiguity == "cost_star"
    check_plan(res, inst, 2)  # contiguous, as the rule implies
    feas, _ = brute(inst, 2, contiguous=False)
    star = star_ok(inst, feas)
    assert star.any() and not star.all()
    assert rel_eq(res.objective, wt(inst, feas[star]).min())
    # the family's rows bind: without them the optimum is lower
    none = assign_units_to_grids(spec, contiguity="none", **TIGHT)
    assert none.objective < res.objective - 1.0


def test_registered_objective_solves_to_its_brute_force_optimum(monkeypatch):
    monkeypatch.setitem(OBJECTIVES, "unit_minutes", UnitMinutes())  # the one registry line
    inst = random_inst(square_adjacency(3, 4, 7), [0, 6, 11], 7)
    inst.population[[0, 1, 2]] *= 50  # make residents matter, so the two objectives disagree
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    res = assign_units_to_grids(spec, contiguity="exact", objective="unit_minutes", **TIGHT)
    assert res.objective_name == "unit_minutes" and res.status == "optimal"
    check_plan(res, inst, 2)
    feas, _ = brute(inst, 2)
    minutes = inst.cost[np.arange(12)[None, :], feas].sum(axis=1)
    assert rel_eq(res.objective, minutes.min())
    assert rel_eq(res.weighted_time, wt(inst, res.unit_lead)[0])
    assert res.bound is not None and res.bound <= res.objective + 1e-6


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"contiguity": "star"}, r"contiguity must be one of \('exact', 'fast', 'flow', 'none'\)"),
        ({"objective": "fastest"}, r"objective must be one of \('weighted_time', 'coverage', 'minmax', "),
        ({"solver": "gurobi"}, r"solver must be one of \('highs', 'highs_pulp', 'cbc'\)"),
        ({"objective": "residents_moved"}, r"needs spec.reference_assignment"),
    ],
)
def test_unknown_names_are_refused_with_the_registered_ones(kw, match):
    inst = random_inst(square_adjacency(3, 4, 1), [0, 11], 1)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    with pytest.raises(ValueError, match=match):
        assign_units_to_grids(spec, **kw)


@pytest.mark.parametrize(("key", "value"), [("contiguity", "wiggly"), ("objective", "fastest"), ("name", "gurobi")])
def test_scenario_names_are_checked_against_the_registries(key, value):
    """config/ sits before optimise/ in the data flow: the plan stage checks the names against the registries."""
    from simulator.config.scenario import load_scenario
    from simulator.errors import InputError
    from simulator.plan.precheck import check_solver_names

    scenario = load_scenario(PANJIN, {f"solver.{key}": value})  # the scenario reader does not know the names
    registry = {"contiguity": CONTIGUITY, "objective": OBJECTIVES, "name": SOLVERS}[key]
    with pytest.raises(InputError) as ei:
        check_solver_names(scenario)
    assert ei.value.field == f"solver.{key}"
    allowed = [k for k in registry if k != "residents_moved"]
    assert str(ei.value).endswith(f"expected one of {', '.join(allowed)}")


def test_a_registered_toy_family_is_accepted_by_the_scenario_check(monkeypatch):
    from simulator.config.scenario import load_scenario
    from simulator.plan.precheck import check_solver_names

    monkeypatch.setitem(CONTIGUITY, "toy", CONTIGUITY["none"])
    check_solver_names(load_scenario(PANJIN, {"solver.contiguity": "toy"}))  # no error: one registry line suffices
