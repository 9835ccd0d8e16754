"""A sparse MILP as plain arrays: columns and COO rows, appended in blocks; solver back-ends translate it."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class Milp:
    """Column/row arrays of a minimisation MILP; rows are ``sum a x (<=|>=|==) rhs``.

    Attributes
    ----------
    obj_const : float
        Constant added to the objective (not passed to the solver; stages add it back).
    abs_gap : float or None
        When set, solve to this absolute gap (objective units) instead of the relative gap: objectives
        offset by ``obj_const`` would otherwise measure a relative gap against the wrong number.
    """

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
        self.abs_gap: float | None = None

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
        """Lower bounds, upper bounds, objective coefficients and integrality of every column."""
        cat = np.concatenate
        return cat(self.lb), cat(self.ub), cat(self.obj), cat(self.integer)

    def matrix(self, start_row: int = 0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """CSR of rows ``start_row..nrows`` (duplicates summed), senses and right-hand sides."""
        r = np.concatenate(self.r) if self.r else np.zeros(0, np.int64)
        c = np.concatenate(self.c) if self.c else np.zeros(0, np.int64)
        v = np.concatenate(self.v) if self.v else np.zeros(0)
        keep = r >= start_row
        a = sp.csr_matrix((v[keep], (r[keep] - start_row, c[keep])), shape=(self.nrows - start_row, self.ncols))
        a.sum_duplicates()
        a.eliminate_zeros()
        sense = np.concatenate(self.sense)[start_row:] if self.sense else np.zeros(0, np.int8)
        rhs = np.concatenate(self.rhs)[start_row:] if self.rhs else np.zeros(0)
        return a, sense, rhs

    def raise_lower(self, cols: np.ndarray, value: float) -> None:
        """Set the lower bound of columns ``cols`` to at least ``value``."""
        cols = np.asarray(cols, np.int64)
        start = 0
        for block in self.lb:
            sel = cols[(cols >= start) & (cols < start + block.size)] - start
            block[sel] = np.maximum(block[sel], value)
            start += block.size

    def satisfied_by(self, values: np.ndarray, tol: float = 1e-6) -> bool:
        """True when the column vector ``values`` meets every column bound, integrality and row (within ``tol``)."""
        lb, ub, _, integer = self.columns()
        v = np.asarray(values, float)
        if v.shape != (self.ncols,) or (v < lb - tol).any() or (v > ub + tol).any():
            return False
        if (np.abs(v[integer] - np.round(v[integer])) > tol).any():
            return False
        a, sense, rhs = self.matrix()
        lhs = a @ v
        scale = tol * np.maximum(1.0, np.abs(rhs))
        bad = ((sense <= 0) & (lhs > rhs + scale)) | ((sense >= 0) & (lhs < rhs - scale))
        return not bad.any()

    def names(self) -> list[str]:
        """Column names: block prefix, block number, position (stable across back-ends)."""
        out: list[str] = []
        for k, (p, count) in enumerate(self.prefix):
            out.extend(f"{p}{k:02d}_{t:08d}" for t in range(count))
        return out

    def size(self) -> dict[str, int]:
        """``variables``, ``constraints`` and ``nonzeros`` of the model."""
        a, _, _ = self.matrix()
        return {"variables": self.ncols, "constraints": self.nrows, "nonzeros": int(a.nnz)}
