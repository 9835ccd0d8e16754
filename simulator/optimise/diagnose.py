"""Which constraint families must be relaxed, and by how much, to make a plan possible (slack relaxation).

Every optional family gets non-negative slack (:mod:`.constraints`): grid count (weight 100 per grid),
must_open (100 per candidate), member units (10 per missing member, per required kind), population bounds
and beds (10 per 10 % of the bound), and unit assignment (1000 per unit left out, i.e. not reachable by
any open grid: a last resort). The weighted slack is minimised; every nonzero slack is reported as a
:class:`~simulator.optimise.result.Relaxation` in the optimiser's own terms (family, candidate, member kind,
amount); the caller maps families to its rules.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from .constraints import ModelBuild, SlackGroup, build
from .contiguity import CONTIGUITY, ContiguityFamily, contiguity_family
from .graph import shortest_paths
from .objectives import Terms
from .pairs import allowed_mask, make_pairs
from .result import Diagnosis, Note, Relaxation
from .solvers import SolverBackend, make_backend
from .spec import ModelSpec
from .stages import labels

_TOL = 1e-6


#: lead outside its grid: share of the diagnosis time for the slack model of that reading (the rest: inside view)
OUTSIDE_SHARE = 1 / 3


def diagnose_infeasibility(
    spec: ModelSpec,
    *,
    contiguity: str | ContiguityFamily = "fast",
    solver: str | SolverBackend = "highs",
    time_limit_s: float = 60,
    gap: float = 1e-4,
    threads: int | None = None,
) -> Diagnosis:
    """Find which constraint families must be relaxed, and by how much, to make a plan possible.

    The full model is used (``spec.candidate_k``, ``reference_assignment`` and ``coverage_minutes`` are
    ignored). Families with ``diagnose_with`` (``exact``, ``flow``) are diagnosed with that family's rows
    (``fast``), which can report a relaxation that they would not need (noted).

    With the lead outside its grid (``spec.lead_inside`` false) the slack model of that reading gets
    :data:`OUTSIDE_SHARE` of the time; without a proven answer (its primal heuristics can struggle) the instance is
    diagnosed with the lead inside its grid and one candidate per planning unit (must-open ones first), which can
    report a relaxation the plan would not need (noted).

    Parameters
    ----------
    spec : ModelSpec
    contiguity, solver, time_limit_s, gap, threads
        As for :func:`simulator.optimise.assign_units_to_grids`.

    Returns
    -------
    Diagnosis
    """
    family = contiguity_family(contiguity, spec.lead_inside)
    notes: list[str] = []
    backend = make_backend(solver, threads, notes)
    if spec.lead_inside:
        return _diagnose(spec, family, backend, time_limit_s, gap, notes)
    t0 = time.perf_counter()
    first = _diagnose(spec, family, backend, OUTSIDE_SHARE * time_limit_s, gap, list(notes))
    if first.status == "optimal":
        return first
    notes.append(
        Note(
            "diagnosis_inside_reading",
            f"the slack model with leads outside their grid found no proven answer in {time.perf_counter() - t0:.0f} s "
            f"({first.status}): diagnosed with each lead inside its grid and one candidate per planning unit, which "
            "may report a relaxation a plan with leads outside their grid would not need",
            status=first.status,
        )
    )
    return _diagnose(_inside_view(spec), family, backend, max(time_limit_s - (time.perf_counter() - t0), 1.0), gap,
                     notes)


def _inside_view(spec: ModelSpec) -> ModelSpec:
    """The instance with the lead inside its grid, one candidate per unit (must-open first, then lowest index).

    Candidate indices are kept: a dropped candidate gets no usable unit (infinite cost), so it cannot open.
    """
    order = np.lexsort((np.arange(spec.m), ~spec.must_open))
    _, first = np.unique(spec.lead_unit[order], return_index=True)
    cost = np.full_like(spec.cost, np.inf)
    keep = order[first]
    cost[:, keep] = spec.cost[:, keep]
    return dataclasses.replace(spec, cost=cost, candidate_k=None, reference_assignment=None, lead_inside=True)


def _diagnose(
    spec: ModelSpec, family: ContiguityFamily, backend: SolverBackend, time_limit_s: float, gap: float, notes: list
) -> Diagnosis:
    """One slack model (see :func:`diagnose_infeasibility`) for ``spec`` and its reading."""
    dist = pred = None
    if family.contiguous:
        dist, pred = shortest_paths(spec.graph, spec.lead_unit)
    rows = family
    if family.diagnose_with is not None:
        rows = CONTIGUITY[family.diagnose_with]
        notes.append(
            Note(
                "diagnosis_rows",
                f"diagnosis uses {rows.name} contiguity rows instead of {family.name}'s, "
                "which may exclude contiguous plans",
                family=rows.name,
            )
        )
    allowed = allowed_mask(spec, family.contiguous, None, dist, pred, notes)
    # every unit keeps its slack column, so the slack model is always feasible
    pairs = make_pairs(allowed, spec, dist, pred, rows)
    b = build(spec, pairs, rows, None, Terms(np.zeros(pairs.k)), slack=True)
    out = backend.solve(b.mp, time_limit_s, gap, None)
    notes.extend(out.notes)
    if out.values is None:
        notes.append(Note("slack_no_solution", "slack model found no solution"))
        return Diagnosis(False, out.status, [], [], notes)
    lab = labels(pairs, spec.n, out.values)
    rel = [
        _DESCRIBE[group.family](group, int(k), float(out.values[group.cols][k]), b, lab)
        for group in b.slack.values()
        for k in np.flatnonzero(out.values[group.cols] > _TOL)
    ]
    return Diagnosis(not rel, out.status, rel, sorted({r.family for r in rel}), notes)


# --------------------------------------------------------------------------------------------
# One describer per slack family: (group, index in group, amount, model, relaxed plan) -> Relaxation
# --------------------------------------------------------------------------------------------
def _reachability(g: SlackGroup, k: int, amt: float, b: ModelBuild, lab: np.ndarray) -> Relaxation:
    return Relaxation(
        "reachability",
        1.0,
        f"unit {k} cannot join any open grid contiguously (not connected "
        "to an open lead through shared edges, or every such grid is blocked)",
        unit=k,
    )


def _grid_count(g: SlackGroup, k: int, amt: float, b: ModelBuild, lab: np.ndarray) -> Relaxation:
    if g.side == "lower":
        msg = (
            f"grid count lower bound must fall by {amt:.0f} (at most {b.spec.count_lo - round(amt)} grids are possible)"
        )
    else:
        msg = f"grid count upper bound must rise by {amt:.0f}"
    return Relaxation("grid_count", amt, msg, side=g.side)


def _must_open(g: SlackGroup, k: int, amt: float, b: ModelBuild, lab: np.ndarray) -> Relaxation:
    j = int(b.groups["must_open_cand"][k])
    return Relaxation("must_open", amt, f"candidate {j} cannot be kept open as a lead", candidate=j)


def _member_units(g: SlackGroup, k: int, amt: float, b: ModelBuild, lab: np.ndarray) -> Relaxation:
    j = int(b.cand[k])
    size = int((lab == j).sum())
    return Relaxation(
        "member_units",
        amt,
        f"grid of candidate {j} ({size} units) lacks a required member of kind {g.kind} "
        f"(row {g.kind} of member_units): needs {amt:.0f} more",
        candidate=j,
        kind=g.kind,
        grid_units=size,
    )


def _per_grid(text: str) -> Callable[[SlackGroup, int, float, ModelBuild, np.ndarray], Relaxation]:
    def describe(g: SlackGroup, k: int, amt: float, b: ModelBuild, lab: np.ndarray) -> Relaxation:
        j = int(b.cand[k])
        rate = b.spec.min_beds_per_1000
        return Relaxation(
            g.family, amt, text.format(amt=amt, j=j, rate=rate), candidate=j, grid_units=int((lab == j).sum())
        )

    return describe


_DESCRIBE: dict[str, Callable[[SlackGroup, int, float, ModelBuild, np.ndarray], Relaxation]] = {
    "reachability": _reachability,
    "grid_count": _grid_count,
    "must_open": _must_open,
    "member_units": _member_units,
    "pop_lower": _per_grid("population lower bound must fall by {amt:,.0f} residents (grid of candidate {j})"),
    "pop_upper": _per_grid("population upper bound must rise by {amt:,.0f} residents (grid of candidate {j})"),
    "beds": _per_grid("grid of candidate {j} needs {amt:,.0f} more beds to reach {rate} per 1,000 residents"),
}
