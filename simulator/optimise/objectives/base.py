"""What every objective provides: solver coefficients, the plan's value, bound conversion and optional hooks.

All objectives are *minimised* by the solver; an objective reported as a maximum (coverage) negates its
coefficients and converts the solver bound back (:meth:`Objective.user_bound`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..pairs import Pairs
from ..result import Note
from ..spec import ModelSpec

if TYPE_CHECKING:
    from ..constraints import ModelBuild
    from ..stages import Context, StageOut


@dataclass
class Terms:
    """Objective of one solve stage, as the solver minimises it.

    Attributes
    ----------
    x_obj : np.ndarray
        (K,) coefficients on the x columns.
    const : float
        Constant added to the solver objective (not passed to the solver).
    tie : np.ndarray or None
        (K,) tie-break part of ``x_obj`` (coverage, repair), for bound conversion.
    abs_gap : float or None
        Absolute gap in the objective's units (residents) instead of the relative gap.
    """

    x_obj: np.ndarray
    const: float = 0.0
    tie: np.ndarray | None = None
    abs_gap: float | None = None


class Objective:
    """Base class of the objectives registered in :data:`simulator.optimise.objectives.OBJECTIVES`.

    Subclasses set :attr:`name` and implement :meth:`terms` and :meth:`value`; the other methods have
    defaults that suit a plain minimisation over the x columns.
    """

    #: registry key, also ``AssignmentResult.objective_name``
    name: str = ""
    #: True when the reported value is maximised (the proven bound is then an upper bound)
    maximise: bool = False
    #: True when a contiguous warm start is a better first incumbent than the cheaper family's plan (repair: the
    #: planner's layout fixed greedily), so the cut loop starts from it and the cheaper family's solve is skipped
    start_first: bool = False

    def check(self, spec: ModelSpec) -> None:
        """Raise ``ValueError`` when ``spec`` lacks data this objective needs."""

    def note(self, spec: ModelSpec) -> Note | None:
        """A caveat to record in the result notes, if any."""
        return None

    def terms(self, spec: ModelSpec, pairs: Pairs) -> Terms:
        """Solver coefficients on the x columns of ``pairs``."""
        raise NotImplementedError

    def value(self, spec: ModelSpec, lab: np.ndarray) -> float:
        """Value of the complete plan ``lab`` ((n,) candidate per unit) in the objective's units."""
        raise NotImplementedError

    def user_bound(self, spec: ModelSpec, pairs: Pairs, terms: Terms, solver_bound: float | None) -> float | None:
        """Convert a solver (minimisation, incl. constant and tie-break) bound into the reported units."""
        return solver_bound

    def reduce(self, spec: ModelSpec, allowed: np.ndarray, warm: np.ndarray | None, notes: list) -> np.ndarray:
        """Pairs that can stay usable given a feasible plan ``warm`` (a provable reduction); default: all."""
        return allowed

    def extend(self, build: ModelBuild) -> None:
        """Add columns and rows of the objective's own (e.g. minmax's ``z``); default: none."""

    def start_values(self, spec: ModelSpec, lab: np.ndarray, groups: dict) -> dict[int, float]:
        """Values of the columns added by :meth:`extend` in the warm start for plan ``lab``."""
        return {}

    def refine(
        self,
        ctx: Context,
        allowed: np.ndarray,
        first: StageOut,
        deadline: float,
        account: Callable[[StageOut], None],
    ) -> tuple[np.ndarray | None, str]:
        """Optional further stages after the first solve (minmax: weighted-time tie-break).

        Returns the plan and status to report; ``account`` adds a stage's timings to the run's.
        """
        return first.lab, first.status


def second_stage(
    ctx: Context,
    pairs: Pairs,
    objective: Objective,
    first: StageOut,
    deadline: float,
    account: Callable[[StageOut], None],
    *,
    code: str,
    failed: str,
    done: str,
    accept: Callable[[np.ndarray], bool] = lambda lab: True,
) -> tuple[np.ndarray | None, str]:
    """Solve a lexicographic second stage, warm-started from the first stage's plan (which it must not lose).

    ``failed`` (with ``{status}``) and ``done`` become run notes with codes ``<code>_failed`` / ``<code>``; a stage
    that finds no plan, or one ``accept`` rejects, keeps the first plan. The reported status is the weaker of the two.
    """
    from ..stages import solve_stage  # stages imports the objective registry

    spec, lab, status = ctx.spec, first.lab, first.status
    incumbent = (lab, objective.value(spec, lab)) if spec.is_contiguous(lab) else None
    out = solve_stage(
        ctx,
        pairs,
        objective,
        objective.terms(spec, pairs),
        max(deadline, time.perf_counter() + 1.0),
        start=lab,
        incumbent=incumbent,
    )
    account(out)
    if out.lab is None or not accept(out.lab):
        ctx.notes.append(Note(f"{code}_failed", failed.format(status=out.status), status=out.status))
        return lab, status
    ctx.notes.append(Note(code, done))
    return out.lab, (out.status if out.status != "optimal" and status == "optimal" else status)


def weighted_time_terms(spec: ModelSpec, pairs: Pairs) -> np.ndarray:
    """(K,) resident-minutes of every pair."""
    return spec.population[pairs.i] * spec.cost[pairs.i, pairs.j]


def tie_weight(spec: ModelSpec) -> float:
    """Weight of the weighted-time tie-break: the whole tie-break is worth < 1/2 of the smallest positive unit."""
    pop = spec.population
    pos = pop[pop > 0]
    finite = np.where(np.isfinite(spec.cost), spec.cost, 0.0)
    wt_ub = float((pop * finite.max(axis=1)).sum()) + 1.0
    return 0.5 * (float(pos.min()) if pos.size else 1.0) / wt_ub


def max_tie(spec: ModelSpec, pairs: Pairs, terms: Terms) -> float:
    """Largest tie-break contribution any plan can have."""
    per_unit = np.zeros(spec.n)
    if terms.tie is not None:
        np.maximum.at(per_unit, pairs.i, terms.tie)
    return float(per_unit.sum())
