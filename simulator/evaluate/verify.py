"""Independent verifier of a written run folder (``caregrid run SCENARIO --out DIR``).

This module re-checks the rules on the *files* of a run folder with its own code: it reads ``plan.gpkg``
(layers ``units``, ``grids``, ``facilities``), ``groups.csv``, ``referrals.csv``, ``compliance.csv``,
``run.json`` and the declared reservations file its scenario names, and nothing else of the planner. It
deliberately does not import ``simulator.plan``, ``simulator.groups``, ``simulator.evaluate`` (its sibling
verifiers aside), ``simulator.optimise`` or ``simulator.units``; the only project code it uses is
:func:`simulator.config.rules.load_rules` (the rule file is data).

What is checked (each failure is one human-readable line of :func:`verify_run`'s result):

* units — unique unit ids, exactly one grid id per unit; the number of grids is at least the rule set's
  ``grids.min_count`` and inside ``grid_count_range`` of ``run.json``; the population of the units of each
  grid equals the ``grids`` layer's population, whose geometry is the union of its units;
* contiguity (rule 6) — adjacency is rebuilt from the unit geometries (a shared boundary of positive length,
  measured in a local UTM projection, not a corner contact) plus the ``bridges`` of ``run.json``; every grid
  must be one connected component;
* leads (rule 2) — exactly one ``lead`` per grid in ``groups.csv``, eligible under the rule file's ``[lead]``
  table (level, kind, ownership; enterprise-owned only if ``scenario.plan.allow_enterprise_leads``), not
  modelled, in the city, standing inside its grid (within ``tolerance_m``) when ``scenario.plan.lead_inside_grid``
  is true (a run.json without the key counts as true; false: a lead may stand anywhere); distinct leads;
* membership — every ``member`` (and, with ``lead_inside_grid``, every ``lead``) stands inside its grid; every
  facility standing inside a grid is listed in that grid's group; ``cross_grid`` facilities are of a cross-grid
  kind; ``collaborating`` units are external (``in_city`` false) or provincial and of an external level, at least
  ``collaborating.min_per_group`` each;
* rule 3 — at least ``members.min_required`` members per grid (the lead aside) that are comprehensive or TCM
  hospitals of ``members.required_levels`` (and ``higher_levels`` under ``plan.member_reading =
  "at_least_secondary"``, the default) or continuing-care facilities (kind or ``continuing_care`` flag); every grid
  is served (member or ``cross_grid`` row) by an institution of ``cross_grid.maternal_child_kinds`` and of
  ``public_health_kinds``, and ``compliance.csv`` does not call that passed when the city's data has none;
* roles — a facility the facilities layer marks ``collaborating`` collaborates with some group in ``groups.csv``;
* rule 5 — judged from the declared reservations file the scenario names (``inputs.reservations``, read here) and
  the facilities layer: a lead that declared slots (beds) passes when they reach
  ``ceil(outpatient_share × outpatient_daily)`` (``ceil(bed_share × beds)``) and fails otherwise; without a
  declaration the row must be ``planned`` (the plan reserves at least that share), with an unknown capacity
  ``no_data`` — so a ``passed`` without a declaration is caught; the facilities layer reserves what was declared;
  the referral rows to the grid's primary-care members sum exactly to the reservation; ``residents_served`` is
  non-negative and sums to the grid population;
* ``compliance.csv`` agrees with these findings wherever the verifier can judge a rule, and names its rules
  with the ids and texts of the rule file's catalogue.

Beside these, :func:`verify_run` runs the checks of the plan layers, each in its own module that reads the folder
with its own code and imports no engine code (tests/evaluate/test_verify_layers.py): :mod:`.verify_centres`
(``shared_centres.csv``) and :mod:`.verify_layers` (``targets.csv``, ``emergency.csv``, the ``ems_stations``
layer, ``family_doctors.csv``, ``referral_allocations.csv``; :func:`.verify_layers.unverifiable` says what a folder
does not let it re-check).

Use :func:`verify_run` for the list of violations (empty: every rule holds) or :func:`assert_valid_run` in
tests.
"""

from __future__ import annotations

import io
import json
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config.rules import load_rules
from .verify_centres import verify_shared_centres
from .verify_layers import verify_plan_layers

__all__ = ["verify_run", "assert_valid_run", "unit_adjacency", "grid_pieces", "VerificationError"]

#: buffer width (m) of the shared-boundary measure: area of A within this distance of B, divided by it
EDGE_BUFFER_M = 2.0
#: shared boundary (m) above which two units count as adjacent for the contiguity check. A corner contact
#: measures at most π·w/2 ≈ 3.1 m with w = EDGE_BUFFER_M, so this separates edges from corners.
MIN_EDGE_M = 5.0
#: shared boundary (m) above which the verifier is *sure* the planner also counts two units as adjacent
#: (the planner's own threshold is 20 m); used only to contradict a "failed" contiguity row of compliance.csv
SURE_EDGE_M = 40.0

LEAD_ROLES = ("lead", "member")
KNOWN_ROLES = ("lead", "member", "cross_grid", "collaborating", "campus")


class VerificationError(AssertionError):
    """Raised by :func:`assert_valid_run`; ``violations`` holds the lines."""

    def __init__(self, run_dir: Path, violations: list[str]) -> None:
        self.violations = violations
        super().__init__(f"{run_dir}: {len(violations)} rule violation(s):\n" + "\n".join(f"- {v}" for v in violations))


# ----------------------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------------------
def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.replace("", np.nan), errors="coerce").astype(float)


def _bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.astype(str).str.strip().str.lower().isin(("true", "1", "yes", "1.0"))


def _text(s: pd.Series) -> pd.Series:
    return s.where(s.notna(), "").astype(str).replace({"None": "", "nan": ""})


def _local_crs(gdf: gpd.GeoDataFrame) -> pyproj.CRS:
    try:
        crs = gdf.estimate_utm_crs()
        if crs is not None:
            return crs
    except Exception:  # pragma: no cover - estimate_utm_crs needs a non-empty frame
        pass
    return pyproj.CRS.from_epsg(32651)


# ----------------------------------------------------------------------------------------------------------
# geometry helpers (own code, used by the tests too)
# ----------------------------------------------------------------------------------------------------------
def unit_adjacency(geoms_m: np.ndarray, min_shared_m: float = MIN_EDGE_M,
                   buffer_m: float = EDGE_BUFFER_M) -> list[set[int]]:
    """Neighbour sets of polygons (projected, metres) that share a boundary of at least ``min_shared_m``.

    The shared length of A and B is the area of A within ``buffer_m`` of B divided by ``buffer_m`` (taking the
    larger of the two directions): an exactly shared edge of length L gives L, a gap or overlap of less than
    the buffer still counts, a corner contact gives at most π·buffer/2.
    """
    geoms_m = np.asarray(geoms_m, dtype=object)
    n = len(geoms_m)
    nbrs: list[set[int]] = [set() for _ in range(n)]
    if n < 2:
        return nbrs
    tree = shapely.STRtree(geoms_m)
    i, j = tree.query(geoms_m, predicate="dwithin", distance=buffer_m)
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i) == 0:
        return nbrs
    a, b = geoms_m[i], geoms_m[j]
    ab = shapely.area(shapely.intersection(a, shapely.buffer(b, buffer_m, quad_segs=4))) / buffer_m
    ba = shapely.area(shapely.intersection(b, shapely.buffer(a, buffer_m, quad_segs=4))) / buffer_m
    ok = np.maximum(ab, ba) >= min_shared_m
    for x, y in zip(i[ok], j[ok], strict=True):
        nbrs[int(x)].add(int(y))
        nbrs[int(y)].add(int(x))
    return nbrs


def grid_pieces(unit_grid: np.ndarray, nbrs: list[set[int]]) -> dict[str, list[list[int]]]:
    """Connected pieces (lists of unit indices) of each grid, by breadth-first search within the grid."""
    unit_grid = np.asarray(unit_grid).astype(str)
    seen = np.zeros(len(unit_grid), dtype=bool)
    out: dict[str, list[list[int]]] = {}
    for start in range(len(unit_grid)):
        if seen[start]:
            continue
        g = unit_grid[start]
        seen[start] = True
        piece, queue = [start], deque([start])
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                if not seen[v] and unit_grid[v] == g:
                    seen[v] = True
                    piece.append(v)
                    queue.append(v)
        out.setdefault(g, []).append(sorted(piece))
    return out


# ----------------------------------------------------------------------------------------------------------
# the verifier
# ----------------------------------------------------------------------------------------------------------
def _load_rule_set(record: dict[str, Any]):
    scen_rules = (record.get("scenario") or {}).get("rules")
    errors = []
    for name in (scen_rules, record.get("rules")):
        if not name:
            continue
        try:
            rules = load_rules(str(name))
        except Exception as exc:  # InputError for an unknown id / missing file
            errors.append(str(exc))
            continue
        return rules, errors
    return None, errors


def _sort_key(g: str):
    return (0, int(g[1:]), g) if len(g) > 1 and g[1:].isdigit() else (1, 0, g)


@dataclass
class _Run:
    """A run folder as read by the verifier, the facts its checks share, and the violations found so far."""

    dir: Path
    record: dict[str, Any]
    rules: Any  # simulator.config.rules.RuleSet
    units: gpd.GeoDataFrame
    grids_layer: gpd.GeoDataFrame
    fac: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    compliance: pd.DataFrame
    tolerance_m: float
    v: list[str] = field(default_factory=list)
    # set by the checks, in this order
    unit_grid: np.ndarray = field(default_factory=lambda: np.array([], dtype=str))
    grid_ids: list[str] = field(default_factory=list)
    pop_of: dict[str, float] = field(default_factory=dict)
    no_grid: pd.Series | None = None
    local: pyproj.CRS | None = None  # local UTM projection of the run
    ugeom: np.ndarray | None = None  # unit polygons in metres
    grid_geom_m: dict[str, Any] = field(default_factory=dict)
    contiguous: dict[str, bool | None] = field(default_factory=dict)
    frow: dict[str, int] = field(default_factory=dict)  # facility id → row of ``fac``
    dist: np.ndarray | None = None  # (facilities, grids) metres from each facility to each grid polygon
    grid_lead: dict[str, str] = field(default_factory=dict)
    lead_ok: dict[str, bool] = field(default_factory=dict)
    listed: dict[str, list[str]] = field(default_factory=dict)  # facility id → grids it is lead/member of
    n_collab: dict[str, int] = field(default_factory=dict)
    n_req: dict[str, int] = field(default_factory=dict)
    served: dict[tuple[str, str], bool] = field(default_factory=dict)
    r5: dict[tuple[str, str], str] = field(default_factory=dict)  # rule 5 status compliance.csv must show
    declared: dict[str, dict[str, float]] = field(default_factory=dict)  # the declared reservations file
    s_pop: dict[str, bool] = field(default_factory=dict)
    s_beds: dict[str, bool] = field(default_factory=dict)

    @property
    def scenario(self) -> dict[str, Any]:
        return self.record.get("scenario") or {}

    @property
    def lead_inside(self) -> bool:
        """``scenario.plan.lead_inside_grid`` of the run (a run.json from before the switch: the inside reading)."""
        return bool((self.scenario.get("plan") or {}).get("lead_inside_grid", True))

    @property
    def gcol(self) -> dict[str, int]:
        return {g: k for k, g in enumerate(self.grid_ids)}

    def name(self, fid: str) -> str:
        return self.fac["name"].iat[self.frow[fid]]

    def where(self, fid: str) -> str:
        """Distance of a facility to its nearest grid, for messages."""
        i = self.frow[fid]
        k = int(np.argmin(self.dist[i])) if len(self.grid_ids) else -1
        return f"{self.dist[i, k]:,.0f} m from grid {self.grid_ids[k]}" if k >= 0 else "no grid"


def _read(run_dir: Path, tolerance_m: float) -> _Run | list[str]:
    """Read the run folder; a list of violations instead when files or the rule set are missing."""
    needed = ["run.json", "plan.gpkg", "groups.csv", "referrals.csv", "compliance.csv"]
    missing = [n for n in needed if not (run_dir / n).exists()]
    if missing:
        return [f"run folder {run_dir}: missing file(s) {', '.join(missing)}"]
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    rules, rule_errors = _load_rule_set(record)
    if rules is None:
        return [f"run.json: cannot load the rule set ({'; '.join(rule_errors) or 'none named'})"]
    gpkg = run_dir / "plan.gpkg"
    return _Run(
        dir=run_dir,
        record=record,
        rules=rules,
        units=gpd.read_file(gpkg, layer="units"),
        grids_layer=gpd.read_file(gpkg, layer="grids"),
        fac=gpd.read_file(gpkg, layer="facilities"),
        groups=_csv(run_dir / "groups.csv"),
        referrals=_csv(run_dir / "referrals.csv"),
        compliance=_csv(run_dir / "compliance.csv"),
        tolerance_m=tolerance_m,
    )


# ---------------------------------------------------------------- units and grids (rule 1)
def _check_units(r: _Run) -> None:
    units, v = r.units, r.v
    units["unit_id"] = _text(units["unit_id"])
    units["grid_id"] = _text(units["grid_id"]) if "grid_id" in units else ""
    units["population"] = pd.to_numeric(units["population"], errors="coerce").astype(float)
    dup = units["unit_id"][units["unit_id"].duplicated()]
    if len(dup):
        v.append(f"units: {dup.nunique()} unit id(s) occur more than once (e.g. {', '.join(dup.unique()[:5])}); "
                 "each unit must be listed once with exactly one grid")
    r.no_grid = no_grid = units["grid_id"].str.strip() == ""
    if no_grid.any():
        v.append(f"units: {int(no_grid.sum())} unit(s) have no grid id (e.g. "
                 f"{', '.join(units.loc[no_grid, 'unit_id'].head(5))}; "
                 f"{units.loc[no_grid, 'population'].sum():,.0f} residents); every unit needs exactly one grid")
    if units["population"].isna().any() or (units["population"] < 0).any():
        v.append("units: population missing or negative for some unit(s)")
    r.unit_grid = units["grid_id"].to_numpy().astype(str)
    r.grid_ids = sorted({g for g in r.unit_grid if g.strip()}, key=_sort_key)
    r.pop_of = units.groupby("grid_id")["population"].sum().to_dict()


def _check_grid_count(r: _Run) -> None:
    n, n_min = len(r.grid_ids), int(r.rules["grids"]["min_count"])
    if n < n_min:
        r.v.append(f"R1 grids: the plan has {n} grid(s); {r.rules.id} requires at least {n_min}")
    rng = r.record.get("grid_count_range")
    if rng is not None and len(rng) == 2:
        lo, hi = int(rng[0]), int(rng[1])
        if not lo <= n <= hi:
            r.v.append(f"R1 grids: the plan has {n} grid(s), outside the run's grid_count_range {lo}–{hi}")


def _check_grids_layer(r: _Run) -> None:
    """The grids layer names the units' grids, with their population and the union of their polygons."""
    gl, v, grid_ids = r.grids_layer, r.v, r.grid_ids
    gl["grid_id"] = _text(gl["grid_id"])
    gl["lead_facility_id"] = _text(gl.get("lead_facility_id", pd.Series("", index=gl.index)))
    gl_ids = gl["grid_id"].tolist()
    if len(set(gl_ids)) != len(gl_ids):
        v.append("grids layer: a grid id occurs more than once")
    if set(gl_ids) != set(grid_ids):
        only_l = sorted(set(gl_ids) - set(grid_ids), key=_sort_key)
        only_u = sorted(set(grid_ids) - set(gl_ids), key=_sort_key)
        v.append("grids layer and units layer name different grids"
                 + (f"; only in the grids layer: {', '.join(only_l)}" if only_l else "")
                 + (f"; only in the units layer: {', '.join(only_u)}" if only_u else ""))
    gl_pop = dict(zip(gl_ids, pd.to_numeric(gl["population"], errors="coerce").astype(float), strict=True))
    for g in grid_ids:
        if g in gl_pop and not abs(gl_pop[g] - r.pop_of.get(g, 0.0)) <= 0.5:
            v.append(f"population: grid {g} has {r.pop_of.get(g, 0.0):,.0f} residents in its units but "
                     f"{gl_pop[g]:,.0f} in the grids layer")
    # projected geometries (metres)
    r.local = local = _local_crs(r.units)
    r.ugeom = r.units.to_crs(local).geometry.to_numpy()
    r.grid_geom_m = {g: shapely.union_all(r.ugeom[r.unit_grid == g]) for g in grid_ids}
    gl_m = gl.to_crs(local)
    for g, geom in zip(gl_m["grid_id"], gl_m.geometry, strict=True):
        if g in r.grid_geom_m and geom is not None:
            mine = r.grid_geom_m[g]
            diff = shapely.area(shapely.symmetric_difference(mine, geom))
            if diff > 1e-4 * max(shapely.area(mine), 1.0) + 1e4:
                v.append(f"grids layer: the polygon of grid {g} differs from the union of its units by "
                         f"{diff / 1e6:,.3f} km²")


# ---------------------------------------------------------------- contiguity (rule 6)
def _neighbours(r: _Run) -> tuple[list[set[int]], list[set[int]]]:
    """Unit neighbour sets at the loose and the sure edge threshold, both with the run's exclave bridges."""
    id_index = {u: k for k, u in enumerate(r.units["unit_id"])}
    bridges = []
    for b in r.record.get("bridges") or []:
        a_, b_ = str(b.get("unit_a")), str(b.get("unit_b"))
        if a_ in id_index and b_ in id_index:
            bridges.append((id_index[a_], id_index[b_]))
        else:
            r.v.append(f"run.json: bridge {a_} – {b_} names unit(s) not in the units layer")
    nbrs = unit_adjacency(r.ugeom, MIN_EDGE_M)
    sure = unit_adjacency(r.ugeom, SURE_EDGE_M)
    for a_, b_ in bridges:
        for nb in (nbrs, sure):
            nb[a_].add(b_)
            nb[b_].add(a_)
    return nbrs, sure


def _check_contiguity(r: _Run) -> None:
    nbrs, sure = _neighbours(r)
    pieces = grid_pieces(r.unit_grid, nbrs)
    pieces_sure = grid_pieces(r.unit_grid, sure)
    for g in r.grid_ids:
        ps = pieces.get(g, [])
        if len(ps) > 1:
            ps = sorted(ps, key=len, reverse=True)
            stray = [r.units["unit_id"].iat[i] for p in ps[1:] for i in p]
            r.v.append(f"R6 contiguity: grid {g} is in {len(ps)} pieces (units per piece: "
                       f"{', '.join(str(len(p)) for p in ps)}); detached unit(s): {', '.join(stray[:8])}"
                       + (" …" if len(stray) > 8 else ""))
            r.contiguous[g] = False
        elif len(pieces_sure.get(g, [])) == 1:
            r.contiguous[g] = True
        else:
            r.contiguous[g] = None  # connected only through very short shared edges: the planner may differ


# ---------------------------------------------------------------- facilities and groups.csv
def _prepare_facilities(r: _Run) -> None:
    fac = r.fac.copy()
    fac["facility_id"] = _text(fac["facility_id"])
    for col in ("level", "kind", "ownership", "role", "grid_id", "name"):
        fac[col] = _text(fac[col]) if col in fac else ""
    for col in ("in_city", "modelled", "continuing_care"):
        fac[col] = _bool(fac[col]) if col in fac else (col == "in_city")
    for col in ("beds", "outpatient_daily", "reserved_outpatient_slots", "reserved_beds"):
        fac[col] = pd.to_numeric(fac[col], errors="coerce").astype(float) if col in fac else np.nan
    if fac["facility_id"].duplicated().any():
        r.v.append("facilities layer: duplicate facility ids "
                   + ", ".join(fac.loc[fac["facility_id"].duplicated(), "facility_id"].unique()[:5]))
    r.fac = fac = fac.drop_duplicates("facility_id").reset_index(drop=True)
    r.frow = {fid: k for k, fid in enumerate(fac["facility_id"])}
    fac_m = fac.to_crs(r.local).geometry.to_numpy()
    r.dist = np.full((len(fac), len(r.grid_ids)), np.inf)
    for k, g in enumerate(r.grid_ids):
        r.dist[:, k] = shapely.distance(fac_m, r.grid_geom_m[g])


def _check_groups_table(r: _Run) -> None:
    groups, v = r.groups, r.v
    for col in ("grid_id", "facility_id", "role"):
        if col not in groups:
            groups[col] = ""
    unknown_fac = sorted(set(groups["facility_id"]) - set(r.frow))
    if unknown_fac:
        v.append(f"groups.csv: facility id(s) not in the facilities layer: {', '.join(unknown_fac[:8])}")
    r.groups = groups = groups[groups["facility_id"].isin(r.frow)]
    bad_role = sorted(set(groups["role"]) - set(KNOWN_ROLES))
    if bad_role:
        v.append(f"groups.csv: unknown role(s) {', '.join(bad_role)}; expected {', '.join(KNOWN_ROLES)}")
    bad_grid = sorted(set(groups["grid_id"]) - set(r.grid_ids), key=_sort_key)
    if bad_grid:
        v.append(f"groups.csv: group(s) for grid(s) that hold no unit: {', '.join(bad_grid)}")
    if groups.duplicated(["grid_id", "facility_id"]).any():
        d = groups[groups.duplicated(["grid_id", "facility_id"], keep=False)]
        v.append("groups.csv: a facility is listed twice in one group: "
                 + ", ".join(f"{g}/{f}" for g, f in d[["grid_id", "facility_id"]].drop_duplicates().to_numpy()[:5]))


# ---------------------------------------------------------------- leads (rule 2)
def _lead_problem(r: _Run, i: int) -> str | None:
    """Why facility row ``i`` may not lead under the rule file's [lead] table (None: it may)."""
    lead_cfg = r.rules["lead"]
    allow_enterprise = bool((r.scenario.get("plan") or {}).get("allow_enterprise_leads", False))
    owners = set(lead_cfg["ownerships"]) | (
        {"enterprise"} if allow_enterprise and lead_cfg.get("enterprise_switch") else set()
    )
    row = r.fac.iloc[i]
    bad = []
    if row["level"] not in lead_cfg["levels"]:
        bad.append(f"level {row['level'] or '?'} (needs {'/'.join(lead_cfg['levels'])})")
    if row["kind"] not in lead_cfg["kinds"]:
        bad.append(f"kind {row['kind'] or '?'} (needs {'/'.join(lead_cfg['kinds'])})")
    if row["ownership"] not in owners:
        why = " (enterprise leads are switched off by the scenario)" if row["ownership"] == "enterprise" else ""
        bad.append(f"ownership {row['ownership'] or '?'}{why} (needs {'/'.join(sorted(owners))})")
    if not row["in_city"]:
        bad.append("outside the city (in_city false)")
    if row["modelled"]:
        bad.append("a modelled, not a real, facility")
    return "; ".join(bad) if bad else None


def _check_leads(r: _Run) -> None:
    groups, v, gcol = r.groups, r.v, r.gcol
    for g in r.grid_ids:
        leads = groups.loc[(groups.grid_id == g) & (groups.role == "lead"), "facility_id"].tolist()
        if len(leads) != 1:
            v.append(f"R2 lead: grid {g} has {len(leads)} lead(s) in groups.csv"
                     + (f" ({', '.join(leads)})" if leads else "") + "; exactly one is required")
            r.lead_ok[g] = False
            if len(leads) == 0:
                continue
        lid = leads[0]
        r.grid_lead[g] = lid
        i = r.frow[lid]
        problem = _lead_problem(r, i)
        if problem:
            v.append(f"R2 lead: {lid} {r.name(lid)} leads grid {g} but is not eligible under {r.rules.id}: "
                     f"{problem}")
        r.lead_ok.setdefault(g, problem is None)
        if r.lead_inside and r.dist[i, gcol[g]] > r.tolerance_m:
            v.append(f"R2 lead: {lid} leads grid {g} but stands {r.dist[i, gcol[g]]:,.0f} m outside it "
                     f"(tolerance {r.tolerance_m:g} m)")
    counts = pd.Series(list(r.grid_lead.values()), dtype=object).value_counts()
    for lid, c in counts[counts > 1].items():
        v.append(f"R2 one group per grid: {lid} leads {c} grids; each grid needs its own lead")


def _check_lead_columns(r: _Run) -> None:
    """The grids and units layers name the same lead as groups.csv."""
    gl_lead = dict(zip(r.grids_layer["grid_id"], r.grids_layer["lead_facility_id"], strict=True))
    for g in r.grid_ids:
        if g in gl_lead and gl_lead[g] != r.grid_lead.get(g, ""):
            r.v.append(f"grids layer: grid {g} names lead {gl_lead[g] or '(none)'} but groups.csv names "
                       f"{r.grid_lead.get(g) or '(none)'}")
    if "lead_facility_id" in r.units:
        ul = _text(r.units["lead_facility_id"])
        wrong = ul.to_numpy() != np.array([r.grid_lead.get(g, "") for g in r.unit_grid], dtype=object)
        if wrong.any():
            r.v.append(f"units layer: {int(wrong.sum())} unit(s) name a lead other than their grid's lead in "
                       f"groups.csv (e.g. {', '.join(r.units.loc[wrong, 'unit_id'].head(3))})")


# ---------------------------------------------------------------- membership, cross-grid, collaborating (rule 4)
def _check_membership(r: _Run) -> None:
    """Members stand inside their grid; every facility inside a grid is in its group."""
    own = r.groups[r.groups.role.isin(LEAD_ROLES)]
    for g, fid in own[["grid_id", "facility_id"]].to_numpy():
        r.listed.setdefault(fid, []).append(g)
    fac, gcol, v = r.fac, r.gcol, r.v
    for fid, gs in r.listed.items():
        i = r.frow[fid]
        if len(gs) > 1:
            v.append(f"membership: {fid} {r.name(fid)} is lead/member of {len(gs)} groups ({', '.join(gs)}); "
                     "a facility stands in one grid")
        if not fac["in_city"].iat[i]:
            v.append(f"membership: {fid} {r.name(fid)} is lead/member of grid {gs[0]} but lies outside the "
                     "city (in_city false)")
        for g in gs:
            if r.grid_lead.get(g) == fid and not r.lead_inside:
                continue  # a lead may stand outside its grid (plan.lead_inside_grid = false)
            if g in gcol and r.dist[i, gcol[g]] > r.tolerance_m:
                v.append(f"membership: {fid} {r.name(fid)} is listed in grid {g} but stands "
                         f"{r.dist[i, gcol[g]]:,.0f} m outside it ({r.where(fid)})")
        if fac["grid_id"].iat[i] and fac["grid_id"].iat[i] not in gs:
            v.append(f"facilities layer: {fid} has grid_id {fac['grid_id'].iat[i]} but groups.csv lists it in "
                     f"{', '.join(gs)}")
    if len(r.grid_ids):
        inside = r.dist.min(axis=1) <= 1.0
        campus = (fac["role"] == "campus").to_numpy()  # a linked campus belongs to its main campus's institution
        for i in np.flatnonzero(inside & fac["in_city"].to_numpy() & ~campus):
            fid = fac["facility_id"].iat[i]
            if fid not in r.listed:
                k = int(np.argmin(r.dist[i]))
                v.append(f"membership: {fid} {fac['name'].iat[i]} stands inside grid {r.grid_ids[k]} but is not "
                         "listed in any group as lead or member")


def _check_cross_grid(r: _Run) -> None:
    cross_kinds = set(r.rules["cross_grid"]["kinds"])
    for g, fid in r.groups.loc[r.groups.role == "cross_grid", ["grid_id", "facility_id"]].to_numpy():
        i = r.frow[fid]
        if r.fac["kind"].iat[i] not in cross_kinds or not r.fac["in_city"].iat[i]:
            r.v.append(f"cross-grid: {fid} {r.name(fid)} ({r.fac['kind'].iat[i]}) is listed as cross_grid in "
                       f"grid {g} but only in-city {', '.join(sorted(cross_kinds))} facilities serve several grids")
        if g in r.listed.get(fid, []):
            r.v.append(f"cross-grid: {fid} is both a member and cross_grid in grid {g}")


def _check_collaborating(r: _Run) -> None:
    col_levels = set(r.rules["collaborating"].get("external_levels", []))
    r.n_collab = {g: 0 for g in r.grid_ids}
    for g, fid in r.groups.loc[r.groups.role == "collaborating", ["grid_id", "facility_id"]].to_numpy():
        i = r.frow[fid]
        external = (not r.fac["in_city"].iat[i]) or r.fac["ownership"].iat[i] == "provincial"
        level_ok = not col_levels or r.fac["level"].iat[i] in col_levels
        if not external or not level_ok:
            why = [] if external else ["it is an in-city, non-provincial facility"]
            if not level_ok:
                why.append(f"level {r.fac['level'].iat[i]} is not {'/'.join(sorted(col_levels))}")
            r.v.append(f"R4 collaborating: {fid} {r.name(fid)} collaborates with grid {g} but " + " and ".join(why))
            continue
        if g in r.listed.get(fid, []):
            r.v.append(f"R4 collaborating: {fid} is both inside grid {g} and its collaborating unit")
            continue
        if g in r.n_collab:
            r.n_collab[g] += 1
    serving = set(r.groups.loc[r.groups.role == "collaborating", "facility_id"])
    marked = r.fac.loc[r.fac["role"] == "collaborating", "facility_id"]
    for fid in marked[~marked.isin(serving)]:
        r.v.append(f"facilities layer: {fid} {r.name(fid)} is marked collaborating but collaborates with no group "
                   "in groups.csv")
    need_c = _min_collaborating(r)
    for g in r.grid_ids:
        if g in r.grid_lead and r.n_collab[g] < need_c:
            r.v.append(f"R4 collaborating: grid {g} has {r.n_collab[g]} valid collaborating unit(s); {r.rules.id} "
                       f"requires at least {need_c}")


def _min_collaborating(r: _Run) -> int:
    return int(r.rules["collaborating"].get("min_per_group", 1))


# ---------------------------------------------------------------- rule 3
def _min_required(r: _Run) -> int:
    return int(r.rules["members"].get("min_required", 1))


def _check_required_members(r: _Run) -> None:
    m, fac = r.rules["members"], r.fac
    reading = (r.scenario.get("plan") or {}).get("member_reading", "at_least_secondary")
    levels = list(m["required_levels"]) + (list(m.get("higher_levels", [])) if reading == "at_least_secondary" else [])
    req = ((fac["level"].isin(levels) & fac["kind"].isin(m["required_kinds"]))
           | fac["kind"].isin(m["continuing_care_kinds"]) | fac["continuing_care"]) & fac["in_city"]
    req_ids = set(fac.loc[req, "facility_id"])
    need_m = _min_required(r)
    for g in r.grid_ids:
        # the lead is not its own group's member
        mem = r.groups.loc[(r.groups.grid_id == g) & (r.groups.role == "member"), "facility_id"]
        r.n_req[g] = int(mem.isin(req_ids).sum())
        if r.n_req[g] < need_m:
            r.v.append(f"R3 member: grid {g} has {r.n_req[g]} comprehensive/TCM hospital(s) ({'/'.join(levels)}) or "
                       f"continuing-care facilit(ies) among its members; {r.rules.id} requires at least {need_m}")
    _check_served_by(r)


#: rule id → the ``[cross_grid]`` key of the kinds every grid must be served by
SERVED_BY = {"R3.maternal_child": "maternal_child_kinds", "R3.public_health": "public_health_kinds"}


def _check_served_by(r: _Run) -> None:
    """Every grid is served by a maternal–child and a public-health institution (standing in it or cross_grid);
    the verdict is ``False`` (never passed) when the city's data holds none of the kind."""
    cfg = r.rules["cross_grid"]
    for rid, key in SERVED_BY.items():
        kinds = set(cfg.get(key, []))
        of_kind = set(r.fac.loc[r.fac["kind"].isin(kinds) & r.fac["in_city"], "facility_id"])
        for g in r.grid_ids:
            rows = r.groups.loc[(r.groups.grid_id == g) & r.groups.role.isin(("lead", "member", "cross_grid")),
                                "facility_id"]
            ok = bool(rows.isin(of_kind).any())
            r.served[(rid, g)] = ok
            if of_kind and not ok and g in r.grid_lead:
                r.v.append(f"{rid}: grid {g} is served by no {'/'.join(sorted(kinds))} institution")


# ---------------------------------------------------------------- rule 5
def _check_referral_rows(r: _Run, g: str, rows: pd.DataFrame, pcs: list[str]) -> None:
    """The grid's referral rows cover its residents and go to its primary-care members, each once."""
    gpop = float(r.pop_of.get(g, 0.0))
    served = float(rows["residents_served"].fillna(0).sum())
    if not abs(served - gpop) <= 0.5:
        r.v.append(f"R5 referral: residents_served of grid {g} sum to {served:,.0f}, not the grid's "
                   f"{gpop:,.0f} residents")
    targets = [f for f in rows["facility_id"] if f]
    stray = sorted(set(targets) - set(pcs))
    if stray:
        r.v.append(f"R5 referral: grid {g} refers to {', '.join(stray[:5])}, not primary-care member(s) of "
                   "its group")
    absent = sorted(set(pcs) - set(targets))
    if absent:
        r.v.append(f"R5 referral: primary-care member(s) {', '.join(absent[:5])} of grid {g} have no "
                   "referral row")


def _check_locks(r: _Run) -> None:
    """Locked units (``run.json`` ``locked_units``, when applied): every unit of the locks file the run names lies in
    the grid its ``lead_id`` leads (the locks file is read here, like the reservations file)."""
    rec = r.record.get("locked_units") or {}
    if not rec.get("applied") or not rec.get("file"):
        return
    path = Path(str(rec["file"]))
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        r.v.append(f"locked units: cannot read the locks file {path} run.json names ({exc})")
        return
    if not {"unit_id", "lead_id"} <= set(table.columns):
        r.v.append(f"locked units: the locks file {path} lacks unit_id or lead_id")
        return
    if len(table) != int(rec.get("units") or 0):
        r.v.append(f"locked units: run.json counts {rec.get('units')} locked unit(s), the locks file {path} "
                   f"lists {len(table)}")
    lead_of_unit = pd.Series(pd.Series(r.unit_grid).map(r.grid_lead).fillna("").to_numpy(),
                             index=_text(r.units["unit_id"]))
    want = _text(table["lead_id"]).to_numpy()
    got = lead_of_unit.reindex(_text(table["unit_id"])).fillna("(not in the units layer)").to_numpy()
    bad = np.flatnonzero(got != want)
    if len(bad):
        shown = ", ".join(f"{table['unit_id'].iat[k]} (locked to {want[k]}, in the grid of {got[k] or '(no lead)'})"
                          for k in bad[:5])
        r.v.append(f"locked units: {len(bad)} locked unit(s) outside their lead's grid: {shown}")


#: reservations-file column of each capacity column (the file ``inputs.reservations`` names)
_DECLARED_COL = {"outpatient_daily": "reserved_outpatient_daily", "beds": "reserved_beds"}


def _read_declared(r: _Run) -> dict[str, dict[str, float]]:
    """The declared reservations the run's scenario names (facility id → figures; NaN: not declared), read here
    from the file itself; ``{}`` when the scenario names none. A named file that cannot be read is a violation and
    counts as no declaration (a ``passed`` rule 5 row then stands out)."""
    name = ((r.scenario.get("inputs") or {}).get("reservations")) or ""
    if not name:
        return {}
    path = Path(name)
    if not path.is_absolute():
        path = Path(str(r.scenario.get("data") or ".")) / path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        r.v.append(f"R5: cannot read the declared reservations file {path} the scenario names ({exc})")
        return {}
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        r.v.append(f"R5: the declared reservations file {path} is neither UTF-8 nor GBK text")
        return {}
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if "facility_id" not in table:
        r.v.append(f"R5: the declared reservations file {path} has no facility_id column")
        return {}
    out: dict[str, dict[str, float]] = {}
    for _, row in table.iterrows():
        out[str(row["facility_id"]).strip()] = {
            col: float(pd.to_numeric(str(row.get(col, "")).strip() or "nan", errors="coerce"))
            for col in _DECLARED_COL.values()
        }
    return out


def _check_reservation(r: _Run, g: str, to_pc: pd.DataFrame, rid: str, cap_col: str, res_col: str,
                       share: float) -> None:
    """One reservation of rule 5 (slots or beds): the lead's declared figure (the reservations file) reaches the
    share of its capacity, the facilities layer reserves what was declared (or, undeclared, at least the share), and
    the referral rows sum to it. ``r.r5`` gets the status compliance.csv must show."""
    lid = r.grid_lead[g]
    li = r.frow[lid]
    what = "outpatient slots" if cap_col == "outpatient_daily" else "beds"
    cap = r.fac[cap_col].iat[li]
    declared = r.declared.get(lid, {}).get(_DECLARED_COL[cap_col], np.nan)
    reserved = r.fac[res_col].iat[li]
    if np.isfinite(declared) and not (np.isfinite(reserved) and abs(reserved - declared) <= 1e-6):
        r.v.append(f"{rid}: lead {lid} of grid {g} declared {declared:,.0f} {what}, but the facilities layer "
                   f"reserves {reserved:,.0f}")
    if not np.isfinite(cap):
        r.r5[(rid, g)] = "no_data"
    else:
        need = math.ceil(share * cap - 1e-9)
        if np.isfinite(declared):
            r.r5[(rid, g)] = "passed" if declared >= need else "failed"
            if declared < need:
                r.v.append(f"{rid}: lead {lid} of grid {g} declares {declared:,.0f} {what}; needs ≥ {need:,} "
                           f"(ceil({share:.4g} × {cap:,.0f}))")
        else:
            r.r5[(rid, g)] = "planned"
            if not (np.isfinite(reserved) and reserved >= need):
                r.v.append(f"{rid}: lead {lid} of grid {g} reserves {reserved:,.0f} {what} in the plan; the rule "
                           f"requires ≥ {need:,} (ceil({share:.4g} × {cap:,.0f}))")
    vals = to_pc[res_col]
    if (vals < 0).any() or (np.isfinite(reserved) and vals.isna().any()):
        r.v.append(f"{rid}: grid {g} has missing or negative reserved {what} in referrals.csv")
    alloc = float(vals.fillna(0).sum())
    if np.isfinite(reserved) and abs(alloc - reserved) > 1e-6:
        r.v.append(f"{rid}: referrals of grid {g} to its primary-care members sum to {alloc:,.0f} {what}, "
                   f"not the {reserved:,.0f} its lead {lid} reserves")
    for f, x in zip(to_pc["facility_id"], vals, strict=True):
        y = r.fac[res_col].iat[r.frow[f]]
        if np.isfinite(x) and not (np.isfinite(y) and abs(x - y) <= 1e-6):
            r.v.append(f"{rid}: facilities layer gives {f} {y} reserved {what}, referrals.csv {x}")


def _check_referrals(r: _Run) -> None:
    ref_cfg = r.rules["referral"]
    pc_kinds = set(ref_cfg["primary_care_kinds"])
    r.declared = _read_declared(r)
    referrals = r.referrals
    for col in ("grid_id", "lead_facility_id", "facility_id"):
        referrals[col] = referrals[col] if col in referrals else ""
    for col in ("residents_served", "reserved_outpatient_slots", "reserved_beds"):
        referrals[col] = _num(referrals[col]) if col in referrals else np.nan
    for g in r.grid_ids:
        rows = referrals[referrals.grid_id == g]
        if (rows["residents_served"] < 0).any():
            r.v.append(f"R5 referral: grid {g} has negative residents_served")
        if g not in r.grid_lead:
            continue
        lid = r.grid_lead[g]
        if (rows["lead_facility_id"] != lid).any():
            r.v.append(f"R5 referral: referrals.csv rows of grid {g} name a lead other than {lid}")
        mem = r.groups.loc[(r.groups.grid_id == g) & (r.groups.role == "member"), "facility_id"]
        pcs = [f for f in mem if r.fac["kind"].iat[r.frow[f]] in pc_kinds and r.fac["in_city"].iat[r.frow[f]]]
        if not pcs:
            r.v.append(f"R5 referral: grid {g} has no primary-care member ({', '.join(sorted(pc_kinds))}): the "
                       f"slots and beds its lead {lid} must reserve for primary-care referrals reach no one")
            r.r5[("R5.outpatient", g)] = r.r5[("R5.beds", g)] = "failed"
            continue
        _check_referral_rows(r, g, rows, pcs)
        to_pc = rows[rows.facility_id.isin(pcs)]
        _check_reservation(r, g, to_pc, "R5.outpatient", "outpatient_daily", "reserved_outpatient_slots",
                           ref_cfg["outpatient_share"])
        _check_reservation(r, g, to_pc, "R5.beds", "beds", "reserved_beds", ref_cfg["bed_share"])


def _check_reservation_statuses(r: _Run) -> None:
    """Rule 5 rows of compliance.csv show the status the declared file gives: ``passed`` / ``failed`` only with a
    declaration, ``planned`` without one, ``no_data`` with an unknown capacity (never ``passed`` undeclared)."""
    comp = r.compliance
    if not all(c in comp for c in ("rule_id", "scope", "status")):
        return
    table = {(rid, sc): st for rid, sc, st in zip(comp["rule_id"], comp["scope"], comp["status"], strict=True)}
    for (rid, g), mine in r.r5.items():
        theirs = table.get((rid, g))
        if theirs is None:
            r.v.append(f"compliance.csv: no row for rule {rid} ({g})")
        elif theirs != mine:
            why = {"planned": "the lead declared no reservation", "no_data": "the lead's capacity is unknown",
                   "passed": "the declared reservation reaches the share", "failed": "the rule is violated"}[mine]
            r.v.append(f"compliance.csv marks rule {rid} ({g}) as {theirs}, but the verifier finds {mine} ({why})")


# ---------------------------------------------------------------- scenario bounds (S.*)
def _check_scenario_bounds(r: _Run) -> None:
    gcfg = r.scenario.get("grids") or {}
    lo_p, hi_p = gcfg.get("min_population"), gcfg.get("max_population")
    rate_min = gcfg.get("min_beds_per_1000")
    for g in r.grid_ids:
        gp = r.pop_of.get(g, 0.0)
        if lo_p is not None or hi_p is not None:
            ok = (lo_p is None or gp >= lo_p - 0.5) and (hi_p is None or gp <= hi_p + 0.5)
            r.s_pop[g] = ok
            if not ok:
                r.v.append(f"scenario: grid {g} has {gp:,.0f} residents, outside the scenario's bounds "
                           f"{lo_p or 0:,.0f}–{hi_p if hi_p is not None else float('inf'):,.0f}")
        if rate_min is not None and g in r.grid_lead:
            mem = r.groups.loc[(r.groups.grid_id == g) & r.groups.role.isin(LEAD_ROLES), "facility_id"]
            beds = float(np.nansum(r.fac["beds"].to_numpy()[[r.frow[f] for f in mem]]))
            rate = beds / gp * 1000 if gp else float("nan")
            r.s_beds[g] = bool(rate >= rate_min - 1e-9)
            if not r.s_beds[g]:
                r.v.append(f"scenario: grid {g} has {rate:.2f} group beds per 1,000 residents; the scenario asks "
                           f"for ≥ {rate_min}")


# ---------------------------------------------------------------- compliance.csv
def _judged(r: _Run) -> dict[tuple[str, str], bool | None]:
    """The verifier's own verdict per (rule id, scope); ``None`` where it cannot judge the rule."""
    judged: dict[tuple[str, str], bool | None] = {}
    judged[("R1.grids", "city")] = len(r.grid_ids) >= int(r.rules["grids"]["min_count"])
    uncovered = bool(r.no_grid.any()) or any(g not in r.grid_lead for g in r.unit_grid)
    judged[("R1.coverage", "city")] = False if uncovered else None
    n_leads = r.groups[r.groups.role == "lead"].groupby("grid_id").size()
    # one group per grid: every grid (a layout grid without an eligible lead included) has exactly one lead
    judged[("R2.one_group_per_grid", "city")] = (len(set(r.grid_lead.values())) == len(r.grid_ids)
                                                 and bool((n_leads.reindex(r.grid_ids).fillna(0) == 1).all()))
    for g in r.grid_ids:
        judged[("R2.lead", g)] = bool(g in r.grid_lead and r.lead_ok.get(g, False))
        if g not in r.grid_lead:
            continue
        judged[("R3.member", g)] = r.n_req[g] >= _min_required(r)
        for rid in SERVED_BY:
            judged[(rid, g)] = r.served.get((rid, g), False)
        judged[("R4.collaborating", g)] = r.n_collab[g] >= _min_collaborating(r)
        # rule 5: the exact status is compared by _check_reservation_statuses
        judged[("R6.contiguous", g)] = r.contiguous.get(g)
        if g in r.s_pop:
            judged[("S.population", g)] = r.s_pop[g]
        if g in r.s_beds:
            judged[("S.beds_per_1000", g)] = r.s_beds[g]
    return judged


def _check_compliance_table(r: _Run) -> None:
    """compliance.csv (and run.json's summary of it) agree with the verifier wherever it can judge a rule."""
    compliance, v = r.compliance, r.v
    need_cols = ("rule_id", "scope", "passed")
    if not all(c in compliance for c in need_cols):
        v.append(f"compliance.csv: missing column(s); expected {', '.join(need_cols)}")
        return
    comp_passed = _bool(compliance["passed"])
    # status: passed / failed / planned (a figure the plan sets) / no_data; tables before the column: from passed
    status = (
        compliance["status"].astype(str).to_numpy()
        if "status" in compliance
        else np.where(comp_passed, "passed", "failed")
    )
    for rid, scope, st, ok in zip(compliance["rule_id"], compliance["scope"], status, comp_passed, strict=True):
        if st not in ("passed", "failed", "planned", "no_data"):
            v.append(f"compliance.csv: rule {rid} ({scope}) has status {st!r}; expected passed/failed/planned/no_data")
        elif (st == "passed") != bool(ok):
            v.append(f"compliance.csv: rule {rid} ({scope}) has status {st} but passed={bool(ok)}")
    table: dict[tuple[str, str], str] = {}
    for rid, scope, st in zip(compliance["rule_id"], compliance["scope"], status, strict=True):
        key = (rid, scope)
        if key in table:
            v.append(f"compliance.csv: rule {rid} for {scope} appears more than once")
        table[key] = str(st)
    for key, mine in _judged(r).items():
        if key not in table:
            v.append(f"compliance.csv: no row for rule {key[0]} ({key[1]})")
        elif mine is False and table[key] == "passed":
            v.append(f"compliance.csv marks rule {key[0]} ({key[1]}) as passed, but the verifier finds it violated")
        elif mine is True and table[key] == "failed":
            v.append(f"compliance.csv marks rule {key[0]} ({key[1]}) as failed, but the verifier finds it holds")
    _check_compliance_texts(r)
    record = r.record
    none_fail = not (status == "failed").any()
    if "compliance_passed" in record and bool(record["compliance_passed"]) != none_fail:
        v.append(f"run.json: compliance_passed is {record['compliance_passed']} but compliance.csv "
                 f"{'has no failed rule' if none_fail else 'has failed rules'}")


def _check_compliance_texts(r: _Run) -> None:
    """Every rule id of compliance.csv is in the rule file's catalogue, with the catalogue's texts."""
    catalogue = r.rules.catalogue
    cols = [c for c in ("rule_en", "rule_zh") if c in r.compliance]
    unknown, differ = [], []  # each rule id reported once, in table order
    for row in r.compliance[["rule_id", *cols]].itertuples(index=False):
        rid = row[0]
        if rid not in catalogue:
            unknown += [] if rid in unknown else [rid]
        elif any(getattr(row, c) != getattr(catalogue[rid], c.replace("rule_", "text_")) for c in cols):
            differ += [] if rid in differ else [rid]
    r.v += [f"compliance.csv: rule {rid} is not in the catalogue of {r.rules.id}" for rid in unknown]
    r.v += [f"compliance.csv: the text of rule {rid} differs from the catalogue of {r.rules.id}" for rid in differ]


#: the checks in the order they run; later checks read facts earlier ones set on the :class:`_Run`
CHECKS = (
    _check_units,
    _check_grid_count,
    _check_grids_layer,
    _check_contiguity,
    _prepare_facilities,
    _check_groups_table,
    _check_leads,
    _check_lead_columns,
    _check_locks,
    _check_membership,
    _check_cross_grid,
    _check_collaborating,
    _check_required_members,
    _check_referrals,
    _check_reservation_statuses,
    _check_scenario_bounds,
    _check_compliance_table,
)


def verify_run(run_dir: str | Path, *, tolerance_m: float = 50.0) -> list[str]:
    """Re-check a run folder against its rule set; returns the violations (empty list: all rules hold).

    Parameters
    ----------
    run_dir : folder written by ``caregrid run``
    tolerance_m : how far (metres) a facility may stand outside its grid's polygon and still count as inside
        (recorded coordinates on a grid edge, or in a clipping sliver dropped from the planning units)
    """
    run = _read(Path(run_dir), tolerance_m)
    if isinstance(run, list):
        return run
    for check in CHECKS:
        check(run)
    # the plan layers of issue 15, each module with its own reading of the folder and its own independence test
    return run.v + verify_shared_centres(run_dir) + verify_plan_layers(run_dir)


def assert_valid_run(run_dir: str | Path, **kwargs) -> None:
    """Raise :class:`VerificationError` (an ``AssertionError``) listing every violation found in ``run_dir``."""
    violations = verify_run(run_dir, **kwargs)
    if violations:
        raise VerificationError(Path(run_dir), violations)
