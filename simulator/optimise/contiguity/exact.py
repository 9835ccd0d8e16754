"""``exact``: contiguity by cut generation, optimal among all contiguous plans.

Minimal a-b vertex-separator cuts (Oehrlein & Haunert 2017; Validi et al. 2022) are added for every
disconnected piece of a master solution until the master solution is contiguous; it is then optimal
among all contiguous plans. The first master already has the cheap "some neighbour must be in the grid"
cuts, and a ``fast`` plan (contiguous, so feasible for every master) warm-starts every master and serves
as incumbent.

Lead outside its grid (``spec.lead_inside`` false): the first master has ``x[i, j] <= r[i, j] + sum of x[v, j]``
over all neighbours ``v`` (a unit with no same-grid neighbour is its grid's root, one root per grid). For a piece
``S`` of a disconnected grid ``j`` the cut is, for every ``i`` in ``S`` and ``C = N(S)``,
``x[i, j] <= sum_{c in C} x[c, j] + sum_{u in S} r[u, j]`` (``S`` is ``i``'s component of ``G - C``). It holds
for every contiguous plan (a grid that leaves ``S`` crosses ``C``; a grid inside ``S`` has its root there) and
the disconnected master violates it for every piece except at most one (the piece holding the whole root share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ...units.graph import grid_component_labels
from ..pairs import Pairs
from ..spec import ModelSpec
from .base import ContiguityFamily, Cuts, add_pred_rows, arc_pairs

if TYPE_CHECKING:
    from ..constraints import ModelBuild


#: lead outside its grid: separator rows per disconnected piece (each row holds the root columns of the whole piece)
MAX_PIECE_ROWS = 64


class Exact(ContiguityFamily):
    """Neighbour cuts up front, minimal separator cuts lazily."""

    name = "exact"
    incumbent_from = "fast"
    diagnose_with = "fast"
    lazy = True
    lead_outside = True
    admits_contiguous = True

    def add_rows(self, build: ModelBuild) -> None:
        """Separator cuts with the separator N(i): valid for every contiguous plan."""
        spec, pairs = build.spec, build.pairs
        a, b, jj = arc_pairs(spec, pairs)
        if not spec.lead_inside:
            add_pred_rows(build.mp, pairs, build.x, build.ub, (a, b, jj), np.arange(pairs.k), build.roots)
            return
        to_lead = b == spec.lead_unit[jj]
        touches_lead = np.zeros(pairs.k, bool)
        touches_lead[pairs.col[a[to_lead], jj[to_lead]]] = True
        nl = pairs.i != spec.lead_unit[pairs.j]
        # pairs with no allowed neighbour at all must be fixed to 0 too
        has = np.zeros(pairs.k, bool)
        has[pairs.col[a, jj]] = True
        build.ub[nl & ~has] = 0.0
        add_pred_rows(build.mp, pairs, build.x, build.ub, (a, b, jj), np.flatnonzero(nl & ~touches_lead))

    def separate(self, spec: ModelSpec, pairs: Pairs, lab: np.ndarray) -> Cuts:
        """Minimal a-b separator cuts for every grid piece not containing its lead.

        Rows ``x[i, j] - sum_{c in C} x[c, j] <= 0`` for every unit ``i`` of the piece, with ``C`` the
        neighbours of the piece that touch the lead's side.
        """
        comp = grid_component_labels(lab, spec.graph)
        if not spec.lead_inside:
            return _outside_cuts(spec, pairs, lab, comp)
        lead_comp = np.full(spec.m, -1)
        opened = np.unique(lab[lab >= 0])
        lead_comp[opened] = comp[spec.lead_unit[opened]]
        bad = (lab >= 0) & (comp != lead_comp[np.maximum(lab, 0)])
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        nrows = 0
        for c in np.unique(comp[bad]):  # loop over disconnected pieces (few), not units
            rr, cc, vv, k = _piece_cut(spec, pairs, lab, np.flatnonzero(comp == c))
            rows.append((rr + nrows, cc, vv))
            nrows += k
        if not nrows:
            return Cuts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0)
        return Cuts(*(np.concatenate(part) for part in zip(*rows, strict=True)), nrows)


def _piece_cut(
    spec: ModelSpec, pairs: Pairs, lab: np.ndarray, s_units: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Cut rows (local COO) of one disconnected piece ``s_units``: one row per unit of the piece."""
    adj, n = spec.graph, spec.n
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
        dmask @ adj @ dmask, spec.lead_unit[j], directed=False, return_predecessors=False
    )
    in_r = np.zeros(n, bool)
    in_r[reach] = True
    sep_min = sep[np.asarray(adj[sep][:, in_r].sum(axis=1)).ravel() > 0]
    sc = pairs.col[sep_min, j]
    sc = sc[sc >= 0]
    xs = pairs.col[s_units, j]
    k = s_units.size
    rr = np.concatenate([np.arange(k), np.repeat(np.arange(k), sc.size)])
    cc = np.concatenate([xs, np.tile(sc, k)])
    vv = np.concatenate([np.ones(k), -np.ones(k * sc.size)])
    return rr, cc, vv, k


def _outside_cuts(spec: ModelSpec, pairs: Pairs, lab: np.ndarray, comp: np.ndarray) -> Cuts:
    """Lead outside its grid: cuts for every piece of every grid in several pieces (root columns ``pairs.k + pair``).

    Rows ``x[i, j] - sum_{c in N(S)} x[c, j] - sum_{u in S} r[u, j] <= 0`` for every unit ``i`` of a piece ``S``.
    """
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    nrows = 0
    adj = spec.graph
    pieces_of: dict[int, list[np.ndarray]] = {}
    assigned = np.flatnonzero(lab >= 0)
    order = assigned[np.argsort(comp[assigned], kind="stable")]
    _, starts = np.unique(comp[order], return_index=True)
    for units in np.split(order, starts[1:]):  # one array per piece, vectorised grouping
        pieces_of.setdefault(int(lab[units[0]]), []).append(np.sort(units))
    for j, pieces in pieces_of.items():
        if len(pieces) < 2:
            continue
        for s_units in pieces:
            in_s = np.zeros(spec.n, bool)
            in_s[s_units] = True
            nb = np.unique(adj[s_units].indices)
            sep = nb[~in_s[nb]]
            sc = pairs.col[sep, j]
            sc = sc[sc >= 0]
            rs = pairs.k + pairs.col[s_units, j]
            # one row per unit, at most MAX_PIECE_ROWS units spread over the piece (each row holds all of S's roots)
            pick = s_units[np.unique(np.linspace(0, s_units.size - 1, min(s_units.size, MAX_PIECE_ROWS)).astype(int))]
            xs = pairs.col[pick, j]
            k = pick.size
            rr = np.concatenate([np.arange(k), np.repeat(np.arange(k), sc.size), np.repeat(np.arange(k), rs.size)])
            cc = np.concatenate([xs, np.tile(sc, k), np.tile(rs, k)])
            vv = np.concatenate([np.ones(k), -np.ones(k * sc.size), -np.ones(k * rs.size)])
            rows.append((rr + nrows, cc, vv))
            nrows += k
    if not nrows:
        return Cuts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0)
    return Cuts(*(np.concatenate(part) for part in zip(*rows, strict=True)), nrows)
