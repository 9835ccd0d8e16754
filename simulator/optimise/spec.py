"""The model specification: the data of one grid-assignment instance, validated once.

:class:`ModelSpec` holds what the model is *about* (units, candidates, costs and every optional
constraint family); how it is solved (contiguity family, objective, solver back-end, limits) is
passed to :func:`simulator.optimise.assign_units_to_grids` separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .graph import is_contiguous, unit_graph


@dataclass
class ModelSpec:
    """One instance of the grid assignment model; arrays are checked and normalised on creation.

    Parameters
    ----------
    population : np.ndarray
        (n,) residents per planning unit (finite, >= 0).
    cost : np.ndarray
        (n, m) travel minutes from unit ``i`` to candidate lead ``j``; non-finite = unusable pair.
    adjacency : scipy.sparse matrix
        (n, n) symmetric; nonzero data = travel minutes between neighbouring units (shared edge).
        Boolean adjacency is accepted (every edge then counts 1 in the shortest paths).
    lead_unit : np.ndarray
        (m,) index of the unit each candidate lead sits in.
    n_grids : int or tuple of int
        Number of grids, or inclusive ``(lo, hi)`` range.
    must_open : np.ndarray, optional
        (m,) bool, candidates that must lead a grid (fixed leads). Normalised to an (m,) bool array.
    member_units : np.ndarray, optional
        (n,) or (k, n) bool: row ``r`` marks the units holding a member of required kind ``r``; every
        open grid must contain at least one unit of every row. Normalised to (k, n) (or ``None``).
    member_candidates : np.ndarray, optional
        (m,) bool: candidates that count as a member of row 0 (rule 3) for the grid holding their unit when they
        do not lead themselves (a non-leading tertiary hospital is a member under the pilot plan's reading).
        Normalised to an (m,) bool array (or ``None``); needs ``member_units``.
    pop_bounds : tuple, optional
        (min, max) residents per open grid; ``None`` entries are unbounded.
    unit_beds, lead_beds : np.ndarray, optional
        (n,) beds located in each unit and (m,) beds of each candidate lead (added to its grid when
        open; leave ``None`` if ``unit_beds`` already counts them). Used only with ``min_beds_per_1000``.
    min_beds_per_1000 : float, optional
        Minimum beds per 1,000 residents of every open grid.
    candidate_k : int, optional
        Keep only each unit's ``k`` cheapest candidates (closed along shortest-path trees in the
        contiguous families); the full model is solved if the reduced one finds no plan.
    reference_assignment : np.ndarray, optional
        (n,) candidate index per unit (negative = none): repair mode, minimise residents moved.
    fixed_assignment : np.ndarray, optional
        (n,) candidate index a unit must join (negative = free): units a planner locked. A fixed unit keeps
        only its pair with that candidate (its costs to every other candidate become non-finite, so the pair
        reduction drops them), which therefore opens.
    coverage_minutes : float
        Coverage threshold (minutes) of the ``coverage`` objective.
    lead_inside : bool
        ``True`` (default): a candidate's own unit belongs to its grid when it opens (the grid holds its
        lead; contiguity is rooted at the lead's unit). ``False``: only the grid's units matter, the lead may
        stand outside its grid (in another grid, even with another candidate in the same unit); each grid is
        still one connected piece, anchored on a unit the optimiser chooses, and residents' travel is still
        measured to the lead (the pilot plan's reading: only members are 网格内).

    Attributes
    ----------
    graph : scipy.sparse.csr_matrix
        Symmetric float adjacency with positive edge minutes (see :func:`simulator.optimise.graph.unit_graph`).
    count_lo, count_hi : int
        Grid count range; ``count_hi`` is capped at ``m``.
    """

    population: np.ndarray
    cost: np.ndarray
    adjacency: sp.spmatrix
    lead_unit: np.ndarray
    n_grids: int | tuple[int, int]
    must_open: np.ndarray | None = None
    member_units: np.ndarray | None = None
    member_candidates: np.ndarray | None = None
    pop_bounds: tuple[float | None, float | None] | None = None
    unit_beds: np.ndarray | None = None
    lead_beds: np.ndarray | None = None
    min_beds_per_1000: float | None = None
    candidate_k: int | None = None
    reference_assignment: np.ndarray | None = None
    fixed_assignment: np.ndarray | None = None
    coverage_minutes: float = 30.0
    lead_inside: bool = True
    graph: sp.csr_matrix = field(init=False, repr=False)
    count_lo: int = field(init=False)
    count_hi: int = field(init=False)

    def __post_init__(self) -> None:
        self.cost = _cost(self.cost)
        n, m = self.cost.shape
        self.population = _population(self.population, n)
        self.lead_unit = _lead_unit(self.lead_unit, n, m)
        lo, hi = _grid_range(self.n_grids)
        self.count_lo, self.count_hi = lo, min(hi, m)
        self.must_open = _must_open(self.must_open, m)
        self.member_units = _member_units(self.member_units, n)
        self.member_candidates = _member_candidates(self.member_candidates, self.member_units, m)
        self.pop_bounds = _pop_bounds(self.pop_bounds)
        self.min_beds_per_1000 = None if self.min_beds_per_1000 is None else float(self.min_beds_per_1000)
        self.unit_beds, self.lead_beds = _beds(self.unit_beds, self.lead_beds, self.min_beds_per_1000, n, m)
        self.reference_assignment = _reference(self.reference_assignment, n)
        self.fixed_assignment, self.cost = _fixed(self.fixed_assignment, self.cost)
        self.coverage_minutes = float(self.coverage_minutes)
        self.lead_inside = bool(self.lead_inside)
        self.graph = unit_graph(self.adjacency, n)

    @property
    def n(self) -> int:
        """Number of planning units."""
        return self.cost.shape[0]

    @property
    def m(self) -> int:
        """Number of candidate leads."""
        return self.cost.shape[1]

    def is_contiguous(self, lab: np.ndarray) -> bool:
        """True when plan ``lab`` is complete, every grid is one piece and (``lead_inside``) holds its lead's unit."""
        return is_contiguous(np.asarray(lab), self.graph, self.lead_unit, self.lead_inside)

    @property
    def pop_lo(self) -> float | None:
        """Minimum residents per open grid, if bounded."""
        return None if self.pop_bounds is None else self.pop_bounds[0]

    @property
    def pop_hi(self) -> float | None:
        """Maximum residents per open grid, if bounded."""
        return None if self.pop_bounds is None else self.pop_bounds[1]


def _cost(cost: np.ndarray) -> np.ndarray:
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError("cost must be an (n, m) array of minutes")
    return cost


def _population(population: np.ndarray, n: int) -> np.ndarray:
    population = np.asarray(population, dtype=float).reshape(-1)
    if population.shape != (n,) or not np.isfinite(population).all() or (population < 0).any():
        raise ValueError(f"population must be ({n},) finite and >= 0")
    return population


def _lead_unit(lead_unit: np.ndarray, n: int, m: int) -> np.ndarray:
    lead_unit = np.asarray(lead_unit, dtype=np.int64).reshape(-1)
    if lead_unit.shape != (m,) or (lead_unit < 0).any() or (lead_unit >= n).any():
        raise ValueError(f"lead_unit must be ({m},) unit indices in [0, {n})")
    return lead_unit


def _grid_range(n_grids: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(n_grids, tuple | list):
        lo, hi = int(n_grids[0]), int(n_grids[1])
    else:
        lo = hi = int(n_grids)
    if lo < 1 or hi < lo:
        raise ValueError(f"n_grids must be >= 1 (range lo <= hi), got {n_grids}")
    return lo, hi


def _must_open(must_open: np.ndarray | None, m: int) -> np.ndarray:
    must = np.zeros(m, bool) if must_open is None else np.asarray(must_open, bool).reshape(-1)
    if must.shape != (m,):
        raise ValueError(f"must_open must be ({m},) bool")
    return must


def _member_candidates(member_candidates: np.ndarray | None, member_units: np.ndarray | None,
                       m: int) -> np.ndarray | None:
    if member_candidates is None:
        return None
    mc = np.asarray(member_candidates, bool).reshape(-1)
    if mc.shape != (m,):
        raise ValueError(f"member_candidates must be ({m},) bool")
    if member_units is None:
        raise ValueError("member_candidates needs member_units (its row 0 is the family they join)")
    return mc if mc.any() else None


def _member_units(member_units: np.ndarray | None, n: int) -> np.ndarray | None:
    if member_units is None:
        return None
    member = np.asarray(member_units, bool)
    member = member.reshape(1, -1) if member.ndim == 1 else member
    if member.ndim != 2 or member.shape[1] != n:
        raise ValueError(f"member_units must be ({n},) or (k, {n}) bool: one row per required kind")
    return member


def _pop_bounds(pop_bounds: tuple[float | None, float | None] | None) -> tuple[float | None, float | None] | None:
    if pop_bounds is None:
        return None
    lo, hi = pop_bounds
    return (None if lo is None else float(lo), None if hi is None else float(hi))


def _beds(
    unit_beds: np.ndarray | None, lead_beds: np.ndarray | None, rate: float | None, n: int, m: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """Beds per unit (n,) and per candidate lead (m,); ``(None, zeros)`` when no beds rule applies."""
    if rate is None:
        return None, np.zeros(m)
    ub = np.zeros(n) if unit_beds is None else np.nan_to_num(np.asarray(unit_beds, float).reshape(-1))
    if ub.shape != (n,):
        raise ValueError(f"unit_beds must be ({n},)")
    lb = np.zeros(m) if lead_beds is None else np.nan_to_num(np.asarray(lead_beds, float).reshape(-1))
    if lb.shape != (m,):
        raise ValueError(f"lead_beds must be ({m},)")
    return ub, lb


def _reference(reference: np.ndarray | None, n: int) -> np.ndarray | None:
    if reference is None:
        return None
    ref = np.asarray(reference, dtype=np.int64).reshape(-1)
    if ref.shape != (n,):
        raise ValueError(f"reference_assignment must be ({n},)")
    return ref


def _fixed(fixed: np.ndarray | None, cost: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Fixed candidate per unit (negative = free) and the cost matrix with every other pair of a fixed unit
    made non-finite (a copy; the caller's matrix is left as it was)."""
    if fixed is None:
        return None, cost
    n, m = cost.shape
    fixed = np.asarray(fixed, dtype=np.int64).reshape(-1)
    if fixed.shape != (n,) or (fixed >= m).any():
        raise ValueError(f"fixed_assignment must be ({n},) candidate indices < {m} (negative = free)")
    rows = np.flatnonzero(fixed >= 0)
    if not len(rows):
        return fixed, cost
    keep = cost[rows, fixed[rows]]
    cost = cost.copy()
    cost[rows] = np.inf
    cost[rows, fixed[rows]] = keep
    return fixed, cost
