"""Coverage: maximise residents within ``spec.coverage_minutes`` of their grid's lead.

Tie-break: weighted time with a weight small enough that the whole tie-break is worth less than half the
smallest positive unit population, so it never trades a resident covered for shorter trips. Solved to an
absolute gap of half a resident, so the optimum in residents is proven.
"""

from __future__ import annotations

import numpy as np

from ..pairs import Pairs
from ..result import Note
from ..spec import ModelSpec
from .base import Objective, Terms, max_tie, tie_weight, weighted_time_terms


class Coverage(Objective):
    """Residents within the coverage threshold (maximised)."""

    name = "coverage"
    maximise = True

    def note(self, spec: ModelSpec) -> Note:
        """Say how ties are broken."""
        return Note(
            "coverage_tie_break",
            "coverage: tie-break by weighted time with a weight worth < 1/2 of the smallest "
            "positive unit population in total",
        )

    def terms(self, spec: ModelSpec, pairs: Pairs) -> Terms:
        """Coefficients ``-pop[i] [cost <= T] + eps * pop[i] * cost[i, j]``."""
        tie = tie_weight(spec) * weighted_time_terms(spec, pairs)
        covered = spec.population[pairs.i] * (spec.cost[pairs.i, pairs.j] <= spec.coverage_minutes)
        return Terms(-covered + tie, tie=tie, abs_gap=0.5)

    def value(self, spec: ModelSpec, lab: np.ndarray) -> float:
        """Residents of plan ``lab`` within the threshold."""
        c = spec.cost[np.arange(spec.n), lab]
        return float(spec.population[c <= spec.coverage_minutes].sum())

    def user_bound(self, spec: ModelSpec, pairs: Pairs, terms: Terms, solver_bound: float | None) -> float | None:
        """Upper bound on residents covered: ``-bound + largest tie-break``."""
        if solver_bound is None:
            return None
        return -solver_bound + max_tie(spec, pairs, terms)
