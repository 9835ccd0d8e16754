"""Units a planner locked (``ModelSpec.fixed_assignment``) against brute force over every labelling."""

from __future__ import annotations

import numpy as np
import pytest
from test_optimise import TIGHT, brute, check_plan, random_inst, rel_eq, square_adjacency, wt

from simulator.optimise import ModelSpec, assign_units_to_grids


@pytest.mark.parametrize("lead_inside", [True, False])
@pytest.mark.parametrize(("seed", "fixed_units"), [(3, {4: 2, 1: 0}), (8, {2: 0, 9: 1, 10: 1}), (21, {5: 1})])
def test_fixed_units_vs_brute_force(seed, fixed_units, lead_inside):
    inst = random_inst(square_adjacency(3, 4, seed), [0, 6, 11], seed)
    fixed = np.full(12, -1)
    for unit, cand in fixed_units.items():
        fixed[unit] = cand
    n_grids = (2, 3)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, n_grids, fixed_assignment=fixed,
                     lead_inside=lead_inside)
    res = assign_units_to_grids(spec, contiguity="exact", **TIGHT)
    feas, _ = brute(inst, n_grids, lead_inside=lead_inside)
    keep = (feas[:, fixed >= 0] == fixed[fixed >= 0][None, :]).all(axis=1)
    assert keep.any()
    best = wt(inst, feas[keep]).min()
    assert res.status == "optimal"
    check_plan(res, inst, n_grids, lead_inside=lead_inside)
    assert (res.unit_lead[fixed >= 0] == fixed[fixed >= 0]).all()
    assert rel_eq(res.objective, best), (res.objective, best)
    # the locks bind: without them the optimum differs in these instances, so a model ignoring them would fail
    assert wt(inst, feas).min() < best - 1e-6


def test_fixed_unit_with_repair_and_the_callers_cost_untouched():
    inst = random_inst(square_adjacency(3, 4, 13), [0, 6, 11], 13)
    cost = inst.cost.copy()
    ref = np.array([0, 0, 1, 1, 0, 1, 1, 2, 0, 2, 2, 2])
    fixed = np.full(12, -1)
    fixed[3] = 2  # move unit 3 from grid 1 to grid 2, whatever it costs
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 3, reference_assignment=ref,
                     fixed_assignment=fixed)
    assert np.array_equal(inst.cost, cost)
    res = assign_units_to_grids(spec, contiguity="exact", **TIGHT)
    feas, _ = brute(inst, 3)
    feas = feas[feas[:, 3] == 2]
    moved = ((feas != ref[None, :]) * inst.population[None, :]).sum(axis=1)
    assert res.unit_lead[3] == 2
    assert rel_eq(res.objective, moved.min())


def test_fixed_units_that_no_plan_can_hold_are_infeasible():
    inst = random_inst(square_adjacency(3, 4, 5), [0, 6, 11], 5)
    fixed = np.full(12, -1)
    fixed[0], fixed[1], fixed[2] = 0, 2, 0  # unit 1 between two units of grid 0 cannot join grid 2 (corner 11)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, (2, 3), fixed_assignment=fixed)
    res = assign_units_to_grids(spec, contiguity="exact", **TIGHT)
    feas, _ = brute(inst, (2, 3))
    assert not (feas[:, [0, 1, 2]] == [0, 2, 0]).all(axis=1).any()
    assert not res.has_plan and res.status == "infeasible"


def test_bad_fixed_assignment_is_refused():
    inst = random_inst(square_adjacency(2, 2, 1), [0, 3], 1)
    with pytest.raises(ValueError, match="fixed_assignment"):
        ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2, fixed_assignment=[0, 5, -1, -1])


@pytest.mark.parametrize("lead_sets", ["always", "never"])
def test_fixed_units_through_lead_set_enumeration(lead_sets):
    """The enumeration of lead sets (used on real cities) honours the locks: a set without a locked unit's lead has
    no plan."""
    inst = random_inst(square_adjacency(3, 4, 8), [0, 6, 11], 8)
    fixed = np.full(12, -1)
    fixed[[2, 9, 10]] = [0, 1, 1]
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, (2, 3), fixed_assignment=fixed)
    res = assign_units_to_grids(spec, contiguity="exact", lead_sets=lead_sets, **TIGHT)
    feas, _ = brute(inst, (2, 3))
    feas = feas[(feas[:, [2, 9, 10]] == [0, 1, 1]).all(axis=1)]
    assert rel_eq(res.objective, wt(inst, feas).min())
