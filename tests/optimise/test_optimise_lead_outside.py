"""Leads outside their grid (``ModelSpec.lead_inside = False``, the pilot plan's reading) against brute force.

Issue 10: only members are 网格内, so a grid is any connected set of units and its lead may stand anywhere (in
another grid, or in one planning unit with another lead). Every family is checked in BOTH readings against an
enumeration of every labelling: exact == brute force, fast >= exact (and contiguous), none <= exact (== the
brute-force p-median); plus the two cases the issue names: two leads sharing one planning unit, and an instance
whose best plan puts a lead outside its grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_optimise import (
    CASES,
    TIGHT,
    Inst,
    assign_units_to_grids,
    brute,
    check_plan,
    diagnose_infeasibility,
    hex_adjacency,
    random_inst,
    rel_eq,
    square_adjacency,
    wt,
)

from simulator.optimise import ModelSpec, note_codes
from simulator.optimise import assign_units_to_grids as assign_spec

READINGS = pytest.mark.parametrize("lead_inside", [True, False], ids=["inside", "outside"])


def colocated_inst(seed: int = 3) -> Inst:
    """3 x 4 squares, three candidates, two of them in unit 5 (a downtown cluster) and one in unit 11."""
    inst = random_inst(square_adjacency(3, 4, seed), [5, 5, 11], seed)
    inst.cost[:, 1] += 1.0  # the second downtown hospital is a little farther for everybody
    inst.cost[5, 1] = 0.6
    return inst


def outside_inst() -> Inst:
    """A street of 6 units (a 1 x 6 strip); lead A in unit 1, lead B in unit 0 (next door, at the dead end).

    B has a fast road to the east half (units 3-5: 2 minutes) and is slow for the west. With the lead inside its
    grid, B's grid must hold unit 0, whose only neighbour is A's unit: B leads a one-unit grid. With the lead
    outside, A takes the west (with unit 0) and B the east.
    """
    adj = square_adjacency(1, 6)
    pop = np.full(6, 500.0)
    c = np.arange(6)
    cost = np.zeros((6, 2))
    cost[:, 0] = 1 + 4 * abs(c - 1)  # to A (unit 1)
    cost[:, 1] = np.where(c >= 3, 2.0, 12.0)  # to B (unit 0): fast to the east half only
    cost[0, 1] = 6.0
    return Inst(pop, cost, adj, np.array([1, 0]))


def _args(inst: Inst, n_grids):
    return (inst.population, inst.cost, inst.adjacency, inst.lead_unit, n_grids)


def _modes_vs_brute(inst: Inst, n_grids, lead_inside: bool, **fam) -> None:
    """exact == brute force, fast >= exact, none == brute p-median <= exact; every plan checked independently."""
    args = _args(inst, n_grids)
    bkw = {
        "pop_bounds": fam.get("pop_bounds"),
        "member": fam.get("member_units"),
        "must_open": fam.get("must_open"),
        "unit_beds": fam.get("unit_beds"),
        "lead_beds": fam.get("lead_beds"),
        "beds_rate": fam.get("min_beds_per_1000"),
    }
    feas, _ = brute(inst, n_grids, lead_inside=lead_inside, **bkw)
    assert feas.shape[0] > 0
    exact = assign_units_to_grids(*args, contiguity="exact", lead_inside=lead_inside, **fam, **TIGHT)
    assert exact.status == "optimal"
    assert rel_eq(exact.objective, wt(inst, feas).min()), (exact.objective, wt(inst, feas).min())
    check_plan(exact, inst, n_grids, lead_inside=lead_inside, **bkw)
    fast = assign_units_to_grids(*args, contiguity="fast", lead_inside=lead_inside, **fam, **TIGHT)
    assert fast.status == "optimal"
    assert fast.objective >= exact.objective - 1e-6
    check_plan(fast, inst, n_grids, lead_inside=lead_inside, **bkw)
    none = assign_units_to_grids(*args, contiguity="none", lead_inside=lead_inside, **fam, **TIGHT)
    feas_nc, _ = brute(inst, n_grids, contiguous=False, lead_inside=lead_inside, **bkw)
    assert rel_eq(none.objective, wt(inst, feas_nc).min())
    assert none.objective <= exact.objective + 1e-6
    check_plan(none, inst, n_grids, contiguous=False, lead_inside=lead_inside, **bkw)


# ------------------------------------------------------------------------------------------
# weighted time and every constraint family, both readings
# ------------------------------------------------------------------------------------------
@READINGS
@pytest.mark.parametrize("name,make,n_grids,share", CASES, ids=[c[0] for c in CASES])
def test_weighted_time_vs_brute_force(name, make, n_grids, share, lead_inside):
    inst = make()
    total = inst.population.sum()
    bounds = None if share is None else (share[0] * total, share[1] * total)
    _modes_vs_brute(inst, n_grids, lead_inside, pop_bounds=bounds)


@READINGS
def test_member_beds_pop_bounds_vs_brute_force(lead_inside):
    inst = random_inst(square_adjacency(3, 4, 31), [0, 6, 11], 31)
    member = np.zeros(12, bool)
    member[[3, 8, 9]] = True
    beds = np.random.default_rng(31).integers(0, 20, 12).astype(float)
    lead_beds = np.array([10.0, 0.0, 5.0])
    rate = 1000 * (beds.sum() + lead_beds.sum()) / inst.population.sum() * 0.6
    total = inst.population.sum()
    _modes_vs_brute(
        inst, (2, 3), lead_inside, member_units=member, unit_beds=beds, lead_beds=lead_beds,
        min_beds_per_1000=rate, pop_bounds=(0.2 * total, 0.7 * total),
    )  # fmt: skip


@READINGS
def test_must_open_and_range_vs_brute_force(lead_inside):
    inst = random_inst(square_adjacency(3, 4, 21), [0, 5, 11], 21)
    _modes_vs_brute(inst, (1, 3), lead_inside, must_open=np.array([False, True, False]))


@READINGS
@pytest.mark.parametrize("contiguity", ["exact", "fast", "none"])
def test_minmax_vs_brute_force(contiguity, lead_inside):
    inst = colocated_inst(11)
    inst.population[3] = 0.0
    total = inst.population.sum()
    bounds = (0.2 * total, 0.6 * total)
    res = assign_units_to_grids(*_args(inst, 2), contiguity=contiguity, objective="minmax", pop_bounds=bounds,
                                lead_inside=lead_inside, **TIGHT)
    feas, _ = brute(inst, 2, contiguous=contiguity != "none", pop_bounds=bounds, lead_inside=lead_inside)
    pos = inst.population > 0
    mx = inst.cost[np.arange(12)[None, :], feas][:, pos].max(axis=1)
    check_plan(res, inst, 2, contiguous=contiguity != "none", pop_bounds=bounds, lead_inside=lead_inside)
    if contiguity == "fast":
        assert res.objective >= mx.min() - 1e-9
        return
    assert rel_eq(res.objective, mx.min())
    assert rel_eq(res.weighted_time, wt(inst, feas[mx <= mx.min() + 1e-9]).min())


@READINGS
@pytest.mark.parametrize("contiguity", ["exact", "fast", "none"])
def test_coverage_vs_brute_force(contiguity, lead_inside):
    inst = random_inst(hex_adjacency(4, 4, 12), [2, 3, 13], 12)
    t = float(np.median(inst.cost))
    res = assign_units_to_grids(*_args(inst, 2), contiguity=contiguity, objective="coverage", coverage_minutes=t,
                                lead_inside=lead_inside, **TIGHT)
    feas, _ = brute(inst, 2, contiguous=contiguity != "none", lead_inside=lead_inside)
    cov = ((inst.cost[np.arange(16)[None, :], feas] <= t) * inst.population[None, :]).sum(axis=1)
    check_plan(res, inst, 2, contiguous=contiguity != "none", lead_inside=lead_inside)
    if contiguity == "fast":
        assert res.objective <= cov.max() + 1e-9
        return
    assert rel_eq(res.objective, cov.max())
    assert res.bound is not None and res.bound >= res.objective - 1e-6
    assert rel_eq(res.weighted_time, wt(inst, feas[cov >= cov.max() - 1e-9]).min(), 1e-6)


@READINGS
@pytest.mark.parametrize("contiguity", ["exact", "fast"])
def test_repair_vs_brute_force(contiguity, lead_inside):
    inst = colocated_inst(13)
    total = inst.population.sum()
    bounds = (0.25 * total, 0.45 * total)
    ref = np.array([0, 0, 1, 1, 0, 1, 1, 2, 0, 2, 2, 2])
    res = assign_units_to_grids(*_args(inst, 3), contiguity=contiguity, pop_bounds=bounds, reference_assignment=ref,
                                lead_inside=lead_inside, **TIGHT)
    feas, _ = brute(inst, 3, pop_bounds=bounds, lead_inside=lead_inside)
    if not feas.shape[0]:
        assert lead_inside and res.status == "infeasible"  # two leads in one unit cannot both open inside
        return
    moved = ((feas != ref[None, :]) * inst.population[None, :]).sum(axis=1)
    check_plan(res, inst, 3, pop_bounds=bounds, lead_inside=lead_inside)
    assert res.objective_name == "residents_moved"
    if contiguity == "exact":
        assert rel_eq(res.objective, moved.min())
        assert rel_eq(res.weighted_time, wt(inst, feas[moved <= moved.min() + 1e-9]).min())
    else:
        assert res.objective >= moved.min() - 1e-9


# ------------------------------------------------------------------------------------------
# the two cases issue 10 names
# ------------------------------------------------------------------------------------------
@READINGS
def test_two_leads_share_one_unit(lead_inside):
    """Candidates 0 and 1 stand in unit 5: both open only when the lead may stand outside its grid."""
    inst = colocated_inst()
    must = np.array([True, True, False])
    feas, _ = brute(inst, 3, lead_inside=lead_inside)
    feas_must, _ = brute(inst, (2, 3), must_open=must, lead_inside=lead_inside)
    for family in ("exact", "fast"):
        res = assign_units_to_grids(*_args(inst, 3), contiguity=family, lead_inside=lead_inside, **TIGHT)
        both = assign_units_to_grids(*_args(inst, (2, 3)), contiguity=family, must_open=must,
                                     lead_inside=lead_inside, **TIGHT)
        if lead_inside:
            assert feas.shape[0] == 0 and feas_must.shape[0] == 0  # one unit holds one grid
            assert res.status == "infeasible" and both.status == "infeasible"
            continue
        assert res.status == "optimal" and set(res.open_leads) == {0, 1, 2}
        assert {0, 1} <= set(both.open_leads)
        check_plan(res, inst, 3, lead_inside=False)
        check_plan(both, inst, (2, 3), must_open=must, lead_inside=False)
        if family == "exact":
            assert rel_eq(res.objective, wt(inst, feas).min())
            assert rel_eq(both.objective, wt(inst, feas_must).min())
        assert res.unit_lead[5] in (0, 1)  # the shared unit is in one of the two grids; the other lead is outside
        assert "leads_outside_grid" in note_codes(res.notes)
    if lead_inside:
        # the inside reading still plans with one of the two: the optimum over 2 grids matches brute force
        two = assign_units_to_grids(*_args(inst, 2), contiguity="exact", **TIGHT)
        assert rel_eq(two.objective, wt(inst, brute(inst, 2)[0]).min())
        assert not {0, 1} <= set(two.open_leads)


def test_best_plan_puts_a_lead_outside_its_grid():
    inst = outside_inst()
    args = _args(inst, 2)
    out_feas, _ = brute(inst, 2, lead_inside=False)
    in_feas, _ = brute(inst, 2, lead_inside=True)
    best_out, best_in = wt(inst, out_feas).min(), wt(inst, in_feas).min()
    assert best_out < best_in - 1.0, "the instance must reward a lead outside its grid"
    exact = assign_units_to_grids(*args, contiguity="exact", lead_inside=False, **TIGHT)
    assert rel_eq(exact.objective, best_out)
    check_plan(exact, inst, 2, lead_inside=False)
    assert exact.unit_lead[inst.lead_unit[1]] == 0, "B's own unit lies in A's grid"
    assert any(n.code == "leads_outside_grid" and n.facts["candidates"] == [1] for n in exact.notes)
    inside = assign_units_to_grids(*args, contiguity="exact", lead_inside=True, **TIGHT)
    assert rel_eq(inside.objective, best_in) and inside.objective > exact.objective + 1.0
    assert "leads_outside_grid" not in note_codes(inside.notes)
    # with balanced grids the inside reading has no plan at all (B's grid is stuck behind A's unit)
    total = inst.population.sum()
    bounds = (0.4 * total, 0.6 * total)
    assert brute(inst, 2, pop_bounds=bounds)[0].shape[0] == 0
    assert assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, **TIGHT).status == "infeasible"
    bal = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, lead_inside=False, **TIGHT)
    assert rel_eq(bal.objective, wt(inst, brute(inst, 2, pop_bounds=bounds, lead_inside=False)[0]).min())
    fast = assign_units_to_grids(*args, contiguity="fast", lead_inside=False, **TIGHT)
    assert fast.objective >= exact.objective - 1e-6
    check_plan(fast, inst, 2, lead_inside=False)


# ------------------------------------------------------------------------------------------
# the rest of the optimiser in the outside reading
# ------------------------------------------------------------------------------------------
def test_flow_refuses_the_outside_reading():
    inst = outside_inst()
    spec = ModelSpec(*_args(inst, 2), lead_inside=False)
    with pytest.raises(ValueError, match="supports lead_inside only"):
        assign_spec(spec, contiguity="flow")
    assert assign_spec(ModelSpec(*_args(inst, 2)), contiguity="flow", **TIGHT).status == "optimal"


def test_default_reading_of_the_library_is_inside():
    inst = outside_inst()
    assert ModelSpec(*_args(inst, 2)).lead_inside is True


def test_outside_infeasible_is_diagnosed():
    inst = colocated_inst(42)
    total = inst.population.sum()
    bounds = (0.0, 0.3 * total)  # three grids cannot hold everybody
    args = _args(inst, 3)
    res = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, lead_inside=False, **TIGHT)
    assert res.status == "infeasible"
    diag = diagnose_infeasibility(*args, contiguity="exact", pop_bounds=bounds, lead_inside=False)
    assert "pop_upper" in diag.families
    ok = diagnose_infeasibility(*args, contiguity="exact", pop_bounds=(0, total), lead_inside=False)
    assert ok.feasible
    # must_open in slack form uses the separate opening columns
    must = diagnose_infeasibility(*args[:-1], (1, 1), contiguity="fast", must_open=np.array([True, True, False]),
                                  lead_inside=False)
    assert not must.feasible and set(must.families) & {"must_open", "grid_count"}


@pytest.mark.parametrize("contiguity", ["exact", "fast"])
def test_candidate_k_and_warm_start_outside(monkeypatch, contiguity):
    import simulator.optimise.assign as opt

    inst = colocated_inst(81)
    total = inst.population.sum()
    bounds = (0.2 * total, 0.6 * total)
    args = _args(inst, 3)
    feas, _ = brute(inst, 3, pop_bounds=bounds, lead_inside=False)
    red = assign_units_to_grids(*args, contiguity=contiguity, pop_bounds=bounds, candidate_k=2, lead_inside=False,
                                **TIGHT)
    assert red.status == "optimal"
    check_plan(red, inst, 3, pop_bounds=bounds, lead_inside=False)
    assert red.objective >= wt(inst, feas).min() - 1e-6
    monkeypatch.setattr(opt, "WARM_START_MIN_UNITS", 1)
    monkeypatch.setattr(opt, "WARM_START_K", 2)
    warm = assign_units_to_grids(*args, contiguity=contiguity, pop_bounds=bounds, lead_inside=False, **TIGHT)
    assert "warm_start" in note_codes(warm.notes)
    check_plan(warm, inst, 3, pop_bounds=bounds, lead_inside=False)
    if contiguity == "exact":
        assert rel_eq(warm.objective, wt(inst, feas).min())


def test_outside_diagnosis_falls_back_to_the_inside_view(monkeypatch):
    """Without a proven outside-reading slack answer, the diagnosis uses the inside reading, one candidate per unit."""
    import simulator.optimise.diagnose as dg
    from simulator.optimise import Diagnosis

    calls = []
    real = dg._diagnose

    def first_times_out(spec, family, backend, time_limit_s, gap, notes):
        calls.append((spec.lead_inside, int(np.isfinite(spec.cost).any(axis=0).sum())))
        if not spec.lead_inside:
            return Diagnosis(False, "time_limit_feasible", [], [], notes)
        return real(spec, family, backend, time_limit_s, gap, notes)

    monkeypatch.setattr(dg, "_diagnose", first_times_out)
    inst = colocated_inst(42)
    total = inst.population.sum()
    diag = diagnose_infeasibility(*_args(inst, 2), contiguity="exact", pop_bounds=(0.0, 0.3 * total),
                                  lead_inside=False)
    assert calls == [(False, 3), (True, 2)]  # candidate 1 shares unit 5 with candidate 0: dropped in the view
    assert "diagnosis_inside_reading" in note_codes(diag.notes)
    assert "pop_upper" in diag.families and all(r.candidate != 1 for r in diag.relaxations)
    monkeypatch.undo()
    assert "diagnosis_inside_reading" not in note_codes(
        diagnose_infeasibility(*_args(inst, 2), contiguity="exact", pop_bounds=(0.0, 0.3 * total),
                               lead_inside=False).notes
    )


@READINGS
@pytest.mark.parametrize("contiguity", ["exact", "fast"])
def test_lead_set_enumeration_vs_brute_force(contiguity, lead_inside):
    """One model per set of open leads (lead_sets.py) keeps the reading: co-located leads open together only outside."""
    inst = colocated_inst(7)
    total = inst.population.sum()
    bounds = (0.15 * total, 0.6 * total)
    spec = ModelSpec(*_args(inst, (2, 3)), pop_bounds=bounds, lead_inside=lead_inside)
    res = assign_spec(spec, contiguity=contiguity, lead_sets="always", **TIGHT)
    assert "lead_sets" in note_codes(res.notes)
    feas, _ = brute(inst, (2, 3), pop_bounds=bounds, lead_inside=lead_inside)
    check_plan(res, inst, (2, 3), pop_bounds=bounds, lead_inside=lead_inside)
    if contiguity == "exact":
        assert rel_eq(res.objective, wt(inst, feas).min())
    else:
        assert res.objective >= wt(inst, feas).min() - 1e-6
    both = assign_spec(dataclasses.replace(spec, must_open=np.array([True, True, False])), contiguity=contiguity,
                       lead_sets="always", **TIGHT)
    assert both.status == ("infeasible" if lead_inside else "optimal")


# ------------------------------------------------------------------------------------------
# inside-first: the outside reading proven by an inside plan and the bound without contiguity
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("contiguity", ["exact", "fast"])
def test_inside_first_proof_matches_the_outside_model(contiguity):
    """Where an inside plan is optimal, the shortcut returns it with the proof; without it the outside model agrees."""
    inst = random_inst(square_adjacency(3, 4, 2), [0, 6, 11], 2)
    spec = ModelSpec(*_args(inst, (2, 3)), lead_inside=False)
    quick = assign_spec(spec, contiguity=contiguity, **TIGHT)
    slow = assign_spec(spec, contiguity=contiguity, inside_first=False, **TIGHT)
    assert "inside_first" in note_codes(quick.notes) and "inside_first" not in note_codes(slow.notes)
    assert quick.status == slow.status == "optimal" and rel_eq(quick.objective, slow.objective)
    out_feas, _ = brute(inst, (2, 3), lead_inside=False, contiguous=False)
    assert quick.bound <= quick.objective + 1e-9 and rel_eq(quick.bound, wt(inst, out_feas).min())
    check_plan(quick, inst, (2, 3), lead_inside=False)


def test_inside_first_does_not_stop_where_a_lead_outside_is_better():
    inst = outside_inst()
    spec = ModelSpec(*_args(inst, 2), lead_inside=False)
    res = assign_spec(spec, contiguity="exact", **TIGHT)
    assert "inside_first" not in note_codes(res.notes)
    assert rel_eq(res.objective, wt(inst, brute(inst, 2, lead_inside=False)[0]).min())
