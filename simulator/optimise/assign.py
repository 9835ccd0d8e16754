"""The optimiser's entry point: :func:`assign_units_to_grids` (model reductions, warm start, fallbacks).

With ``p`` grids opened out of ``m`` candidates, a unit's nearest *open* lead is always among its
``m - p + 1`` nearest candidates, so ``candidate_k < m - n_grids_min + 1`` can cut units off from their
nearest open lead (a note says so); the benchmark shows k = 3 of 6 (3 grids) costing 0.35 %. If the
reduced model is infeasible (or has no solution within the time limit) the full model is solved (with
at least half the time limit again, so the call may exceed ``time_limit_s``) and a note says so.

Without ``candidate_k``, models with at least :data:`WARM_START_MIN_UNITS` units are warm-started: the
reduced model with ``k = max(WARM_START_K, m - n_grids_min + 1)`` (if ``k < m``) is solved first (at most
35 % of the budget, with the family's cheaper sibling) and its plan, feasible for the full model, is handed
to the solver as a MIP start (families with ``warm_start = False``, i.e. ``flow``, are left plain). On the
2-core benchmark this only pays off at ~20,000 units, where HiGHS otherwise finds no plan in 5 minutes.

Every reported objective is recomputed from the plan; the exact loop's result is always checked for
contiguity.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .contiguity import CONTIGUITY, ContiguityFamily, contiguity_family
from .graph import connected_components_per_grid, shortest_paths
from .lead_sets import assign_by_lead_sets, use_lead_sets
from .objectives import Objective, select_objective
from .pairs import allowed_mask
from .repair_start import anchor_units, plan_is_feasible, repair_start
from .result import AssignmentResult, Note
from .solvers import SolverBackend, make_backend
from .spec import ModelSpec
from .stages import Context, RunOut, solve_all, to_result
from .start import grow_plan

WARM_START_MIN_UNITS = 10_000  # full models at least this large are warm-started from a reduced model
WARM_START_K = 3


def assign_units_to_grids(
    spec: ModelSpec,
    *,
    contiguity: str | ContiguityFamily = "fast",
    objective: str | Objective = "weighted_time",
    solver: str | SolverBackend = "highs",
    time_limit_s: float = 60,
    gap: float = 1e-4,
    threads: int | None = None,
    lead_sets: str = "auto",
    inside_first: bool = True,
) -> AssignmentResult:
    """Assign every planning unit to exactly one grid led by an open candidate lead hospital.

    Parameters
    ----------
    spec : ModelSpec
        The instance: population, cost, adjacency, lead units, grid count and optional constraint families.
    contiguity : str or ContiguityFamily
        A key of :data:`simulator.optimise.CONTIGUITY` (``"fast"``, ``"exact"``, ``"flow"``, ``"none"``)
        or a family object.
    objective : str or Objective
        A key of :data:`simulator.optimise.OBJECTIVES`: ``weighted_time`` minimises resident-minutes;
        ``coverage`` maximises residents within ``spec.coverage_minutes`` of their lead (tie-break: weighted
        time); ``minmax`` minimises the largest travel minutes of any populated unit, then the weighted time.
        With ``spec.reference_assignment`` the objective is ``residents_moved`` (repair) whatever is asked.
    solver : str or SolverBackend
        A key of :data:`simulator.optimise.SOLVERS` (``"highs"`` falls back to CBC when highspy is
        missing; ``"cbc"``) or a back-end object.
    time_limit_s : float
        Wall-clock budget for the whole call (seconds).
    gap : float
        Relative MIP gap at which a solve stops (fraction).
    threads : int, optional
        Solver threads (back-ends made from a name).
    lead_sets : str
        ``"auto"`` solves one model per set of open leads when the sets are few and the instance is not tiny
        (:mod:`simulator.optimise.lead_sets`), ``"always"`` whenever there are sets, ``"never"`` one full model.
    inside_first : bool
        With leads allowed outside their grids (``spec.lead_inside`` false), first solve the cheaper model with every
        lead inside its grid and the model without contiguity: when the first plan's objective is within ``gap`` of
        the second's bound, it is proven for the outside reading too (it is feasible there, and dropping contiguity
        only relaxes); otherwise it warm-starts the outside model.

    Returns
    -------
    AssignmentResult

    Raises
    ------
    ValueError
        Unknown family, objective or solver name.
    simulator.errors.SolverError
        The solver back-end failed or none is installed.
    """
    deadline = time.perf_counter() + float(time_limit_s)
    family = contiguity_family(contiguity, spec.lead_inside)
    goal = select_objective(objective, spec)
    notes: list[str] = [n for n in (family.note, goal.note(spec)) if n is not None]
    backend = make_backend(solver, threads, notes)
    if use_lead_sets(spec, goal, lead_sets):
        how = dict(contiguity=family, objective=goal, solver=backend, gap=gap, lead_sets="never")
        res = assign_by_lead_sets(
            spec, goal, lambda sub, limit: assign_units_to_grids(sub, time_limit_s=limit, **how), deadline
        )
        res.notes[:0] = [n for n in notes if n not in res.notes]
        return dataclasses.replace(res, contiguity=family.name, solver=res.solver or backend.name)
    inside_plan = None
    # repair starts from the planner's layout instead (start_first): the inside reading's plan is a worse start
    if inside_first and not spec.lead_inside and family.contiguous and not goal.start_first:
        how = dict(contiguity=family, objective=goal, solver=backend, gap=gap, lead_sets="never", inside_first=False)
        proven, inside_plan = _inside_first(spec, how, deadline, notes)
        if proven is not None:
            return proven
    t0 = time.perf_counter()
    dist, pred = shortest_paths(spec.graph, spec.lead_unit) if family.contiguous else (None, None)
    ctx = Context(spec, family, goal, backend, gap, notes, dist, pred)
    reduced = spec.candidate_k is not None and spec.candidate_k < spec.m
    allowed = allowed_mask(spec, family.contiguous, spec.candidate_k, dist, pred, notes)
    pre_s = time.perf_counter() - t0
    warm, warm_s = (inside_plan, 0.0) if inside_plan is not None else _warm_start(ctx, reduced, deadline)
    if warm is None:
        warm, grow_s = _grown_start(ctx)
        warm_s += grow_s
    if spec.reference_assignment is not None:
        warm, allowed, fix_s = _repair_start(ctx, warm, allowed)
        warm_s += fix_s
    res = solve_all(ctx, allowed, deadline, warm)
    res = _fallback(ctx, res, warm, reduced, max(deadline, time.perf_counter() + 0.5 * float(time_limit_s)))
    if res.lab is not None and not family.contiguous:
        pieces = connected_components_per_grid(res.lab, spec.graph)
        if any(v > 1 for v in pieces.values()):
            notes.append(
                Note("not_contiguous", f"contiguity '{family.name}': some grids are not contiguous", pieces=pieces)
            )
    res.timings["build_s"] += pre_s + warm_s
    return to_result(ctx, res)


def _inside_first(
    spec: ModelSpec, how: dict, deadline: float, notes: list[str]
) -> tuple[AssignmentResult | None, np.ndarray | None]:
    """Prove the outside reading by the inside one: (proven result or ``None``, the inside plan as start or ``None``).

    A plan with every lead inside its grid is feasible when leads may stand outside, and the model without contiguity
    is a relaxation of every contiguous one, so an inside plan within the gap of the relaxation's bound is proven.
    """
    t0 = time.perf_counter()
    relaxed = assign_units_to_grids(
        spec, **{**how, "contiguity": "none"}, time_limit_s=max((deadline - t0) / 6, 1.0)
    )
    if relaxed.status == "infeasible":
        return None, None  # the full model says so itself, with its own notes
    inside = assign_units_to_grids(
        dataclasses.replace(spec, lead_inside=True), **how, time_limit_s=max((deadline - time.perf_counter()) / 3, 1.0)
    )
    if not inside.has_plan or (inside.unit_lead < 0).any():
        return None, None
    bound, obj = relaxed.bound, inside.objective
    spent = time.perf_counter() - t0
    if bound is None or abs(obj - bound) > how["gap"] * max(abs(obj), 1e-9):
        return None, inside.unit_lead
    note = Note(
        "inside_first",
        f"leads may stand outside their grids; the best plan with every lead inside its grid ({obj:,.6g}) is within "
        f"the gap of the bound without contiguity ({bound:,.6g}), so it is proven for that reading too",
        objective=obj,
        bound=bound,
    )
    timings = {**inside.timings, "inside_first_s": spent}
    gap = abs(obj - bound) / max(abs(obj), 1e-9)
    merged = [*notes, *(n for n in inside.notes if n not in notes), note]
    return dataclasses.replace(inside, bound=bound, gap=gap, status="optimal", notes=merged, timings=timings), None


def _warm_start(ctx: Context, reduced: bool, deadline: float) -> tuple[np.ndarray | None, float]:
    """Plan of the k-nearest reduced model for large full models (<= 35 % of the budget), and seconds spent.

    Large full models: HiGHS may not find any plan quickly, so the reduced model is solved first.
    """
    spec, family = ctx.spec, ctx.family
    warm_k = max(WARM_START_K, spec.m - spec.count_lo + 1)
    if reduced or not family.warm_start or spec.n < WARM_START_MIN_UNITS or spec.m <= warm_k:
        return None, 0.0
    t1 = time.perf_counter()
    small = allowed_mask(spec, family.contiguous, warm_k, ctx.dist, ctx.pred, [])
    quick_family = CONTIGUITY[family.incumbent_from] if family.incumbent_from else family
    quick = solve_all(dataclasses.replace(ctx, family=quick_family, notes=[]), small, t1 + 0.35 * (deadline - t1))
    warm = None
    if quick.lab is not None and (quick.lab >= 0).all():
        warm = quick.lab
        ctx.notes.append(
            Note(
                "warm_start",
                f"warm start: plan of the candidate_k={warm_k} reduced model ({quick.status}, "
                f"{time.perf_counter() - t1:.1f} s)",
                k=warm_k,
                status=quick.status,
            )
        )
    return warm, time.perf_counter() - t1


def _grown_start(ctx: Context) -> tuple[np.ndarray | None, float]:
    """A solver-free contiguous plan as MIP start when every candidate must open (:func:`.start.grow_plan`)."""
    spec, family = ctx.spec, ctx.family
    if not family.contiguous or not spec.must_open.all() or spec.count_lo != spec.m:
        return None, 0.0
    t0 = time.perf_counter()
    warm = grow_plan(spec, ctx.dist)
    if warm is not None:
        ctx.notes.append(Note("grown_start", "MIP start: a contiguous plan grown from the leads without a solver"))
    return warm, time.perf_counter() - t0


def _repair_start(
    ctx: Context, warm: np.ndarray | None, allowed: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, float]:
    """Repair: the layout fixed greedily (:func:`.repair_start.repair_start`) as MIP start and first incumbent when
    it moves fewer residents than ``warm``, and the pairs the better start lets the objective drop (a provable
    reduction, :meth:`.objectives.base.Objective.reduce`); seconds spent."""
    t0 = time.perf_counter()
    spec, goal = ctx.spec, ctx.objective
    fixed = repair_start(spec)
    ok_warm = warm if warm is not None and plan_is_feasible(spec, warm) else None
    if fixed is not None and (ok_warm is None or goal.value(spec, fixed) <= goal.value(spec, ok_warm)):
        ctx.notes.append(
            Note(
                "repair_start",
                f"MIP start: the layout fixed without a solver (moves {goal.value(spec, fixed):,.0f} residents)",
                moved=goal.value(spec, fixed),
            )
        )
        warm = ok_warm = fixed
    if ctx.family.admits_contiguous:  # the start is then feasible for the model: an upper bound
        allowed = goal.reduce(spec, allowed, ok_warm, ctx.notes)
        if not spec.lead_inside:
            ctx.anchors = anchor_units(spec, allowed)
    return warm, allowed, time.perf_counter() - t0


def _fallback(ctx: Context, res: RunOut, warm: np.ndarray | None, reduced: bool, full_deadline: float) -> RunOut:
    """Return the warm-start plan if the full model found none in time; re-solve a failed reduced model in full."""
    if res.lab is None and warm is not None and res.status.startswith("time_limit"):
        ctx.notes.append(
            Note("warm_start_returned", "full model found no plan in time: returning the warm-start plan (no bound)")
        )
        return RunOut(warm, "time_limit_feasible", None, res.size, res.timings, res.solver)
    if reduced and res.lab is None and res.status in ("infeasible", "time_limit_no_solution", "error"):
        ctx.notes.append(
            Note(
                "candidate_k_fallback",
                f"candidate_k reduction gave status '{res.status}': re-solved with all candidates",
                status=res.status,
            )
        )
        spec = ctx.spec
        full = allowed_mask(spec, ctx.family.contiguous, None, ctx.dist, ctx.pred, [])
        return solve_all(ctx, full, full_deadline)
    return res
