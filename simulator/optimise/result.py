"""What the optimiser hands back: a plan (:class:`AssignmentResult`), a diagnosis, and structured notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Note(str):
    """A note for people that is also a record: ``code`` names the event and ``facts`` holds its numbers.

    It *is* the text (a ``str``), so run records and reports keep printing it unchanged, while tests and
    callers read ``code`` and ``facts`` instead of parsing prose.

    Parameters
    ----------
    code : str
        Stable event name, e.g. ``"candidate_k_kept"`` or ``"start_guard"``.
    text : str
        The sentence for people (English).
    **facts
        Numbers and indices behind the sentence (units given in the sentence).
    """

    code: str
    facts: dict[str, Any]

    def __new__(cls, code: str, text: str, **facts: Any) -> Note:
        obj = super().__new__(cls, text)
        obj.code = code
        obj.facts = facts
        return obj

    def __getnewargs__(self) -> tuple[str, str]:  # pickling (sweep workers) rebuilds code and text
        return (self.code, str(self))


def note_codes(notes: list[str]) -> list[str]:
    """Codes of the structured notes in ``notes`` (plain strings are skipped)."""
    return [n.code for n in notes if isinstance(n, Note)]


@dataclass
class AssignmentResult:
    """Outcome of :func:`simulator.optimise.assign_units_to_grids`.

    Attributes
    ----------
    unit_lead : np.ndarray
        (n,) int, candidate index whose grid each unit joins; -1 when no plan was found.
    open_leads : np.ndarray
        Sorted candidate indices that lead a grid.
    status : str
        ``"optimal"`` (within ``gap``), ``"time_limit_feasible"``, ``"time_limit_no_solution"``,
        ``"infeasible"``, ``"unbounded"`` or ``"error"``.
    objective : float
        Value of the plan under ``objective_name``, recomputed from the plan (not the solver):
        resident-minutes (``weighted_time``), residents within ``coverage_minutes``
        (``coverage``), minutes (``minmax``), residents moved (``residents_moved``).
        ``nan`` when there is no plan.
    bound : float or None
        Best proven bound in the same units (lower bound when minimising, upper bound for
        coverage); for the exact cut loop the bound of the last master.  ``None`` when the
        solver does not report one (CBC through PuLP).
    gap : float or None
        ``|objective - bound| / max(|objective|, 1e-9)``.
    contiguity : str
        Contiguity family used (a key of :data:`simulator.optimise.CONTIGUITY`).
    solver : str
        Solver back-end actually used (``"HiGHS"`` or ``"PULP_CBC_CMD"``).
    model_size : dict
        ``variables``, ``constraints``, ``nonzeros`` of the (last) model solved.
    timings : dict
        ``build_s`` and ``solve_s`` (seconds), ``iterations`` (cut loop rounds, 1 otherwise),
        ``cuts`` (separator cuts added by the exact loop).
    notes : list of str
        Reductions made, fallbacks, caveats; each is a :class:`Note` (``code``, ``facts``).
    objective_name : str
        ``"weighted_time"``, ``"coverage"``, ``"minmax"`` or ``"residents_moved"`` (a key of
        :data:`simulator.optimise.OBJECTIVES`).
    weighted_time : float
        Resident-minutes of the plan (sum of population x cost), whatever the objective.
    """

    unit_lead: np.ndarray
    open_leads: np.ndarray
    status: str
    objective: float
    bound: float | None
    gap: float | None
    contiguity: str
    solver: str
    model_size: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    objective_name: str = "weighted_time"
    weighted_time: float = math.nan

    @property
    def leads_open(self) -> np.ndarray:
        """Alias of :attr:`open_leads` (name used in docs/DESIGN.md)."""
        return self.open_leads

    @property
    def has_plan(self) -> bool:
        """True when ``unit_lead`` holds a complete plan."""
        return bool(self.unit_lead.size) and bool((self.unit_lead >= 0).all())


@dataclass
class Relaxation:
    """One constraint of one family that must be relaxed to make an instance feasible.

    The optimiser knows constraint families, not rules: the caller maps ``family`` (and ``kind``
    for member units) to its own rule ids and wording.

    Attributes
    ----------
    family : str
        ``"grid_count"``, ``"must_open"``, ``"member_units"``, ``"pop_lower"``, ``"pop_upper"``,
        ``"beds"`` or ``"reachability"``.
    amount : float
        How much (grids, member units, residents, beds, or 1 per unit left out).
    message : str
        Neutral explanation in the optimiser's terms (candidates, units, families).
    candidate : int or None
        Candidate (grid) concerned, if any.
    unit : int or None
        Planning unit concerned (``reachability``).
    kind : int or None
        Row of ``member_units`` (the required member kind) for ``member_units``.
    side : str or None
        ``"lower"`` or ``"upper"`` for ``grid_count``: which end of the range must move.
    grid_units : int or None
        Units in the candidate's grid in the relaxed plan (per-grid families).
    """

    family: str
    amount: float
    message: str
    candidate: int | None = None
    unit: int | None = None
    kind: int | None = None
    side: str | None = None
    grid_units: int | None = None


@dataclass
class Diagnosis:
    """Outcome of :func:`simulator.optimise.diagnose_infeasibility`.

    Attributes
    ----------
    feasible : bool
        True when no relaxation is needed.
    status : str
        Solver status of the slack model.
    relaxations : list of Relaxation
        Cheapest set of relaxations found (weighted slack minimised).
    families : list of str
        Distinct families in ``relaxations``.
    notes : list of str
        Caveats.
    """

    feasible: bool
    status: str
    relaxations: list[Relaxation] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
