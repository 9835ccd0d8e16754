"""Assign planning units to grids (网格), each led by one tertiary hospital: a pure-array MILP core.

The model
---------
``x[i, j]`` (binary) is 1 when planning unit ``i`` belongs to the grid led by candidate ``j``.
Only *allowed* pairs get a column (see below), so the model is sparse.  Candidate ``j`` is
open exactly when its own unit joins its grid, so the opening variable ``y[j]`` *is* the column
``x[lead_unit[j], j]`` (this enforces "a lead's own unit belongs to its grid" without extra rows).

* assignment: ``sum_j x[i, j] = 1`` for every unit;
* opening: ``x[i, j] <= y[j]``;
* grid count: ``lo <= sum_j y[j] <= hi``; ``must_open`` fixes ``y[j] = 1``;
* rule 3 (``member_units``): ``sum_{i member} x[i, j] >= y[j]``;
* population bounds: ``L y[j] <= sum_i pop[i] x[i, j] <= U y[j]`` (residents);
* beds: ``sum_i beds[i] x[i, j] + lead_beds[j] y[j] >= rate / 1000 * sum_i pop[i] x[i, j]``.

Contiguity
----------
``"fast"``
    Shortest-path contiguity (Validi, Buchanan & Lykhovyd 2022): with ``d_j`` the shortest-path
    distance (minutes along adjacency edges) from the lead unit, every non-lead unit of grid ``j``
    needs a neighbour of the same grid that is strictly closer to the lead, ties broken by unit
    index.  Every grid is then connected *and* "star-shaped" along shortest paths, so some
    contiguous plans are excluded.
``"exact"``
    Cut generation: minimal a-b vertex-separator cuts (Oehrlein & Haunert 2017; Validi et al.
    2022) are added for every disconnected piece of a master solution until the master solution
    is contiguous; it is then optimal among all contiguous plans.  The first master already has
    the cheap "some neighbour must be in the grid" cuts, and a fast-mode plan (contiguous, so
    feasible for every master) warm-starts every master and serves as incumbent.
``"flow"``
    Single-commodity flow per candidate (Shirabe 2005): the lead is the source, every unit of
    the grid consumes one unit of flow, arc flow <= (n_j - 1) x[head, j].  Reference only: slow.
``"none"``
    Capacitated p-median without contiguity: a lower bound for the other modes.

Model reduction
---------------
Pairs ``(i, j)`` are dropped when ``cost[i, j]`` is not finite, and, in the contiguity modes, when
``i`` cannot be reached from ``lead_unit[j]`` in the adjacency graph (no contiguous grid can
contain it); pairs that cannot be part of any feasible grid (no usable neighbour towards the
lead; candidate whose own unit is unusable) are pruned.  ``candidate_k`` keeps only each unit's
``k`` cheapest candidates (so the optimum is that of the reduced model), then closes the
kept set along the shortest-path tree (a kept unit's tree parent is kept too) so that every kept
pair can still be part of a contiguous grid.  If the reduced model is infeasible (or has no
solution within the time limit) the full model is solved (with at least half the time limit
again, so the call may exceed ``time_limit_s``) and a note says so.

With ``p`` grids opened out of ``m`` candidates, a unit's nearest *open* lead is always among its
``m - p + 1`` nearest candidates, so ``candidate_k < m - n_grids_min + 1`` can cut units off from
their nearest open lead (a note says so); the benchmark shows k = 3 of 6 (3 grids) costing 0.35 %.

Without ``candidate_k``, models with at least ``WARM_START_MIN_UNITS`` units are warm-started: the
reduced model with ``k = max(WARM_START_K, m - n_grids_min + 1)`` (if ``k < m``) is solved first
(at most 35 % of the budget) and its plan, feasible for the full model, is handed to HiGHS as a
MIP start (``flow`` is left plain as the reference formulation).  On the 2-core
benchmark this only pays off at ~20,000 units, where HiGHS otherwise finds no plan in 5 minutes.

HiGHS 1.16 defect: with a MIP start, HiGHS occasionally reports an objective that does not belong
to the returned columns (which are then just the start).  Every HiGHS solve with a start is
checked (objective recomputed from the columns) and re-solved without the start if inconsistent.

Every reported objective is recomputed from the plan; the exact loop's result is always checked
for contiguity with :func:`connected_components_per_grid`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..units.graph import components_per_grid, grid_component_labels

__all__ = [
    "AssignmentResult",
    "Diagnosis",
    "Relaxation",
    "assign_units_to_grids",
    "connected_components_per_grid",
    "diagnose_infeasibility",
]

CONTIGUITY_MODES = ("exact", "fast", "flow", "none")
OBJECTIVES = ("weighted_time", "coverage", "minmax")
WARM_START_MIN_UNITS = 10_000  # full models at least this large are warm-started from a reduced model
WARM_START_K = 3
HIGHS_START_NOTE = "HiGHS returned an inconsistent MIP-start solution: re-solved without the start"
FAST_NOTE = "fast contiguity may exclude some contiguous plans (grids must be shortest-path star-shaped)"


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class AssignmentResult:
    """Outcome of :func:`assign_units_to_grids`.

    Attributes
    ----------
    unit_lead : np.ndarray
        (n,) int, candidate index whose grid each unit joins; -1 when no plan was found.
    open_leads : np.ndarray
        Sorted candidate indices that lead a grid.
    status : str
        ``"optimal"`` (within ``gap``), ``"time_limit_feasible"``, ``"time_limit_no_solution"``,
        ``"infeasible"``, ``"unbounded"`` or ``"error"``.
    objective : float
        Value of the plan under ``objective_name``, recomputed from the plan (not the solver):
        resident-minutes (``weighted_time``), residents within ``coverage_minutes``
        (``coverage``), minutes (``minmax``), residents moved (``residents_moved``).
        ``nan`` when there is no plan.
    bound : float or None
        Best proven bound in the same units (lower bound when minimising, upper bound for
        coverage); for the exact cut loop the bound of the last master.  ``None`` when the
        solver does not report one (CBC through PuLP).
    gap : float or None
        ``|objective - bound| / max(|objective|, 1e-9)``.
    contiguity : str
        Contiguity mode used.
    solver : str
        Solver actually used (``"HiGHS"`` or ``"PULP_CBC_CMD"``).
    model_size : dict
        ``variables``, ``constraints``, ``nonzeros`` of the (last) model solved.
    timings : dict
        ``build_s`` and ``solve_s`` (seconds), ``iterations`` (cut loop rounds, 1 otherwise),
        ``cuts`` (separator cuts added by the exact loop).
    notes : list of str
        Reductions made, fallbacks, caveats.
    objective_name : str
        ``"weighted_time"``, ``"coverage"``, ``"minmax"`` or ``"residents_moved"``.
    weighted_time : float
        Resident-minutes of the plan (sum of population x cost), whatever the objective.
    """

    unit_lead: np.ndarray
    open_leads: np.ndarray
    status: str
    objective: float
    bound: float | None
    gap: float | None
    contiguity: str
    solver: str
    model_size: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    objective_name: str = "weighted_time"
    weighted_time: float = math.nan

    @property
    def leads_open(self) -> np.ndarray:
        """Alias of :attr:`open_leads` (name used in docs/DESIGN.md)."""
        return self.open_leads

    @property
    def has_plan(self) -> bool:
        """True when ``unit_lead`` holds a complete plan."""
        return bool(self.unit_lead.size) and bool((self.unit_lead >= 0).all())


@dataclass
class Relaxation:
    """One constraint family that must be relaxed to make an instance feasible.

    Attributes
    ----------
    family : str
        ``"grid_count"``, ``"must_open"``, ``"member_units"``, ``"pop_lower"``, ``"pop_upper"``,
        ``"beds"`` or ``"reachability"``.
    amount : float
        How much (grids, member units, residents, beds, or 1 per unit left out).
    message : str
        Human-readable explanation.
    candidate : int or None
        Candidate (grid) concerned, if any.
    unit : int or None
        Planning unit concerned, if any.
    """

    family: str
    amount: float
    message: str
    candidate: int | None = None
    unit: int | None = None


@dataclass
class Diagnosis:
    """Outcome of :func:`diagnose_infeasibility`.

    Attributes
    ----------
    feasible : bool
        True when no relaxation is needed.
    status : str
        Solver status of the slack model.
    relaxations : list of Relaxation
        Cheapest set of relaxations found (weighted slack minimised).
    families : list of str
        Distinct families in ``relaxations``.
    notes : list of str
        Caveats.
    """

    feasible: bool
    status: str
    relaxations: list[Relaxation] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Graph helpers
# --------------------------------------------------------------------------------------------
def _unit_graph(adjacency: sp.spmatrix, n: int) -> sp.csr_matrix:
    """Symmetric float CSR adjacency with positive edge minutes and no diagonal.

    Boolean adjacency (or any non-positive data) gets weight 1, i.e. hop counts.
    """
    a = sp.csr_matrix(adjacency, dtype=float, copy=True)
    if a.shape != (n, n):
        raise ValueError(f"adjacency must be ({n}, {n}), got {a.shape}")
    a.setdiag(0)
    a.eliminate_zeros()
    a.data = np.where(np.isfinite(a.data) & (a.data > 0), a.data, 1.0)
    a = a.maximum(a.T).tocsr()
    a.sort_indices()
    return a


def connected_components_per_grid(unit_lead: np.ndarray, adjacency: sp.spmatrix) -> dict[int, int]:
    """``{candidate index: number of connected pieces}`` of an integer labelling (negative = unassigned)."""
    return components_per_grid(np.asarray(unit_lead, dtype=np.int64), adjacency)


# --------------------------------------------------------------------------------------------
# Inputs and pair (column) selection
# --------------------------------------------------------------------------------------------
@dataclass
class _Inputs:
    population: np.ndarray
    cost: np.ndarray
    adj: sp.csr_matrix
    lead_unit: np.ndarray
    count_lo: int
    count_hi: int
    must_open: np.ndarray
    member: np.ndarray | None
    pop_lo: float | None
    pop_hi: float | None
    unit_beds: np.ndarray | None
    lead_beds: np.ndarray
    beds_rate: float | None
    reference: np.ndarray | None

    @property
    def n(self) -> int:
        return self.cost.shape[0]

    @property
    def m(self) -> int:
        return self.cost.shape[1]


def _validate(
    population: np.ndarray,
    cost: np.ndarray,
    adjacency: sp.spmatrix,
    lead_unit: np.ndarray,
    n_grids: int | tuple[int, int],
    must_open: np.ndarray | None,
    member_units: np.ndarray | None,
    pop_bounds: tuple[float | None, float | None] | None,
    unit_beds: np.ndarray | None,
    lead_beds: np.ndarray | None,
    min_beds_per_1000: float | None,
    reference_assignment: np.ndarray | None,
) -> _Inputs:
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError("cost must be an (n, m) array of minutes")
    n, m = cost.shape
    population = np.asarray(population, dtype=float).reshape(-1)
    if population.shape != (n,) or not np.isfinite(population).all() or (population < 0).any():
        raise ValueError(f"population must be ({n},) finite and >= 0")
    lead_unit = np.asarray(lead_unit, dtype=np.int64).reshape(-1)
    if lead_unit.shape != (m,) or (lead_unit < 0).any() or (lead_unit >= n).any():
        raise ValueError(f"lead_unit must be ({m},) unit indices in [0, {n})")
    if isinstance(n_grids, tuple | list):
        lo, hi = int(n_grids[0]), int(n_grids[1])
    else:
        lo = hi = int(n_grids)
    if lo < 1 or hi < lo:
        raise ValueError(f"n_grids must be >= 1 (range lo <= hi), got {n_grids}")
    must = np.zeros(m, bool) if must_open is None else np.asarray(must_open, bool).reshape(-1)
    if must.shape != (m,):
        raise ValueError(f"must_open must be ({m},) bool")
    member = None
    if member_units is not None:
        member = np.asarray(member_units, bool)
        member = member.reshape(1, -1) if member.ndim == 1 else member
        if member.ndim != 2 or member.shape[1] != n:
            raise ValueError(f"member_units must be ({n},) or (k, {n}) bool: one row per required kind")
    p_lo = p_hi = None
    if pop_bounds is not None:
        p_lo = None if pop_bounds[0] is None else float(pop_bounds[0])
        p_hi = None if pop_bounds[1] is None else float(pop_bounds[1])
    rate = None if min_beds_per_1000 is None else float(min_beds_per_1000)
    ub = None
    lb = np.zeros(m)
    if rate is not None:
        ub = np.zeros(n) if unit_beds is None else np.nan_to_num(np.asarray(unit_beds, float).reshape(-1))
        if ub.shape != (n,):
            raise ValueError(f"unit_beds must be ({n},)")
        if lead_beds is not None:
            lb = np.nan_to_num(np.asarray(lead_beds, float).reshape(-1))
            if lb.shape != (m,):
                raise ValueError(f"lead_beds must be ({m},)")
    ref = None
    if reference_assignment is not None:
        ref = np.asarray(reference_assignment, dtype=np.int64).reshape(-1)
        if ref.shape != (n,):
            raise ValueError(f"reference_assignment must be ({n},)")
    return _Inputs(
        population,
        cost,
        _unit_graph(adjacency, n),
        lead_unit,
        lo,
        min(hi, m),
        must,
        member,
        p_lo,
        p_hi,
        ub,
        lb,
        rate,
        ref,
    )


@dataclass
class _Pairs:
    """Allowed (unit, candidate) pairs = x columns, in unit-major order."""

    i: np.ndarray  # (K,) unit
    j: np.ndarray  # (K,) candidate
    col: np.ndarray  # (n, m) column index or -1
    lead_col: np.ndarray  # (m,) column of y[j] = x[lead_unit[j], j]
    dist: np.ndarray | None  # (m, n) shortest-path minutes from each lead (contiguity modes)
    pred: np.ndarray | None  # (m, n) shortest-path tree parent

    @property
    def k(self) -> int:
        return self.i.shape[0]


def _shortest_paths(inp: _Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path minutes (m, n) and tree parents from every lead unit (Dijkstra)."""
    uniq, inv = np.unique(inp.lead_unit, return_inverse=True)
    d, p = csgraph.dijkstra(inp.adj, directed=False, indices=uniq, return_predecessors=True)
    return d[inv], p[inv]


def _allowed_mask(
    inp: _Inputs,
    contiguous: bool,
    candidate_k: int | None,
    dist: np.ndarray | None,
    pred: np.ndarray | None,
    notes: list[str],
) -> np.ndarray:
    """(n, m) bool mask of usable pairs."""
    n, m = inp.n, inp.m
    allowed = np.isfinite(inp.cost)
    if contiguous:
        reach = np.isfinite(dist).T
        allowed &= reach
    if candidate_k is not None and candidate_k < m:
        kk = max(int(candidate_k), 1)
        if kk < m - inp.count_lo + 1:
            notes.append(
                f"candidate_k={kk} < m - n_grids_min + 1 = {m - inp.count_lo + 1}: some units may be cut off "
                "from their nearest open lead (the reduced optimum can be worse than the full one)"
            )
        key = np.where(allowed, inp.cost, np.inf)
        order = np.argsort(key, axis=1, kind="stable")[:, :kk]
        keep = np.zeros((n, m), bool)
        np.put_along_axis(keep, order, True, axis=1)
        before = int(allowed.sum())
        allowed &= keep
        allowed[inp.lead_unit, np.arange(m)] = True
        if contiguous:
            allowed = _close_along_tree(allowed, pred, inp.lead_unit)
        notes.append(
            f"candidate_k={kk}: kept {int(allowed.sum())} of {before} unit-candidate pairs "
            f"({'closed along shortest-path trees' if contiguous else 'nearest by cost'})"
        )
    allowed[inp.lead_unit, np.arange(m)] = np.isfinite(inp.cost[inp.lead_unit, np.arange(m)])
    return allowed


def _close_along_tree(allowed: np.ndarray, pred: np.ndarray, lead_unit: np.ndarray) -> np.ndarray:
    """Add the shortest-path-tree parent of every allowed pair until closed (vectorised sweeps)."""
    a = allowed.T.copy()  # (m, n)
    m = a.shape[0]
    has_parent = pred >= 0
    has_parent[np.arange(m), lead_unit] = False
    while True:
        jj, ii = np.nonzero(a & has_parent)
        par = pred[jj, ii]
        new = ~a[jj, par]
        if not new.any():
            break
        a[jj[new], par[new]] = True
    return a.T.copy()


def _prune(allowed: np.ndarray, inp: _Inputs, dist: np.ndarray | None, contiguity: str) -> np.ndarray:
    """Drop pairs that no feasible plan can use (vectorised sweeps until stable).

    A candidate whose own unit is not allowed cannot open, so all its pairs go; in the contiguity
    modes a non-lead pair also needs an allowed neighbour (``fast``: an allowed neighbour earlier in
    the (distance, index) order).  Removing such columns up front, instead of fixing them to 0,
    keeps the model small and avoids a HiGHS defect with MIP starts and presolved fixed columns.
    """
    allowed = allowed.copy()
    m = inp.m
    lead_ok = allowed[inp.lead_unit, np.arange(m)]
    allowed[:, ~lead_ok] = False
    if contiguity == "none":
        return allowed
    a, b = _directed_arcs(inp.adj)
    aa, bb, jj = np.tile(a, m), np.tile(b, m), np.repeat(np.arange(m), a.size)
    if contiguity == "fast":
        rank = _lead_rank(inp, dist)
        keep = rank[jj, bb] < rank[jj, aa]
        aa, bb, jj = aa[keep], bb[keep], jj[keep]
    while True:
        valid = allowed[aa, jj] & allowed[bb, jj]
        has = np.zeros_like(allowed)
        has[aa[valid], jj[valid]] = True
        has[inp.lead_unit, np.arange(m)] = True
        drop = allowed & ~has
        if not drop.any():
            return allowed
        allowed &= ~drop


def _make_pairs(
    allowed: np.ndarray,
    inp: _Inputs,
    dist: np.ndarray | None,
    pred: np.ndarray | None,
    contiguity: str = "none",
) -> _Pairs:
    allowed = _prune(allowed, inp, dist, contiguity)
    ii, jj = np.nonzero(allowed)
    col = np.full(allowed.shape, -1, dtype=np.int64)
    col[ii, jj] = np.arange(ii.size)
    lead_col = col[inp.lead_unit, np.arange(inp.m)]
    return _Pairs(ii, jj, col, lead_col, dist, pred)


# --------------------------------------------------------------------------------------------
# Sparse MILP container
# --------------------------------------------------------------------------------------------
class _Milp:
    """Column/row arrays of a MILP; rows are ``sum a x (<=|>=|==) rhs``."""

    def __init__(self) -> None:
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.obj: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.prefix: list[tuple[str, int]] = []
        self.ncols = 0
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.sense: list[np.ndarray] = []
        self.rhs: list[np.ndarray] = []
        self.nrows = 0
        self.obj_const = 0.0

    def add_cols(
        self,
        count: int,
        lb: float | np.ndarray,
        ub: float | np.ndarray,
        integer: bool,
        obj: float | np.ndarray = 0.0,
        prefix: str = "v",
    ) -> np.ndarray:
        """Add ``count`` columns; returns their indices."""
        idx = np.arange(self.ncols, self.ncols + count)
        self.lb.append(np.broadcast_to(np.asarray(lb, float), (count,)).copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, float), (count,)).copy())
        self.obj.append(np.broadcast_to(np.asarray(obj, float), (count,)).copy())
        self.integer.append(np.full(count, integer))
        self.prefix.append((prefix, count))
        self.ncols += count
        return idx

    def add_rows(
        self,
        row: np.ndarray,
        col: np.ndarray,
        val: np.ndarray | float,
        sense: np.ndarray | int,
        rhs: np.ndarray | float,
        nrows: int,
    ) -> np.ndarray:
        """Add ``nrows`` rows from local COO entries; sense -1 (<=), 0 (==), 1 (>=)."""
        row = np.asarray(row, np.int64)
        col = np.asarray(col, np.int64)
        self.r.append(row + self.nrows)
        self.c.append(col)
        self.v.append(np.broadcast_to(np.asarray(val, float), row.shape).copy())
        self.sense.append(np.broadcast_to(np.asarray(sense, np.int8), (nrows,)).copy())
        self.rhs.append(np.broadcast_to(np.asarray(rhs, float), (nrows,)).copy())
        idx = np.arange(self.nrows, self.nrows + nrows)
        self.nrows += nrows
        return idx

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cat = np.concatenate
        return cat(self.lb), cat(self.ub), cat(self.obj), cat(self.integer)

    def matrix(self, start_row: int = 0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """CSR of rows ``start_row..nrows`` (duplicates summed), senses and right-hand sides."""
        r = np.concatenate(self.r) if self.r else np.zeros(0, np.int64)
        c = np.concatenate(self.c) if self.c else np.zeros(0, np.int64)
        v = np.concatenate(self.v) if self.v else np.zeros(0)
        keep = r >= start_row
        a = sp.csr_matrix(
            (v[keep], (r[keep] - start_row, c[keep])), shape=(self.nrows - start_row, self.ncols)
        )
        a.sum_duplicates()
        a.eliminate_zeros()
        sense = np.concatenate(self.sense)[start_row:] if self.sense else np.zeros(0, np.int8)
        rhs = np.concatenate(self.rhs)[start_row:] if self.rhs else np.zeros(0)
        return a, sense, rhs

    def names(self) -> list[str]:
        out: list[str] = []
        for k, (p, count) in enumerate(self.prefix):
            out.extend(f"{p}{k:02d}_{t:08d}" for t in range(count))
        return out


# --------------------------------------------------------------------------------------------
# PuLP session (HiGHS through highspy, CBC fallback)
# --------------------------------------------------------------------------------------------
def _highs_available() -> bool:
    try:
        return bool(pulp.HiGHS(msg=False).available())
    except Exception:  # pragma: no cover - depends on installation
        return False


class _WarmHiGHS(pulp.HiGHS):  # type: ignore[misc, valid-type]
    """PuLP's highspy interface plus a MIP start (``Highs.setSolution``) and fixed seed."""

    def __init__(self, start: dict[Any, float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._start = start

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP API name
        h = lp.solverModel
        h.setOptionValue("random_seed", 0)
        if self._start:
            idx = np.fromiter((v.index for v in self._start), dtype=np.int32, count=len(self._start))
            val = np.fromiter(self._start.values(), dtype=float, count=len(self._start))
            h.setSolution(int(idx.size), idx, val)
        h.run()


class _Session:
    """A PuLP problem mirroring a :class:`_Milp`; rows can be appended and the problem re-solved."""

    def __init__(self, milp: _Milp, solver: str, threads: int | None, notes: list[str]) -> None:
        self.milp = milp
        self.threads = threads
        self.notes = notes
        # repair/coverage objectives are offset by a constant PuLP does not pass to the solver, so a relative gap
        # would be measured against the wrong number: these solve to an absolute gap in residents instead
        self.abs_gap: float | None = None
        use_highs = solver.lower() == "highs"
        if use_highs and not _highs_available():
            notes.append("HiGHS (highspy) not available: fell back to CBC")
            use_highs = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cbc_ok = pulp.PULP_CBC_CMD(msg=False).available()
        if not use_highs and not cbc_ok:
            raise RuntimeError("neither HiGHS (highspy) nor CBC is available to PuLP")
        self.solver_name = "HiGHS" if use_highs else "PULP_CBC_CMD"
        self.prob = pulp.LpProblem("caregrid_grids", pulp.LpMinimize)
        lb, ub, obj, integer = milp.columns()
        cat = np.where(integer, pulp.LpInteger, pulp.LpContinuous)
        self.vars = [
            self.prob.add_variable(
                nm, None if not np.isfinite(lo) else float(lo), None if not np.isfinite(hi) else float(hi), c
            )
            for nm, lo, hi, c in zip(milp.names(), lb.tolist(), ub.tolist(), cat.tolist(), strict=True)
        ]
        nz = np.flatnonzero(obj)
        self.prob.setObjective(pulp.LpAffineExpression([(self.vars[k], float(obj[k])) for k in nz.tolist()]))
        self.rows_in_prob = 0
        self.sync_rows()

    def sync_rows(self) -> None:
        """Push rows added to the :class:`_Milp` since the last call into the PuLP problem."""
        a, sense, rhs = self.milp.matrix(self.rows_in_prob)
        ptr, ind, dat = a.indptr.tolist(), a.indices.tolist(), a.data.tolist()
        senses = {-1: pulp.LpConstraintLE, 0: pulp.LpConstraintEQ, 1: pulp.LpConstraintGE}
        v = self.vars
        add = self.prob.addConstraint
        base = self.rows_in_prob
        for r, (s, b) in enumerate(zip(sense.tolist(), rhs.tolist(), strict=True)):
            lo, hi = ptr[r], ptr[r + 1]
            expr = pulp.LpAffineExpression([(v[k], d) for k, d in zip(ind[lo:hi], dat[lo:hi], strict=True)])
            add(pulp.LpConstraint(expr, senses[s], rhs=b), f"r{base + r:08d}")
        self.rows_in_prob = self.milp.nrows

    def size(self) -> dict[str, int]:
        a, _, _ = self.milp.matrix()
        return {"variables": self.milp.ncols, "constraints": self.milp.nrows, "nonzeros": int(a.nnz)}

    def solve(self, time_limit: float, gap: float, start: np.ndarray | None) -> dict[str, Any]:
        """Solve; returns status, column values, solver objective and dual bound (minimisation)."""
        tl = max(float(time_limit), 0.5)
        t0 = time.perf_counter()
        if self.solver_name == "HiGHS":
            warm = None
            if start is not None:
                warm = {self.vars[k]: float(val) for k, val in enumerate(start.tolist())}
            gaps = {"gapRel": gap} if self.abs_gap is None else {"gapRel": 1e-9, "gapAbs": self.abs_gap}
            s = _WarmHiGHS(start=warm, msg=False, timeLimit=tl, threads=self.threads, **gaps)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.prob.solve(s)
            h = self.prob.solverModel
            ms = h.getModelStatus()
            info = h.getInfo()
            hs = h.modelStatusToString(ms).lower()
            sol = h.getSolution()
            idx = np.fromiter((var.index for var in self.vars), dtype=np.int64, count=len(self.vars))
            has_sol = info.primal_solution_status >= 2
            values = np.asarray(sol.col_value, float)[idx] if has_sol else None
            bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
            if "optimal" in hs:
                status = "optimal"
            elif "infeasible" in hs:
                status = "infeasible"
            elif "unbounded" in hs:
                status = "unbounded"
            elif "time limit" in hs or "interrupt" in hs or "iteration" in hs:
                status = "time_limit_feasible" if has_sol else "time_limit_no_solution"
            else:
                status = "optimal" if has_sol and "bound" in hs else "error"
            obj = float(info.objective_function_value) if has_sol else None
            if has_sol and start is not None:
                # Guard against a HiGHS 1.16 defect seen with a MIP start + presolve: the reported
                # objective can belong to another point than the returned columns (which are the start).
                c = self.milp.columns()[2]
                if abs(float(c @ values) - obj) > 1e-6 * max(1.0, abs(obj)):
                    if HIGHS_START_NOTE not in self.notes:
                        self.notes.append(HIGHS_START_NOTE)
                    again = self.solve(time_limit - (time.perf_counter() - t0), gap, None)
                    again["solve_s"] = time.perf_counter() - t0
                    return again
        else:
            if start is not None:
                for var, val in zip(self.vars, start.tolist(), strict=True):
                    var.setInitialValue(val)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3.3 deprecates PULP_CBC_CMD
                gaps = {"gapRel": gap} if self.abs_gap is None else {"gapRel": 1e-9, "gapAbs": self.abs_gap}
                s = pulp.PULP_CBC_CMD(
                    msg=False, timeLimit=tl, threads=self.threads, warmStart=start is not None, **gaps
                )
                self.prob.solve(s)
            st, sst = self.prob.status, self.prob.sol_status
            has_sol = sst in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
            values = np.array([var.varValue or 0.0 for var in self.vars]) if has_sol else None
            if st == pulp.LpStatusOptimal and sst == pulp.LpSolutionOptimal:
                status = "optimal"
            elif st == pulp.LpStatusInfeasible:
                status = "infeasible"
            elif st == pulp.LpStatusUnbounded:
                status = "unbounded"
            else:
                status = "time_limit_feasible" if has_sol else "time_limit_no_solution"
            obj = pulp.value(self.prob.objective) if has_sol else None
            bound = obj if status == "optimal" else None
        return {
            "status": status,
            "values": values,
            "obj": obj,
            "bound": bound,
            "solve_s": time.perf_counter() - t0,
        }


# --------------------------------------------------------------------------------------------
# Model building
# --------------------------------------------------------------------------------------------
@dataclass
class _Spec:
    """Objective and tie-break of one solve stage (all minimised)."""

    kind: str  # weighted_time | coverage | minmax | repair
    x_obj: np.ndarray  # (K,) objective coefficients on x
    const: float = 0.0
    use_z: bool = False  # minmax: minimise z >= sum_j cost[i, j] x[i, j]
    x_ub0: np.ndarray | None = None  # (K,) bool: columns fixed to 0 in this stage
    tie: np.ndarray | None = None  # (K,) tie-break part of x_obj (coverage, repair)


def _directed_arcs(adj: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    a = adj.tocoo()
    return a.row.astype(np.int64), a.col.astype(np.int64)


def _build(
    inp: _Inputs, pairs: _Pairs, contiguity: str, spec: _Spec, slack: bool = False
) -> tuple[_Milp, dict]:
    """Build the sparse MILP; returns it and a dict of named column/row groups."""
    n, m, kx = inp.n, inp.m, pairs.k
    pi, pj, lead_col = pairs.i, pairs.j, pairs.lead_col
    pop = inp.population
    mp = _Milp()
    groups: dict[str, Any] = {}
    ub = np.ones(kx)
    if spec.x_ub0 is not None:
        ub[spec.x_ub0] = 0.0
    lead_lb = np.zeros(kx)
    if not slack:
        lead_lb[lead_col[inp.must_open & (lead_col >= 0)]] = 1.0
    x = mp.add_cols(kx, lead_lb, ub, True, spec.x_obj, "x")
    mp.obj_const = spec.const
    has_y = lead_col >= 0  # candidate can open at all
    y_cols = lead_col[has_y]
    cand = np.flatnonzero(has_y)
    slack_w: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def slack_cols(name: str, count: int, weight: float | np.ndarray, ub_: float = np.inf) -> np.ndarray:
        c = mp.add_cols(count, 0.0, ub_, False, weight, "s")
        slack_w[name] = (c, np.broadcast_to(np.asarray(weight, float), (count,)))
        return c

    # assignment: sum_j x[i, j] (+ u_i) = 1
    if slack:
        u = slack_cols("reachability", n, 1000.0, 1.0)
        mp.add_rows(np.concatenate([pi, np.arange(n)]), np.concatenate([x, u]), 1.0, 0, 1.0, n)
    else:
        mp.add_rows(pi, x, 1.0, 0, 1.0, n)
    # opening: x[i, j] - y[j] <= 0 for non-lead pairs
    nl = np.flatnonzero(x != lead_col[pj])
    if nl.size:
        r = np.arange(nl.size)
        mp.add_rows(
            np.concatenate([r, r]),
            np.concatenate([x[nl], lead_col[pj[nl]]]),
            np.concatenate([np.ones(nl.size), -np.ones(nl.size)]),
            -1,
            0.0,
            nl.size,
        )
    # grid count
    ny = y_cols.size
    if slack:
        s_lo = slack_cols("grid_count_lo", 1, 100.0)
        s_hi = slack_cols("grid_count_hi", 1, 100.0)
        mp.add_rows(np.zeros(ny + 1, np.int64), np.concatenate([y_cols, s_lo]), 1.0, 1, inp.count_lo, 1)
        mp.add_rows(
            np.zeros(ny + 1, np.int64),
            np.concatenate([y_cols, s_hi]),
            np.concatenate([np.ones(ny), [-1.0]]),
            -1,
            inp.count_hi,
            1,
        )
        mo = np.flatnonzero(inp.must_open & has_y)
        if mo.size:
            s_mo = slack_cols("must_open", mo.size, 100.0)
            r = np.arange(mo.size)
            mp.add_rows(np.concatenate([r, r]), np.concatenate([lead_col[mo], s_mo]), 1.0, 1, 1.0, mo.size)
            groups["must_open_cand"] = mo
    elif inp.count_lo == inp.count_hi:
        mp.add_rows(np.zeros(ny, np.int64), y_cols, 1.0, 0, inp.count_lo, 1)
    else:
        mp.add_rows(np.zeros(ny, np.int64), y_cols, 1.0, 1, inp.count_lo, 1)
        mp.add_rows(np.zeros(ny, np.int64), y_cols, 1.0, -1, inp.count_hi, 1)
    groups["cand"] = cand
    # per-grid families: row per candidate that can open; local row index = position in cand
    row_of_cand = np.full(m, -1)
    row_of_cand[cand] = np.arange(cand.size)
    pr = row_of_cand[pj]
    mean_grid_pop = max(pop.sum() / max(inp.count_hi, 1), 1.0)
    for row, member_row in enumerate(inp.member if inp.member is not None else ()):
        # one family per required kind (row 0: rule 3 members; further rows e.g. rule 5 primary care)
        sel = member_row[pi]
        rr = np.concatenate([pr[sel], np.arange(cand.size)])
        cc = np.concatenate([x[sel], y_cols])
        vv = np.concatenate([np.ones(int(sel.sum())), -np.ones(cand.size)])
        if slack:
            s = slack_cols("member_units" if row == 0 else f"member_units:{row}", cand.size, 10.0)
            rr, cc, vv = (
                np.concatenate([rr, np.arange(cand.size)]),
                np.concatenate([cc, s]),
                np.concatenate([vv, np.ones(cand.size)]),
            )
        mp.add_rows(rr, cc, vv, 1, 0.0, cand.size)
    for name, bound, sense in (("pop_lower", inp.pop_lo, 1), ("pop_upper", inp.pop_hi, -1)):
        if bound is None:
            continue
        rr = np.concatenate([pr, np.arange(cand.size)])
        cc = np.concatenate([x, y_cols])
        vv = np.concatenate([pop[pi], -bound * np.ones(cand.size)])
        if slack:
            s = slack_cols(name, cand.size, 10.0 / max(bound, mean_grid_pop * 0.01))
            rr, cc = np.concatenate([rr, np.arange(cand.size)]), np.concatenate([cc, s])
            vv = np.concatenate([vv, sense * np.ones(cand.size)])
        mp.add_rows(rr, cc, vv, sense, 0.0, cand.size)
    if inp.beds_rate is not None:
        rate = inp.beds_rate / 1000.0
        rr = np.concatenate([pr, np.arange(cand.size)])
        cc = np.concatenate([x, y_cols])
        vv = np.concatenate([inp.unit_beds[pi] - rate * pop[pi], inp.lead_beds[cand]])
        if slack:
            s = slack_cols("beds", cand.size, 10.0 / max(rate * mean_grid_pop, 1.0))
            rr, cc = np.concatenate([rr, np.arange(cand.size)]), np.concatenate([cc, s])
            vv = np.concatenate([vv, np.ones(cand.size)])
        mp.add_rows(rr, cc, vv, 1, 0.0, cand.size)
    # minmax auxiliary
    if spec.use_z:
        z = mp.add_cols(1, 0.0, np.inf, False, 1.0, "z")
        sel = pop[pi] > 0
        units = np.unique(pi[sel])
        row_of_unit = np.full(n, -1)
        row_of_unit[units] = np.arange(units.size)
        rr = np.concatenate([row_of_unit[pi[sel]], np.arange(units.size)])
        cc = np.concatenate([x[sel], np.full(units.size, z[0])])
        vv = np.concatenate([-inp.cost[pi[sel], pj[sel]], np.ones(units.size)])
        mp.add_rows(rr, cc, vv, 1, 0.0, units.size)
        groups["z"] = int(z[0])
    # contiguity
    if contiguity == "fast":
        _add_fast_rows(mp, inp, pairs, x, ub)
    elif contiguity == "exact":
        _add_neighbour_cuts(mp, inp, pairs, x, ub)
    elif contiguity == "flow":
        _add_flow(mp, inp, pairs, x)
    mp.ub[0] = ub  # contiguity rows may have fixed unusable pairs to 0
    groups["slack"] = slack_w
    return mp, groups


def _lead_rank(inp: _Inputs, dist: np.ndarray) -> np.ndarray:
    """(m, n) strict order position of units by (distance from lead, unit index); lead first."""
    m, n = dist.shape
    key = dist.copy()
    key[np.arange(m), inp.lead_unit] = -1.0
    key[~np.isfinite(key)] = np.inf
    order = np.lexsort((np.broadcast_to(np.arange(n), (m, n)), key), axis=1)
    rank = np.empty((m, n), np.int64)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n), (m, n)), axis=1)
    return rank


def _arc_pairs(inp: _Inputs, pairs: _Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (unit a, neighbour b, candidate j) with both pairs allowed (vectorised over m)."""
    a, b = _directed_arcs(inp.adj)
    m = inp.m
    aa = np.tile(a, m)
    bb = np.tile(b, m)
    jj = np.repeat(np.arange(m), a.size)
    ok = (pairs.col[aa, jj] >= 0) & (pairs.col[bb, jj] >= 0)
    return aa[ok], bb[ok], jj[ok]


def _add_pred_rows(
    mp: _Milp,
    pairs: _Pairs,
    x: np.ndarray,
    ub: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    jj: np.ndarray,
    rows_for: np.ndarray,
) -> int:
    """Rows ``x[i, j] <= sum_{(i, v, j) arcs} x[v, j]`` for the pairs ``rows_for``; empty sums fix x = 0."""
    col = pairs.col
    pcol = col[a, jj]
    has = np.zeros(pairs.k, bool)
    has[pcol] = True
    need = np.zeros(pairs.k, bool)
    need[rows_for] = True
    ub[need & ~has] = 0.0
    active = need & has
    row_id = np.full(pairs.k, -1)
    row_id[active] = np.arange(int(active.sum()))
    keep = active[pcol]
    na = int(active.sum())
    rr = np.concatenate([np.arange(na), row_id[pcol[keep]]])
    cc = np.concatenate([x[active], x[col[b[keep], jj[keep]]]])
    vv = np.concatenate([np.ones(na), -np.ones(int(keep.sum()))])
    mp.add_rows(rr, cc, vv, -1, 0.0, na)
    return na


def _add_fast_rows(mp: _Milp, inp: _Inputs, pairs: _Pairs, x: np.ndarray, ub: np.ndarray) -> None:
    rank = _lead_rank(inp, pairs.dist)
    a, b, jj = _arc_pairs(inp, pairs)
    earlier = rank[jj, b] < rank[jj, a]
    a, b, jj = a[earlier], b[earlier], jj[earlier]
    non_lead = np.flatnonzero(pairs.i != inp.lead_unit[pairs.j])
    _add_pred_rows(mp, pairs, x, ub, a, b, jj, non_lead)


def _add_neighbour_cuts(mp: _Milp, inp: _Inputs, pairs: _Pairs, x: np.ndarray, ub: np.ndarray) -> None:
    """Separator cuts with the separator N(i): valid for every contiguous plan."""
    a, b, jj = _arc_pairs(inp, pairs)
    touches_lead = np.zeros(pairs.k, bool)
    touches_lead[pairs.col[a[b == inp.lead_unit[jj]], jj[b == inp.lead_unit[jj]]]] = True
    rows_for = np.flatnonzero((pairs.i != inp.lead_unit[pairs.j]) & ~touches_lead)
    # pairs with no allowed neighbour at all must be fixed to 0 too
    has = np.zeros(pairs.k, bool)
    has[pairs.col[a, jj]] = True
    ub[(pairs.i != inp.lead_unit[pairs.j]) & ~has] = 0.0
    _add_pred_rows(mp, pairs, x, ub, a, b, jj, rows_for)


def _add_flow(mp: _Milp, inp: _Inputs, pairs: _Pairs, x: np.ndarray) -> None:
    """Shirabe single-commodity flow per candidate (lead = source)."""
    a, b, jj = _arc_pairs(inp, pairs)
    into_lead = b == inp.lead_unit[jj]
    a, b, jj = a[~into_lead], b[~into_lead], jj[~into_lead]
    size_j = np.bincount(pairs.j, minlength=inp.m).astype(float)
    f = mp.add_cols(a.size, 0.0, np.inf, False, 0.0, "f")
    # capacity f <= (n_j - 1) x[head, j]
    r = np.arange(a.size)
    mp.add_rows(
        np.concatenate([r, r]),
        np.concatenate([f, x[pairs.col[b, jj]]]),
        np.concatenate([np.ones(a.size), -(size_j[jj] - 1.0)]),
        -1,
        0.0,
        a.size,
    )
    # balance at non-lead units: inflow - outflow - x = 0
    non_lead = np.flatnonzero(pairs.i != inp.lead_unit[pairs.j])
    row_id = np.full(pairs.k, -1)
    row_id[non_lead] = np.arange(non_lead.size)
    head_row = row_id[pairs.col[b, jj]]
    tail_row = row_id[pairs.col[a, jj]]
    t = tail_row >= 0
    rr = np.concatenate([head_row, tail_row[t], np.arange(non_lead.size)])
    cc = np.concatenate([f, f[t], x[non_lead]])
    vv = np.concatenate([np.ones(a.size), -np.ones(int(t.sum())), -np.ones(non_lead.size)])
    mp.add_rows(rr, cc, vv, 0, 0.0, non_lead.size)


# --------------------------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------------------------
def _labels(pairs: _Pairs, n: int, values: np.ndarray) -> np.ndarray:
    sel = values[: pairs.k] > 0.5
    lab = np.full(n, -1, np.int64)
    lab[pairs.i[sel]] = pairs.j[sel]
    return lab


def _x_start(pairs: _Pairs, lab: np.ndarray, ncols: int, extra: dict[int, float] | None = None) -> np.ndarray:
    start = np.zeros(ncols)
    c = pairs.col[np.arange(lab.size), lab]
    start[c[c >= 0]] = 1.0
    for k, v in (extra or {}).items():
        start[k] = v
    return start


def _separator_cuts(
    inp: _Inputs, pairs: _Pairs, lab: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Minimal a-b separator cuts for every grid piece not containing its lead.

    Returns COO (row, col, val) of rows ``x[i, j] - sum_{c in C} x[c, j] <= 0`` and the row count.
    """
    adj = inp.adj
    n = inp.n
    comp = grid_component_labels(lab, adj)
    lead_comp = np.full(inp.m, -1)
    opened = np.unique(lab[lab >= 0])
    lead_comp[opened] = comp[inp.lead_unit[opened]]
    bad = (lab >= 0) & (comp != lead_comp[np.maximum(lab, 0)])
    rows_r: list[np.ndarray] = []
    rows_c: list[np.ndarray] = []
    rows_v: list[np.ndarray] = []
    nrows = 0
    for c in np.unique(comp[bad]):  # loop over disconnected pieces (few), not units
        s_units = np.flatnonzero(comp == c)
        j = int(lab[s_units[0]])
        in_s = np.zeros(n, bool)
        in_s[s_units] = True
        nb = np.unique(adj[s_units].indices)
        sep = nb[~in_s[nb]]
        # lead side R: reachable from the lead without crossing sep
        keep = np.ones(n)
        keep[sep] = 0.0
        dmask = sp.diags(keep)
        reach = csgraph.breadth_first_order(
            dmask @ adj @ dmask, inp.lead_unit[j], directed=False, return_predecessors=False
        )
        in_r = np.zeros(n, bool)
        in_r[reach] = True
        sep_min = sep[np.asarray(adj[sep][:, in_r].sum(axis=1)).ravel() > 0]
        sc = pairs.col[sep_min, j]
        sc = sc[sc >= 0]
        xs = pairs.col[s_units, j]
        k = s_units.size
        rr = np.concatenate([np.arange(k), np.repeat(np.arange(k), sc.size)]) + nrows
        cc = np.concatenate([xs, np.tile(sc, k)])
        vv = np.concatenate([np.ones(k), -np.ones(k * sc.size)])
        rows_r.append(rr)
        rows_c.append(cc)
        rows_v.append(vv)
        nrows += k
    if not nrows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0
    return np.concatenate(rows_r), np.concatenate(rows_c), np.concatenate(rows_v), nrows


def _contiguous(lab: np.ndarray, inp: _Inputs) -> bool:
    if (lab < 0).any():
        return False
    counts = connected_components_per_grid(lab, inp.adj)
    if any(v != 1 for v in counts.values()):
        return False
    opened = np.fromiter(counts.keys(), dtype=np.int64)
    return bool((lab[inp.lead_unit[opened]] == opened).all())


@dataclass
class _StageOut:
    lab: np.ndarray | None
    status: str
    bound: float | None  # of the solver objective (incl. constant), minimisation
    obj: float | None
    size: dict[str, int]
    build_s: float
    solve_s: float
    iterations: int = 1
    cuts: int = 0
    solver: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def _solve_stage(
    inp: _Inputs,
    pairs: _Pairs,
    contiguity: str,
    spec: _Spec,
    deadline: float,
    gap: float,
    threads: int | None,
    solver: str,
    notes: list[str],
    start: np.ndarray | None = None,
    incumbent: tuple[np.ndarray, float] | None = None,
) -> _StageOut:
    """Build and solve one stage; for ``exact`` run the cut loop.

    ``start`` is a (n,) label warm start; ``incumbent`` a contiguous (labels, objective) pair.
    """
    t0 = time.perf_counter()
    mp, groups = _build(inp, pairs, contiguity, spec)
    sess = _Session(mp, solver, threads, notes)
    if spec.kind in ("repair", "coverage"):
        sess.abs_gap = 0.5  # half a resident: the optimum in residents is proven
    build_s = time.perf_counter() - t0
    solve_s = 0.0
    zcol = groups.get("z")

    def warm(lab: np.ndarray | None) -> np.ndarray | None:
        if lab is None:
            return None
        extra = {}
        if zcol is not None:
            pos = inp.population > 0
            extra[zcol] = float(inp.cost[np.flatnonzero(pos), lab[pos]].max()) if pos.any() else 0.0
        return _x_start(pairs, lab, mp.ncols, extra)

    if contiguity != "exact":
        out = sess.solve(deadline - time.perf_counter(), gap, warm(start))
        solve_s += out["solve_s"]
        lab = _labels(pairs, inp.n, out["values"]) if out["values"] is not None else None
        bound = None if out["bound"] is None else out["bound"] + mp.obj_const
        obj = None if out["obj"] is None else out["obj"] + mp.obj_const
        return _StageOut(
            lab, out["status"], bound, obj, sess.size(), build_s, solve_s, solver=sess.solver_name
        )

    # exact: cut loop
    inc_lab, inc_obj = incumbent if incumbent is not None else (None, math.inf)
    iterations = 0
    cuts = 0
    bound = None
    status = "time_limit_no_solution"
    while True:
        iterations += 1
        ws = inc_lab if inc_lab is not None else start
        out = sess.solve(deadline - time.perf_counter(), gap, warm(ws))
        solve_s += out["solve_s"]
        st = out["status"]
        if st == "infeasible":
            status = "infeasible"
            inc_lab = None
            break
        if out["bound"] is not None:
            bound = out["bound"] + mp.obj_const
        if out["values"] is None:
            status = "time_limit_feasible" if inc_lab is not None else "time_limit_no_solution"
            break
        lab = _labels(pairs, inp.n, out["values"])
        obj = out["obj"] + mp.obj_const
        t1 = time.perf_counter()
        rr, cc, vv, nr = _separator_cuts(inp, pairs, lab)
        if nr == 0:
            if obj <= inc_obj + 1e-9 * max(1.0, abs(obj)) or inc_lab is None:
                inc_lab, inc_obj = lab, obj
            status = "optimal" if st == "optimal" else "time_limit_feasible"
            break
        if inc_lab is not None and bound is not None and inc_obj - bound <= gap * max(abs(inc_obj), 1e-9):
            status = "optimal"
            notes.append(f"exact: master bound reached the contiguous incumbent after {iterations} rounds")
            break
        if st != "optimal" or time.perf_counter() >= deadline:
            status = "time_limit_feasible" if inc_lab is not None else "time_limit_no_solution"
            break
        mp.add_rows(rr, cc, vv, -1, 0.0, nr)
        sess.sync_rows()
        cuts += nr
        build_s += time.perf_counter() - t1
    return _StageOut(
        inc_lab,
        status,
        bound,
        inc_obj if inc_lab is not None else None,
        sess.size(),
        build_s,
        solve_s,
        iterations,
        cuts,
        sess.solver_name,
    )


def _objective_spec(
    inp: _Inputs, pairs: _Pairs, objective: str, coverage_minutes: float
) -> tuple[_Spec, str]:
    pop, c = inp.population, inp.cost[pairs.i, pairs.j]
    wt = pop[pairs.i] * c
    pos = pop[pop > 0]
    finite = np.where(np.isfinite(inp.cost), inp.cost, 0.0)
    wt_ub = float((pop * finite.max(axis=1)).sum()) + 1.0
    eps = 0.5 * (float(pos.min()) if pos.size else 1.0) / wt_ub
    if inp.reference is not None:
        ref = inp.reference
        ok = (ref >= 0) & (ref < inp.m)
        hit = ok[pairs.i] & (pairs.j == ref[pairs.i])
        return (
            _Spec("repair", -pop[pairs.i] * hit + eps * wt, const=float(pop[ok].sum()), tie=eps * wt),
            "residents_moved",
        )
    if objective == "weighted_time":
        return _Spec("weighted_time", wt), "weighted_time"
    if objective == "coverage":
        covered = pop[pairs.i] * (c <= coverage_minutes)
        return _Spec("coverage", -covered + eps * wt, tie=eps * wt), "coverage"
    if objective == "minmax":
        return _Spec("minmax", np.zeros(pairs.k), use_z=True), "minmax"
    raise ValueError(f"objective must be one of {OBJECTIVES}")


def _plan_value(inp: _Inputs, lab: np.ndarray, name: str, coverage_minutes: float) -> float:
    pop = inp.population
    c = inp.cost[np.arange(inp.n), lab]
    if name == "weighted_time":
        return float((pop * c).sum())
    if name == "coverage":
        return float(pop[c <= coverage_minutes].sum())
    if name == "minmax":
        pos = pop > 0
        return float(c[pos].max()) if pos.any() else 0.0
    ref = inp.reference
    ok = (ref >= 0) & (ref < inp.m)
    return float(pop[ok & (lab != ref)].sum())


def _to_user_bound(
    name: str, spec: _Spec, solver_bound: float | None, inp: _Inputs, pairs: _Pairs
) -> float | None:
    """Convert a solver (minimisation, incl. tie-break) bound into the reported objective's units."""
    if solver_bound is None:
        return None
    if name in ("weighted_time", "minmax"):
        return solver_bound
    # largest possible tie-break contribution of any plan
    per_unit = np.zeros(inp.n)
    if spec.tie is not None:
        np.maximum.at(per_unit, pairs.i, spec.tie)
    max_tie = float(per_unit.sum())
    if name == "coverage":  # solver: -covered + tie  ->  covered <= tie - bound
        return -solver_bound + max_tie
    return solver_bound - max_tie  # repair: moved = solver objective - tie >= bound - max tie


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def assign_units_to_grids(
    population: np.ndarray,
    cost: np.ndarray,
    adjacency: sp.csr_matrix,
    lead_unit: np.ndarray,
    n_grids: int | tuple[int, int],
    *,
    contiguity: str = "fast",
    objective: str = "weighted_time",
    coverage_minutes: float = 30.0,
    must_open: np.ndarray | None = None,
    member_units: np.ndarray | None = None,
    pop_bounds: tuple[float | None, float | None] | None = None,
    unit_beds: np.ndarray | None = None,
    lead_beds: np.ndarray | None = None,
    min_beds_per_1000: float | None = None,
    candidate_k: int | None = None,
    reference_assignment: np.ndarray | None = None,
    time_limit_s: float = 60,
    gap: float = 1e-4,
    threads: int | None = None,
    solver: str = "highs",
) -> AssignmentResult:
    """Assign every planning unit to exactly one grid led by an open candidate lead hospital.

    Parameters
    ----------
    population : np.ndarray
        (n,) residents per planning unit.
    cost : np.ndarray
        (n, m) travel minutes from unit ``i`` to candidate lead ``j``; non-finite = unusable pair.
    adjacency : scipy.sparse.csr_matrix
        (n, n) symmetric; nonzero data = travel minutes between neighbouring units (shared edge).
        Boolean adjacency is accepted (every edge then counts 1 in the shortest paths of ``fast``).
    lead_unit : np.ndarray
        (m,) index of the unit each candidate lead sits in.
    n_grids : int or tuple of int
        Number of grids, or inclusive ``(lo, hi)`` range.
    contiguity : {"fast", "exact", "flow", "none"}
        See the module docstring.
    objective : {"weighted_time", "coverage", "minmax"}
        ``weighted_time`` minimises resident-minutes; ``coverage`` maximises residents within
        ``coverage_minutes`` of their lead (tie-break: weighted time with a weight small enough
        that the whole tie-break is worth less than half the smallest positive unit population);
        ``minmax`` minimises the largest travel minutes of any populated unit, then (second
        solve, with pairs above that optimum fixed to 0) the weighted time.
    coverage_minutes : float
        Coverage threshold T (minutes).
    must_open : np.ndarray, optional
        (m,) bool, candidates that must lead a grid (fixed-leads mode).
    member_units : np.ndarray, optional
        (n,) bool, unit holds a secondary general hospital or continuing-care facility; every open
        grid must contain at least one (rule 3). A (k, n) array gives k such required kinds, each of
        which every open grid must contain (row 0 is reported as rule 3; the caller labels the others).
    pop_bounds : tuple, optional
        (min, max) residents per open grid; ``None`` entries are unbounded.
    unit_beds, lead_beds : np.ndarray, optional
        (n,) beds located in each unit and (m,) beds of each candidate lead hospital (added to its
        grid when open; leave ``None`` if ``unit_beds`` already counts them).
    min_beds_per_1000 : float, optional
        Minimum beds per 1,000 residents of every open grid.
    candidate_k : int, optional
        Keep only each unit's ``k`` cheapest candidates (closed along shortest-path trees in the
        contiguity modes).  If the reduced model is infeasible or finds no plan, the full model
        is solved (given at least half of ``time_limit_s`` again); notes record both.
    reference_assignment : np.ndarray, optional
        (n,) candidate index per unit (negative = none).  Repair mode: minimise residents moved
        ``sum_i pop[i] (1 - x[i, ref[i]])`` (tie-break weighted time), all constraints kept.
    time_limit_s : float
        Wall-clock budget for the whole call (seconds).
    gap : float
        Relative MIP gap at which a solve stops (fraction).
    threads : int, optional
        Solver threads.
    solver : {"highs", "cbc"}
        ``highs`` (PuLP's highspy interface) falls back to CBC when highspy is missing.

    Returns
    -------
    AssignmentResult
    """
    t_start = time.perf_counter()
    deadline = t_start + float(time_limit_s)
    if contiguity not in CONTIGUITY_MODES:
        raise ValueError(f"contiguity must be one of {CONTIGUITY_MODES}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}")
    inp = _validate(
        population,
        cost,
        adjacency,
        lead_unit,
        n_grids,
        must_open,
        member_units,
        pop_bounds,
        unit_beds,
        lead_beds,
        min_beds_per_1000,
        reference_assignment,
    )
    notes: list[str] = []
    if contiguity == "fast":
        notes.append(FAST_NOTE)
    if reference_assignment is not None:
        notes.append(
            "repair mode: objective = residents moved from reference_assignment "
            "(tie-break: weighted time with a tiny weight)"
        )
    elif objective == "coverage":
        notes.append(
            "coverage: tie-break by weighted time with a weight worth < 1/2 of the smallest "
            "positive unit population in total"
        )
    contiguous = contiguity != "none"
    t0 = time.perf_counter()
    dist = pred = None
    if contiguous:
        dist, pred = _shortest_paths(inp)
    reduced = candidate_k is not None and candidate_k < inp.m
    allowed = _allowed_mask(inp, contiguous, candidate_k, dist, pred, notes)
    pre_s = time.perf_counter() - t0

    warm = None
    warm_k = max(WARM_START_K, inp.m - inp.count_lo + 1)
    if not reduced and contiguity != "flow" and inp.n >= WARM_START_MIN_UNITS and inp.m > warm_k:
        # Large full models: HiGHS may not find any plan quickly, so solve the k-nearest reduced
        # model first (<= 35 % of the budget) and warm-start the full model with its plan.
        t1 = time.perf_counter()
        small = _allowed_mask(inp, contiguous, warm_k, dist, pred, [])
        quick = _solve_all(
            inp,
            small,
            dist,
            pred,
            contiguity if contiguity != "exact" else "fast",
            objective,
            coverage_minutes,
            t1 + 0.35 * (deadline - t1),
            gap,
            threads,
            solver,
            [],
        )
        if quick.lab is not None and (quick.lab >= 0).all():
            warm = quick.lab
            notes.append(
                f"warm start: plan of the candidate_k={warm_k} reduced model ({quick.status}, "
                f"{time.perf_counter() - t1:.1f} s)"
            )
        pre_s += time.perf_counter() - t1
    res = _solve_all(
        inp,
        allowed,
        dist,
        pred,
        contiguity,
        objective,
        coverage_minutes,
        deadline,
        gap,
        threads,
        solver,
        notes,
        warm,
    )
    if res.lab is None and warm is not None and res.status.startswith("time_limit"):
        notes.append("full model found no plan in time: returning the warm-start plan (no bound)")
        res = _Run(warm, "time_limit_feasible", None, res.name, res.size, res.timings, notes, res.solver)
    if reduced and res.lab is None and res.status in ("infeasible", "time_limit_no_solution", "error"):
        notes.append(f"candidate_k reduction gave status '{res.status}': re-solved with all candidates")
        full = _allowed_mask(inp, contiguous, None, dist, pred, [])
        res = _solve_all(
            inp,
            full,
            dist,
            pred,
            contiguity,
            objective,
            coverage_minutes,
            max(deadline, time.perf_counter() + 0.5 * float(time_limit_s)),
            gap,
            threads,
            solver,
            notes,
        )
    if res.lab is not None and not contiguous:
        pieces = connected_components_per_grid(res.lab, inp.adj)
        if any(v > 1 for v in pieces.values()):
            notes.append("contiguity 'none': some grids are not contiguous")
    res.timings["build_s"] += pre_s
    return res.to_result(inp, contiguity, coverage_minutes)


@dataclass
class _Run:
    lab: np.ndarray | None
    status: str
    bound: float | None
    name: str
    size: dict[str, int]
    timings: dict[str, float]
    notes: list[str]
    solver: str

    def to_result(self, inp: _Inputs, contiguity: str, coverage_minutes: float) -> AssignmentResult:
        if self.lab is None or (self.lab < 0).any():
            return AssignmentResult(
                np.full(inp.n, -1, np.int64),
                np.zeros(0, np.int64),
                self.status,
                math.nan,
                self.bound,
                None,
                contiguity,
                self.solver,
                self.size,
                self.timings,
                self.notes,
                self.name,
            )
        obj = _plan_value(inp, self.lab, self.name, coverage_minutes)
        wt = _plan_value(inp, self.lab, "weighted_time", coverage_minutes)
        gap = None
        bound = self.bound
        if bound is not None:
            if self.name == "coverage":
                bound = max(bound, obj)
            else:
                bound = min(bound, obj)
            gap = abs(obj - bound) / max(abs(obj), 1e-9)
        return AssignmentResult(
            self.lab,
            np.unique(self.lab),
            self.status,
            obj,
            bound,
            gap,
            contiguity,
            self.solver,
            self.size,
            self.timings,
            self.notes,
            self.name,
            wt,
        )


def _solve_all(
    inp: _Inputs,
    allowed: np.ndarray,
    dist: np.ndarray | None,
    pred: np.ndarray | None,
    contiguity: str,
    objective: str,
    coverage_minutes: float,
    deadline: float,
    gap: float,
    threads: int | None,
    solver: str,
    notes: list[str],
    warm: np.ndarray | None = None,
) -> _Run:
    pairs = _make_pairs(allowed, inp, dist, pred, contiguity)
    timings = {"build_s": 0.0, "solve_s": 0.0, "iterations": 0, "cuts": 0}
    missing = np.flatnonzero(~allowed.any(axis=1))
    if missing.size:
        notes.append(
            f"units without any usable candidate (unreachable or infinite cost): "
            f"{missing[:20].tolist()}{' ...' if missing.size > 20 else ''}"
        )
        spec, name = _objective_spec(inp, pairs, objective, coverage_minutes)
        return _Run(None, "infeasible", None, name, {}, timings, notes, "")
    blocked = np.flatnonzero(inp.must_open & (pairs.lead_col < 0))
    if blocked.size:
        notes.append(f"must_open candidates whose own unit has no finite cost: {blocked.tolist()}")
        spec, name = _objective_spec(inp, pairs, objective, coverage_minutes)
        return _Run(None, "infeasible", None, name, {}, timings, notes, "")
    spec, name = _objective_spec(inp, pairs, objective, coverage_minutes)
    budget = deadline - time.perf_counter()
    incumbent = None
    used_solver = ""

    def account(o: _StageOut) -> None:
        nonlocal used_solver
        timings["build_s"] += o.build_s
        timings["solve_s"] += o.solve_s
        timings["iterations"] += o.iterations
        timings["cuts"] += o.cuts
        used_solver = o.solver

    if contiguity == "exact":
        pre = _solve_stage(
            inp,
            pairs,
            "fast",
            spec,
            time.perf_counter() + budget / 3,
            gap,
            threads,
            solver,
            notes,
            start=warm,
        )
        timings["fast_incumbent_s"] = pre.build_s + pre.solve_s
        timings["build_s"] += pre.build_s
        timings["solve_s"] += pre.solve_s
        if pre.lab is not None and pre.obj is not None and _contiguous(pre.lab, inp):
            incumbent = (pre.lab, pre.obj)
        else:
            notes.append(f"exact: no fast-mode incumbent ({pre.status})")
    out = _solve_stage(
        inp, pairs, contiguity, spec, deadline, gap, threads, solver, notes, start=warm, incumbent=incumbent
    )
    account(out)
    bound = _to_user_bound(name, spec, out.bound, inp, pairs)
    status, lab = out.status, out.lab
    if name == "minmax" and lab is not None:
        zstar = _plan_value(inp, lab, "minmax", coverage_minutes)
        tol = 1e-9 * max(1.0, abs(zstar))
        over = (inp.cost > zstar + tol) & (inp.population > 0)[:, None]
        pairs2 = _make_pairs(allowed & ~over, inp, dist, pred, contiguity)
        spec2 = _Spec("weighted_time", inp.population[pairs2.i] * inp.cost[pairs2.i, pairs2.j])
        inc2 = (
            (lab, _plan_value(inp, lab, "weighted_time", coverage_minutes))
            if _contiguous(lab, inp) or contiguity == "none"
            else None
        )
        out2 = _solve_stage(
            inp,
            pairs2,
            contiguity,
            spec2,
            max(deadline, time.perf_counter() + 1.0),
            gap,
            threads,
            solver,
            notes,
            start=lab,
            incumbent=inc2 if contiguity == "exact" else None,
        )
        account(out2)
        if out2.lab is not None:
            lab = out2.lab
            notes.append("minmax: second solve minimised weighted time among plans with the optimal maximum")
            if out2.status != "optimal" and status == "optimal":
                status = out2.status
        else:
            notes.append(f"minmax: weighted-time tie-break stage failed ({out2.status}); kept stage-1 plan")
    return _Run(lab, status, bound, name, out.size, timings, notes, used_solver)


def diagnose_infeasibility(
    population: np.ndarray,
    cost: np.ndarray,
    adjacency: sp.csr_matrix,
    lead_unit: np.ndarray,
    n_grids: int | tuple[int, int],
    *,
    contiguity: str = "fast",
    objective: str = "weighted_time",
    coverage_minutes: float = 30.0,
    must_open: np.ndarray | None = None,
    member_units: np.ndarray | None = None,
    pop_bounds: tuple[float | None, float | None] | None = None,
    unit_beds: np.ndarray | None = None,
    lead_beds: np.ndarray | None = None,
    min_beds_per_1000: float | None = None,
    candidate_k: int | None = None,
    reference_assignment: np.ndarray | None = None,
    time_limit_s: float = 60,
    gap: float = 1e-4,
    threads: int | None = None,
    solver: str = "highs",
) -> Diagnosis:
    """Find which constraint families must be relaxed, and by how much, to make a plan possible.

    Same arguments as :func:`assign_units_to_grids` (``objective``, ``coverage_minutes``,
    ``candidate_k`` and ``reference_assignment`` are ignored: the full model is used).  Every
    optional family gets non-negative slack: grid count (weight 100 per grid), must_open (100 per
    candidate), rule 3 member units (10 per missing member), population bounds and beds (10 per
    10 % of the bound), and unit assignment (1000 per unit left out, i.e. not reachable by any open
    contiguous grid: a last resort).  The weighted slack is minimised; every nonzero slack is
    reported.  In the
    ``exact`` and ``flow`` modes the fast (shortest-path) contiguity rows are used, which can
    report a relaxation that exact contiguity would not need (noted).

    Returns
    -------
    Diagnosis
    """
    del objective, coverage_minutes, candidate_k, reference_assignment
    inp = _validate(
        population,
        cost,
        adjacency,
        lead_unit,
        n_grids,
        must_open,
        member_units,
        pop_bounds,
        unit_beds,
        lead_beds,
        min_beds_per_1000,
        None,
    )
    notes: list[str] = []
    contiguous = contiguity != "none"
    dist = pred = None
    if contiguous:
        dist, pred = _shortest_paths(inp)
        if contiguity in ("exact", "flow"):
            notes.append(
                "diagnosis uses fast (shortest-path) contiguity rows, which may exclude contiguous plans"
            )
    allowed = _allowed_mask(inp, contiguous, None, dist, pred, notes)
    # every unit must keep at least one column so the slack model is feasible
    pairs = _make_pairs(allowed, inp, dist, pred, "fast" if contiguous else "none")
    spec = _Spec("slack", np.zeros(pairs.k))
    mp, groups = _build(inp, pairs, "fast" if contiguous else "none", spec, slack=True)
    sess = _Session(mp, solver, threads, notes)
    out = sess.solve(time_limit_s, gap, None)
    if out["values"] is None:
        return Diagnosis(False, out["status"], [], [], notes + ["slack model found no solution"])
    vals = out["values"]
    lab = _labels(pairs, inp.n, vals)
    rel: list[Relaxation] = []
    cand = groups["cand"]
    tol = 1e-6
    for name, (cols, _w) in groups["slack"].items():
        sv = vals[cols]
        for k in np.flatnonzero(sv > tol):
            amt = float(sv[k])
            rel.append(_describe(name, int(k), amt, inp, cand, groups, lab))
    fams = sorted({r.family for r in rel})
    return Diagnosis(not rel, out["status"], rel, fams, notes)


def _describe(
    name: str, k: int, amt: float, inp: _Inputs, cand: np.ndarray, groups: dict, lab: np.ndarray
) -> Relaxation:
    if name == "reachability":
        return Relaxation(
            "reachability",
            1.0,
            f"unit {k} cannot join any open grid contiguously (not connected "
            "to an open lead through shared edges, or every such grid is blocked)",
            unit=k,
        )
    if name == "grid_count_lo":
        return Relaxation(
            "grid_count",
            amt,
            f"grid count lower bound must fall by {amt:.0f} "
            f"(at most {inp.count_lo - round(amt)} grids are possible)",
        )
    if name == "grid_count_hi":
        return Relaxation("grid_count", amt, f"grid count upper bound must rise by {amt:.0f}")
    if name == "must_open":
        j = int(groups["must_open_cand"][k])
        return Relaxation("must_open", amt, f"candidate {j} cannot be kept open as a lead", candidate=j)
    j = int(cand[k])
    size = int((lab == j).sum())
    if name == "member_units":
        return Relaxation(
            "member_units",
            amt,
            f"grid of candidate {j} ({size} units) has no unit with a secondary "
            f"general hospital or continuing-care facility: rule 3 needs {amt:.0f} more member",
            candidate=j,
        )
    if name.startswith("member_units:"):
        return Relaxation(
            "member_units",
            amt,
            f"grid of candidate {j} ({size} units) lacks a required member of kind {name.split(':')[1]} "
            f"(row {name.split(':')[1]} of member_units): needs {amt:.0f} more",
            candidate=j,
        )
    if name == "pop_lower":
        return Relaxation(
            "pop_lower",
            amt,
            f"population lower bound must fall by {amt:,.0f} residents (grid of candidate {j})",
            candidate=j,
        )
    if name == "pop_upper":
        return Relaxation(
            "pop_upper",
            amt,
            f"population upper bound must rise by {amt:,.0f} residents (grid of candidate {j})",
            candidate=j,
        )
    return Relaxation(
        "beds",
        amt,
        f"grid of candidate {j} needs {amt:,.0f} more beds to reach {inp.beds_rate} per 1,000 residents",
        candidate=j,
    )
