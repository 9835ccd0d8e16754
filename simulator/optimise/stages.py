"""Solve stages: one model solve, or the cut loop of a lazy contiguity family; a whole run of stages.

A *stage* builds one model (:func:`simulator.optimise.constraints.build`) and solves it with the call's
back-end: once, or, for a lazy family (``exact``), in a loop that adds the family's cuts until the
master plan is acceptable. A *run* (:func:`solve_all`) is the first incumbent of the family's cheaper
sibling (if any), the main stage, then the objective's own further stages (minmax tie-break).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .constraints import ModelBuild, build
from .contiguity import CONTIGUITY, ContiguityFamily
from .milp import Milp
from .objectives import Objective, Terms
from .pairs import Pairs, make_pairs
from .repair_start import fix_plan
from .result import AssignmentResult, Note
from .solvers import SolveOutcome, SolverBackend
from .spec import ModelSpec


@dataclass
class Context:
    """What stays fixed during one optimiser call.

    Attributes
    ----------
    spec : ModelSpec
    family : ContiguityFamily
        Contiguity family of this run (the warm-start run uses a cheaper one).
    objective : Objective
    backend : SolverBackend
    gap : float
        Relative MIP gap (fraction).
    notes : list of str
        Where notes of this run go.
    dist, pred : np.ndarray or None
        (m, n) shortest-path minutes and tree parents from every lead (contiguous families).
    anchors : np.ndarray or None
        (m,) unit every plan of the run keeps in grid ``j`` (-1: none; repair's kept heavy units, locked units).
    """

    spec: ModelSpec
    family: ContiguityFamily
    objective: Objective
    backend: SolverBackend
    gap: float
    notes: list[str]
    dist: np.ndarray | None = None
    pred: np.ndarray | None = None
    #: (m,) unit that every plan the run must keep puts in grid ``j`` (-1: none): the grid's fixed root
    anchors: np.ndarray | None = None


@dataclass
class StageOut:
    """Outcome of one stage; ``bound`` and ``obj`` are of the solver objective incl. its constant (minimisation)."""

    lab: np.ndarray | None
    status: str
    bound: float | None
    obj: float | None
    size: dict[str, int]
    build_s: float
    solve_s: float
    iterations: int = 1
    cuts: int = 0
    solver: str = ""


@dataclass
class RunOut:
    """Outcome of :func:`solve_all` (``bound`` already in the objective's units)."""

    lab: np.ndarray | None
    status: str
    bound: float | None
    size: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    solver: str = ""


def labels(pairs: Pairs, n: int, values: np.ndarray) -> np.ndarray:
    """(n,) candidate of every unit from column values (-1 where no x column is set)."""
    sel = values[: pairs.k] > 0.5
    lab = np.full(n, -1, np.int64)
    lab[pairs.i[sel]] = pairs.j[sel]
    return lab


def x_start(pairs: Pairs, lab: np.ndarray, ncols: int, extra: dict[int, float] | None = None) -> np.ndarray:
    """Full column vector of plan ``lab`` (x columns, plus ``extra`` values of other columns)."""
    start = np.zeros(ncols)
    c = pairs.col[np.arange(lab.size), lab]
    start[c[c >= 0]] = 1.0
    for k, v in (extra or {}).items():
        start[k] = v
    return start


def _solve(ctx: Context, mp: Milp, deadline: float, start: np.ndarray | None) -> SolveOutcome:
    out = ctx.backend.solve(mp, deadline - time.perf_counter(), ctx.gap, start)
    for note in out.notes:
        if note not in ctx.notes:
            ctx.notes.append(note)
    return out


def _plus(value: float | None, const: float) -> float | None:
    return None if value is None else value + const


def solve_stage(
    ctx: Context,
    pairs: Pairs,
    objective: Objective,
    terms: Terms,
    deadline: float,
    start: np.ndarray | None = None,
    incumbent: tuple[np.ndarray, float] | None = None,
    family: ContiguityFamily | None = None,
) -> StageOut:
    """Build and solve one stage; lazy families run their cut loop.

    Parameters
    ----------
    ctx : Context
    pairs : Pairs
        Columns of this stage.
    objective, terms : the stage's objective and its coefficients
    deadline : float
        ``time.perf_counter()`` value by which the stage should end (seconds).
    start : np.ndarray, optional
        (n,) plan to warm-start with.
    incumbent : tuple, optional
        A contiguous ``(plan, solver objective)`` (lazy families only).
    family : ContiguityFamily, optional
        Family of this stage; default ``ctx.family``.
    """
    family = family or ctx.family
    t0 = time.perf_counter()
    b = build(ctx.spec, pairs, family, objective, terms)
    if family.admits_contiguous:  # fast's roots must be each grid's first unit in its order: no anchors there
        b.anchor_roots(ctx.anchors)
    build_s = time.perf_counter() - t0

    def warm(lab: np.ndarray | None) -> np.ndarray | None:
        if lab is None:
            return None
        return x_start(pairs, lab, b.mp.ncols, b.start_values(lab) | objective.start_values(ctx.spec, lab, b.groups))

    if family.lazy:
        if incumbent is None:
            incumbent = _start_incumbent(ctx, b, warm, start)
        return _cut_loop(ctx, b, family, warm, deadline, start, incumbent, build_s)
    out = _solve(ctx, b.mp, deadline, warm(start))
    lab = labels(pairs, ctx.spec.n, out.values) if out.values is not None else None
    const = b.mp.obj_const
    return StageOut(
        lab,
        out.status,
        _plus(out.bound, const),
        _plus(out.objective, const),
        b.mp.size(),
        build_s + out.setup_s,
        out.solve_s,
        solver=ctx.backend.name,
    )


def _start_incumbent(
    ctx: Context, b: ModelBuild, warm: Callable[[np.ndarray | None], np.ndarray | None], start: np.ndarray | None
) -> tuple[np.ndarray, float] | None:
    """The warm start as the cut loop's incumbent when it is contiguous and meets every row and bound of the model."""
    if start is None or not ctx.spec.is_contiguous(start):
        return None
    values = warm(start)
    if values is None or not b.mp.satisfied_by(values):
        return None
    return start, float(b.mp.columns()[2] @ values) + b.mp.obj_const


def _fixed_master(
    ctx: Context,
    b: ModelBuild,
    warm: Callable[[np.ndarray | None], np.ndarray | None],
    lab: np.ndarray,
    inc_lab: np.ndarray | None,
    inc_obj: float,
) -> tuple[np.ndarray | None, float]:
    """The incumbent, or the disconnected master plan made feasible (:func:`.repair_start.fix_plan`) if better.

    A primal heuristic for objectives that start from a plan (repair): the master's plan is near the optimum but in
    pieces; keeping each grid's main piece and regrowing the rest gives a feasible plan, checked against the model's
    rows before it becomes the incumbent."""
    fixed = fix_plan(ctx.spec, lab, ctx.anchors)
    if fixed is None:
        return inc_lab, inc_obj
    cand = _start_incumbent(ctx, b, warm, fixed)
    if cand is not None and (inc_lab is None or cand[1] < inc_obj - 1e-9 * max(1.0, abs(inc_obj))):
        return cand
    return inc_lab, inc_obj


def _timed_out(inc_lab: np.ndarray | None) -> str:
    return "time_limit_feasible" if inc_lab is not None else "time_limit_no_solution"


def _cut_loop(
    ctx: Context,
    b: ModelBuild,
    family: ContiguityFamily,
    warm: Callable[[np.ndarray | None], np.ndarray | None],
    deadline: float,
    start: np.ndarray | None,
    incumbent: tuple[np.ndarray, float] | None,
    build_s: float,
) -> StageOut:
    """Solve the master, separate, add cuts, repeat until the master plan needs no cut or time is up."""
    mp, spec = b.mp, ctx.spec
    inc_lab, inc_obj = incumbent if incumbent is not None else (None, math.inf)
    iterations = cuts = 0
    solve_s = 0.0
    bound = None
    while True:
        iterations += 1
        out = _solve(ctx, mp, deadline, warm(inc_lab if inc_lab is not None else start))
        solve_s += out.solve_s
        build_s += out.setup_s
        if out.status == "infeasible":
            inc_lab, status = None, "infeasible"
            break
        if out.bound is not None:  # every master relaxes the problem: keep the best bound (a master stopped by
            new = out.bound + mp.obj_const  # the time limit reports a weaker one than the round before)
            bound = new if bound is None else max(bound, new)
        if out.values is None:
            status = _timed_out(inc_lab)
            break
        lab = labels(b.pairs, spec.n, out.values)
        obj = out.objective + mp.obj_const
        t1 = time.perf_counter()
        cut = family.separate(spec, b.pairs, lab)
        if cut.count and ctx.objective.start_first:
            inc_lab, inc_obj = _fixed_master(ctx, b, warm, lab, inc_lab, inc_obj)
        if cut.count == 0:
            if inc_lab is None or obj <= inc_obj + 1e-9 * max(1.0, abs(obj)):
                inc_lab, inc_obj = lab, obj
            status = "optimal" if out.status == "optimal" else "time_limit_feasible"
            break
        if _incumbent_proven(inc_lab, inc_obj, bound, ctx.gap):
            status = "optimal"
            ctx.notes.append(
                Note(
                    "bound_meets_incumbent",
                    f"{family.name}: master bound reached the contiguous incumbent after {iterations} rounds",
                    rounds=iterations,
                )
            )
            break
        if out.status != "optimal" or time.perf_counter() >= deadline:
            status = _timed_out(inc_lab)
            break
        mp.add_rows(cut.row, cut.col, cut.val, -1, 0.0, cut.count)
        cuts += cut.count
        build_s += time.perf_counter() - t1
    return StageOut(
        inc_lab,
        status,
        bound,
        inc_obj if inc_lab is not None else None,
        mp.size(),
        build_s,
        solve_s,
        iterations,
        cuts,
        ctx.backend.name,
    )


def _incumbent_proven(inc_lab: np.ndarray | None, inc_obj: float, bound: float | None, gap: float) -> bool:
    """The master's bound is within ``gap`` of the incumbent: no further round can improve enough."""
    return inc_lab is not None and bound is not None and inc_obj - bound <= gap * max(abs(inc_obj), 1e-9)


def _usable(ctx: Context, allowed: np.ndarray, pairs: Pairs) -> bool:
    """False (with a note) when a unit has no usable candidate or a must-open candidate cannot open."""
    missing = np.flatnonzero(~allowed.any(axis=1))
    if missing.size:
        ctx.notes.append(
            Note(
                "units_unreachable",
                f"units without any usable candidate (unreachable or infinite cost): "
                f"{missing[:20].tolist()}{' ...' if missing.size > 20 else ''}",
                units=missing.tolist(),
            )
        )
        return False
    blocked = np.flatnonzero(ctx.spec.must_open & ~pairs.opens)
    if blocked.size:
        ctx.notes.append(
            Note(
                "must_open_blocked",
                f"must_open candidates that cannot open (no usable unit"
                f"{' for their own unit' if ctx.spec.lead_inside else ''}): {blocked.tolist()}",
                candidates=blocked.tolist(),
            )
        )
        return False
    return True


def _first_incumbent(
    ctx: Context, pairs: Pairs, terms: Terms, deadline: float, warm: np.ndarray | None, timings: dict
) -> tuple[np.ndarray, float] | None:
    """Plan of the family's cheaper sibling (within a third of the time left), if it is contiguous."""
    cheap = ctx.family.incumbent_from
    if cheap is None:
        return None
    budget = deadline - time.perf_counter()
    pre = solve_stage(
        ctx, pairs, ctx.objective, terms, time.perf_counter() + budget / 3, start=warm, family=CONTIGUITY[cheap]
    )
    timings[f"{cheap}_incumbent_s"] = pre.build_s + pre.solve_s
    timings["build_s"] += pre.build_s
    timings["solve_s"] += pre.solve_s
    if pre.lab is not None and pre.obj is not None and ctx.spec.is_contiguous(pre.lab):
        return pre.lab, pre.obj
    ctx.notes.append(
        Note(
            "no_incumbent",
            f"{ctx.family.name}: no {cheap}-mode incumbent ({pre.status})",
            family=cheap,
            status=pre.status,
        )
    )
    return None


def solve_all(ctx: Context, allowed: np.ndarray, deadline: float, warm: np.ndarray | None = None) -> RunOut:
    """Solve the model over the ``allowed`` pairs: first incumbent, main stage, the objective's further stages.

    Parameters
    ----------
    ctx : Context
    allowed : np.ndarray
        (n, m) bool usable pairs (pruned here for ``ctx.family``).
    deadline : float
        ``time.perf_counter()`` value by which to finish (seconds).
    warm : np.ndarray, optional
        (n,) plan feasible for this model, used as MIP start.
    """
    spec = ctx.spec
    pairs = make_pairs(allowed, spec, ctx.dist, ctx.pred, ctx.family)
    timings: dict[str, float] = {"build_s": 0.0, "solve_s": 0.0, "iterations": 0, "cuts": 0}
    if not _usable(ctx, allowed, pairs):
        return RunOut(None, "infeasible", None, {}, timings, "")
    terms = ctx.objective.terms(spec, pairs)
    used: list[str] = [""]

    def account(o: StageOut) -> None:
        timings["build_s"] += o.build_s
        timings["solve_s"] += o.solve_s
        timings["iterations"] += o.iterations
        timings["cuts"] += o.cuts
        used[0] = o.solver

    incumbent = None
    if not (ctx.objective.start_first and warm is not None and spec.is_contiguous(warm)):
        incumbent = _first_incumbent(ctx, pairs, terms, deadline, warm, timings)
    out = solve_stage(ctx, pairs, ctx.objective, terms, deadline, start=warm, incumbent=incumbent)
    account(out)
    bound = ctx.objective.user_bound(spec, pairs, terms, out.bound)
    lab, status = ctx.objective.refine(ctx, allowed, out, deadline, account)
    return RunOut(lab, status, bound, out.size, timings, used[0])


def to_result(ctx: Context, run: RunOut) -> AssignmentResult:
    """The public result of a run: objective recomputed from the plan, bound clamped to it, gap."""
    spec, goal = ctx.spec, ctx.objective
    if run.lab is None or (run.lab < 0).any():
        return AssignmentResult(
            np.full(spec.n, -1, np.int64),
            np.zeros(0, np.int64),
            run.status,
            math.nan,
            run.bound,
            None,
            ctx.family.name,
            run.solver,
            run.size,
            run.timings,
            ctx.notes,
            goal.name,
        )
    obj = goal.value(spec, run.lab)
    opened = np.unique(run.lab)
    away = opened[run.lab[spec.lead_unit[opened]] != opened]
    if away.size:
        ctx.notes.append(
            Note(
                "leads_outside_grid",
                f"{away.size} lead(s) stand outside their own grid (candidates {away.tolist()}); residents' travel "
                "is still measured to the lead",
                candidates=away.tolist(),
            )
        )
    wt = float((spec.population * spec.cost[np.arange(spec.n), run.lab]).sum())
    gap = None
    bound = run.bound
    if bound is not None:
        bound = max(bound, obj) if goal.maximise else min(bound, obj)
        gap = abs(obj - bound) / max(abs(obj), 1e-9)
    return AssignmentResult(
        run.lab,
        opened,
        run.status,
        obj,
        bound,
        gap,
        ctx.family.name,
        run.solver,
        run.size,
        run.timings,
        ctx.notes,
        goal.name,
        wt,
    )
