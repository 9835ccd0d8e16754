"""Minmax: minimise the largest travel minutes of any populated unit, then the weighted time among such plans.

Stage 1 adds a column ``z >= cost[i, j] x[i, j]`` for every populated unit and minimises ``z``. Stage 2
drops every pair above the optimum ``z*`` (for populated units) and minimises weighted time, warm-started
(and, in families with an incumbent, seeded) with the stage-1 plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..pairs import Pairs, make_pairs
from ..spec import ModelSpec
from .base import Objective, Terms, second_stage
from .weighted_time import WeightedTime

if TYPE_CHECKING:
    from ..constraints import ModelBuild
    from ..stages import Context, StageOut


class MinMax(Objective):
    """Largest travel minutes of a populated unit (minutes), tie-break weighted time."""

    name = "minmax"

    def terms(self, spec: ModelSpec, pairs: Pairs) -> Terms:
        """No cost on x: the objective is the ``z`` column added by :meth:`extend`."""
        return Terms(np.zeros(pairs.k))

    def value(self, spec: ModelSpec, lab: np.ndarray) -> float:
        """Largest minutes to the lead over populated units of plan ``lab``."""
        pos = spec.population > 0
        c = spec.cost[np.arange(spec.n), lab]
        return float(c[pos].max()) if pos.any() else 0.0

    def extend(self, build: ModelBuild) -> None:
        """Column ``z`` (objective 1) and rows ``z - sum_j cost[i, j] x[i, j] >= 0`` for populated units."""
        spec, pairs, mp = build.spec, build.pairs, build.mp
        pi, pj = pairs.i, pairs.j
        z = mp.add_cols(1, 0.0, np.inf, False, 1.0, "z")
        sel = spec.population[pi] > 0
        units = np.unique(pi[sel])
        row_of_unit = np.full(spec.n, -1)
        row_of_unit[units] = np.arange(units.size)
        rr = np.concatenate([row_of_unit[pi[sel]], np.arange(units.size)])
        cc = np.concatenate([build.x[sel], np.full(units.size, z[0])])
        vv = np.concatenate([-spec.cost[pi[sel], pj[sel]], np.ones(units.size)])
        mp.add_rows(rr, cc, vv, 1, 0.0, units.size)
        build.groups["z"] = int(z[0])

    def start_values(self, spec: ModelSpec, lab: np.ndarray, groups: dict) -> dict[int, float]:
        """``z`` of the warm-start plan."""
        pos = spec.population > 0
        return {groups["z"]: float(spec.cost[np.flatnonzero(pos), lab[pos]].max()) if pos.any() else 0.0}

    def refine(
        self,
        ctx: Context,
        allowed: np.ndarray,
        first: StageOut,
        deadline: float,
        account: Callable[[StageOut], None],
    ) -> tuple[np.ndarray | None, str]:
        """Stage 2: least weighted time among plans whose maximum is the stage-1 optimum."""
        lab = first.lab
        if lab is None:
            return lab, first.status
        spec = ctx.spec
        zstar = self.value(spec, lab)
        tol = 1e-9 * max(1.0, abs(zstar))
        over = (spec.cost > zstar + tol) & (spec.population > 0)[:, None]
        pairs2 = make_pairs(allowed & ~over, spec, ctx.dist, ctx.pred, ctx.family)
        return second_stage(
            ctx, pairs2, WeightedTime(), first, deadline, account,
            code="minmax_tie_break",
            failed="minmax: weighted-time tie-break stage failed ({status}); kept stage-1 plan",
            done="minmax: second solve minimised weighted time among plans with the optimal maximum",
        )  # fmt: skip
