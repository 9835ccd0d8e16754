"""Graph facts of a labelling of planning units: the one place that counts the connected pieces of each grid."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph


def grid_component_labels(unit_grid: np.ndarray, adjacency: sp.spmatrix) -> np.ndarray:
    """Component id (n,) of every unit in the graph that keeps only edges joining two units of the same grid.

    Parameters
    ----------
    unit_grid : np.ndarray
        (n,) grid label of every unit (any comparable dtype). For integer labels a negative value means
        "unassigned": such units keep no edges.
    adjacency : scipy.sparse matrix
        (n, n) unit adjacency; any stored nonzero is a shared edge.
    """
    unit_grid = np.asarray(unit_grid)
    a = sp.coo_matrix(adjacency)
    keep = unit_grid[a.row] == unit_grid[a.col]
    if np.issubdtype(unit_grid.dtype, np.integer):
        keep &= unit_grid[a.row] >= 0
    n = unit_grid.shape[0]
    g = sp.csr_matrix((np.ones(int(keep.sum())), (a.row[keep], a.col[keep])), shape=(n, n))
    return csgraph.connected_components(g, directed=False)[1]


def components_per_grid(unit_grid: np.ndarray, adjacency: sp.spmatrix) -> dict:
    """Number of connected pieces of every grid; a contiguous plan has 1 everywhere.

    Parameters
    ----------
    unit_grid : np.ndarray
        (n,) grid label of every unit; negative integer labels are unassigned and ignored.
    adjacency : scipy.sparse matrix
        (n, n) symmetric unit adjacency.

    Returns
    -------
    dict
        ``{grid label: number of connected components}`` (labels as Python ``int`` or ``str``).
    """
    unit_grid = np.asarray(unit_grid)
    comp = grid_component_labels(unit_grid, adjacency)
    ok = unit_grid >= 0 if np.issubdtype(unit_grid.dtype, np.integer) else np.ones(len(unit_grid), dtype=bool)
    labels, inverse = np.unique(unit_grid[ok], return_inverse=True)
    pairs = np.unique(np.stack([inverse, comp[ok]], axis=1), axis=0)
    counts = np.bincount(pairs[:, 0], minlength=len(labels))
    return {lab.item(): int(c) for lab, c in zip(labels, counts, strict=True)}
