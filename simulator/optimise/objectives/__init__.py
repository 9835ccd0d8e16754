"""Objectives of the grid assignment, one module each, registered in :data:`OBJECTIVES`.

Adding an objective = one module with an :class:`~.base.Objective` subclass + one line below.
"""

from __future__ import annotations

from ..spec import ModelSpec
from .base import Objective, Terms
from .coverage import Coverage
from .minmax import MinMax
from .residents_moved import ResidentsMoved
from .weighted_time import WeightedTime

#: Objectives by name (the names a scenario's ``solver.objective`` may use, plus repair's).
OBJECTIVES: dict[str, Objective] = {
    "weighted_time": WeightedTime(),
    "coverage": Coverage(),
    "minmax": MinMax(),
    "residents_moved": ResidentsMoved(),
}

__all__ = ["OBJECTIVES", "Objective", "Terms", "select_objective"]


def select_objective(objective: str | Objective, spec: ModelSpec) -> Objective:
    """The objective to solve: repair (``residents_moved``) whenever ``spec`` has a reference assignment.

    Parameters
    ----------
    objective : str or Objective
        A key of :data:`OBJECTIVES` or an objective object.
    spec : ModelSpec
        The instance (its ``reference_assignment`` switches to repair).
    """
    if isinstance(objective, str):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {tuple(OBJECTIVES)}, got {objective!r}")
        objective = OBJECTIVES[objective]
    if spec.reference_assignment is not None:
        objective = OBJECTIVES["residents_moved"]
    objective.check(spec)
    return objective
