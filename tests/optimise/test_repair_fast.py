"""Repair in seconds, still exact: the layout fixed without a solver, the heavy-unit reduction, anchored roots, the
whole-resident bound and the time limit — each against brute force on tiny instances.

See :mod:`simulator.optimise.repair_start`.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_optimise import brute, check_plan, random_inst, rel_eq, square_adjacency, wt

from simulator.optimise import ModelSpec, assign_units_to_grids
from simulator.optimise.milp import Milp
from simulator.optimise.pairs import allowed_mask
from simulator.optimise.repair_start import anchor_units, keep_heavy_units, plan_is_feasible, repair_start
from simulator.optimise.solvers import SolveOutcome

LEADS = [0, 6, 11]
READINGS = pytest.mark.parametrize("lead_inside", [True, False], ids=["inside", "outside"])


def _case(seed: int, lead_inside: bool, flips: int = 3, lost: int = 1):
    """A 3 x 4 instance, its feasible plans, and a reference: a feasible plan with ``flips`` units given to a random
    other grid and ``lost`` units without a reference grid (a layout grid with no lead)."""
    inst = random_inst(square_adjacency(3, 4, seed), LEADS, seed)
    inst.population[:] = np.round(inst.population)
    feas, _ = brute(inst, 3, lead_inside=lead_inside)
    rng = np.random.default_rng(seed)
    ref = feas[rng.integers(feas.shape[0])].copy()
    units = rng.choice(np.setdiff1d(np.arange(12), LEADS), flips + lost, replace=False)
    ref[units[:flips]] = (ref[units[:flips]] + rng.integers(1, 3, flips)) % 3
    ref[units[flips:]] = -1
    return inst, feas, ref


def _spec(inst, ref, lead_inside):
    return ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 3, must_open=np.ones(3, bool),
                     reference_assignment=ref, lead_inside=lead_inside)


def _moved(inst, feas, ref):
    return ((feas != ref[None, :]) * inst.population[None, :]).sum(axis=1)


@READINGS
@pytest.mark.parametrize("seed", range(6))
def test_repair_equals_the_brute_force_minimum(seed, lead_inside):
    inst, feas, ref = _case(seed, lead_inside)
    res = assign_units_to_grids(_spec(inst, ref, lead_inside), contiguity="exact", gap=1e-9, time_limit_s=30)
    moved = _moved(inst, feas, ref)
    check_plan(res, inst, 3, lead_inside=lead_inside)
    assert rel_eq(res.objective, moved.min())
    assert rel_eq(res.weighted_time, wt(inst, feas[moved <= moved.min() + 1e-9]).min())
    assert res.status == "optimal" and res.gap == pytest.approx(0.0, abs=1e-9)


@READINGS
@pytest.mark.parametrize("seed", range(6))
def test_start_is_feasible_and_the_reduction_keeps_every_plan_as_good(seed, lead_inside):
    """The greedy start is a feasible plan; every plan moving no more residents than it uses only pairs the reduction
    keeps, and holds each anchor in its grid (so the reduced, anchored model keeps the minimum)."""
    inst, feas, ref = _case(seed, lead_inside)
    spec = _spec(inst, ref, lead_inside)
    start = repair_start(spec)
    assert start is not None and plan_is_feasible(spec, start)
    assert (feas == start[None, :]).all(axis=1).any(), "the start must be one of the feasible plans"
    moved = _moved(inst, feas, ref)
    u = inst.population[start != ref].sum()
    allowed = allowed_mask(spec, False, None, None, None, [])
    reduced, count = keep_heavy_units(spec, allowed, start)
    good = feas[moved <= u + 1e-9]
    assert reduced[np.arange(12)[None, :], good].all()
    anchors = anchor_units(spec, reduced)
    if count:
        assert anchors is not None
    if anchors is not None:
        j = np.flatnonzero(anchors >= 0)
        assert (good[:, anchors[j]] == j[None, :]).all()


def test_the_reduction_fixes_units_when_the_start_is_good():
    """A start that moves little fixes most units (the test above would pass vacuously if nothing were fixed)."""
    inst, feas, ref = _case(1, False, flips=1, lost=0)
    spec = _spec(inst, ref, False)
    start = repair_start(spec)
    reduced, count = keep_heavy_units(spec, allowed_mask(spec, False, None, None, None, []), start)
    assert count >= 6
    assert (anchor_units(spec, reduced) >= 0).sum() >= 2


@READINGS
def test_a_feasible_layout_moves_nobody_and_has_no_gap(lead_inside):
    """A compliant layout is returned as it is, proven, with gap 0 (it was reported as a gap of billions of % when
    the bound came out a hair below 0); ``fast`` can move residents out of such a layout, which is why the plan
    stage repairs with ``exact``."""
    inst = random_inst(square_adjacency(3, 4, 4), LEADS, 4)
    inst.population[:] = np.round(inst.population)
    feas, _ = brute(inst, 3, lead_inside=lead_inside)
    rng = np.random.default_rng(0)
    fast_moves = []
    for ref in feas[rng.permutation(feas.shape[0])[:25]]:
        res = assign_units_to_grids(_spec(inst, ref, lead_inside), contiguity="exact", gap=1e-9, time_limit_s=30)
        assert res.objective == 0 and np.array_equal(res.unit_lead, ref)
        assert res.bound == 0 and res.gap == 0
        fast = assign_units_to_grids(_spec(inst, ref, lead_inside), contiguity="fast", gap=1e-9, time_limit_s=30)
        fast_moves.append(fast.objective)
    assert max(fast_moves) > 0, "some contiguous layout is not star-shaped: fast moves residents out of it"


class _StopsAtTheLimit:
    """A back-end that hits its time limit at once: no plan, a weak bound (what HiGHS reports when it runs out)."""

    name = "stops"

    def solve(self, milp: Milp, time_limit: float, gap: float, start: np.ndarray | None) -> SolveOutcome:
        return SolveOutcome("time_limit_no_solution", None, None, -milp.obj_const, 0.01)


@READINGS
def test_time_limit_returns_the_incumbent_with_its_gap(lead_inside):
    """When the solver stops at its limit, the plan is the incumbent (the layout fixed without a solver), the status
    says so and the gap is against the proven bound (here: the residents without a reference grid)."""
    inst, feas, ref = _case(2, lead_inside)
    spec = _spec(inst, ref, lead_inside)
    start = repair_start(spec)
    res = assign_units_to_grids(spec, contiguity="exact", solver=_StopsAtTheLimit(), time_limit_s=1)
    assert res.status == "time_limit_feasible"
    assert np.array_equal(res.unit_lead, start)
    check_plan(res, inst, 3, lead_inside=lead_inside)
    u = inst.population[start != ref].sum()
    lost = inst.population[ref < 0].sum()
    assert res.objective == pytest.approx(u)
    assert res.bound == pytest.approx(lost)
    assert res.gap == pytest.approx((u - lost) / u)
    assert _moved(inst, feas, ref).min() >= res.bound - 1e-9


def test_milp_satisfied_by():
    mp = Milp()
    x = mp.add_cols(2, 0.0, 1.0, True)
    mp.add_rows(np.array([0, 0]), x, 1.0, -1, 1.0, 1)  # x0 + x1 <= 1
    assert mp.satisfied_by(np.array([1.0, 0.0]))
    assert not mp.satisfied_by(np.array([1.0, 1.0]))
    assert not mp.satisfied_by(np.array([0.5, 0.0]))  # integrality
    assert not mp.satisfied_by(np.array([2.0, -1.0]))  # bounds


@READINGS
def test_start_reconnects_a_cut_off_piece_through_the_lightest_path(lead_inside):
    """Grid 0 is cut in two by unit 2 (5 residents, grid 1): giving unit 2 to grid 0 moves 5 residents, giving the
    cut-off unit 3 (1,500) to grid 1 moves 1,500; the start takes the path, and that is the brute-force minimum."""
    inst = random_inst(square_adjacency(3, 4, 0), [0, 11], 0)
    inst.population[:] = 500.0
    inst.population[[2, 3]] = [5.0, 1500.0]
    ref = np.array([0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1])
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2, reference_assignment=ref,
                     lead_inside=lead_inside)
    start = repair_start(spec)
    feas, _ = brute(inst, 2, lead_inside=lead_inside)
    assert start is not None and inst.population[start != ref].sum() == 5.0
    assert _moved(inst, feas, ref).min() == 5.0
    res = assign_units_to_grids(spec, contiguity="exact", gap=1e-9, time_limit_s=30)
    assert res.objective == 5.0 and res.status == "optimal"
