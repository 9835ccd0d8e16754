"""Solver back-ends behind one small interface: ``solve(milp, time_limit, gap, start) -> SolveOutcome``.

* :class:`HighsPulp` — HiGHS through PuLP's highspy interface, with a MIP start (``Highs.setSolution``)
  and a fixed random seed;
* :class:`CbcPulp` — CBC through PuLP (the fallback when highspy is missing);
* :class:`StartGuard` — wraps any back-end and checks every answer to a warm-started solve.

HiGHS 1.16 defect: with a MIP start, HiGHS occasionally reports an objective that does not belong to the
returned columns (which are then just the start). The default HiGHS back-end is therefore wrapped in a
:class:`StartGuard`: the objective is recomputed from the columns and, if inconsistent, the model is
re-solved without the start (a note says so).

A back-end that fails (an exception inside the solver library, no solver installed) raises
:class:`simulator.errors.SolverError`. :data:`SOLVERS` maps names to factories; a caller may also pass any
object with ``name`` and ``solve`` (:class:`SolverBackend`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pulp

from ..errors import SolverError
from .milp import Milp
from .result import Note


@dataclass
class SolveOutcome:
    """Answer of one solve of a :class:`~simulator.optimise.milp.Milp` (minimisation, without ``obj_const``).

    Attributes
    ----------
    status : str
        ``"optimal"``, ``"infeasible"``, ``"unbounded"``, ``"time_limit_feasible"``,
        ``"time_limit_no_solution"`` or ``"error"``.
    values : np.ndarray or None
        (ncols,) column values, ``None`` without a solution.
    objective : float or None
        Objective the solver reports for ``values``.
    bound : float or None
        Proven dual bound, if the solver reports one.
    solve_s : float
        Seconds spent solving.
    setup_s : float
        Seconds spent translating the model for the solver library.
    notes : tuple of Note
        Events worth telling the caller (e.g. the start guard fired).
    """

    status: str
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    solve_s: float
    setup_s: float = 0.0
    notes: tuple[Note, ...] = ()


@runtime_checkable
class SolverBackend(Protocol):
    """What the optimiser needs from a solver.

    ``solve`` may be called again on the same :class:`Milp` after rows were appended (the exact cut loop);
    ``start`` is a full column vector (a feasible plan) or ``None``.
    """

    name: str

    def solve(self, milp: Milp, time_limit: float, gap: float, start: np.ndarray | None) -> SolveOutcome:
        """Solve ``milp`` within ``time_limit`` seconds to relative ``gap`` (or ``milp.abs_gap``)."""
        ...


# --------------------------------------------------------------------------------------------
# PuLP mirror of a Milp (shared by the PuLP back-ends)
# --------------------------------------------------------------------------------------------
class _PulpMirror:
    """A PuLP problem mirroring a :class:`Milp`; rows added to the Milp later are appended on :meth:`sync`."""

    def __init__(self, milp: Milp) -> None:
        self.milp = milp
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
        self.sync()

    def sync(self) -> None:
        """Push rows added to the :class:`Milp` since the last call into the PuLP problem."""
        if self.rows_in_prob == self.milp.nrows:
            return
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


class _PulpBackend:
    """Keeps the PuLP mirror of the model last solved, so a cut loop only appends its new rows."""

    name = ""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._mirror: _PulpMirror | None = None

    def _mirror_of(self, milp: Milp) -> _PulpMirror:
        if self._mirror is None or self._mirror.milp is not milp:
            self._mirror = _PulpMirror(milp)
        else:
            self._mirror.sync()
        return self._mirror

    @staticmethod
    def _gaps(gap: float, milp: Milp) -> dict[str, float]:
        return {"gapRel": gap} if milp.abs_gap is None else {"gapRel": 1e-9, "gapAbs": milp.abs_gap}

    def _run(self, mirror: _PulpMirror, solver: Any) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PuLP 3.3 deprecations; the solver's own chatter is off
                mirror.prob.solve(solver)
        except Exception as exc:  # noqa: BLE001 - any failure inside the solver library becomes one clear error
            raise SolverError(f"the {self.name} solver failed: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------------------
# HiGHS
# --------------------------------------------------------------------------------------------
#: threads of this process's HiGHS scheduler (0 = HiGHS's default; None before the first solve)
_SCHEDULER_THREADS: list[int | None] = [None]


def match_thread_pool(threads: int | None) -> None:
    """Restart HiGHS's thread scheduler when a solve asks for another thread count than the previous one.

    HiGHS starts one global scheduler per process at its first solve; a later solve asking for fewer threads stops
    with status 'error'. caregrid solves one model at a time per process, so restarting between solves is safe: e.g.
    ensemble draws with one thread in this process (``--workers 1``) after a solve with the scenario's threads.
    """
    want = int(threads) if threads else 0
    if _SCHEDULER_THREADS[0] is not None and _SCHEDULER_THREADS[0] != want:
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    _SCHEDULER_THREADS[0] = want


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
        match_thread_pool(self.threads)
        h.run()


def _highs_status(model_status: str, has_sol: bool) -> str:
    """Map a HiGHS model status string (lower case) to the optimiser's status words."""
    for word, status in (("optimal", "optimal"), ("infeasible", "infeasible"), ("unbounded", "unbounded")):
        if word in model_status:
            return status
    if any(w in model_status for w in ("time limit", "interrupt", "iteration")):
        return "time_limit_feasible" if has_sol else "time_limit_no_solution"
    return "optimal" if has_sol and "bound" in model_status else "error"


class HighsPulp(_PulpBackend):
    """HiGHS through PuLP (highspy), with MIP start and fixed seed. Wrap in :class:`StartGuard` (the default)."""

    name = "HiGHS"

    @staticmethod
    def available() -> bool:
        """True when PuLP can reach highspy."""
        try:
            return bool(pulp.HiGHS(msg=False).available())
        except Exception:  # noqa: BLE001  # pragma: no cover - depends on installation
            return False

    def solve(self, milp: Milp, time_limit: float, gap: float, start: np.ndarray | None) -> SolveOutcome:
        """Solve ``milp``; ``start`` becomes a MIP start."""
        t0 = time.perf_counter()
        mirror = self._mirror_of(milp)
        t1 = time.perf_counter()
        warm = None if start is None else {mirror.vars[k]: float(val) for k, val in enumerate(start.tolist())}
        tl = max(float(time_limit), 0.5)
        self._run(
            mirror, _WarmHiGHS(start=warm, msg=False, timeLimit=tl, threads=self.threads, **self._gaps(gap, milp))
        )
        h = mirror.prob.solverModel
        info = h.getInfo()
        has_sol = info.primal_solution_status >= 2
        idx = np.fromiter((var.index for var in mirror.vars), dtype=np.int64, count=len(mirror.vars))
        values = np.asarray(h.getSolution().col_value, float)[idx] if has_sol else None
        return SolveOutcome(
            status=_highs_status(h.modelStatusToString(h.getModelStatus()).lower(), has_sol),
            values=values,
            objective=float(info.objective_function_value) if has_sol else None,
            bound=float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None,
            solve_s=time.perf_counter() - t1,
            setup_s=t1 - t0,
        )


class HighsArrays:
    """HiGHS through highspy, handed the model's arrays: built once, cut rows appended in place.

    PuLP rebuilds its HiGHS model variable by variable and row by row at every solve (seconds at 30,000 units, again
    at every round of a cut loop). This back-end passes the CSR arrays of the :class:`Milp` in one call
    (``Highs.passModel``), and on a later solve of the same model appends only the rows added since
    (``Highs.addRows``) and updates changed column bounds. Same options as :class:`HighsPulp` (fixed seed, gap, time
    limit, threads, MIP start); wrap it in :class:`StartGuard` (the default).
    """

    name = "HiGHS"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._h: Any = None
        self._milp: Milp | None = None
        self._rows = 0
        self._lb = self._ub = self._obj = np.zeros(0)

    @staticmethod
    def available() -> bool:
        """True when highspy can be imported."""
        try:
            import highspy  # noqa: F401
        except ImportError:  # pragma: no cover - depends on installation
            return False
        return True

    @staticmethod
    def _row_bounds(sense: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lower = np.where(sense >= 0, rhs, -np.inf)
        upper = np.where(sense <= 0, rhs, np.inf)
        return lower, upper

    def _build(self, milp: Milp) -> None:
        import highspy

        lb, ub, obj, integer = milp.columns()
        a, sense, rhs = milp.matrix()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = milp.ncols, milp.nrows
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = obj, lb, ub
        lp.row_lower_, lp.row_upper_ = self._row_bounds(sense, rhs)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = milp.ncols, milp.nrows
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 0)
        if self.threads:
            h.setOptionValue("threads", int(self.threads))
        h.passModel(lp)
        self._h, self._milp, self._rows, self._lb, self._ub, self._obj = h, milp, milp.nrows, lb, ub, obj

    def _sync(self, milp: Milp) -> None:
        """Append the rows added since the last solve; push changed column bounds and costs (a second stage)."""
        h = self._h
        if milp.nrows > self._rows:
            a, sense, rhs = milp.matrix(self._rows)
            lower, upper = self._row_bounds(sense, rhs)
            h.addRows(a.shape[0], lower, upper, a.nnz, a.indptr[:-1], a.indices, a.data)
            self._rows = milp.nrows
        lb, ub, obj, _ = milp.columns()
        changed = np.flatnonzero((lb != self._lb) | (ub != self._ub))
        if changed.size:
            h.changeColsBounds(int(changed.size), changed.astype(np.int32), lb[changed], ub[changed])
        recost = np.flatnonzero(obj != self._obj)
        if recost.size:
            h.changeColsCost(int(recost.size), recost.astype(np.int32), obj[recost])
        self._lb, self._ub, self._obj = lb, ub, obj

    def solve(self, milp: Milp, time_limit: float, gap: float, start: np.ndarray | None) -> SolveOutcome:
        """Solve ``milp``; ``start`` becomes a MIP start."""
        t0 = time.perf_counter()
        try:
            if self._h is None or self._milp is not milp or self._h.getNumCol() != milp.ncols:
                self._build(milp)
            else:
                self._sync(milp)
            h = self._h
            h.setOptionValue("time_limit", max(float(time_limit), 0.5))
            h.setOptionValue("mip_rel_gap", float(gap) if milp.abs_gap is None else 1e-9)
            h.setOptionValue("mip_abs_gap", 1e-6 if milp.abs_gap is None else float(milp.abs_gap))
            # a kept model also keeps its last solution, which HiGHS would take as a MIP start: forget it, so a solve
            # "without the start" (StartGuard) is one, and each solve starts only from what it is given
            h.clearSolver()
            if start is not None:
                idx = np.arange(milp.ncols, dtype=np.int32)
                h.setSolution(int(idx.size), idx, np.asarray(start, float))
            t1 = time.perf_counter()
            match_thread_pool(self.threads)
            h.run()
        except Exception as exc:  # noqa: BLE001 - any failure inside the solver library becomes one clear error
            raise SolverError(f"the {self.name} solver failed: {type(exc).__name__}: {exc}") from exc
        info = h.getInfo()
        has_sol = info.primal_solution_status >= 2
        return SolveOutcome(
            status=_highs_status(h.modelStatusToString(h.getModelStatus()).lower(), has_sol),
            values=np.asarray(h.getSolution().col_value, float) if has_sol else None,
            objective=float(info.objective_function_value) if has_sol else None,
            bound=float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None,
            solve_s=time.perf_counter() - t1,
            setup_s=t1 - t0,
        )


# --------------------------------------------------------------------------------------------
# CBC
# --------------------------------------------------------------------------------------------
class CbcPulp(_PulpBackend):
    """CBC through PuLP (no dual bound unless optimal)."""

    name = "PULP_CBC_CMD"

    @staticmethod
    def available() -> bool:
        """True when PuLP finds its CBC binary."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return bool(pulp.PULP_CBC_CMD(msg=False).available())

    def solve(self, milp: Milp, time_limit: float, gap: float, start: np.ndarray | None) -> SolveOutcome:
        """Solve ``milp``; ``start`` becomes CBC's warm start."""
        t0 = time.perf_counter()
        mirror = self._mirror_of(milp)
        t1 = time.perf_counter()
        if start is not None:
            for var, val in zip(mirror.vars, start.tolist(), strict=True):
                var.setInitialValue(val)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3.3 deprecates PULP_CBC_CMD
            solver = pulp.PULP_CBC_CMD(
                msg=False,
                timeLimit=max(float(time_limit), 0.5),
                threads=self.threads,
                warmStart=start is not None,
                **self._gaps(gap, milp),
            )
        self._run(mirror, solver)
        prob = mirror.prob
        has_sol = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        status = _cbc_status(prob.status, prob.sol_status, has_sol)
        obj = pulp.value(prob.objective) if has_sol else None
        return SolveOutcome(
            status=status,
            values=np.array([var.varValue or 0.0 for var in mirror.vars]) if has_sol else None,
            objective=obj,
            bound=obj if status == "optimal" else None,
            solve_s=time.perf_counter() - t1,
            setup_s=t1 - t0,
        )


def _cbc_status(status: int, sol_status: int, has_sol: bool) -> str:
    if status == pulp.LpStatusOptimal and sol_status == pulp.LpSolutionOptimal:
        return "optimal"
    if status == pulp.LpStatusInfeasible:
        return "infeasible"
    if status == pulp.LpStatusUnbounded:
        return "unbounded"
    return "time_limit_feasible" if has_sol else "time_limit_no_solution"


# --------------------------------------------------------------------------------------------
# Start guard
# --------------------------------------------------------------------------------------------
class StartGuard:
    """Check answers to warm-started solves; re-solve without the start when the objective does not check out.

    The reported objective must equal ``c @ values`` (relative tolerance 1e-6). If it does not, the
    columns cannot be trusted to be the solver's best point, so the model is solved again without the
    start, in the time left, and the outcome carries a ``start_guard`` note.

    Parameters
    ----------
    inner : SolverBackend
        The back-end to guard.
    """

    def __init__(self, inner: SolverBackend) -> None:
        self.inner = inner
        self.name = inner.name

    def solve(self, milp: Milp, time_limit: float, gap: float, start: np.ndarray | None) -> SolveOutcome:
        """Solve through the inner back-end; re-solve without ``start`` if its answer is inconsistent."""
        t0 = time.perf_counter()
        out = self.inner.solve(milp, time_limit, gap, start)
        if start is None or out.values is None or out.objective is None:
            return out
        recomputed = float(milp.columns()[2] @ out.values)
        if abs(recomputed - out.objective) <= 1e-6 * max(1.0, abs(out.objective)):
            return out
        again = self.inner.solve(milp, time_limit - (time.perf_counter() - t0), gap, None)
        again.solve_s += out.solve_s
        again.setup_s += out.setup_s
        again.notes = (
            *out.notes,
            Note(
                "start_guard",
                f"{self.name} returned an inconsistent MIP-start solution: re-solved without the start",
                reported=out.objective,
                recomputed=recomputed,
            ),
            *again.notes,
        )
        return again


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
def _cbc(threads: int | None, notes: list[str]) -> SolverBackend:
    if not CbcPulp.available():
        raise SolverError("neither HiGHS (highspy) nor CBC is available to PuLP")
    return CbcPulp(threads)


def _highs(threads: int | None, notes: list[str]) -> SolverBackend:
    if not HighsArrays.available():
        notes.append(Note("solver_fallback", "HiGHS (highspy) not available: fell back to CBC", wanted="highs"))
        return _cbc(threads, notes)
    return StartGuard(HighsArrays(threads))


def _highs_pulp(threads: int | None, notes: list[str]) -> SolverBackend:
    if not HighsPulp.available():
        notes.append(Note("solver_fallback", "HiGHS (highspy) not available to PuLP: fell back to CBC", wanted="highs"))
        return _cbc(threads, notes)
    return StartGuard(HighsPulp(threads))


#: Solver back-end factories by name: ``factory(threads, notes) -> SolverBackend`` (notes: where to record fallbacks).
#: ``highs`` hands HiGHS the model's arrays; ``highs_pulp`` goes through PuLP's model objects (the reference path,
#: slower to build); ``cbc`` is CBC through PuLP.
SOLVERS: dict[str, Callable[[int | None, list[str]], SolverBackend]] = {
    "highs": _highs,
    "highs_pulp": _highs_pulp,
    "cbc": _cbc,
}


def make_backend(solver: str | SolverBackend, threads: int | None, notes: list[str]) -> SolverBackend:
    """The back-end object for ``solver``: a registered name (case-insensitive) or a back-end passed through."""
    if not isinstance(solver, str):
        return solver
    try:
        factory = SOLVERS[solver.lower()]
    except KeyError:
        raise ValueError(f"solver must be one of {tuple(SOLVERS)} or a SolverBackend, got {solver!r}") from None
    return factory(threads, notes)
