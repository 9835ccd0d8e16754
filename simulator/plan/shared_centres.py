"""Shared centres 资源共享中心 of each medical group: which member facility hosts each centre kind.

The Liaoning 2023 pilot plan: "统筹建设医学检验、医学影像、心电诊断、病理、消毒供应等资源共享中心". For every group
(the lead and the members standing in its grid, ``groups.csv`` roles ``lead`` / ``member``) and every centre kind
of the host rules (:mod:`simulator.config.centres`, ``config/centres/<id>.toml``):

* **who may host**: a member whose capability column (``hosts_lab`` …) says ``true``; where that cell is blank,
  a member of the rule's levels and kinds; ``false`` never hosts;
* **volume**: each member's daily samples or patients are the sum of the rule's capacity columns (``beds``,
  ``outpatient_daily``); a member without any figure weighs nothing (its volume is unknown, it is counted in
  ``members_without_volume``), and a group none of whose members has a figure weighs its members equally.
  ``volume_estimated_share`` is the share of the weight resting on estimated or modelled capacities;
* **choice**: the host minimises the volume-weighted minutes (the run's travel model, from the planning unit each
  member stands in to the host) of the group's members;
* **sharing** (``plan.share_centres = true``): a group may use a host of an adjacent grid's group (grids sharing a
  unit edge) when that lowers the total; every open centre costs ``plan.centre_open_cost`` (volume × minutes) and
  serves its own group. This is an uncapacitated facility-location model (:func:`locate`), solved exactly with
  HiGHS (``scipy.optimize.milp``); without sharing each group takes its own cheapest host.

``shared_centres.csv`` has one row per grid and centre kind (columns :data:`CENTRE_COLUMNS`); a shared host appears
under every grid it serves, ``shared_with`` naming the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from ..config.centres import CentreRule, centre_rules_name, load_centre_rules
from .groups import grid_sort_key

#: columns of ``shared_centres.csv``
CENTRE_COLUMNS = (
    "grid_id",
    "centre_kind",
    "centre_name",
    "status",
    "host_facility_id",
    "host_name",
    "host_grid_id",
    "members_served",
    "mean_minutes",
    "max_minutes",
    "shared_with",
    "host_basis",
    "capability_declared",
    "rule_source",
    "volume_columns",
    "volume_estimated_share",
    "members_without_volume",
)
#: ``status`` of a row: the host stands in the group (own), in an adjacent grid's group (shared), no member may host
#: the kind (no_host), or the kind does not apply to the group (not_applicable: TCM dispensing without a TCM hospital)
CENTRE_STATUSES = ("own", "shared", "no_host", "not_applicable")
#: roles whose facilities belong to a group and send it samples or patients
SENDING_ROLES = ("lead", "member")


@dataclass(frozen=True)
class CentreOptions:
    """The scenario's choices for the shared centres.

    Parameters
    ----------
    share : adjacent grids' groups may share a host (``plan.share_centres``)
    open_cost : cost of running one more centre, in volume-weighted minutes (``plan.centre_open_cost``, ≥ 0);
        only matters with ``share``
    """

    share: bool = False
    open_cost: float = 0.0


def capability(facilities: pd.DataFrame, flag: str) -> tuple[np.ndarray, np.ndarray]:
    """``(declared, value)`` (f,) of a capability column: a cell is declared when it holds true or false.

    Accepts booleans, the nullable boolean dtype and the texts true/false/1/0/yes/no (blank: not declared).
    """
    n = len(facilities)
    if flag not in facilities:
        return np.zeros(n, bool), np.zeros(n, bool)
    text = facilities[flag].astype(object).map(lambda v: "" if v is None or v is pd.NA or v != v else str(v))
    text = text.str.strip().str.lower()
    yes = text.isin(("true", "1", "1.0", "yes")).to_numpy()
    no = text.isin(("false", "0", "0.0", "no")).to_numpy()
    return yes | no, yes


def may_host(facilities: pd.DataFrame, rule: CentreRule) -> tuple[np.ndarray, np.ndarray]:
    """``(able, declared)`` (f,): the capability flag where declared, else the rule's levels and kinds."""
    declared, value = capability(facilities, rule.flag)
    by_rule = (facilities["level"].isin(rule.levels) & facilities["kind"].isin(rule.kinds)).to_numpy()
    return np.where(declared, value, by_rule), declared


def _estimated(facilities: pd.DataFrame, column: str) -> np.ndarray:
    status_col = {"beds": "beds_status", "outpatient_daily": "outpatient_status"}[column]
    if status_col not in facilities:
        return np.zeros(len(facilities), bool)
    s = facilities[status_col].fillna("").astype(str).str.strip()
    return (s.str.startswith("estimate") | s.str.startswith("modelled")).to_numpy()


def volumes(facilities: pd.DataFrame, rule: CentreRule) -> tuple[np.ndarray, np.ndarray]:
    """``(volume, estimated)`` (f,): the sum of the rule's capacity columns (NaN when none has a figure) and the
    part of it that rests on estimated or modelled figures."""
    total = np.zeros(len(facilities))
    est = np.zeros(len(facilities))
    known = np.zeros(len(facilities), bool)
    for col in rule.volume:
        v = pd.to_numeric(facilities[col], errors="coerce").to_numpy(dtype=float) if col in facilities else None
        if v is None:
            continue
        have = np.isfinite(v)
        known |= have
        total += np.where(have, v, 0.0)
        est += np.where(have & _estimated(facilities, col), v, 0.0)
    return np.where(known, total, np.nan), est


#: tie-break weight per rank of a host in :func:`locate` (volume × minutes): of no practical size, larger than the
#: solver's tolerances, so equal plans resolve to the hosts of smaller rank (facility id) on every machine
TIE_BREAK = 1e-3


def locate(cost: np.ndarray, owner: np.ndarray, open_cost: float = 0.0,
           rank: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Uncapacitated facility location with home groups: each group uses one host, an open host serves its own group.

    Solved exactly (HiGHS through ``scipy.optimize.milp``, relative gap 0). Among plans of equal cost the one using
    hosts of smaller ``rank`` wins: each use of host ``h`` adds ``TIE_BREAK × rank[h]`` to the solver's objective
    (not to the returned total), so a plan is preferred only when it is within ``TIE_BREAK × h`` of the best.

    Parameters
    ----------
    cost : (g, h) volume-weighted minutes of group ``g`` using host ``h``; ``inf`` where not allowed
    owner : (h,) the group each host belongs to (−1: none, then no home duty)
    open_cost : cost of each open host (volume × minutes, ≥ 0)
    rank : (h,) tie-break order of the hosts (default: their position)

    Returns
    -------
    (host, total)
        (g,) host index per group (−1 where the group may use no host) and the objective
        (Σ cost of the chosen pairs + open_cost × open hosts)
    """
    cost = np.asarray(cost, dtype=float)
    ng, nh = cost.shape
    out = np.full(ng, -1, dtype=np.int64)
    gi, hi = np.nonzero(np.isfinite(cost))
    if len(gi) == 0:
        return out, 0.0
    k = len(gi)
    rank = np.arange(nh) if rank is None else np.argsort(np.argsort(np.asarray(rank), kind="stable"))
    c = np.concatenate([cost[gi, hi] + TIE_BREAK * rank[hi], np.full(nh, float(open_cost))])
    rows, cols, vals, lo, up = [], [], [], [], []
    r = 0
    for g in np.unique(gi):  # each group with an allowed host uses exactly one
        pairs = np.flatnonzero(gi == g)
        rows += [r] * len(pairs)
        cols += pairs.tolist()
        vals += [1.0] * len(pairs)
        lo.append(1.0)
        up.append(1.0)
        r += 1
    # x[g, h] <= y[h]
    rows += np.repeat(np.arange(r, r + k), 2).tolist()
    cols += np.column_stack([np.arange(k), k + hi]).ravel().tolist()
    vals += [1.0, -1.0] * k
    lo += [-np.inf] * k
    up += [0.0] * k
    r += k
    # y[h] <= x[owner(h), h]: an open centre serves its own group
    for h in range(nh):
        home = np.flatnonzero((gi == owner[h]) & (hi == h))
        if owner[h] >= 0 and len(home):
            rows += [r, r]
            cols += [k + h, int(home[0])]
            vals += [1.0, -1.0]
            lo.append(-np.inf)
            up.append(0.0)
            r += 1
    a = sp.csr_matrix((vals, (rows, cols)), shape=(r, k + nh))
    res = milp(c, constraints=LinearConstraint(a, lo, up), integrality=np.ones(k + nh), bounds=Bounds(0, 1),
               options={"mip_rel_gap": 0.0})
    if res.x is None:  # pragma: no cover - every group can use its cheapest allowed host alone: always feasible
        raise RuntimeError(f"shared-centre location model: {res.message}")
    chosen = np.flatnonzero(res.x[:k] > 0.5)
    out[gi[chosen]] = hi[chosen]
    return out, float(cost[gi[chosen], hi[chosen]].sum() + open_cost * len(set(hi[chosen].tolist())))


def adjacent_grids(unit_grid: np.ndarray, adjacency: sp.spmatrix) -> set[tuple[str, str]]:
    """Pairs (a, b) and (b, a) of grids with two units sharing an edge (or an exclave bridge)."""
    coo = sp.triu(adjacency, k=1).tocoo()
    ga, gb = np.asarray(unit_grid)[coo.row], np.asarray(unit_grid)[coo.col]
    cut = ga != gb
    pairs = set(zip(ga[cut].tolist(), gb[cut].tolist(), strict=True))
    return pairs | {(b, a) for a, b in pairs}


@dataclass
class _Group:
    grid: str
    members: np.ndarray  # facility indices sending samples (lead and members)
    weight: np.ndarray  # their weights (volume; equal when no member has a figure)
    est_share: float
    no_volume: int


def _groups(groups: pd.DataFrame, facilities: pd.DataFrame, fac_unit: np.ndarray, rule: CentreRule,
            grids: Sequence[str]) -> dict[str, _Group]:
    index = pd.Series(np.arange(len(facilities)), index=facilities["facility_id"].to_numpy())
    index = index[~index.index.duplicated()]
    vol, est = volumes(facilities, rule)
    out = {}
    for g in grids:
        ids = groups.loc[(groups["grid_id"] == g) & groups["role"].isin(SENDING_ROLES), "facility_id"]
        idx = index.reindex(ids.drop_duplicates()).dropna().astype(int).to_numpy()
        idx = idx[fac_unit[idx] >= 0]  # a facility outside the planning area has no unit to travel from
        v = vol[idx]
        w = np.where(np.isfinite(v), v, 0.0)
        share = float(est[idx].sum() / w.sum()) if w.sum() > 0 else float("nan")
        if w.sum() <= 0:
            w = np.ones(len(idx))
        out[g] = _Group(g, idx, w, share, int((~np.isfinite(v)).sum()))
    return out


@dataclass
class _Costs:
    """One centre kind's candidate hosts and what each group pays to use each."""

    live: list[str]  # grids the kind applies to
    hosts: np.ndarray  # facility indices able to host
    owner_grid: np.ndarray  # (h,) grid of each host's group
    cost: np.ndarray  # (live, h) volume-weighted minutes; inf where not allowed
    mins: dict[str, np.ndarray]  # grid → (members, h) minutes


def _costs(able: np.ndarray, gs: dict[str, _Group], live: list[str], fac_unit: np.ndarray, minutes: Callable,
           neighbours: set[tuple[str, str]], share: bool, grid_of_fac: np.ndarray) -> _Costs:
    hosts = np.array(sorted({int(i) for g in live for i in gs[g].members if able[i]}), dtype=np.int64)
    owner_grid = grid_of_fac[hosts] if len(hosts) else np.array([], dtype=object)
    cost = np.full((len(live), len(hosts)), np.inf)
    mins: dict[str, np.ndarray] = {}
    for a, g in enumerate(live):
        m = gs[g].members
        mins[g] = minutes(fac_unit[m], hosts) if len(m) and len(hosts) else np.zeros((len(m), len(hosts)))
        allowed = np.array([str(o) == g or (share and (g, str(o)) in neighbours) for o in owner_grid], dtype=bool)
        if len(m) and allowed.any():
            cost[a, allowed] = gs[g].weight @ mins[g][:, allowed]
    return _Costs(live, hosts, owner_grid, cost, mins)


def _pick(c: _Costs, ids: np.ndarray, opts: CentreOptions) -> np.ndarray:
    """Host (column of ``c.cost``) per live grid, −1 for none: the location model when sharing, else each group's
    cheapest own host (ties: the smaller facility id)."""
    if opts.share:
        owner = np.array([c.live.index(str(o)) if str(o) in c.live else -1 for o in c.owner_grid], dtype=np.int64)
        return locate(c.cost, owner, opts.open_cost, rank=ids[c.hosts])[0]
    pick = np.full(len(c.live), -1, dtype=np.int64)
    for a in range(len(c.live)):
        ok = np.flatnonzero(np.isfinite(c.cost[a]))
        if len(ok):
            pick[a] = ok[np.lexsort((ids[c.hosts[ok]], c.cost[a, ok]))][0]
    return pick


def _host_fields(rule: CentreRule, c: _Costs, g: str, h: int, grp: _Group, facilities: pd.DataFrame,
                 declared: np.ndarray, served: list[str]) -> dict:
    """The columns of a row whose group uses host column ``h``."""
    i = int(c.hosts[h])
    t = c.mins[g][:, h]
    return {
        "status": "own" if str(c.owner_grid[h]) == g else "shared",
        "host_facility_id": str(facilities["facility_id"].iat[i]),
        "host_name": str(facilities["name"].iat[i]),
        "host_grid_id": str(c.owner_grid[h]),
        "mean_minutes": float(grp.weight @ t / grp.weight.sum()) if len(t) else np.nan,
        "max_minutes": float(t.max()) if len(t) else np.nan,
        "shared_with": ";".join(x for x in served if x != g),
        "host_basis": f"capability flag {rule.flag} = true" if declared[i] else
        f"level/kind rule ({'/'.join(rule.levels)}; {'/'.join(rule.kinds)})",
    }


def _kind_rows(rule: CentreRule, facilities: pd.DataFrame, groups: pd.DataFrame, fac_unit: np.ndarray,
               minutes: Callable, grids: list[str], neighbours: set[tuple[str, str]], opts: CentreOptions,
               grid_of_fac: np.ndarray) -> list[dict]:
    """Rows of one centre kind: hosts chosen for every group."""
    able, declared = may_host(facilities, rule)
    kinds = facilities["kind"].to_numpy()
    gs = _groups(groups, facilities, fac_unit, rule, grids)
    applies = {g: not rule.needs_group_kinds or bool(np.isin(kinds[gs[g].members], rule.needs_group_kinds).any())
               for g in grids}
    c = _costs(able, gs, [g for g in grids if applies[g]], fac_unit, minutes, neighbours, opts.share, grid_of_fac)
    pick = _pick(c, facilities["facility_id"].astype(str).to_numpy(), opts)
    served_by = {h: [c.live[a] for a in range(len(c.live)) if pick[a] == h] for h in set(pick.tolist()) if h >= 0}
    rows = []
    for g in grids:
        grp = gs[g]
        mem_declared = bool(declared[grp.members].any()) if len(grp.members) else False
        row = {"grid_id": g, "centre_kind": rule.kind, "centre_name": rule.label, "host_facility_id": "",
               "host_name": "", "host_grid_id": "", "members_served": len(grp.members), "mean_minutes": np.nan,
               "max_minutes": np.nan, "shared_with": "", "host_basis": "", "capability_declared": mem_declared,
               "rule_source": rule.source, "volume_columns": "+".join(rule.volume),
               "volume_estimated_share": grp.est_share, "members_without_volume": grp.no_volume}
        if not applies[g]:
            rows.append(row | {"status": "not_applicable", "members_served": 0,
                               "host_basis": f"no {'/'.join(rule.needs_group_kinds)} facility in the group"})
            continue
        h = int(pick[c.live.index(g)])
        if h < 0:
            why = "capability flags" if mem_declared else "level/kind rule"
            rows.append(row | {"status": "no_host", "host_basis": f"no member able to host ({why} {rule.flag})"})
            continue
        rows.append(row | _host_fields(rule, c, g, h, grp, facilities, declared, served_by[h]))
    return rows


def shared_centres(
    groups: pd.DataFrame,
    facilities: pd.DataFrame,
    fac_unit: np.ndarray,
    unit_minutes_to_facility: Callable[[np.ndarray, np.ndarray], np.ndarray],
    centre_rules: Sequence[CentreRule],
    unit_grid: np.ndarray | None = None,
    adjacency: sp.spmatrix | None = None,
    options: CentreOptions | None = None,
) -> pd.DataFrame:
    """Choose the host of every centre kind for every group (``shared_centres.csv``).

    Parameters
    ----------
    groups : ``groups.csv`` table (``grid_id``, ``facility_id``, ``role``); grids with a ``lead`` row are planned
    facilities : the plan's facilities (``facility_id``, ``name``, ``level``, ``kind``, ``grid_id``, capacities,
        capability columns), positional like ``fac_unit``
    fac_unit : (f,) planning unit each facility stands in (−1 outside the planning area)
    unit_minutes_to_facility : (unit indices, facility indices) → minutes, the run's travel model
    centre_rules : host rules (:func:`simulator.config.centres.load_centre_rules`)
    unit_grid, adjacency : grid per unit and unit adjacency; needed when ``options.share``
    options : sharing and the cost of a centre (:class:`CentreOptions`)

    Returns
    -------
    pd.DataFrame
        one row per grid and centre kind, columns :data:`CENTRE_COLUMNS`; minutes in the run's travel model
    """
    opts = options or CentreOptions()
    grids = sorted(groups.loc[groups["role"] == "lead", "grid_id"].astype(str).unique(), key=grid_sort_key)
    neighbours: set[tuple[str, str]] = set()
    if opts.share:
        if unit_grid is None or adjacency is None:
            raise ValueError("sharing centres needs unit_grid and adjacency")
        neighbours = adjacent_grids(unit_grid, adjacency)
    # the grid each facility's group is (a lead belongs to the grid it leads; members to the grid they stand in)
    sending = groups[groups["role"].isin(SENDING_ROLES)]
    grid_of = dict(zip(sending["facility_id"], sending["grid_id"].astype(str), strict=True))
    grid_of_fac = facilities["facility_id"].map(grid_of).fillna("").astype(str).to_numpy()
    rows = []
    for rule in centre_rules:
        rows += _kind_rows(rule, facilities, groups, np.asarray(fac_unit), unit_minutes_to_facility, grids,
                           neighbours, opts, grid_of_fac)
    return pd.DataFrame(rows, columns=list(CENTRE_COLUMNS))


def centres_of_scenario(scenario, groups: pd.DataFrame, facilities: pd.DataFrame, fac_unit: np.ndarray,
                        minutes: Callable, unit_grid: np.ndarray, adjacency: sp.spmatrix) -> pd.DataFrame:
    """:func:`shared_centres` with the scenario's host rules (``plan.centre_rules``, a name of
    ``config/centres/`` or a TOML file beside the scenario) and its sharing settings."""
    p = scenario.plan
    opts = CentreOptions(bool(getattr(p, "share_centres", False)), float(getattr(p, "centre_open_cost", 0.0)))
    rules = load_centre_rules(centre_rules_name(scenario))
    return shared_centres(groups, facilities, fac_unit, minutes, rules, unit_grid, adjacency, opts)
