"""``none``: capacitated p-median without contiguity, a lower bound for the other families.

Pairs need only a finite cost; a note says when a returned grid is in several pieces.
"""

from __future__ import annotations

from .base import ContiguityFamily


class NoContiguity(ContiguityFamily):
    """No contiguity rows."""

    name = "none"
    contiguous = False
    lead_outside = True
    admits_contiguous = True
