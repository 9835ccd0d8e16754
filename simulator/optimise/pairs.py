"""Which (unit, candidate) pairs get a column: model reduction before any row is built.

Pairs ``(i, j)`` are dropped when ``cost[i, j]`` is not finite and, in the contiguous families with the lead
inside its grid (``spec.lead_inside``), when ``i`` cannot be reached from ``lead_unit[j]`` in the adjacency
graph (no contiguous grid can contain it). With the lead allowed outside its grid a pair needs only a finite
cost (a grid may be anchored anywhere). ``candidate_k`` keeps only each unit's ``k`` cheapest candidates, then
closes the kept set along the shortest-path tree (a kept unit's tree parent is kept too) so that every kept pair
can still be part of a contiguous grid holding the lead's unit (with the lead outside, this is a reduction that
may cost optimality; the full model is the fallback). Finally pairs that no feasible grid can use are pruned
(:func:`prune`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .graph import close_along_tree
from .result import Note
from .spec import ModelSpec

if TYPE_CHECKING:
    from .contiguity.base import ContiguityFamily


@dataclass
class Pairs:
    """Allowed (unit, candidate) pairs = x columns, in unit-major order.

    Attributes
    ----------
    i, j : np.ndarray
        (K,) unit and candidate of every column.
    col : np.ndarray
        (n, m) column index of a pair, or -1.
    lead_col : np.ndarray
        (m,) column of the lead pair ``x[lead_unit[j], j]`` (-1: no such pair). With the lead inside its grid
        this column is the opening variable ``y[j]``.
    dist, pred : np.ndarray or None
        (m, n) shortest-path minutes from each lead and tree parents (contiguous families).
    opens : np.ndarray
        (m,) bool, the candidate can open: its lead pair exists (lead inside) or it has any pair (lead outside).
    """

    i: np.ndarray
    j: np.ndarray
    col: np.ndarray
    lead_col: np.ndarray
    dist: np.ndarray | None
    pred: np.ndarray | None
    opens: np.ndarray

    @property
    def k(self) -> int:
        """Number of pairs (x columns)."""
        return self.i.shape[0]


def allowed_mask(
    spec: ModelSpec,
    contiguous: bool,
    candidate_k: int | None,
    dist: np.ndarray | None,
    pred: np.ndarray | None,
    notes: list[str],
) -> np.ndarray:
    """(n, m) bool mask of usable pairs (finite cost, reachable, among the ``candidate_k`` nearest)."""
    m = spec.m
    allowed = np.isfinite(spec.cost)
    if contiguous and spec.lead_inside:
        allowed &= np.isfinite(dist).T
    if candidate_k is not None and candidate_k < m:
        allowed = _nearest_k(spec, allowed, max(int(candidate_k), 1), contiguous, pred, notes)
    allowed[spec.lead_unit, np.arange(m)] = np.isfinite(spec.cost[spec.lead_unit, np.arange(m)])
    return allowed


def _nearest_k(
    spec: ModelSpec, allowed: np.ndarray, kk: int, contiguous: bool, pred: np.ndarray | None, notes: list[str]
) -> np.ndarray:
    n, m = spec.n, spec.m
    if kk < m - spec.count_lo + 1:
        notes.append(
            Note(
                "candidate_k_cut_off",
                f"candidate_k={kk} < m - n_grids_min + 1 = {m - spec.count_lo + 1}: some units may be cut off "
                "from their nearest open lead (the reduced optimum can be worse than the full one)",
                k=kk,
                safe_k=m - spec.count_lo + 1,
            )
        )
    key = np.where(allowed, spec.cost, np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :kk]
    keep = np.zeros((n, m), bool)
    np.put_along_axis(keep, order, True, axis=1)
    before = int(allowed.sum())
    allowed &= keep
    allowed[spec.lead_unit, np.arange(m)] = True
    if contiguous:
        allowed = close_along_tree(allowed, pred, spec.lead_unit)
    notes.append(
        Note(
            "candidate_k_kept",
            f"candidate_k={kk}: kept {int(allowed.sum())} of {before} unit-candidate pairs "
            f"({'closed along shortest-path trees' if contiguous else 'nearest by cost'})",
            k=kk,
            kept=int(allowed.sum()),
            of=before,
        )
    )
    return allowed


def prune(allowed: np.ndarray, spec: ModelSpec, arcs: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Drop pairs that no feasible plan can use (vectorised sweeps until stable).

    A candidate whose own unit is not allowed cannot open, so all its pairs go. With ``arcs``
    (tail, head, candidate) a non-lead pair also needs an allowed head along one of its arcs (the
    contiguity family decides which arcs count). Removing such columns up front, instead of fixing
    them to 0, keeps the model small and avoids a HiGHS defect with MIP starts and presolved fixed columns.
    With the lead outside its grid (``spec.lead_inside`` false) nothing is pruned: every unit may anchor a grid.
    """
    allowed = allowed.copy()
    if not spec.lead_inside:
        return allowed
    m = spec.m
    lead_ok = allowed[spec.lead_unit, np.arange(m)]
    allowed[:, ~lead_ok] = False
    if arcs is None:
        return allowed
    aa, bb, jj = arcs
    while True:
        valid = allowed[aa, jj] & allowed[bb, jj]
        has = np.zeros_like(allowed)
        has[aa[valid], jj[valid]] = True
        has[spec.lead_unit, np.arange(m)] = True
        drop = allowed & ~has
        if not drop.any():
            return allowed
        allowed &= ~drop


def make_pairs(
    allowed: np.ndarray,
    spec: ModelSpec,
    dist: np.ndarray | None,
    pred: np.ndarray | None,
    family: ContiguityFamily,
) -> Pairs:
    """Prune ``allowed`` for ``family`` and number the remaining pairs (unit-major)."""
    allowed = prune(allowed, spec, family.support_arcs(spec, dist))
    ii, jj = np.nonzero(allowed)
    col = np.full(allowed.shape, -1, dtype=np.int64)
    col[ii, jj] = np.arange(ii.size)
    lead_col = col[spec.lead_unit, np.arange(spec.m)]
    opens = lead_col >= 0 if spec.lead_inside else allowed.any(axis=0)
    return Pairs(ii, jj, col, lead_col, dist, pred, opens)
