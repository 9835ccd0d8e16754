"""Ambulance-station siting 急救站点选址: maximal covering and set covering on a sparse coverage matrix.

A resident counts as *covered* when some open station is within ``T`` minutes of the resident's planning unit (the
travel model of the run; ``cover[i, j]`` is true when unit ``i`` is within ``T`` minutes of site ``j``). Existing
stations (``fixed``) stay open and are not counted among the new ones.

* **Maximal covering** (Church & ReVelle 1974): open at most ``k`` new sites, maximise the residents covered.
* **Set covering** (the share form): open the fewest new sites so that at least a share ``s`` of residents is covered;
  among the fewest, cover the most residents.

Both are a small MILP in the optimiser's array form (:class:`~simulator.optimise.milp.Milp`), solved by a registered
back-end (``highs`` by default): ``x[j]`` ∈ {0, 1} opens candidate ``j``, ``z[i]`` ∈ [0, 1] is unit ``i`` covered,
``z[i] <= sum_j cover[i, j] x[j]``. Units already covered by a fixed station, units no candidate reaches and units
without residents get no column (their coverage is a constant). Every answer is re-checked from the coverage matrix
(:meth:`EmsSiting.covered`), never taken from the solver's objective alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..travel.straight_line import unit_to_point_minutes
from .milp import Milp
from .solvers import make_backend

#: units per block when the coverage matrix is built (bounds memory at n_sites × BLOCK floats)
BLOCK = 256


def coverage_matrix(minutes: np.ndarray, limit: float) -> sp.csr_matrix:
    """(n, s) boolean CSR: ``minutes[i, j] <= limit`` (NaN and inf never cover).

    Parameters
    ----------
    minutes : (n, s) travel minutes from units to sites
    limit : the coverage standard T, minutes
    """
    m = np.asarray(minutes, dtype=float)
    return sp.csr_matrix(np.isfinite(m) & (m <= limit + 1e-9))


def site_coverage(
    unit_lon: np.ndarray,
    unit_lat: np.ndarray,
    site_lon: np.ndarray,
    site_lat: np.ndarray,
    limit: float,
    speed_kmh: float = 30.0,
    circuity: float = 1.3,
    network=None,
) -> sp.csr_matrix:
    """(n_units, n_sites) coverage of units by sites: the ambulance reaches the unit's point from the site within
    ``limit`` minutes (site → unit, the direction that matters on a road network with one-way streets; straight-line
    minutes are the same both ways). Built in blocks of units, sparse.

    Parameters
    ----------
    unit_lon, unit_lat : (n,) unit points, WGS-84 degrees
    site_lon, site_lat : (s,) site points, WGS-84 degrees
    limit : minutes
    speed_kmh, circuity, network : the run's travel model (:func:`simulator.travel.straight_line.unit_to_point_minutes`)
    """
    unit_lon = np.asarray(unit_lon, dtype=float)
    unit_lat = np.asarray(unit_lat, dtype=float)
    site_lon = np.asarray(site_lon, dtype=float)
    site_lat = np.asarray(site_lat, dtype=float)
    if len(site_lon) == 0 or len(unit_lon) == 0:
        return sp.csr_matrix((len(unit_lon), len(site_lon)), dtype=bool)
    blocks = [
        coverage_matrix(
            unit_to_point_minutes(site_lon, site_lat, unit_lon[b:b + BLOCK], unit_lat[b:b + BLOCK], speed_kmh,
                                  circuity, network).T,
            limit,
        )
        for b in range(0, len(unit_lon), BLOCK)
    ]
    return sp.vstack(blocks, format="csr")


@dataclass
class EmsSiting:
    """Answer of a siting model.

    Attributes
    ----------
    model : ``"maximal_covering"`` or ``"set_covering"``
    status : the solver's status (``optimal``, ``time_limit_feasible`` …), or ``infeasible`` when no set of sites
        reaches the share (then ``chosen`` is empty and ``reachable_share`` says what is reachable)
    chosen : indices of the new sites opened (columns of the candidate coverage matrix), sorted
    covered_population, population : residents covered by the open stations (fixed and new), and all residents
    reachable_share : share of residents any candidate or fixed station can reach within T (the ceiling)
    objective, bound : model objective and the solver's proven bound (residents for maximal covering, stations for
        set covering), ``None`` without one
    """

    model: str
    status: str
    chosen: np.ndarray
    covered_population: float
    population: float
    reachable_share: float
    objective: float | None = None
    bound: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        """Share of residents covered (NaN without residents)."""
        return self.covered_population / self.population if self.population > 0 else float("nan")


def covered_units(cover: sp.csr_matrix, chosen: np.ndarray, fixed_cover: sp.csr_matrix | None = None) -> np.ndarray:
    """(n,) bool: units within T of a chosen candidate or of a fixed station (the independent re-check)."""
    cover = sp.csr_matrix(cover)
    hit = np.asarray(cover[:, np.asarray(chosen, dtype=np.int64)].sum(axis=1)).ravel() > 0
    if fixed_cover is not None and fixed_cover.shape[1]:
        hit |= np.asarray(sp.csr_matrix(fixed_cover).sum(axis=1)).ravel() > 0
    return hit


def _prepare(population: np.ndarray, cover: sp.csr_matrix, fixed_cover: sp.csr_matrix | None):
    """The units that need a z column (residents, not yet covered, reachable), the constant and the ceiling."""
    w = np.asarray(population, dtype=float)
    cover = sp.csr_matrix(cover, dtype=bool)
    if cover.shape[0] != len(w):
        raise ValueError(f"cover has {cover.shape[0]} rows for {len(w)} units")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("population must be finite and ≥ 0")
    pre = np.zeros(len(w), bool)
    if fixed_cover is not None and fixed_cover.shape[1]:
        pre = np.asarray(sp.csr_matrix(fixed_cover).sum(axis=1)).ravel() > 0
    reach = np.asarray(cover.sum(axis=1)).ravel() > 0
    rows = np.flatnonzero((w > 0) & ~pre & reach)
    base = float(w[pre].sum())
    ceiling = float(w[pre | reach].sum())
    return w, cover, rows, base, ceiling


def reduce_instance(w: np.ndarray, cover: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """A smaller maximal-covering instance with the same optimum: identical rows merged, dominated sites dropped.

    Units covered by the same set of sites become one row carrying their summed residents; a site whose units are
    a subset of another site's (ties: the lower index is kept) can be swapped for that one without losing a
    resident, so it gets no column.

    Parameters
    ----------
    w : (r,) residents of the rows to cover
    cover : (r, s) bool coverage of those rows

    Returns
    -------
    (weights of the merged rows, their coverage restricted to the kept sites, indices of the kept sites)
    """
    cover = sp.csr_matrix(cover, dtype=bool)
    r, s = cover.shape
    if r == 0 or s == 0:
        return w, cover, np.arange(s)
    rng = np.random.default_rng(0)
    keys = cover.astype(float) @ rng.random((s, 2))  # two random projections: identical rows, identical keys
    _, first, inverse = np.unique(np.round(keys, 9), axis=0, return_index=True, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    w2 = np.bincount(inverse, weights=w, minlength=len(first))
    c2 = cover[first]
    size = np.asarray(c2.sum(axis=0)).ravel()
    common = (c2.T.astype(np.int32) @ c2.astype(np.int32)).tocoo()  # rows two sites share
    a, b = common.row, common.col
    bigger = (size[b] > size[a]) | ((size[b] == size[a]) & (b < a))
    dominated = np.zeros(s, bool)
    dominated[a[(a != b) & (common.data == size[a]) & bigger]] = True
    dominated |= size == 0
    keep = np.flatnonzero(~dominated)
    return w2, c2[:, keep].tocsr(), keep


def _build(w: np.ndarray, cover: sp.csr_matrix, rows: np.ndarray, x_obj: float, z_obj: np.ndarray) -> tuple:
    """Columns x (sites) then z (rows), and the linking rows ``z_i - sum_j cover[i, j] x_j <= 0``."""
    s = cover.shape[1]
    milp = Milp()
    x = milp.add_cols(s, 0.0, 1.0, True, x_obj, prefix="x")
    z = milp.add_cols(len(rows), 0.0, 1.0, False, z_obj, prefix="z")
    sub = cover[rows].tocoo()
    r = np.concatenate([np.arange(len(rows)), sub.row])
    c = np.concatenate([z, x[sub.col]])
    v = np.concatenate([np.ones(len(rows)), -np.ones(sub.nnz)])
    milp.add_rows(r, c, v, -1, 0.0, len(rows))
    return milp, x, z


def _solve(milp: Milp, solver, time_limit: float, gap: float, start: np.ndarray | None = None):
    notes: list[str] = []
    backend = make_backend(solver, None, notes)
    out = backend.solve(milp, time_limit, gap, start)
    return out, [str(n) for n in notes]


def maximal_covering(
    population: np.ndarray,
    cover: sp.spmatrix,
    k: int,
    fixed_cover: sp.spmatrix | None = None,
    *,
    solver="highs",
    time_limit: float = 60.0,
    gap: float = 1e-6,
) -> EmsSiting:
    """Open at most ``k`` new sites to maximise the residents within T minutes of an open station.

    Parameters
    ----------
    population : (n,) residents per unit
    cover : (n, s) bool, unit ``i`` within T minutes of candidate site ``j``
    k : new stations to add (≥ 0); stations that would cover no one more are not placed
    fixed_cover : (n, f) bool coverage of the existing stations (kept open), or ``None``
    solver : a registered back-end name (``highs``, ``highs_pulp``, ``cbc``) or a back-end object
    time_limit : seconds; gap : relative MIP gap

    Returns
    -------
    EmsSiting
        ``objective`` / ``bound``: residents covered (fixed stations included)
    """
    if int(k) != k or k < 0:
        raise ValueError(f"k must be a whole number ≥ 0, got {k!r}")
    w, cover, rows, base, ceiling = _prepare(population, cover, fixed_cover)
    wr, cr, kept = reduce_instance(w[rows], cover[rows])
    milp, x, _ = _build(wr, cr, np.arange(len(wr)), 0.0, -wr)
    milp.add_rows(np.zeros(len(x), np.int64), x, 1.0, -1, float(k), 1)
    # MIP start: k sites chosen greedily (each the one adding the most uncovered residents), the units they cover
    pick = _greedy(wr, cr, np.zeros(len(wr), bool), np.inf, limit=int(k))
    start = np.zeros(milp.ncols)
    start[x[pick]] = 1.0
    start[len(x):] = covered_units(cr, pick)
    out, notes = _solve(milp, solver, time_limit, gap, start)
    obj = None if out.objective is None else base - out.objective
    bound = None if out.bound is None else base - out.bound
    chosen = kept[out.values[x] > 0.5] if out.values is not None else np.zeros(0, np.int64)
    hit = covered_units(cover, chosen, fixed_cover)
    total = float(w.sum())
    return EmsSiting("maximal_covering", out.status, np.sort(chosen), float(w[hit].sum()), total,
                     ceiling / total if total > 0 else np.nan, obj, bound, notes)


def _greedy(w: np.ndarray, cover: sp.csr_matrix, base_hit: np.ndarray, need: float, limit: int = -1) -> np.ndarray:
    """Sites added one at a time, each the one adding the most uncovered residents, until ``need`` is covered (or
    ``limit`` sites are chosen, or no site adds anyone)."""
    csc = cover.tocsc()
    hit = base_hit.copy()
    chosen: list[int] = []
    while w[hit].sum() < need and len(chosen) != limit:
        gain = csc.T.dot(w * ~hit)
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        hit |= csc[:, j].toarray().ravel()
    return np.array(chosen, dtype=np.int64)


def set_covering(
    population: np.ndarray,
    cover: sp.spmatrix,
    share: float,
    fixed_cover: sp.spmatrix | None = None,
    *,
    solver="highs",
    time_limit: float = 60.0,
    gap: float = 1e-6,
) -> EmsSiting:
    """Open the fewest new sites so that at least ``share`` of residents is within T minutes of an open station;
    among the fewest, cover the most residents.

    Solved as a search over ``k`` with :func:`maximal_covering`: ``k`` stations suffice when the best ``k`` cover
    the share, and ``k`` do not when the proven bound of the best ``k`` falls short of it. A greedy answer gives the
    first upper end, then bisection between the largest ``k`` proven short and the smallest ``k`` found enough. The
    answer is the maximal-covering optimum of the fewest ``k``, so among the fewest it covers the most residents.

    Parameters
    ----------
    population, cover, fixed_cover, solver, gap : as :func:`maximal_covering`
    share : the coverage standard, in (0, 1]
    time_limit : seconds for the whole search

    Returns
    -------
    EmsSiting
        ``objective``: new stations; ``bound``: the fewest that could suffice (proven); status ``optimal`` when they
        meet, ``time_limit_feasible`` when the search ran out of time, ``infeasible`` when even every candidate
        together falls short of ``share`` (``reachable_share`` is then below it; no station is chosen)
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    w, cover, rows, base, ceiling = _prepare(population, cover, fixed_cover)
    total = float(w.sum())
    need = share * total * (1 - 1e-12)
    none = np.zeros(0, np.int64)
    base_hit = covered_units(cover, none, fixed_cover)
    if ceiling < need:
        return EmsSiting("set_covering", "infeasible", none, float(w[base_hit].sum()), total,
                         ceiling / total if total > 0 else np.nan)
    if base >= need:
        return EmsSiting("set_covering", "optimal", none, base, total, ceiling / total, 0.0, 0.0)
    t0 = time.perf_counter()
    greedy = _greedy(w, cover, base_hit, need)
    lo, hi = 0, len(greedy)  # lo stations proven too few, hi enough
    best, best_k, timed_out = None, -1, False
    while not (hi - lo <= 1 and best_k == hi):
        left = time_limit - (time.perf_counter() - t0)
        k = hi if hi - lo <= 1 else (lo + hi) // 2
        res = maximal_covering(w, cover, k, fixed_cover, solver=solver, time_limit=left, gap=gap) if left > 0 else None
        if res is not None and res.covered_population >= need:
            hi = best_k = len(res.chosen)  # the best k may need fewer than k: as many suffice
            best = res
        elif res is not None and res.bound is not None and res.bound < need:
            lo = k
        else:
            timed_out = True
            break
    if best is None:  # out of time before the search found an answer: the greedy one
        hit = covered_units(cover, greedy, fixed_cover)
        best = EmsSiting("set_covering", "", greedy, float(w[hit].sum()), total, ceiling / total)
    status = "time_limit_feasible" if timed_out else "optimal"
    return EmsSiting("set_covering", status, best.chosen, best.covered_population, total, ceiling / total,
                     float(len(best.chosen)), float(lo + 1), best.notes)
