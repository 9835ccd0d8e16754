"""Ensembles: plans through unknown data (:func:`run_ensemble`, ``caregrid ensemble``).

One module per step: :mod:`.draws` (what varies, seeded), :mod:`.solve` (one draw on a worker), :mod:`.aggregate`
(agreement, draws table, summary) and :mod:`.run` (orchestration, consensus plan, the ensemble folder).
"""

from .aggregate import draws_table, summarise, unit_agreement
from .draws import Draw, apply_draw, perturbed_population, sample_draws
from .run import EnsembleResult, run_ensemble
from .solve import DrawResult, DrawTask, solve_draw

__all__ = [
    "Draw",
    "DrawResult",
    "DrawTask",
    "EnsembleResult",
    "apply_draw",
    "draws_table",
    "perturbed_population",
    "run_ensemble",
    "sample_draws",
    "solve_draw",
    "summarise",
    "unit_agreement",
]
