"""Repair's first plan and its provable reduction: the planner's layout fixed greedily, without a solver.

Repair (objective ``residents_moved``) starts from a reference assignment that is usually almost right: most grids
are one piece, hold their lead and their members. :func:`repair_start` keeps as much of it as a cheap construction
can:

1. every unit keeps its reference grid (units a planner locked join theirs; with ``spec.lead_inside`` every
   reference grid's lead's unit joins it);
2. of each grid only one connected piece stays: the one holding the lead's unit (``lead_inside``), else the one with
   the most locked units, then the most residents; the other pieces and the units without a reference grid are free;
3. free units join, in waves, the grid of an assigned neighbour with the cheapest trip (each joins a grid it touches,
   so grids stay connected).

The result is checked against every family the construction cannot guarantee (grid count, must-open leads, member
units, population and bed bounds, locks, finite costs, contiguity); any failure gives ``None`` (no start), never an
infeasible start. The stages then check the start against the model's rows (:meth:`.milp.Milp.satisfied_by`)
before using it as the cut loop's incumbent.

:func:`keep_heavy_units` is the reduction the start allows (see its docstring for the proof).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from .graph import directed_arcs
from .spec import ModelSpec
from .start import _within_bounds


def _pieces(lab: np.ndarray, graph: sp.csr_matrix) -> np.ndarray:
    """(n,) connected piece of every assigned unit among units of its own grid (-1 for unassigned units)."""
    a = graph.tocoo()
    same = (lab[a.row] == lab[a.col]) & (lab[a.row] >= 0)
    n = lab.size
    g = sp.csr_matrix((np.ones(int(same.sum())), (a.row[same], a.col[same])), shape=(n, n))
    _, comp = csgraph.connected_components(g, directed=False)
    return np.where(lab >= 0, comp, -1)


def _keep_one_piece(
    spec: ModelSpec, lab: np.ndarray, fixed: np.ndarray, anchors: np.ndarray | None = None
) -> np.ndarray:
    """Step 2: free every piece of a grid but the one kept (lead's unit; else the anchor's, else most locks, then most
    residents)."""
    comp = _pieces(lab, spec.graph)
    on = lab >= 0
    n_comp = int(comp.max()) + 1 if on.any() else 0
    pop = np.bincount(comp[on], weights=spec.population[on], minlength=n_comp)
    locks = np.bincount(comp[on], weights=(fixed[on] >= 0).astype(float), minlength=n_comp)
    grid_of = np.full(n_comp, -1, np.int64)
    grid_of[comp[on]] = lab[on]
    score = locks * (pop.sum() + 1.0) + pop  # locks first, then residents
    opened = np.unique(lab[on])
    if spec.lead_inside:
        score[comp[spec.lead_unit[opened]]] = np.inf
    elif anchors is not None:
        held = opened[(anchors[opened] >= 0)]
        held = held[lab[anchors[held]] == held]
        score[comp[anchors[held]]] = np.inf
    order = np.lexsort((np.arange(n_comp), -score))  # best piece first per grid (ties: lowest piece number)
    best = np.full(spec.m, -1, np.int64)
    first = np.unique(grid_of[order], return_index=True)[1]
    best[grid_of[order][first]] = order[first]
    keep = on & (best[np.maximum(lab, 0)] == comp)
    return np.where(keep, lab, -1)


def _grow(spec: ModelSpec, lab: np.ndarray) -> bool:
    """Step 3: waves of free units joining, among the grids of their assigned neighbours, their reference grid if it
    is one of them (no move), else the cheapest trip; False when stuck."""
    tail, head = directed_arcs(spec.graph)
    cost = np.where(np.isfinite(spec.cost), spec.cost, np.inf)
    ref = spec.reference_assignment if spec.reference_assignment is not None else np.full(spec.n, -1, np.int64)
    while (lab < 0).any():
        j = lab[head]
        ok = (lab[tail] < 0) & (j >= 0)
        a, j = tail[ok], j[ok]
        c = cost[a, j]
        fin = np.isfinite(c)
        if not fin.any():
            return False
        a, j, c = a[fin], j[fin], c[fin]
        order = np.lexsort((j, c, ref[a] != j))
        first = np.unique(a[order], return_index=True)[1]
        lab[a[order][first]] = j[order][first]
    return True


def _members_ok(spec: ModelSpec, lab: np.ndarray, opened: np.ndarray) -> bool:
    """Every open grid holds a unit of every member row (row 0 also counts non-leading member candidates)."""
    if spec.member_units is None:
        return True
    for r, row in enumerate(spec.member_units):
        have = np.zeros(spec.m, bool)
        have[lab[row]] = True
        if r == 0 and spec.member_candidates is not None:
            mc = np.flatnonzero(spec.member_candidates & ~np.isin(np.arange(spec.m), opened))
            have[lab[spec.lead_unit[mc]]] = True
        if not have[opened].all():
            return False
    return True


def plan_is_feasible(spec: ModelSpec, lab: np.ndarray) -> bool:
    """Whether plan ``lab`` meets every family of ``spec`` (contiguity included, any contiguous family).

    Parameters
    ----------
    spec : ModelSpec
    lab : np.ndarray
        (n,) candidate per unit.
    """
    if lab.shape != (spec.n,) or (lab < 0).any() or (lab >= spec.m).any():
        return False
    if not np.isfinite(spec.cost[np.arange(spec.n), lab]).all():
        return False
    opened = np.unique(lab)
    if not spec.count_lo <= opened.size <= spec.count_hi or not np.isin(np.flatnonzero(spec.must_open), opened).all():
        return False
    fixed = spec.fixed_assignment
    if fixed is not None and (lab[fixed >= 0] != fixed[fixed >= 0]).any():
        return False
    if not _members_ok(spec, lab, opened) or not _within_bounds(spec, lab):
        return False
    return spec.is_contiguous(lab)


def repair_start(spec: ModelSpec) -> np.ndarray | None:
    """A feasible plan close to ``spec.reference_assignment`` built without a solver, or ``None``.

    Parameters
    ----------
    spec : ModelSpec
        A repair instance (``reference_assignment`` set).

    Returns
    -------
    np.ndarray or None
        (n,) candidate per unit, feasible for every contiguous family and every family of ``spec``
        (:func:`plan_is_feasible`); ``None`` when the construction finds none.
    """
    ref = spec.reference_assignment
    if ref is None:
        return None
    n, m = spec.n, spec.m
    lab = np.where((ref >= 0) & (ref < m), ref, -1)
    lab[lab >= 0] = np.where(np.isfinite(spec.cost[np.flatnonzero(lab >= 0), lab[lab >= 0]]), lab[lab >= 0], -1)
    fixed = spec.fixed_assignment if spec.fixed_assignment is not None else np.full(n, -1, np.int64)
    lab[fixed >= 0] = fixed[fixed >= 0]
    if spec.lead_inside:
        opened = np.unique(lab[lab >= 0])
        if np.unique(spec.lead_unit[opened]).size < opened.size:
            return None
        clash = (fixed[spec.lead_unit[opened]] >= 0) & (fixed[spec.lead_unit[opened]] != opened)
        if clash.any():
            return None
        lab[spec.lead_unit[opened]] = opened
    lab = _keep_one_piece(spec, lab, fixed)
    if not _grow(spec, lab) or not plan_is_feasible(spec, lab):
        return None
    return _reconnect(spec, lab)


def _moved(spec: ModelSpec, lab: np.ndarray) -> float:
    return float(spec.population[lab != spec.reference_assignment].sum())


def _reconnect(spec: ModelSpec, lab: np.ndarray) -> np.ndarray:
    """Step 4: bring back each piece of a reference grid that step 2 freed, through the path of fewest residents.

    For every such piece ``S`` of grid ``j`` (most residents first) the units of the vertex-weighted shortest path
    (weight: a unit's residents, 0 for units already in ``j``) from ``S`` to grid ``j`` join ``j`` with ``S``; the
    other grids are then fixed as in steps 2-3. The change is kept when the plan stays feasible and moves fewer
    residents. A heuristic: it only ever improves a feasible plan.
    """
    ref = spec.reference_assignment
    comp = _pieces(np.where(ref < spec.m, ref, -1), spec.graph)
    away = (lab != ref) & (comp >= 0)
    if not away.any():
        return lab
    a = spec.graph.tocoo()
    pieces = np.unique(comp[away])
    pop_of = np.bincount(comp[comp >= 0], weights=spec.population[comp >= 0])
    for piece in pieces[np.argsort(-pop_of[pieces], kind="stable")]:
        units = np.flatnonzero(comp == piece)
        j = int(ref[units[0]])
        if (lab[units] == j).all():
            continue
        w = np.where(lab == j, 0.0, spec.population) + 1e-9
        g = sp.csr_matrix((w[a.col], (a.row, a.col)), shape=(spec.n, spec.n))
        dist, pred, _ = csgraph.dijkstra(g, indices=units, min_only=True, return_predecessors=True)
        target = np.flatnonzero((lab == j) & np.isfinite(dist))
        if target.size == 0:
            continue
        end = int(target[np.argmin(dist[target])])
        trial = lab.copy()
        trial[units] = j
        u = end
        while u >= 0 and not (comp[u] == piece):
            trial[u] = j
            u = int(pred[u])
        trial = fix_plan(spec, trial)
        if trial is not None and _moved(spec, trial) < _moved(spec, lab) - 1e-9:
            lab = trial
    return lab


def fix_plan(spec: ModelSpec, lab: np.ndarray, anchors: np.ndarray | None = None) -> np.ndarray | None:
    """A feasible plan from a disconnected one (a cut loop's master plan): steps 2 and 3 of :func:`repair_start` on
    ``lab`` (the piece holding a grid's anchor is kept), or ``None``.

    Parameters
    ----------
    spec : ModelSpec
    lab : np.ndarray
        (n,) candidate per unit, grids possibly in several pieces.
    anchors : np.ndarray, optional
        (m,) unit whose piece each grid keeps (-1: none).
    """
    fixed = spec.fixed_assignment if spec.fixed_assignment is not None else np.full(spec.n, -1, np.int64)
    out = _keep_one_piece(spec, np.asarray(lab, np.int64).copy(), fixed, anchors)
    if not _grow(spec, out):
        return None
    return out if plan_is_feasible(spec, out) else None


def keep_heavy_units(spec: ModelSpec, allowed: np.ndarray, incumbent: np.ndarray) -> tuple[np.ndarray, int]:
    """Fix every unit with more residents than the incumbent moves to its reference grid (a provable reduction).

    Let ``U`` be the residents the feasible plan ``incumbent`` moves and ``F`` the residents of units without a
    reference grid, who count as moved in every plan. A plan that moves a unit with a reference grid and
    ``pop[i] > U - F`` moves more than ``F + pop[i] > U`` residents, so it is worse than the incumbent; every plan at
    least as good as the incumbent keeps such a unit in its reference grid. Dropping the unit's other pairs
    therefore loses no plan the repair could return (the incumbent itself keeps them too, so it stays feasible),
    and the minimum of residents moved is the same with and without the reduction. The second stage (least travel
    among plans moving at most the first stage's residents, which is at most ``U``) loses nothing either. With a
    layout grid that has no lead, ``F`` is most of ``U``, so nearly every other unit is fixed. Units without a
    reference grid are left alone. ``tests/optimise/test_repair_fast.py`` checks the reduction against brute force.

    Parameters
    ----------
    spec : ModelSpec
        A repair instance.
    allowed : np.ndarray
        (n, m) bool usable pairs.
    incumbent : np.ndarray
        (n,) a feasible plan.

    Returns
    -------
    tuple
        The reduced (n, m) mask (a copy) and the number of units fixed.
    """
    ref = spec.reference_assignment
    moved = float(spec.population[incumbent != ref].sum())
    forced = (ref < 0) | (ref >= spec.m)
    spare = moved - float(spec.population[forced].sum())
    heavy = np.flatnonzero((spec.population > spare) & ~forced)
    heavy = heavy[allowed[heavy, ref[heavy]]]
    out = allowed.copy()
    keep = out[heavy, ref[heavy]].copy()
    out[heavy, :] = False
    out[heavy, ref[heavy]] = keep
    return out, int(heavy.size)


def anchor_units(spec: ModelSpec, allowed: np.ndarray) -> np.ndarray | None:
    """(m,) per grid the most populous unit whose only usable pair is with that grid (-1: none), or ``None``.

    Every feasible plan puts such a unit in that grid (it has no other column), so the grid, being connected, is
    connected with that unit as its root: the model may fix the root there (:meth:`.constraints.ModelBuild.
    anchor_roots`). After :func:`keep_heavy_units` the kept heavy units and the locked units are such units.
    """
    only = allowed.sum(axis=1) == 1
    if not only.any():
        return None
    units = np.flatnonzero(only)
    grid = allowed[units].argmax(axis=1)
    order = np.lexsort((units, -spec.population[units]))
    first = np.unique(grid[order], return_index=True)[1]
    anchors = np.full(spec.m, -1, np.int64)
    anchors[grid[order][first]] = units[order][first]
    return anchors
