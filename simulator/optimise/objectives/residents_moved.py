"""Repair: minimise residents moved away from a reference assignment, keeping every constraint.

``sum_i pop[i] (1 - x[i, ref[i]])`` with a weighted-time tie-break (as in coverage). Chosen automatically
when the spec carries ``reference_assignment``; solved to an absolute gap of half a resident.
"""

from __future__ import annotations

import numpy as np

from ..pairs import Pairs
from ..result import Note
from ..spec import ModelSpec
from .base import Objective, Terms, max_tie, tie_weight, weighted_time_terms


class ResidentsMoved(Objective):
    """Residents whose grid differs from ``spec.reference_assignment``."""

    name = "residents_moved"

    def check(self, spec: ModelSpec) -> None:
        """Repair needs the reference assignment."""
        if spec.reference_assignment is None:
            raise ValueError("objective 'residents_moved' needs spec.reference_assignment")

    def note(self, spec: ModelSpec) -> Note:
        """Say that this is repair mode."""
        return Note(
            "repair_objective",
            "repair mode: objective = residents moved from reference_assignment "
            "(tie-break: weighted time with a tiny weight)",
        )

    def terms(self, spec: ModelSpec, pairs: Pairs) -> Terms:
        """Coefficients ``-pop[i] [j == ref[i]] + eps * pop[i] * cost[i, j]``, constant = residents with a reference."""
        pop, ref = spec.population, spec.reference_assignment
        tie = tie_weight(spec) * weighted_time_terms(spec, pairs)
        ok = (ref >= 0) & (ref < spec.m)
        hit = ok[pairs.i] & (pairs.j == ref[pairs.i])
        return Terms(-pop[pairs.i] * hit + tie, const=float(pop[ok].sum()), tie=tie, abs_gap=0.5)

    def value(self, spec: ModelSpec, lab: np.ndarray) -> float:
        """Residents of plan ``lab`` outside their reference grid."""
        ref = spec.reference_assignment
        ok = (ref >= 0) & (ref < spec.m)
        return float(spec.population[ok & (lab != ref)].sum())

    def user_bound(self, spec: ModelSpec, pairs: Pairs, terms: Terms, solver_bound: float | None) -> float | None:
        """Lower bound on residents moved: ``bound - largest tie-break``."""
        if solver_bound is None:
            return None
        return solver_bound - max_tie(spec, pairs, terms)
