"""Optimise stage: assign planning units to grids (网格), each led by one tertiary hospital (a sparse MILP).

The pieces, after the model of spopt (solver passed in, shared constraint builders):

==========================  =====================================================================
module                      holds
==========================  =====================================================================
``spec``                    :class:`ModelSpec`: the instance (population, cost, adjacency, leads,
                            grid count, every optional constraint family), validated once
``pairs``                   which (unit, candidate) pairs get a column (reductions, pruning)
``constraints``             the shared constraint builders, one per family (hard and slack form)
``contiguity/``             one module per contiguity family, registry :data:`CONTIGUITY`
``objectives/``             one module per objective, registry :data:`OBJECTIVES`
``milp``                    the sparse MILP container the builders fill
``solvers``                 back-ends behind one ``solve`` interface, registry :data:`SOLVERS`
``stages``                  one solve stage, the exact cut loop, a run of stages
``assign``                  :func:`assign_units_to_grids`: reductions, warm start, fallbacks
``diagnose``                :func:`diagnose_infeasibility`: slack relaxation per constraint family
``graph``                   unit graph, shortest paths, contiguity checks
``result``                  :class:`AssignmentResult`, :class:`Diagnosis`, :class:`Relaxation`, :class:`Note`
==========================  =====================================================================

Adding a contiguity family or an objective is one new module plus one line in the registry dict of its
sub-package (``contiguity/__init__.py`` or ``objectives/__init__.py``).

Example
-------
>>> spec = ModelSpec(population, cost, adjacency, lead_unit, (2, 3), member_units=member)  # doctest: +SKIP
>>> result = assign_units_to_grids(spec, contiguity="exact", objective="weighted_time")  # doctest: +SKIP
"""

from __future__ import annotations

from .assign import assign_units_to_grids
from .contiguity import CONTIGUITY, ContiguityFamily
from .diagnose import diagnose_infeasibility
from .graph import connected_components_per_grid
from .milp import Milp
from .objectives import OBJECTIVES, Objective, Terms
from .result import AssignmentResult, Diagnosis, Note, Relaxation, note_codes
from .solvers import SOLVERS, CbcPulp, HighsArrays, HighsPulp, SolveOutcome, SolverBackend, StartGuard
from .spec import ModelSpec

__all__ = [
    "CONTIGUITY",
    "OBJECTIVES",
    "SOLVERS",
    "AssignmentResult",
    "CbcPulp",
    "ContiguityFamily",
    "Diagnosis",
    "HighsArrays",
    "HighsPulp",
    "Milp",
    "ModelSpec",
    "Note",
    "Objective",
    "Relaxation",
    "SolveOutcome",
    "SolverBackend",
    "StartGuard",
    "Terms",
    "assign_units_to_grids",
    "connected_components_per_grid",
    "diagnose_infeasibility",
    "note_codes",
]
