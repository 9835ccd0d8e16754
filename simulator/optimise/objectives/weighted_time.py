"""Weighted time: minimise resident-minutes ``sum_i pop[i] * cost[i, grid(i)]`` (capacitated p-median)."""

from __future__ import annotations

import numpy as np

from ..pairs import Pairs
from ..spec import ModelSpec
from .base import Objective, Terms, weighted_time_terms


class WeightedTime(Objective):
    """Resident-minutes to the lead of one's grid (minutes x residents)."""

    name = "weighted_time"

    def terms(self, spec: ModelSpec, pairs: Pairs) -> Terms:
        """Coefficients ``pop[i] * cost[i, j]``."""
        return Terms(weighted_time_terms(spec, pairs))

    def value(self, spec: ModelSpec, lab: np.ndarray) -> float:
        """Resident-minutes of plan ``lab``."""
        return float((spec.population * spec.cost[np.arange(spec.n), lab]).sum())
