"""Correctness tests for simulator.optimise against brute-force enumeration of every labelling.

Run with ``.venv/bin/python -m pytest tests/optimise/test_optimise.py``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

from simulator.optimise import (
    AssignmentResult,
    ModelSpec,
    connected_components_per_grid,
    note_codes,
)
from simulator.optimise import assign_units_to_grids as _assign
from simulator.optimise import diagnose_infeasibility as _diagnose

TIGHT = {"gap": 1e-9, "time_limit_s": 30}
# keyword arguments that say how to solve; every other keyword belongs to the ModelSpec
HOW = {"contiguity", "objective", "solver", "time_limit_s", "gap", "threads"}


def _split(kw: dict) -> tuple[dict, dict]:
    return {k: v for k, v in kw.items() if k not in HOW}, {k: v for k, v in kw.items() if k in HOW}


def assign_units_to_grids(population, cost, adjacency, lead_unit, n_grids, **kw) -> AssignmentResult:
    """The instance as a ModelSpec, solved with the remaining keywords."""
    data, how = _split(kw)
    return _assign(ModelSpec(population, cost, adjacency, lead_unit, n_grids, **data), **how)


def diagnose_infeasibility(population, cost, adjacency, lead_unit, n_grids, **kw):
    data, how = _split(kw)
    return _diagnose(ModelSpec(population, cost, adjacency, lead_unit, n_grids, **data), **how)


# ------------------------------------------------------------------------------------------
# Instances
# ------------------------------------------------------------------------------------------
def square_adjacency(rows: int, cols: int, seed: int | None = None) -> sp.csr_matrix:
    """4-neighbour adjacency of a rows x cols square grid; data = edge minutes."""
    idx = np.arange(rows * cols).reshape(rows, cols)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    w = np.ones(a.size) * 2.0 if seed is None else np.random.default_rng(seed).uniform(1, 3, a.size)
    n = rows * cols
    return sp.csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    )


def hex_adjacency(side_q: int, side_r: int, seed: int = 0) -> sp.csr_matrix:
    """Axial hex rhombus adjacency (6 neighbours)."""
    idx = np.arange(side_q * side_r).reshape(side_q, side_r)
    pairs = []
    for dq, dr in ((1, 0), (0, 1), (-1, 1)):
        for q in range(side_q):
            for r in range(side_r):
                q2, r2 = q + dq, r + dr
                if 0 <= q2 < side_q and 0 <= r2 < side_r:
                    pairs.append((idx[q, r], idx[q2, r2]))
    a, b = np.array(pairs).T
    w = np.random.default_rng(seed).uniform(1, 3, a.size)
    n = side_q * side_r
    return sp.csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    )


@dataclass
class Inst:
    population: np.ndarray
    cost: np.ndarray
    adjacency: sp.csr_matrix
    lead_unit: np.ndarray


def random_inst(adj: sp.csr_matrix, lead_unit: list[int], seed: int) -> Inst:
    rng = np.random.default_rng(seed)
    n = adj.shape[0]
    pop = rng.integers(100, 2000, n).astype(float)
    pos = rng.uniform(0, 10, (n, 2))
    # cost: graph-ish distance plus noise so p-median plans are often not contiguous
    cost = np.linalg.norm(pos[:, None, :] - pos[np.array(lead_unit)][None, :, :], axis=2) * 3 + 1
    cost[np.array(lead_unit), np.arange(len(lead_unit))] = 0.5
    return Inst(pop, cost, adj, np.array(lead_unit))


def barrier_inst() -> Inst:
    """3 x 4 squares, lead A in unit 0 (top-left) and B in unit 11 (bottom-right).

    Units 4 and 8 (left column, rows 1-2) are very close to B by cost (a highway) but B can only
    reach them through expensive units: p-median cuts them out as a 2-unit exclave, which the
    neighbourhood cuts alone do not forbid, so the exact loop must add separator cuts.
    """
    adj = square_adjacency(3, 4)
    pop = np.full(12, 100.0)
    pop[[4, 8]] = 1000.0
    cost = np.zeros((12, 2))
    r, c = np.divmod(np.arange(12), 4)
    cost[:, 0] = 2 + 3 * (r + c)  # to A (unit 0)
    cost[:, 1] = 2 + 3 * ((2 - r) + (3 - c))  # to B (unit 11)
    cost[[4, 8], 1] = 1.0
    cost[[4, 8], 0] = 20.0
    cost[[5, 9], 1] = 50.0  # the barrier: B's road to the exclave is slow
    return Inst(pop, cost, adj, np.array([0, 11]))


# ------------------------------------------------------------------------------------------
# Brute force (vectorised over all m**n labellings) and independent plan checks
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _labellings(n: int, m: int) -> np.ndarray:
    codes = np.arange(m**n, dtype=np.int64)
    return ((codes[:, None] // (m ** np.arange(n, dtype=np.int64))[None, :]) % m).astype(np.int8)


def _connected_mask(lab: np.ndarray, adj: sp.csr_matrix, lead_unit: np.ndarray, lead_inside: bool = True) -> np.ndarray:
    """(N,) True where every used label's units form one connected piece (containing its lead, if ``lead_inside``)."""
    a = (adj.toarray() != 0).astype(np.int32)
    ok = np.ones(lab.shape[0], bool)
    n = lab.shape[1]
    rows = np.arange(lab.shape[0])
    for j, lu in enumerate(lead_unit):
        mask = lab == j
        reach = np.zeros_like(mask)
        if lead_inside:
            reach[:, lu] = mask[:, lu]
        else:  # grow from the grid's first unit, wherever it is
            first = mask.argmax(axis=1)
            reach[rows, first] = mask[rows, first]
        for _ in range(n):
            reach = mask & (reach | ((reach.astype(np.int32) @ a) > 0))
        ok &= (reach == mask).all(axis=1)
    return ok


def brute(
    inst: Inst,
    n_grids,
    contiguous: bool = True,
    member=None,
    pop_bounds=None,
    must_open=None,
    unit_beds=None,
    lead_beds=None,
    beds_rate=None,
    lead_inside: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """All feasible labellings (N_ok, n) of the instance, and the open mask (N_ok, m).

    ``lead_inside``: a grid holds its lead's unit (the old reading); otherwise a grid is any non-empty (connected)
    set of units and its lead may stand anywhere.
    """
    n, m = inst.cost.shape
    lab = _labellings(n, m)
    used = np.stack([(lab == j).any(axis=1) for j in range(m)], axis=1)
    opened = lab[:, inst.lead_unit] == np.arange(m)[None, :] if lead_inside else used
    ok = ~(used & ~opened).any(axis=1)
    lo, hi = (n_grids, n_grids) if isinstance(n_grids, int) else n_grids
    cnt = opened.sum(axis=1)
    ok &= (cnt >= lo) & (cnt <= hi)
    if must_open is not None:
        ok &= opened[:, must_open].all(axis=1)
    lab, opened = lab[ok], opened[ok]
    ok = np.ones(lab.shape[0], bool)
    for j in range(m):
        mask = lab == j
        if member is not None:
            ok &= ~opened[:, j] | (mask & member[None, :]).any(axis=1)
        gp = mask.astype(float) @ inst.population
        if pop_bounds is not None:
            if pop_bounds[0] is not None:
                ok &= ~opened[:, j] | (gp >= pop_bounds[0] - 1e-9)
            if pop_bounds[1] is not None:
                ok &= ~opened[:, j] | (gp <= pop_bounds[1] + 1e-9)
        if beds_rate is not None:
            beds = mask.astype(float) @ unit_beds + lead_beds[j]
            ok &= ~opened[:, j] | (beds >= beds_rate / 1000 * gp - 1e-9)
    lab, opened = lab[ok], opened[ok]
    if contiguous:
        ok = _connected_mask(lab, inst.adjacency, inst.lead_unit, lead_inside)
        lab, opened = lab[ok], opened[ok]
    return lab.astype(np.int64), opened


def wt(inst: Inst, lab: np.ndarray) -> np.ndarray:
    lab = np.atleast_2d(lab)
    return (inst.population[None, :] * inst.cost[np.arange(lab.shape[1])[None, :], lab]).sum(axis=1)


def check_plan(
    res: AssignmentResult,
    inst: Inst,
    n_grids,
    contiguous: bool = True,
    member=None,
    pop_bounds=None,
    must_open=None,
    unit_beds=None,
    lead_beds=None,
    beds_rate=None,
    lead_inside: bool = True,
) -> None:
    """Independent feasibility check of a returned plan."""
    lab = np.asarray(res.unit_lead)
    n, m = inst.cost.shape
    assert lab.shape == (n,)
    assert ((lab >= 0) & (lab < m)).all()
    opened = np.unique(lab)
    assert np.array_equal(opened, np.sort(res.open_leads))
    if lead_inside:
        assert (lab[inst.lead_unit[opened]] == opened).all(), "a lead's own unit must be in its grid"
    lo, hi = (n_grids, n_grids) if isinstance(n_grids, int) else n_grids
    assert lo <= opened.size <= hi
    if must_open is not None:
        assert set(np.flatnonzero(must_open)) <= set(opened.tolist())
    if contiguous:
        assert _connected_mask(lab[None, :], inst.adjacency, inst.lead_unit, lead_inside)[0], "grid not contiguous"
    for j in opened:
        mask = lab == j
        gp = inst.population[mask].sum()
        if member is not None:
            assert member[mask].any()
        if pop_bounds is not None:
            assert pop_bounds[0] is None or gp >= pop_bounds[0] - 1e-6
            assert pop_bounds[1] is None or gp <= pop_bounds[1] + 1e-6
        if beds_rate is not None:
            assert unit_beds[mask].sum() + lead_beds[j] >= beds_rate / 1000 * gp - 1e-6


def rel_eq(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# ------------------------------------------------------------------------------------------
# Weighted time: exact == brute force, fast >= exact, none <= exact
# ------------------------------------------------------------------------------------------
CASES = [
    ("square3x4_m3", lambda: random_inst(square_adjacency(3, 4, 1), [0, 6, 11], 1), 2, (0.25, 0.6)),
    ("square3x4_m3_range", lambda: random_inst(square_adjacency(3, 4, 2), [1, 4, 10], 2), (2, 3), None),
    ("square3x4_m3_three", lambda: random_inst(square_adjacency(3, 4, 3), [0, 5, 11], 3), 3, (0.2, 0.5)),
    ("hex4x4_m2", lambda: random_inst(hex_adjacency(4, 4, 4), [0, 15], 4), 2, (0.35, 0.65)),
    ("square4x4_m2", lambda: random_inst(square_adjacency(4, 4, 5), [5, 14], 5), 2, (0.4, 0.6)),
]


@pytest.mark.parametrize("name,make,n_grids,share", CASES, ids=[c[0] for c in CASES])
def test_weighted_time_modes_vs_brute_force(name, make, n_grids, share):
    inst = make()
    total = inst.population.sum()
    bounds = None if share is None else (share[0] * total, share[1] * total)
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, n_grids)
    feas, _ = brute(inst, n_grids, pop_bounds=bounds)
    best = wt(inst, feas).min()
    exact = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, **TIGHT)
    assert exact.status == "optimal"
    assert rel_eq(exact.objective, best), (exact.objective, best)
    check_plan(exact, inst, n_grids, pop_bounds=bounds)
    assert exact.bound is not None and exact.bound <= exact.objective + 1e-6

    fast = assign_units_to_grids(*args, contiguity="fast", pop_bounds=bounds, **TIGHT)
    assert fast.status == "optimal"
    assert fast.objective >= exact.objective - 1e-6
    check_plan(fast, inst, n_grids, pop_bounds=bounds)
    assert "fast_contiguity" in note_codes(fast.notes)

    none = assign_units_to_grids(*args, contiguity="none", pop_bounds=bounds, **TIGHT)
    feas_nc, _ = brute(inst, n_grids, contiguous=False, pop_bounds=bounds)
    assert rel_eq(none.objective, wt(inst, feas_nc).min())
    assert none.objective <= exact.objective + 1e-6
    check_plan(none, inst, n_grids, contiguous=False, pop_bounds=bounds)


def test_barrier_forces_separator_cuts():
    inst = barrier_inst()
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    none = assign_units_to_grids(*args, contiguity="none", **TIGHT)
    assert max(connected_components_per_grid(none.unit_lead, inst.adjacency).values()) > 1, (
        "p-median optimum should be non-contiguous on the barrier instance"
    )
    assert none.unit_lead[4] == 1 and none.unit_lead[8] == 1
    exact = assign_units_to_grids(*args, contiguity="exact", **TIGHT)
    feas, _ = brute(inst, 2)
    assert rel_eq(exact.objective, wt(inst, feas).min())
    assert exact.timings["iterations"] >= 2 and exact.timings["cuts"] > 0
    check_plan(exact, inst, 2)
    assert exact.objective > none.objective
    flow = assign_units_to_grids(*args, contiguity="flow", **TIGHT)
    assert rel_eq(flow.objective, exact.objective)
    check_plan(flow, inst, 2)


def test_flow_equals_exact():
    inst = random_inst(square_adjacency(3, 4, 7), [0, 6, 11], 7)
    total = inst.population.sum()
    bounds = (0.2 * total, 0.6 * total)
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, (2, 3))
    exact = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, **TIGHT)
    flow = assign_units_to_grids(*args, contiguity="flow", pop_bounds=bounds, **TIGHT)
    assert flow.status == "optimal"
    assert rel_eq(flow.objective, exact.objective)
    check_plan(flow, inst, (2, 3), pop_bounds=bounds)


# ------------------------------------------------------------------------------------------
# Other objectives
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("contiguity", ["exact", "fast", "none"])
def test_minmax_vs_brute_force(contiguity):
    inst = random_inst(square_adjacency(3, 4, 11), [0, 6, 11], 11)
    inst.population[3] = 0.0  # unpopulated units do not count in the maximum
    total = inst.population.sum()
    bounds = (0.2 * total, 0.6 * total)
    res = assign_units_to_grids(
        inst.population,
        inst.cost,
        inst.adjacency,
        inst.lead_unit,
        2,
        contiguity=contiguity,
        objective="minmax",
        pop_bounds=bounds,
        **TIGHT,
    )
    feas, _ = brute(inst, 2, contiguous=contiguity != "none", pop_bounds=bounds)
    pos = inst.population > 0
    mx = inst.cost[np.arange(12)[None, :], feas][:, pos].max(axis=1)
    check_plan(res, inst, 2, contiguous=contiguity != "none", pop_bounds=bounds)
    if contiguity == "fast":
        assert res.objective >= mx.min() - 1e-9
        return
    assert rel_eq(res.objective, mx.min())
    # tie-break: least weighted time among plans with the optimal maximum
    assert rel_eq(res.weighted_time, wt(inst, feas[mx <= mx.min() + 1e-9]).min())


@pytest.mark.parametrize("contiguity", ["exact", "none"])
def test_coverage_vs_brute_force(contiguity):
    inst = random_inst(hex_adjacency(4, 4, 12), [2, 13], 12)
    t = float(np.median(inst.cost))
    res = assign_units_to_grids(
        inst.population,
        inst.cost,
        inst.adjacency,
        inst.lead_unit,
        2,
        contiguity=contiguity,
        objective="coverage",
        coverage_minutes=t,
        **TIGHT,
    )
    feas, _ = brute(inst, 2, contiguous=contiguity != "none")
    cov = ((inst.cost[np.arange(16)[None, :], feas] <= t) * inst.population[None, :]).sum(axis=1)
    assert rel_eq(res.objective, cov.max())
    assert res.bound is not None and res.bound >= res.objective - 1e-6
    best = feas[cov >= cov.max() - 1e-9]
    assert rel_eq(res.weighted_time, wt(inst, best).min(), 1e-6)
    check_plan(res, inst, 2, contiguous=contiguity != "none")


@pytest.mark.parametrize("contiguity", ["exact", "fast"])
def test_repair_mode_vs_brute_force(contiguity):
    inst = random_inst(square_adjacency(3, 4, 13), [0, 6, 11], 13)
    total = inst.population.sum()
    bounds = (0.25 * total, 0.45 * total)
    ref = np.array([0, 0, 1, 1, 0, 1, 1, 2, 0, 2, 2, 2])  # an old plan that violates the new bounds
    res = assign_units_to_grids(
        inst.population,
        inst.cost,
        inst.adjacency,
        inst.lead_unit,
        3,
        contiguity=contiguity,
        pop_bounds=bounds,
        reference_assignment=ref,
        **TIGHT,
    )
    feas, _ = brute(inst, 3, pop_bounds=bounds)
    moved = ((feas != ref[None, :]) * inst.population[None, :]).sum(axis=1)
    check_plan(res, inst, 3, pop_bounds=bounds)
    assert res.objective_name == "residents_moved"
    if contiguity == "exact":
        assert rel_eq(res.objective, moved.min())
        assert rel_eq(res.weighted_time, wt(inst, feas[moved <= moved.min() + 1e-9]).min())
    else:
        assert res.objective >= moved.min() - 1e-9


# ------------------------------------------------------------------------------------------
# Optional families
# ------------------------------------------------------------------------------------------
def test_must_open_and_grid_range():
    inst = random_inst(square_adjacency(3, 4, 21), [0, 5, 11], 21)
    must = np.array([False, True, False])
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, (1, 3))
    res = assign_units_to_grids(*args, contiguity="exact", must_open=must, **TIGHT)
    feas, _ = brute(inst, (1, 3), must_open=must)
    assert rel_eq(res.objective, wt(inst, feas).min())
    assert 1 in res.open_leads
    check_plan(res, inst, (1, 3), must_open=must)
    # with a free range the optimum opens all three (more leads = shorter trips)
    free = assign_units_to_grids(*args, contiguity="exact", **TIGHT)
    feas_free, _ = brute(inst, (1, 3))
    assert rel_eq(free.objective, wt(inst, feas_free).min())
    assert free.open_leads.size == 3
    one = assign_units_to_grids(*args[:-1], (1, 1), contiguity="exact", must_open=must, **TIGHT)
    assert np.array_equal(one.open_leads, [1])


def test_member_units_and_beds_vs_brute_force():
    inst = random_inst(square_adjacency(3, 4, 31), [0, 6, 11], 31)
    member = np.zeros(12, bool)
    member[[3, 8]] = True
    rng = np.random.default_rng(31)
    beds = rng.integers(0, 20, 12).astype(float)
    lead_beds = np.array([10.0, 0.0, 5.0])
    rate = 1000 * (beds.sum() + lead_beds.sum()) / inst.population.sum() * 0.6
    kw = {"member_units": member, "unit_beds": beds, "lead_beds": lead_beds, "min_beds_per_1000": rate}
    res = assign_units_to_grids(
        inst.population, inst.cost, inst.adjacency, inst.lead_unit, (2, 3), contiguity="exact", **kw, **TIGHT
    )
    feas, _ = brute(inst, (2, 3), member=member, unit_beds=beds, lead_beds=lead_beds, beds_rate=rate)
    assert feas.shape[0] > 0
    assert rel_eq(res.objective, wt(inst, feas).min())
    check_plan(res, inst, (2, 3), member=member, unit_beds=beds, lead_beds=lead_beds, beds_rate=rate)


def test_member_rule_infeasible_is_diagnosed():
    inst = random_inst(square_adjacency(3, 4, 41), [0, 6, 11], 41)
    member = np.zeros(12, bool)
    member[5] = True  # one secondary hospital, but three grids are required
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 3)
    res = assign_units_to_grids(*args, contiguity="exact", member_units=member, **TIGHT)
    assert res.status == "infeasible"
    assert not res.has_plan and math.isnan(res.objective)
    diag = diagnose_infeasibility(*args, contiguity="exact", member_units=member)
    assert not diag.feasible
    assert diag.families == ["member_units"]
    assert sum(r.amount for r in diag.relaxations) == pytest.approx(2.0)
    # two of the three grids lack a member of kind 0 (the only row of member_units)
    assert len(diag.relaxations) == 2
    assert all(r.kind == 0 and r.candidate is not None for r in diag.relaxations)
    assert len({r.candidate for r in diag.relaxations}) == 2


def test_pop_bound_infeasible_is_diagnosed():
    inst = random_inst(square_adjacency(3, 4, 42), [0, 11], 42)
    total = inst.population.sum()
    bounds = (0.0, 0.45 * total)  # two grids cannot hold everybody
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    res = assign_units_to_grids(*args, contiguity="fast", pop_bounds=bounds, **TIGHT)
    assert res.status == "infeasible"
    diag = diagnose_infeasibility(*args, contiguity="fast", pop_bounds=bounds)
    assert "pop_upper" in diag.families
    need = sum(r.amount for r in diag.relaxations if r.family == "pop_upper")
    assert need >= 0.1 * total - 1e-6  # at least the 10 % shortfall must be absorbed
    assert all(r.candidate is not None and r.grid_units > 0 for r in diag.relaxations if r.family == "pop_upper")
    ok = diagnose_infeasibility(*args, contiguity="fast", pop_bounds=(0, total))
    assert ok.feasible and not ok.relaxations


def test_candidate_k_never_loses_feasibility():
    inst = random_inst(square_adjacency(3, 4, 51), [0, 11], 51)
    inst.cost[:, 0] = 0.1  # candidate 0 is everybody's nearest: with k=1 grid 1 keeps only its lead unit
    inst.cost[11, 1] = 0.01
    total = inst.population.sum()
    bounds = (0.3 * total, 0.7 * total)
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    full = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, **TIGHT)
    assert full.status == "optimal"
    red = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, candidate_k=1, **TIGHT)
    assert red.status == "optimal"
    check_plan(red, inst, 2, pop_bounds=bounds)
    assert any(n.code == "candidate_k_kept" and n.facts["k"] == 1 for n in red.notes)
    assert "candidate_k_fallback" in note_codes(red.notes)
    assert rel_eq(red.objective, full.objective)


def test_candidate_k_keeps_paths_to_the_lead():
    inst = random_inst(square_adjacency(4, 4, 52), [5, 14], 52)
    res = assign_units_to_grids(
        inst.population,
        inst.cost,
        inst.adjacency,
        inst.lead_unit,
        2,
        contiguity="fast",
        candidate_k=1,
        **TIGHT,
    )
    assert res.status == "optimal"
    check_plan(res, inst, 2)


def test_cbc_fallback_matches_highs():
    inst = barrier_inst()
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    h = assign_units_to_grids(*args, contiguity="exact", **TIGHT)
    c = assign_units_to_grids(*args, contiguity="exact", solver="cbc", **TIGHT)
    assert c.solver == "PULP_CBC_CMD" and h.solver == "HiGHS"
    assert rel_eq(c.objective, h.objective)


def test_unreachable_unit_is_infeasible_under_contiguity():
    adj = square_adjacency(3, 4).tolil()
    adj[3, :] = 0
    adj[:, 3] = 0  # unit 3 becomes an island
    inst = random_inst(adj.tocsr(), [0, 11], 61)
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    res = assign_units_to_grids(*args, contiguity="fast", **TIGHT)
    assert res.status == "infeasible"
    assert any(n.code == "units_unreachable" and n.facts["units"] == [3] for n in res.notes)
    diag = diagnose_infeasibility(*args, contiguity="fast")
    assert [r.unit for r in diag.relaxations if r.family == "reachability"] == [3]
    assert assign_units_to_grids(*args, contiguity="none", **TIGHT).status == "optimal"


def test_deterministic_and_components_helper():
    inst = random_inst(hex_adjacency(4, 4, 71), [0, 15], 71)
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    a = assign_units_to_grids(*args, contiguity="fast", **TIGHT)
    b = assign_units_to_grids(*args, contiguity="fast", **TIGHT)
    assert np.array_equal(a.unit_lead, b.unit_lead) and a.objective == b.objective
    assert connected_components_per_grid(a.unit_lead, inst.adjacency) == {0: 1, 1: 1}
    lab = np.array([0, 1] * 8)
    assert max(connected_components_per_grid(lab, inst.adjacency).values()) > 1
    assert {"variables", "constraints", "nonzeros"} <= set(a.model_size)
    assert {"build_s", "solve_s", "iterations"} <= set(a.timings)


def test_warm_start_from_reduced_model(monkeypatch):
    import simulator.optimise.assign as opt

    inst = random_inst(square_adjacency(3, 4, 81), [0, 6, 11], 81)
    total = inst.population.sum()
    bounds = (0.2 * total, 0.6 * total)
    args = (inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    plain = assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, **TIGHT)
    monkeypatch.setattr(opt, "WARM_START_MIN_UNITS", 1)
    monkeypatch.setattr(opt, "WARM_START_K", 2)
    for mode in ("exact", "fast", "none"):
        warm = assign_units_to_grids(*args, contiguity=mode, pop_bounds=bounds, **TIGHT)
        assert "warm_start" in note_codes(warm.notes)
        check_plan(warm, inst, 2, contiguous=mode != "none", pop_bounds=bounds)
        feas, _ = brute(inst, 2, contiguous=mode != "none", pop_bounds=bounds)
        if mode != "fast":
            assert rel_eq(warm.objective, wt(inst, feas).min())
    assert rel_eq(
        plain.objective,
        assign_units_to_grids(*args, contiguity="exact", pop_bounds=bounds, **TIGHT).objective,
    )
