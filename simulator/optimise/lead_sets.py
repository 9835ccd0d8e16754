"""Enumerate the sets of open leads when they are few: one small model per set instead of one large model.

Real cities have few candidate leads (3–9) and plan few grids, so the sets of leads that can open together —
``C(m, p)`` for every grid count ``p`` in range, each set holding every must-open lead — are few. With the set
fixed, the opening decisions leave the model: what remains is an assignment with contiguity whose LP relaxation is
nearly integral, and HiGHS solves each such model several times faster than the full one (``benchmarks/solve.py``).

The sets are solved in the order of a bound that needs no solver: every unit at its nearest lead of the set, which
ignores every constraint, so no plan of the set can beat it. A set whose bound is worse than the best plan found is
skipped, with that bound as the proof. The plan returned is the best over all sets (ties: least weighted time);
its bound is the weakest of the sets' bounds (a solver's bound, or the nearest-lead bound of a skipped set), so the
reported gap covers every set.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from math import comb

import numpy as np

from .objectives import Objective
from .result import AssignmentResult, Note
from .spec import ModelSpec

#: enumerate when the number of lead sets is at most this
MAX_LEAD_SETS = 40
#: ... and the instance has at least this many units (smaller models solve in a blink as they are)
MIN_UNITS = 500


def count_lead_sets(spec: ModelSpec) -> int:
    """Number of sets of open leads the grid-count range and the must-open leads allow."""
    must = int(spec.must_open.sum())
    free = spec.m - must
    return sum(comb(free, p - must) for p in range(max(spec.count_lo, must), spec.count_hi + 1) if p - must <= free)


def use_lead_sets(spec: ModelSpec, goal: Objective, mode: str) -> bool:
    """Whether :func:`assign_by_lead_sets` solves this instance (``mode``: ``"auto"``, ``"always"``, ``"never"``)."""
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"lead_sets must be 'auto', 'always' or 'never', got {mode!r}")
    if mode == "never" or spec.reference_assignment is not None or goal.name == "residents_moved":
        return False
    count = count_lead_sets(spec)
    if mode == "always":
        return count >= 1
    return 1 <= count <= MAX_LEAD_SETS and spec.n >= MIN_UNITS


def lead_sets(spec: ModelSpec) -> list[np.ndarray]:
    """Every allowed set of open leads (sorted candidate indices), smallest sets first."""
    must = np.flatnonzero(spec.must_open)
    free = np.flatnonzero(~spec.must_open)
    out = []
    for p in range(max(spec.count_lo, must.size), spec.count_hi + 1):
        for extra in itertools.combinations(free.tolist(), p - must.size):
            out.append(np.sort(np.concatenate([must, np.asarray(extra, np.int64)])))
    return out


def sub_spec(spec: ModelSpec, leads: np.ndarray) -> ModelSpec:
    """The instance restricted to the candidates ``leads``, every one of them open."""
    p = leads.size
    member_units = spec.member_units
    if spec.member_candidates is not None:
        # with the set fixed, a member candidate that does not lead is a plain member of the grid holding its unit
        idle = spec.member_candidates.copy()
        idle[leads] = False
        member_units = member_units.copy()
        member_units[0, spec.lead_unit[idle]] = True
    return dataclasses.replace(
        spec,
        member_units=member_units,
        member_candidates=None,
        cost=spec.cost[:, leads],
        lead_unit=spec.lead_unit[leads],
        n_grids=p,
        must_open=np.ones(p, bool),
        lead_beds=None if spec.min_beds_per_1000 is None else spec.lead_beds[leads],
    )


def nearest_bound(spec: ModelSpec, goal: Objective, leads: np.ndarray) -> float:
    """The objective if every unit went to its nearest lead of ``leads``: no plan of the set does better."""
    cost = spec.cost[:, leads]
    finite = np.isfinite(cost)
    if not finite.any(axis=1).all():
        return -math.inf if goal.maximise else math.inf  # some unit reaches no lead of the set: no plan
    lab = leads[np.argmin(np.where(finite, cost, np.inf), axis=1)]
    return goal.value(spec, lab)


def assign_by_lead_sets(
    spec: ModelSpec,
    goal: Objective,
    solve_one: Callable[[ModelSpec, float], AssignmentResult],
    deadline: float,
) -> AssignmentResult:
    """Solve every allowed set of open leads (best bound first) and return the best plan over all of them.

    Parameters
    ----------
    spec : the instance (``reference_assignment`` must be ``None``)
    goal : the objective (its ``value`` and ``maximise`` order plans and bounds)
    solve_one : solves one fixed-set instance within a time limit (seconds), e.g. the optimiser itself
    deadline : ``time.perf_counter()`` value by which the whole enumeration should end
    """
    sign = -1.0 if goal.maximise else 1.0  # compare in minimisation terms
    sets = lead_sets(spec)
    bounds = np.array([sign * nearest_bound(spec, goal, s) for s in sets])
    order = np.argsort(bounds, kind="stable")
    best: tuple[float, float, AssignmentResult, np.ndarray] | None = None
    set_bounds: list[float] = []
    solved = skipped = infeasible = 0
    status_bad = ""
    timings = {"build_s": 0.0, "solve_s": 0.0}
    notes: list[str] = []
    for k in order.tolist():
        leads, lower = sets[k], float(bounds[k])
        if math.isinf(lower) and lower > 0:
            infeasible += 1
            continue
        if best is not None and lower > best[0] + 1e-9 * max(1.0, abs(best[0])):
            skipped += 1
            set_bounds.append(lower)
            continue
        res = solve_one(sub_spec(spec, leads), max(deadline - time.perf_counter(), 1.0))
        solved += 1
        for key in ("build_s", "solve_s"):
            timings[key] += float(res.timings.get(key, 0.0) or 0.0)
        notes += [n for n in res.notes if n not in notes]
        if res.status == "infeasible":
            infeasible += 1
            continue
        if res.status != "optimal":
            status_bad = status_bad or res.status
        set_bounds.append(lower if res.bound is None else max(lower, sign * res.bound))
        if not res.has_plan:
            continue
        lab = leads[res.unit_lead]
        key = (sign * goal.value(spec, lab), float((spec.population * spec.cost[np.arange(spec.n), lab]).sum()))
        if best is None or key < best[:2]:
            best = (*key, res, lab)
    note = Note(
        "lead_sets",
        f"lead sets enumerated: {len(sets)} sets of open leads; {solved} solved, {skipped} skipped by their "
        f"nearest-lead bound; {infeasible} without a plan",
        sets=len(sets),
        solved=solved,
        skipped=skipped,
        infeasible=infeasible,
    )
    return _combine(spec, goal, best, set_bounds, status_bad, timings, [*notes, note])


def _combine(
    spec: ModelSpec,
    goal: Objective,
    best: tuple[float, float, AssignmentResult, np.ndarray] | None,
    set_bounds: list[float],
    status_bad: str,
    timings: dict[str, float],
    notes: list[str],
) -> AssignmentResult:
    """One result from the sets': the best plan, the weakest bound over all sets, the weakest status."""
    sign = -1.0 if goal.maximise else 1.0
    if best is None:
        status = "infeasible" if not status_bad else "time_limit_no_solution"
        return AssignmentResult(
            np.full(spec.n, -1, np.int64), np.zeros(0, np.int64), status, math.nan, None, None, "", "", {}, timings,
            notes, goal.name,
        )
    obj_min, wt, res, lab = best
    bound_min = min([obj_min, *set_bounds])
    obj, bound = sign * obj_min, sign * bound_min
    gap = abs(obj - bound) / max(abs(obj), 1e-9)
    return AssignmentResult(
        lab,
        np.unique(lab),
        "time_limit_feasible" if status_bad else "optimal",
        obj,
        bound,
        gap,
        res.contiguity,
        res.solver,
        res.model_size,
        {**res.timings, **timings},
        notes,
        goal.name,
        wt,
    )
