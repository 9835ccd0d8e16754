"""A feasible first plan for a fixed set of leads, built without a solver (a MIP start).

With every lead fixed, HiGHS can spend minutes without finding any plan when a grid must reach a distant member
unit (Panjin's whole city at resolution 8: a grid's only possible secondary hospital lies across another grid's
natural area). :func:`grow_plan` builds one directly:

1. every lead holds its own unit;
2. a grid that lacks a unit of a required member kind takes the nearest such unit (by shortest path from its lead)
   that a chain of free units, each closer to the lead than the one before, joins to the lead; with that chain;
3. the grids then grow in waves: a free unit joins, among the grids holding a neighbour that is closer to that
   grid's lead (in the ``fast`` order: distance from the lead, then unit index), the one with the cheapest trip.

Every grid is thereby star-shaped along shortest paths (feasible for ``fast``, so for ``exact`` and ``flow`` too)
and holds its required members. Population and bed bounds are checked afterwards; a plan that breaks one, or a
growth that gets stuck, gives ``None`` (no start), never an infeasible start.
"""

from __future__ import annotations

import numpy as np

from .graph import directed_arcs, lead_rank
from .spec import ModelSpec


def _descending_tree(
    spec: ModelSpec, j: int, rank: np.ndarray, usable: np.ndarray, arcs: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """(n,) parent of every unit reachable from lead ``j`` by steps to a neighbour later in ``j``'s order through
    ``usable`` units (-1: the lead, -2: not reachable): the chains a ``fast`` grid of ``j`` may hold."""
    tail, head = arcs
    step = usable[tail] & (rank[j, head] < rank[j, tail])
    tail, head = tail[step], head[step]
    parent = np.full(spec.n, -2, np.int64)
    parent[spec.lead_unit[j]] = -1
    while True:
        new = (parent[tail] == -2) & (parent[head] != -2)
        if not new.any():
            return parent
        a, b = tail[new], head[new]
        first = np.unique(a, return_index=True)[1]
        parent[a[first]] = b[first]


def _chain(parent: np.ndarray, unit: int) -> np.ndarray:
    path = [unit]
    while parent[path[-1]] >= 0:
        path.append(int(parent[path[-1]]))
    return np.asarray(path, np.int64)


def _claim_members(spec: ModelSpec, lab: np.ndarray, dist: np.ndarray, rank: np.ndarray) -> bool:
    """Step 2: give every grid a unit of every required member kind, with a chain back to its lead; False if none."""
    if spec.member_units is None:
        return True
    arcs = directed_arcs(spec.graph)
    for j in range(spec.m):
        for row in spec.member_units:
            if (row & (lab == j)).any():
                continue
            usable = ((lab < 0) | (lab == j)) & np.isfinite(spec.cost[:, j])
            parent = _descending_tree(spec, j, rank, usable, arcs)
            units = np.flatnonzero(row & (parent != -2))
            if units.size == 0:
                return False
            lab[_chain(parent, int(units[np.argmin(dist[j, units])]))] = j
    return True


def _grow(spec: ModelSpec, lab: np.ndarray, rank: np.ndarray) -> bool:
    """Step 3: waves of free units joining a grid through a neighbour closer to its lead; False when stuck."""
    tail, head = directed_arcs(spec.graph)
    cost = np.where(np.isfinite(spec.cost), spec.cost, np.inf)
    while (lab < 0).any():
        live = lab[tail] < 0
        tail, head = tail[live], head[live]  # arcs out of units still free
        j = lab[head]
        ok = (j >= 0) & (rank[np.maximum(j, 0), head] < rank[np.maximum(j, 0), tail])
        a, j = tail[ok], j[ok]
        c = cost[a, j]
        if not np.isfinite(c).any():
            return False
        # cheapest admissible grid per free unit (ties: lowest grid index)
        order = np.lexsort((j, c))
        a, j, c = a[order], j[order], c[order]
        first = np.unique(a, return_index=True)[1]
        a, j, c = a[first], j[first], c[first]
        fin = np.isfinite(c)
        lab[a[fin]] = j[fin]
    return True


def _within_bounds(spec: ModelSpec, lab: np.ndarray) -> bool:
    pop = np.bincount(lab, weights=spec.population, minlength=spec.m)
    if spec.pop_lo is not None and (pop < spec.pop_lo - 1e-9).any():
        return False
    if spec.pop_hi is not None and (pop > spec.pop_hi + 1e-9).any():
        return False
    if spec.min_beds_per_1000 is not None:
        beds = np.bincount(lab, weights=spec.unit_beds, minlength=spec.m) + spec.lead_beds
        if (beds < spec.min_beds_per_1000 / 1000.0 * pop - 1e-9).any():
            return False
    return True


def grow_plan(spec: ModelSpec, dist: np.ndarray) -> np.ndarray | None:
    """A contiguous plan opening every candidate of ``spec``, or ``None`` when the construction finds none.

    Parameters
    ----------
    spec : ModelSpec
        An instance whose candidates all open (a fixed lead set).
    dist : np.ndarray
        (m, n) shortest-path minutes from every lead's unit (:func:`.graph.shortest_paths`).

    Returns
    -------
    np.ndarray or None
        (n,) candidate per unit; feasible for the ``fast`` family (hence every contiguous family) with every
        member family, population bound and bed rate of ``spec``.
    """
    m = spec.m
    if np.unique(spec.lead_unit).size < m:
        return None  # two leads in one unit cannot both hold it
    lab = np.full(spec.n, -1, np.int64)
    lab[spec.lead_unit] = np.arange(m)
    if not np.isfinite(spec.cost[spec.lead_unit, np.arange(m)]).all():
        return None
    rank = lead_rank(spec.lead_unit, dist)
    if not _claim_members(spec, lab, dist, rank) or not _grow(spec, lab, rank):
        return None
    return lab if _within_bounds(spec, lab) else None
