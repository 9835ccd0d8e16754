"""What every contiguity family provides, and the row builders the families share.

A family decides (1) which pairs survive pruning (:meth:`ContiguityFamily.support_arcs`), (2) which
rows it adds to every model (:meth:`ContiguityFamily.add_rows`) and, for lazy families, (3) which cuts
separate a disconnected master solution (:meth:`ContiguityFamily.separate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..graph import arcs_per_candidate
from ..pairs import Pairs
from ..result import Note
from ..spec import ModelSpec

if TYPE_CHECKING:
    from ..constraints import ModelBuild
    from ..milp import Milp

Arcs = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Cuts:
    """Rows ``sum val * x (<=) 0`` in local COO form (``row`` counts from 0)."""

    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    count: int


class ContiguityFamily:
    """Base class of the families registered in :data:`simulator.optimise.contiguity.CONTIGUITY`."""

    #: registry key, also ``AssignmentResult.contiguity``
    name: str = ""
    #: grids must be connected: only pairs reachable from the lead get columns (shortest paths are computed)
    contiguous: bool = True
    #: caveat recorded in every result of this family
    note: Note | None = None
    #: large full models may be warm-started from a reduced model's plan (``False`` for reference formulations)
    warm_start: bool = True
    #: a cheaper family whose plans are feasible here: solves the warm-start model and gives the first incumbent
    incumbent_from: str | None = None
    #: family whose rows the infeasibility diagnosis uses instead of this one's (``None``: this one)
    diagnose_with: str | None = None
    #: the model is solved by a cut loop with :meth:`separate` (the stage then uses incumbents)
    lazy: bool = False
    #: the family also models leads outside their grid (``ModelSpec.lead_inside = False``): its rows use
    #: ``build.roots`` and ``build.y_cols`` instead of the lead's own unit
    lead_outside: bool = False
    #: every contiguous plan meeting the other families is feasible here (not ``fast``, which admits only grids
    #: star-shaped along shortest paths): a contiguous plan then proves an upper bound (repair's reduction needs it)
    admits_contiguous: bool = False

    def support_arcs(self, spec: ModelSpec, dist: np.ndarray | None) -> Arcs | None:
        """Arcs (tail, head, candidate) along which a non-lead pair needs an allowed neighbour, or ``None``."""
        return arcs_per_candidate(spec.graph, spec.m) if self.contiguous else None

    def add_rows(self, build: ModelBuild) -> None:
        """Add this family's rows (and columns) to a model; may fix pairs to 0 in ``build.ub``."""

    def separate(self, spec: ModelSpec, pairs: Pairs, lab: np.ndarray) -> Cuts:
        """Cuts that the master plan ``lab`` violates (count 0 when it is acceptable). Lazy families only."""
        raise NotImplementedError(f"contiguity family {self.name!r} is not lazy")


def arc_pairs(spec: ModelSpec, pairs: Pairs) -> Arcs:
    """All (unit a, neighbour b, candidate j) with both pairs allowed (vectorised over m)."""
    aa, bb, jj = arcs_per_candidate(spec.graph, spec.m)
    ok = (pairs.col[aa, jj] >= 0) & (pairs.col[bb, jj] >= 0)
    return aa[ok], bb[ok], jj[ok]


def add_pred_rows(
    mp: Milp,
    pairs: Pairs,
    x: np.ndarray,
    ub: np.ndarray,
    arcs: Arcs,
    rows_for: np.ndarray,
    roots: np.ndarray | None = None,
) -> int:
    """Rows ``x[i, j] <= sum_{(i, v, j) in arcs} x[v, j]`` for the pairs ``rows_for``; empty sums fix x = 0.

    With ``roots`` ((K,) root column of every pair, lead outside its grid) the rows are
    ``x[i, j] <= r[i, j] + sum_{(i, v, j) in arcs} x[v, j]``: a unit without such a neighbour must be its grid's
    root, and nothing is fixed. Returns the number of rows added.
    """
    a, b, jj = arcs
    col = pairs.col
    pcol = col[a, jj]
    has = np.zeros(pairs.k, bool)
    has[pcol] = True
    need = np.zeros(pairs.k, bool)
    need[rows_for] = True
    if roots is None:
        ub[need & ~has] = 0.0
        active = need & has
    else:
        active = need
    row_id = np.full(pairs.k, -1)
    row_id[active] = np.arange(int(active.sum()))
    keep = active[pcol]
    na = int(active.sum())
    rr = [np.arange(na), row_id[pcol[keep]]]
    cc = [x[active], x[col[b[keep], jj[keep]]]]
    vv = [np.ones(na), -np.ones(int(keep.sum()))]
    if roots is not None:
        rr.append(np.arange(na))
        cc.append(roots[active])
        vv.append(-np.ones(na))
    mp.add_rows(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), -1, 0.0, na)
    return na


def non_lead(spec: ModelSpec, pairs: Pairs) -> np.ndarray:
    """Pairs whose unit is not its candidate's lead unit."""
    return np.flatnonzero(pairs.i != spec.lead_unit[pairs.j])
