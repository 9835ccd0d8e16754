"""Shared constraint builders, one per constraint family, and :func:`build` that assembles a model.

``x[i, j]`` (binary) is 1 when planning unit ``i`` belongs to the grid led by candidate ``j``. Only
allowed pairs get a column (:mod:`.pairs`). With the lead inside its grid (``spec.lead_inside``, the old
reading) candidate ``j`` is open exactly when its own unit joins its grid, so the opening variable ``y[j]``
*is* the column ``x[lead_unit[j], j]``. With the lead allowed outside its grid (the pilot plan's reading)
``y[j]`` is a binary column of its own, and the contiguous families get *root* columns ``r[i, j]``
(continuous in [0, 1], one per pair, numbered ``pairs.k + pair`` right after the x columns) that say which
unit anchors the grid: ``sum_i r[i, j] = y[j]`` and ``r[i, j] <= x[i, j]``.

* assignment: ``sum_j x[i, j] = 1`` for every unit;
* opening: ``x[i, j] <= y[j]``; lead outside: also ``sum_i x[i, j] >= y[j]`` (an open grid holds a unit);
* grid count: ``lo <= sum_j y[j] <= hi``; ``must_open`` fixes ``y[j] = 1``;
* member units (one family per row of ``member_units``): ``sum_{i member} x[i, j] >= y[j]``; row 0 also
  counts the member candidates (``spec.member_candidates``) that do not lead: a continuous ``z[c, j]`` per
  candidate ``c`` and grid ``j != c`` with ``z[c, j] <= x[lead_unit[c], j]`` and ``z[c, j] <= 1 - y[c]``;
* population bounds: ``L y[j] <= sum_i pop[i] x[i, j] <= U y[j]`` (residents);
* beds: ``sum_i beds[i] x[i, j] + lead_beds[j] y[j] >= rate / 1000 * sum_i pop[i] x[i, j]``.

Every builder also has a *slack* form used by the infeasibility diagnosis: each optional family gets
non-negative slack columns with a weight, registered in :attr:`ModelBuild.slack` under a name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .graph import lead_rank
from .milp import Milp
from .pairs import Pairs
from .spec import ModelSpec

if TYPE_CHECKING:
    from .contiguity.base import ContiguityFamily
    from .objectives.base import Objective, Terms


@dataclass
class SlackGroup:
    """Slack columns of one constraint family in the diagnosis model.

    Attributes
    ----------
    cols : np.ndarray
        Column indices, one per constraint (unit, candidate or bound).
    family : str
        Constraint family (the :class:`~simulator.optimise.Relaxation` family).
    kind : int or None
        Row of ``member_units`` (member families).
    side : str or None
        ``"lower"`` / ``"upper"`` (grid count).
    """

    cols: np.ndarray
    family: str
    kind: int | None = None
    side: str | None = None


@dataclass
class ModelBuild:
    """A model under construction: the spec, its pairs, the MILP and the shared column sets.

    Attributes
    ----------
    x : np.ndarray
        (K,) column of every pair.
    ub : np.ndarray
        (K,) upper bounds of the x columns; contiguity builders may fix pairs to 0 here.
    cand : np.ndarray
        Candidates that can open (their lead pair exists); per-grid rows are numbered in this order.
    y_cols : np.ndarray
        Opening column of every candidate in ``cand``.
    row_of_pair : np.ndarray
        (K,) per-grid row (position of the pair's candidate in ``cand``).
    roots : np.ndarray or None
        (K,) root column ``r[i, j]`` of every pair (lead outside its grid, contiguous families), else ``None``.
    groups : dict
        Named columns for later stages (e.g. ``"z"`` of minmax).
    slack : dict
        :class:`SlackGroup` by name, in the order they were added (diagnosis only).
    """

    spec: ModelSpec
    pairs: Pairs
    mp: Milp
    x: np.ndarray
    ub: np.ndarray
    slack_mode: bool
    cand: np.ndarray
    y_cols: np.ndarray
    row_of_pair: np.ndarray
    roots: np.ndarray | None = None
    groups: dict[str, Any] = field(default_factory=dict)
    slack: dict[str, SlackGroup] = field(default_factory=dict)
    #: (m,) unit that anchors each grid (its root column fixed to 1, see :meth:`anchor_roots`), -1 for none
    anchors: np.ndarray | None = None

    def anchor_roots(self, anchors: np.ndarray | None) -> None:
        """Fix the root of grid ``j`` at unit ``anchors[j]`` (``r = 1``; lead outside, contiguous families only).

        Valid when every plan the model must keep has ``anchors[j]`` in grid ``j``: such a grid is connected
        exactly when it is connected with that unit as its root, so fixing the root loses no plan and tightens the
        relaxation (the rows then behave as with the lead inside its grid)."""
        if anchors is None or self.roots is None:
            return
        j = np.flatnonzero(anchors >= 0)
        col = self.pairs.col[anchors[j], j]
        j, col = j[col >= 0], col[col >= 0]
        self.mp.raise_lower(self.roots[col], 1.0)
        self.anchors = np.full(self.spec.m, -1, np.int64)
        self.anchors[j] = anchors[j]

    def slack_cols(
        self, name: str, count: int, weight: float | np.ndarray, ub: float = np.inf, **meta: Any
    ) -> np.ndarray:
        """Add ``count`` non-negative slack columns with objective ``weight`` and register them as ``name``."""
        c = self.mp.add_cols(count, 0.0, ub, False, weight, "s")
        self.slack[name] = SlackGroup(c, meta.pop("family", name), **meta)
        return c

    def y_of(self, j: np.ndarray) -> np.ndarray:
        """Opening columns of candidates ``j`` (all in ``cand``)."""
        pos = np.full(self.spec.m, -1)
        pos[self.cand] = np.arange(self.cand.size)
        return self.y_cols[pos[np.asarray(j, np.int64)]]

    def start_values(self, lab: np.ndarray) -> dict[int, float]:
        """Values of the y and root columns for the warm-start plan ``lab`` (lead outside its grid; else none).

        The root of a grid is its first unit in the (distance from the lead, index) order, the one the ``fast``
        rows need; any unit of a connected grid satisfies the ``exact`` rows.
        """
        out = self._member_start(lab)
        if self.spec.lead_inside:
            return out
        opened = np.unique(lab[lab >= 0])
        opened = opened[self.pairs.opens[opened]]
        out.update({int(c): 1.0 for c in self.y_of(opened)})
        if self.roots is not None:
            key = root_order(self.spec, self.pairs)
            for j in opened.tolist():
                units = np.flatnonzero(lab == j)
                u = units[np.argmin(key[j, units])]
                if self.anchors is not None and self.anchors[j] >= 0 and lab[self.anchors[j]] == j:
                    u = self.anchors[j]
                if self.pairs.col[u, j] >= 0:
                    out[int(self.roots[self.pairs.col[u, j]])] = 1.0
        return out

    def _member_start(self, lab: np.ndarray) -> dict[int, float]:
        """``z[c, j] = 1`` where member candidate ``c`` does not lead and its unit lies in grid ``j`` (plan ``lab``)."""
        z = self.groups.get("member_z")
        if z is None:
            return {}
        mc, j, cols = z
        opened = np.zeros(self.spec.m, bool)
        opened[lab[lab >= 0]] = True
        on = (lab[self.spec.lead_unit[mc]] == j) & ~opened[mc]
        return {int(c): 1.0 for c in cols[on]}

    def per_grid_rows(
        self, unit_val: np.ndarray, lead_val: np.ndarray, sense: int, slack: tuple[str, float, int, dict] | None
    ) -> None:
        """One row per openable candidate: ``sum_i unit_val x[i, j] + lead_val[j] y[j] (sense) 0``.

        ``slack`` is ``(name, weight, sign, meta)`` in slack mode: a slack column per row, added with ``sign``.
        """
        nc = self.cand.size
        rr = np.concatenate([self.row_of_pair, np.arange(nc)])
        cc = np.concatenate([self.x, self.y_cols])
        vv = np.concatenate([unit_val, lead_val])
        if self.slack_mode and slack is not None:
            name, weight, sign, meta = slack
            s = self.slack_cols(name, nc, weight, **meta)
            rr, cc = np.concatenate([rr, np.arange(nc)]), np.concatenate([cc, s])
            vv = np.concatenate([vv, sign * np.ones(nc)])
        self.mp.add_rows(rr, cc, vv, sense, 0.0, nc)


def _assignment(b: ModelBuild) -> None:
    """Every unit in exactly one grid (slack: unit left out, a last resort)."""
    n, pi = b.spec.n, b.pairs.i
    if b.slack_mode:
        u = b.slack_cols("reachability", n, 1000.0, 1.0)
        b.mp.add_rows(np.concatenate([pi, np.arange(n)]), np.concatenate([b.x, u]), 1.0, 0, 1.0, n)
    else:
        b.mp.add_rows(pi, b.x, 1.0, 0, 1.0, n)


def root_order(spec: ModelSpec, pairs: Pairs) -> np.ndarray:
    """(m, n) strict order of units per candidate: (distance from the lead's unit, index), unreachable last.

    Without shortest paths (non-contiguous families) the unit index alone.
    """
    if pairs.dist is None:
        return np.broadcast_to(np.arange(spec.n), (spec.m, spec.n))
    return lead_rank(spec.lead_unit, pairs.dist)


def _opening(b: ModelBuild) -> None:
    """``x[i, j] - y[j] <= 0`` for non-lead pairs (every pair with the lead outside, plus a unit per open grid)."""
    if not b.spec.lead_inside:
        _opening_outside(b)
        return
    lead_col, pj = b.pairs.lead_col, b.pairs.j
    nl = np.flatnonzero(b.x != lead_col[pj])
    if nl.size:
        r = np.arange(nl.size)
        b.mp.add_rows(
            np.concatenate([r, r]),
            np.concatenate([b.x[nl], lead_col[pj[nl]]]),
            np.concatenate([np.ones(nl.size), -np.ones(nl.size)]),
            -1,
            0.0,
            nl.size,
        )


def _opening_outside(b: ModelBuild) -> None:
    """Lead outside: ``x <= y``, ``sum_i x[i, j] >= y[j]``, ``sum_i r[i, j] = y[j]`` and ``r[i, j] <= x[i, j]``."""
    k, nc = b.pairs.k, b.cand.size
    r = np.arange(k)
    yp = b.y_cols[b.row_of_pair]
    b.mp.add_rows(np.concatenate([r, r]), np.concatenate([b.x, yp]),
                  np.concatenate([np.ones(k), -np.ones(k)]), -1, 0.0, k)
    rows = np.concatenate([b.row_of_pair, np.arange(nc)])
    b.mp.add_rows(rows, np.concatenate([b.x, b.y_cols]), np.concatenate([np.ones(k), -np.ones(nc)]), 1, 0.0, nc)
    if b.roots is not None:
        b.mp.add_rows(rows, np.concatenate([b.roots, b.y_cols]), np.concatenate([np.ones(k), -np.ones(nc)]), 0, 0.0,
                      nc)
        # r <= x: the root lies in its grid (implied for integral plans, but it tightens the LP: 1.5-2x faster)
        b.mp.add_rows(np.concatenate([r, r]), np.concatenate([b.roots, b.x]), np.concatenate([np.ones(k), -np.ones(k)]),
                      -1, 0.0, k)


def _grid_count(b: ModelBuild) -> None:
    """``lo <= sum_j y[j] <= hi`` (slack: 100 per grid either way)."""
    spec, mp, y = b.spec, b.mp, b.y_cols
    ny = y.size
    if b.slack_mode:
        s_lo = b.slack_cols("grid_count_lo", 1, 100.0, family="grid_count", side="lower")
        s_hi = b.slack_cols("grid_count_hi", 1, 100.0, family="grid_count", side="upper")
        mp.add_rows(np.zeros(ny + 1, np.int64), np.concatenate([y, s_lo]), 1.0, 1, spec.count_lo, 1)
        mp.add_rows(
            np.zeros(ny + 1, np.int64),
            np.concatenate([y, s_hi]),
            np.concatenate([np.ones(ny), [-1.0]]),
            -1,
            spec.count_hi,
            1,
        )
    elif spec.count_lo == spec.count_hi:
        mp.add_rows(np.zeros(ny, np.int64), y, 1.0, 0, spec.count_lo, 1)
    else:
        mp.add_rows(np.zeros(ny, np.int64), y, 1.0, 1, spec.count_lo, 1)
        mp.add_rows(np.zeros(ny, np.int64), y, 1.0, -1, spec.count_hi, 1)


def _must_open(b: ModelBuild) -> None:
    """``y[j] >= 1`` for must-open candidates: a column bound, or a row with slack (100 each) in slack mode."""
    if not b.slack_mode:
        return  # fixed through the lower bound of the lead column in build()
    mo = np.flatnonzero(b.spec.must_open & b.pairs.opens)
    if mo.size:
        s = b.slack_cols("must_open", mo.size, 100.0)
        r = np.arange(mo.size)
        b.mp.add_rows(np.concatenate([r, r]), np.concatenate([b.y_of(mo), s]), 1.0, 1, 1.0, mo.size)
        b.groups["must_open_cand"] = mo


def _member_units(b: ModelBuild) -> None:
    """One family per required member kind (row of ``member_units``): a member unit in every open grid."""
    if b.spec.member_units is None:
        return
    nc = b.cand.size
    for row, member_row in enumerate(b.spec.member_units):
        sel = member_row[b.pairs.i]
        rr = np.concatenate([b.row_of_pair[sel], np.arange(nc)])
        cc = np.concatenate([b.x[sel], b.y_cols])
        vv = np.concatenate([np.ones(int(sel.sum())), -np.ones(nc)])
        if row == 0 and b.spec.member_candidates is not None:
            zr, zc = _member_candidate_cols(b)
            rr, cc, vv = np.concatenate([rr, zr]), np.concatenate([cc, zc]), np.concatenate([vv, np.ones(zc.size)])
        if b.slack_mode:
            name = "member_units" if row == 0 else f"member_units:{row}"
            s = b.slack_cols(name, nc, 10.0, family="member_units", kind=row)
            rr, cc, vv = (
                np.concatenate([rr, np.arange(nc)]),
                np.concatenate([cc, s]),
                np.concatenate([vv, np.ones(nc)]),
            )
        b.mp.add_rows(rr, cc, vv, 1, 0.0, nc)


def _member_candidate_cols(b: ModelBuild) -> tuple[np.ndarray, np.ndarray]:
    """``z[c, j]`` columns of the non-leading member candidates: (member row position, column) of each."""
    spec, pairs = b.spec, b.pairs
    mc = np.flatnonzero(spec.member_candidates)
    pair = pairs.col[spec.lead_unit[mc]][:, b.cand]  # (p, nc) pair of c's unit in grid j, or -1
    a, k = np.nonzero((pair >= 0) & (mc[:, None] != b.cand[None, :]))
    z = b.mp.add_cols(a.size, 0.0, 1.0, False, 0.0, "z")
    r = np.arange(a.size)
    # z <= x[lead_unit[c], j]: c's unit lies in grid j
    b.mp.add_rows(np.concatenate([r, r]), np.concatenate([z, b.x[pair[a, k]]]),
                  np.concatenate([np.ones(a.size), -np.ones(a.size)]), -1, 0.0, a.size)
    b.groups["member_z"] = (mc[a], b.cand[k], z)  # candidate, grid, column (warm starts set them)
    opens = np.isin(mc[a], b.cand)
    if not spec.lead_inside and opens.any():
        # z <= 1 - y[c]: a lead is not a member (with the lead inside, x[lead_unit[c], j] = 0 already says so)
        zo, yo = z[opens], b.y_of(mc[a][opens])
        r = np.arange(zo.size)
        b.mp.add_rows(np.concatenate([r, r]), np.concatenate([zo, yo]), 1.0, -1, 1.0, zo.size)
    return k, z


def _mean_grid_pop(spec: ModelSpec) -> float:
    return max(spec.population.sum() / max(spec.count_hi, 1), 1.0)


def _population(b: ModelBuild) -> None:
    """Residents per open grid within ``pop_bounds`` (slack: 10 per 10 % of the bound)."""
    spec = b.spec
    pop_i = spec.population[b.pairs.i]
    for name, bound, sense in (("pop_lower", spec.pop_lo, 1), ("pop_upper", spec.pop_hi, -1)):
        if bound is None:
            continue
        weight = 10.0 / max(bound, _mean_grid_pop(spec) * 0.01)
        b.per_grid_rows(pop_i, -bound * np.ones(b.cand.size), sense, (name, weight, sense, {}))


def _beds(b: ModelBuild) -> None:
    """Beds per 1,000 residents of every open grid (slack: 10 per 10 % of a mean grid's need)."""
    spec = b.spec
    if spec.min_beds_per_1000 is None:
        return
    rate = spec.min_beds_per_1000 / 1000.0
    pi = b.pairs.i
    weight = 10.0 / max(rate * _mean_grid_pop(spec), 1.0)
    b.per_grid_rows(spec.unit_beds[pi] - rate * spec.population[pi], spec.lead_beds[b.cand], 1, ("beds", weight, 1, {}))


#: Constraint families shared by every model, in the order their rows are added.
CONSTRAINT_BUILDERS: dict[str, Callable[[ModelBuild], None]] = {
    "assignment": _assignment,
    "opening": _opening,
    "grid_count": _grid_count,
    "must_open": _must_open,
    "member_units": _member_units,
    "population": _population,
    "beds": _beds,
}


def build(
    spec: ModelSpec,
    pairs: Pairs,
    family: ContiguityFamily,
    objective: Objective | None,
    terms: Terms,
    slack: bool = False,
) -> ModelBuild:
    """Build the sparse MILP: x columns, the shared families, the objective's extras, the contiguity rows.

    Parameters
    ----------
    spec, pairs : the instance and its allowed pairs
    family : contiguity family whose rows are added last
    objective : objective whose :meth:`~simulator.optimise.objectives.base.Objective.extend` may add columns
    terms : coefficients on x (minimised), constant and absolute gap
    slack : build the diagnosis model (every optional family with slack columns)
    """
    mp = Milp()
    kx = pairs.k
    ub = np.ones(kx)
    lead_lb = np.zeros(kx)
    cand = np.flatnonzero(pairs.opens)
    must = spec.must_open[cand] if not slack else np.zeros(cand.size, bool)
    if spec.lead_inside:
        lead_lb[pairs.lead_col[cand[must]]] = 1.0
    x = mp.add_cols(kx, lead_lb, ub, True, terms.x_obj, "x")
    roots = None
    if not spec.lead_inside:
        if family.contiguous:
            roots = mp.add_cols(kx, 0.0, 1.0, False, 0.0, "r")  # columns pairs.k + pair (see Exact.separate)
        y_cols = mp.add_cols(cand.size, must.astype(float), 1.0, True, 0.0, "y")
    else:
        y_cols = pairs.lead_col[cand]
    mp.obj_const = terms.const
    mp.abs_gap = terms.abs_gap
    row_of_cand = np.full(spec.m, -1)
    row_of_cand[cand] = np.arange(cand.size)
    b = ModelBuild(spec, pairs, mp, x, ub, slack, cand, y_cols, row_of_cand[pairs.j], roots)
    for add in CONSTRAINT_BUILDERS.values():
        add(b)
    if objective is not None:
        objective.extend(b)
    family.add_rows(b)
    mp.ub[0] = ub  # contiguity rows may have fixed unusable pairs to 0
    return b
