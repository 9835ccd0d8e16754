"""``fast``: shortest-path contiguity (Validi, Buchanan & Lykhovyd 2022).

With ``d_j`` the shortest-path distance (minutes along adjacency edges) from the lead unit, every
non-lead unit of grid ``j`` needs a neighbour of the same grid that is strictly closer to the lead, ties
broken by unit index. Every grid is then connected *and* "star-shaped" along shortest paths, so some
contiguous plans are excluded (a note says so).

Lead outside its grid (``spec.lead_inside`` false): units are ranked by (distance from the lead's unit, index),
unreachable units last, and every unit of grid ``j`` needs a same-grid neighbour ranked earlier *or* must be the
grid's root: ``x[i, j] <= r[i, j] + sum x[v, j]`` with ``sum_i r[i, j] = y[j]``. For an integral plan the grid's
first unit in this order has no earlier neighbour in the grid, so it takes the whole root share and every other
unit descends through earlier neighbours to it: each grid is connected (star-shaped towards its first unit in
the lead's distance order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..graph import lead_rank
from ..result import Note
from ..spec import ModelSpec
from .base import Arcs, ContiguityFamily, add_pred_rows, arc_pairs, non_lead

if TYPE_CHECKING:
    from ..constraints import ModelBuild

FAST_NOTE = "fast contiguity may exclude some contiguous plans (grids must be shortest-path star-shaped)"


def _earlier(spec: ModelSpec, dist: np.ndarray, arcs: Arcs) -> Arcs:
    """Arcs whose head comes before the tail in the (distance from the lead, index) order."""
    aa, bb, jj = arcs
    rank = lead_rank(spec.lead_unit, dist)
    keep = rank[jj, bb] < rank[jj, aa]
    return aa[keep], bb[keep], jj[keep]


class Fast(ContiguityFamily):
    """Shortest-path star contiguity: one row per non-lead pair."""

    name = "fast"
    note = Note("fast_contiguity", FAST_NOTE)
    lead_outside = True

    def support_arcs(self, spec: ModelSpec, dist: np.ndarray | None) -> Arcs:
        """Only arcs towards the lead count."""
        return _earlier(spec, dist, super().support_arcs(spec, dist))

    def add_rows(self, build: ModelBuild) -> None:
        """``x[i, j] <= sum of x[v, j]`` over neighbours ``v`` closer to the lead (``+ r[i, j]``, lead outside)."""
        spec, pairs = build.spec, build.pairs
        arcs = _earlier(spec, pairs.dist, arc_pairs(spec, pairs))
        rows_for = non_lead(spec, pairs) if spec.lead_inside else np.arange(pairs.k)
        add_pred_rows(build.mp, pairs, build.x, build.ub, arcs, rows_for, build.roots)
