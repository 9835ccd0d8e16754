"""Repair: minimise residents moved away from a reference assignment, keeping every constraint; then travel.

Lexicographic: stage 1 minimises ``sum_i pop[i] (1 - x[i, ref[i]])`` (with a weighted-time tie-break worth less
than half a resident, solved to an absolute gap of half a resident); stage 2 keeps the residents moved at most
the stage-1 figure (one row ``sum pop[i] x[i, ref[i]] >= kept*``) and minimises weighted time, so that among plans
that move equally few residents the one with the least travel wins whatever the gap. Units without a reference
grid (``ref[i] < 0``: a layout grid with no eligible lead) always count as moved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..pairs import Pairs, make_pairs
from ..repair_start import keep_heavy_units, plan_is_feasible
from ..result import Note
from ..spec import ModelSpec
from .base import Objective, Terms, max_tie, second_stage, tie_weight, weighted_time_terms
from .weighted_time import WeightedTime

if TYPE_CHECKING:
    from ..constraints import ModelBuild
    from ..stages import Context, StageOut


def _kept_coefficients(spec: ModelSpec, pairs: Pairs) -> np.ndarray:
    """(K,) residents a pair keeps in their reference grid (``pop[i]`` where ``j == ref[i]``, else 0)."""
    ref = spec.reference_assignment
    ok = (ref >= 0) & (ref < spec.m)
    hit = ok[pairs.i] & (pairs.j == ref[pairs.i])
    return spec.population[pairs.i] * hit


def _resident_tie(spec: ModelSpec) -> float:
    """Weight of the tie-break: the whole weighted time is worth less than half a resident (and half the smallest unit).

    Two plans' residents moved differ by a whole resident at least when every unit's residents are whole numbers, so
    the tie-break never makes the first stage prefer a plan moving more residents, and a solver bound within the
    absolute gap of half a resident, less the largest tie-break, rounds up to the minimum itself
    (:meth:`ResidentsMoved.user_bound`). (The shared :func:`.base.tie_weight`, worth half the smallest *unit*, let
    the first stage stop tens of residents above the minimum, with a bound as far below.)
    """
    pos = spec.population[spec.population > 0]
    smallest = float(pos.min()) if pos.size else 1.0
    return tie_weight(spec) * min(1.0, 1.0 / smallest)


class ResidentsMoved(Objective):
    """Residents whose grid differs from ``spec.reference_assignment`` (units without one always count)."""

    name = "residents_moved"
    start_first = True

    def check(self, spec: ModelSpec) -> None:
        """Repair needs the reference assignment."""
        if spec.reference_assignment is None:
            raise ValueError("objective 'residents_moved' needs spec.reference_assignment")

    def note(self, spec: ModelSpec) -> Note:
        """Say that this is repair mode."""
        return Note(
            "repair_objective",
            "repair mode: objective = residents moved from reference_assignment, then the least weighted time "
            "among plans that move as few residents",
        )

    def terms(self, spec: ModelSpec, pairs: Pairs) -> Terms:
        """Coefficients ``-pop[i] [j == ref[i]] + eps * pop[i] * cost[i, j]``, constant = all residents."""
        tie = _resident_tie(spec) * weighted_time_terms(spec, pairs)
        return Terms(-_kept_coefficients(spec, pairs) + tie, const=float(spec.population.sum()), tie=tie,
                     abs_gap=0.5)

    def value(self, spec: ModelSpec, lab: np.ndarray) -> float:
        """Residents of plan ``lab`` outside their reference grid (or without one)."""
        return float(spec.population[np.asarray(lab) != spec.reference_assignment].sum())

    def user_bound(self, spec: ModelSpec, pairs: Pairs, terms: Terms, solver_bound: float | None) -> float | None:
        """Lower bound on residents moved: ``bound - largest tie-break``, at least the residents without a reference
        grid (they always count), rounded up to a whole resident when every unit's residents are whole numbers (a
        plan then moves a whole number)."""
        if solver_bound is None:
            return None
        bound = solver_bound - max_tie(spec, pairs, terms)
        ref = spec.reference_assignment
        bound = max(bound, float(spec.population[(ref < 0) | (ref >= spec.m)].sum()))
        if np.all(spec.population == np.round(spec.population)):
            bound = float(np.ceil(bound - 1e-6 * max(1.0, abs(bound)))) + 0.0  # no "-0"
        return bound

    def reduce(self, spec: ModelSpec, allowed: np.ndarray, warm: np.ndarray | None, notes: list) -> np.ndarray:
        """Units with more residents than the feasible plan ``warm`` moves keep their reference grid
        (:func:`simulator.optimise.repair_start.keep_heavy_units`, a provable reduction)."""
        if warm is None or not plan_is_feasible(spec, warm):
            return allowed
        out, count = keep_heavy_units(spec, allowed, warm)
        if count:
            notes.append(
                Note(
                    "repair_heavy_units_kept",
                    f"repair: {count} unit(s) with more residents than the start plan moves beyond the residents "
                    f"that must move ({self.value(spec, warm):,.0f} in all) keep their layout grid (no plan moving "
                    "one of them can be better)",
                    units=count,
                )
            )
        return out

    def refine(
        self,
        ctx: Context,
        allowed: np.ndarray,
        first: StageOut,
        deadline: float,
        account: Callable[[StageOut], None],
    ) -> tuple[np.ndarray | None, str]:
        """Stage 2: least weighted time among plans moving at most the stage-1 plan's residents."""
        lab = first.lab
        if lab is None or (lab < 0).any():
            return lab, first.status
        spec = ctx.spec
        moved = self.value(spec, lab)
        pairs2 = make_pairs(allowed, spec, ctx.dist, ctx.pred, ctx.family)
        return second_stage(
            ctx, pairs2, _LeastTravelKeeping(float(spec.population.sum()) - moved), first, deadline, account,
            code="repair_tie_break",
            failed="repair: least-travel stage failed ({status}); kept the stage-1 plan",
            done="repair: second solve minimised weighted time among plans moving as few residents",
            accept=lambda lab2: self.value(spec, lab2) <= moved + 1e-6,
        )  # fmt: skip


class _LeastTravelKeeping(WeightedTime):
    """Weighted time, subject to keeping at least ``kept`` residents in their reference grid (repair stage 2)."""

    def __init__(self, kept: float) -> None:
        self.kept = kept

    def extend(self, build: ModelBuild) -> None:
        """Row ``sum pop[i] x[i, ref[i]] >= kept - tol`` (tol below half the smallest unit's residents)."""
        spec = build.spec
        coef = _kept_coefficients(spec, build.pairs)
        sel = np.flatnonzero(coef > 0)
        pos = spec.population[spec.population > 0]
        tol = min(0.25 * float(pos.min()) if pos.size else 0.25, 1e-6 * max(1.0, self.kept))
        build.mp.add_rows(np.zeros(sel.size), build.x[sel], coef[sel], 1, self.kept - tol, 1)
