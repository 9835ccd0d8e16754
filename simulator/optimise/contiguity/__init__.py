"""Contiguity families of the grid assignment, one module each, registered in :data:`CONTIGUITY`.

Adding a family = one module with a :class:`~.base.ContiguityFamily` subclass + one line below.
"""

from __future__ import annotations

from .base import ContiguityFamily, Cuts, add_pred_rows, arc_pairs
from .exact import Exact
from .fast import Fast
from .flow import Flow
from .none import NoContiguity

#: Contiguity families by name (the names a scenario's ``solver.contiguity`` may use).
CONTIGUITY: dict[str, ContiguityFamily] = {
    "exact": Exact(),
    "fast": Fast(),
    "flow": Flow(),
    "none": NoContiguity(),
}

__all__ = ["CONTIGUITY", "ContiguityFamily", "Cuts", "add_pred_rows", "arc_pairs", "contiguity_family"]


def contiguity_family(contiguity: str | ContiguityFamily, lead_inside: bool = True) -> ContiguityFamily:
    """The family for a registered name, or the family object itself.

    Raises ``ValueError`` for an unknown name, or a family that cannot model leads outside their grid when
    ``lead_inside`` is false.
    """
    if isinstance(contiguity, str):
        if contiguity not in CONTIGUITY:
            raise ValueError(f"contiguity must be one of {tuple(CONTIGUITY)}, got {contiguity!r}")
        contiguity = CONTIGUITY[contiguity]
    if not lead_inside and not contiguity.lead_outside:
        raise ValueError(f"contiguity {contiguity.name!r} supports lead_inside only (the lead's unit is its source); "
                         f"use one of {tuple(k for k, f in CONTIGUITY.items() if f.lead_outside)}")
    return contiguity
