"""Graph helpers of the optimiser: the unit graph, shortest paths from the leads, arc lists, contiguity checks.

Counting the pieces of each grid is done in one place, :mod:`simulator.units.graph`; this module only adapts it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..units.graph import components_per_grid


def unit_graph(adjacency: sp.spmatrix, n: int) -> sp.csr_matrix:
    """Symmetric float CSR adjacency with positive edge minutes and no diagonal.

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        (n, n); nonzero data = minutes between neighbouring units. Boolean adjacency (or any
        non-positive or non-finite data) gets weight 1, i.e. hop counts.
    n : int
        Number of planning units.
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


def is_contiguous(lab: np.ndarray, graph: sp.csr_matrix, lead_unit: np.ndarray, lead_inside: bool = True) -> bool:
    """True when every unit is assigned, every grid is one piece, and (``lead_inside``) each grid holds its lead's unit.

    With ``lead_inside=False`` a lead may stand outside its grid (see :attr:`ModelSpec.lead_inside`).
    """
    if (lab < 0).any():
        return False
    counts = connected_components_per_grid(lab, graph)
    if any(v != 1 for v in counts.values()):
        return False
    if not lead_inside:
        return True
    opened = np.fromiter(counts.keys(), dtype=np.int64)
    return bool((lab[lead_unit[opened]] == opened).all())


def shortest_paths(graph: sp.csr_matrix, lead_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path minutes (m, n) and tree parents (m, n) from every lead unit (Dijkstra)."""
    uniq, inv = np.unique(lead_unit, return_inverse=True)
    d, p = csgraph.dijkstra(graph, directed=False, indices=uniq, return_predecessors=True)
    return d[inv], p[inv]


def directed_arcs(graph: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of every edge as (tail, head) unit arrays."""
    a = graph.tocoo()
    return a.row.astype(np.int64), a.col.astype(np.int64)


def arcs_per_candidate(graph: sp.csr_matrix, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every directed arc repeated for every candidate: (tail, head, candidate), vectorised over ``m``."""
    a, b = directed_arcs(graph)
    return np.tile(a, m), np.tile(b, m), np.repeat(np.arange(m), a.size)


def lead_rank(lead_unit: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(m, n) strict order position of units by (distance from lead, unit index); lead first."""
    m, n = dist.shape
    key = dist.copy()
    key[np.arange(m), lead_unit] = -1.0
    key[~np.isfinite(key)] = np.inf
    order = np.lexsort((np.broadcast_to(np.arange(n), (m, n)), key), axis=1)
    rank = np.empty((m, n), np.int64)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n), (m, n)), axis=1)
    return rank


def close_along_tree(allowed: np.ndarray, pred: np.ndarray, lead_unit: np.ndarray) -> np.ndarray:
    """Add the shortest-path-tree parent of every allowed (unit, candidate) pair until closed (vectorised sweeps)."""
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
