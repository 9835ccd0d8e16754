"""Lead-set enumeration (simulator.optimise.lead_sets) against brute force and against the one full model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_optimise import TIGHT, brute, check_plan, hex_adjacency, random_inst, rel_eq, square_adjacency, wt

from simulator.optimise import ModelSpec, assign_units_to_grids, note_codes
from simulator.optimise.lead_sets import MIN_UNITS, count_lead_sets, lead_sets, nearest_bound, use_lead_sets
from simulator.optimise.objectives import OBJECTIVES


def spec_of(inst, n_grids, **kw) -> ModelSpec:
    return ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, n_grids, **kw)


@pytest.mark.parametrize("m,n_grids,must", [(4, (2, 3), []), (5, 2, [1]), (4, (1, 4), [0, 3]), (3, 3, [])])
def test_lead_sets_are_every_allowed_subset_once(m, n_grids, must):
    inst = random_inst(square_adjacency(3, 4, 0), list(range(m)), 0)
    must_open = np.isin(np.arange(m), must)
    spec = spec_of(inst, n_grids, must_open=must_open)
    lo, hi = (n_grids, n_grids) if isinstance(n_grids, int) else n_grids
    expected = {
        s for p in range(lo, hi + 1) for s in itertools.combinations(range(m), p) if set(must) <= set(s)
    }
    got = [tuple(s.tolist()) for s in lead_sets(spec)]
    assert sorted(got) == sorted(expected) and len(got) == len(set(got)) == count_lead_sets(spec)


def test_nearest_bound_never_beats_a_feasible_plan_of_its_set():
    inst = random_inst(square_adjacency(3, 4, 5), [0, 6, 11], 5)
    spec = spec_of(inst, (2, 3))
    feas, opened = brute(inst, (2, 3), contiguous=False)
    for name in ("weighted_time", "minmax", "coverage"):
        goal = OBJECTIVES[name]
        for leads in lead_sets(spec):
            rows = (opened == np.isin(np.arange(3), leads)[None, :]).all(axis=1)
            values = np.array([goal.value(spec, lab) for lab in feas[rows]])
            bound = nearest_bound(spec, goal, leads)
            assert (values <= bound + 1e-9).all() if goal.maximise else (values >= bound - 1e-9).all()


CASES = {
    "square": lambda: (random_inst(square_adjacency(3, 4, 2), [0, 6, 11], 2), (2, 3)),
    "hex": lambda: (random_inst(hex_adjacency(3, 4, 7), [0, 5, 11], 7), 2),
    "four_leads": lambda: (random_inst(square_adjacency(3, 4, 9), [0, 3, 8, 11], 9), (2, 3)),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("contiguity", ["exact", "fast", "none"])
@pytest.mark.parametrize("objective", ["weighted_time", "minmax", "coverage"])
def test_enumeration_matches_the_full_model_and_brute_force(case, contiguity, objective):
    inst, n_grids = CASES[case]()
    spec = spec_of(inst, n_grids, coverage_minutes=12.0)
    kw = dict(contiguity=contiguity, objective=objective, **TIGHT)
    sets = assign_units_to_grids(spec, lead_sets="always", **kw)
    full = assign_units_to_grids(spec, lead_sets="never", **kw)
    assert "lead_sets" in note_codes(sets.notes) and "lead_sets" not in note_codes(full.notes)
    assert sets.status == full.status == "optimal"
    check_plan(sets, inst, n_grids, contiguous=contiguity != "none")
    assert rel_eq(sets.objective, full.objective)
    # a bound on the right side of the plan, as tight as the full model's (coverage's includes its tie-break allowance)
    goal = OBJECTIVES[objective]
    assert sets.bound is not None and full.bound is not None
    assert sets.bound >= sets.objective - 1e-9 if goal.maximise else sets.bound <= sets.objective + 1e-9
    assert sets.gap <= full.gap + 1e-6
    if contiguity == "fast":
        return  # fast may exclude contiguous plans: same restriction either way, checked against the full model
    feas, _ = brute(inst, n_grids, contiguous=contiguity != "none")
    values = np.array([goal.value(spec, lab) for lab in feas])
    best = values.max() if goal.maximise else values.min()
    assert rel_eq(sets.objective, best)
    if objective == "weighted_time":
        assert rel_eq(sets.weighted_time, wt(inst, feas).min())


def test_enumeration_keeps_members_population_bounds_and_must_open():
    inst = random_inst(square_adjacency(3, 4, 4), [0, 5, 11], 4)
    member = np.zeros(12, bool)
    member[[2, 7, 9]] = True
    total = inst.population.sum()
    bounds = (0.25 * total, 0.7 * total)
    must = np.array([False, True, False])
    spec = spec_of(inst, (2, 3), member_units=member, pop_bounds=bounds, must_open=must)
    res = assign_units_to_grids(spec, contiguity="exact", lead_sets="always", **TIGHT)
    feas, _ = brute(inst, (2, 3), member=member, pop_bounds=bounds, must_open=must)
    assert res.status == "optimal" and rel_eq(res.objective, wt(inst, feas).min())
    check_plan(res, inst, (2, 3), member=member, pop_bounds=bounds, must_open=must)


def test_enumeration_of_an_infeasible_instance_says_infeasible():
    inst = random_inst(square_adjacency(3, 4, 1), [0, 11], 1)
    member = np.zeros(12, bool)
    member[5] = True  # one member unit cannot serve two grids
    spec = spec_of(inst, 2, member_units=member)
    sets = assign_units_to_grids(spec, lead_sets="always", **TIGHT)
    full = assign_units_to_grids(spec, lead_sets="never", **TIGHT)
    assert sets.status == full.status == "infeasible" and not sets.has_plan


def test_auto_enumerates_only_instances_worth_it():
    small = spec_of(random_inst(square_adjacency(3, 4, 1), [0, 6, 11], 1), (2, 3))
    goal = OBJECTIVES["weighted_time"]
    assert not use_lead_sets(small, goal, "auto") and use_lead_sets(small, goal, "always")
    big = random_inst(square_adjacency(25, 25, 3), [0, 300, 624], 3)
    assert big.population.size >= MIN_UNITS
    assert use_lead_sets(spec_of(big, (2, 3)), goal, "auto")
    repair = spec_of(big, (2, 3), reference_assignment=np.zeros(big.population.size, np.int64))
    assert not use_lead_sets(repair, OBJECTIVES["residents_moved"], "auto")
    with pytest.raises(ValueError, match="lead_sets must be"):
        use_lead_sets(small, goal, "sometimes")
