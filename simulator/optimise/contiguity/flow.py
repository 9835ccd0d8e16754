"""``flow``: single-commodity flow per candidate (Shirabe 2005). Reference formulation only: slow.

The lead is the source, every unit of the grid consumes one unit of flow, and arc flow
``<= (n_j - 1) x[head, j]`` with ``n_j`` the number of pairs of candidate ``j``. The source is the lead's
unit, so this family supports only ``ModelSpec.lead_inside = True`` (a ``ValueError`` otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import ContiguityFamily, arc_pairs, non_lead

if TYPE_CHECKING:
    from ..constraints import ModelBuild


class Flow(ContiguityFamily):
    """Shirabe flow rows; left without warm start as the plain reference formulation."""

    name = "flow"
    warm_start = False
    diagnose_with = "fast"
    admits_contiguous = True

    def add_rows(self, build: ModelBuild) -> None:
        """Flow columns, capacity rows and a balance row per non-lead pair."""
        spec, pairs, mp, x = build.spec, build.pairs, build.mp, build.x
        a, b, jj = arc_pairs(spec, pairs)
        into_lead = b == spec.lead_unit[jj]
        a, b, jj = a[~into_lead], b[~into_lead], jj[~into_lead]
        size_j = np.bincount(pairs.j, minlength=spec.m).astype(float)
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
        nl = non_lead(spec, pairs)
        row_id = np.full(pairs.k, -1)
        row_id[nl] = np.arange(nl.size)
        head_row = row_id[pairs.col[b, jj]]
        tail_row = row_id[pairs.col[a, jj]]
        t = tail_row >= 0
        rr = np.concatenate([head_row, tail_row[t], np.arange(nl.size)])
        cc = np.concatenate([f, f[t], x[nl]])
        vv = np.concatenate([np.ones(a.size), -np.ones(int(t.sum())), -np.ones(nl.size)])
        mp.add_rows(rr, cc, vv, 0, 0.0, nl.size)
