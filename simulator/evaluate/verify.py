"""Independent verifier of a written run folder (``caregrid run SCENARIO --out DIR``).

This module re-checks the rules on the *files* of a run folder with its own code: it reads ``plan.gpkg``
(layers ``units``, ``grids``, ``facilities``), ``groups.csv``, ``referrals.csv``, ``compliance.csv`` and
``run.json`` and nothing else of the planner. It deliberately does not import ``simulator.plan``,
``simulator.groups``, ``simulator.evaluate``, ``simulator.optimise`` or ``simulator.units``; the only
project code it uses is :func:`simulator.rules.load_rules` (the rule file is data).

What is checked (each failure is one human-readable line of :func:`verify_run`'s result):

* units — unique unit ids, exactly one grid id per unit; the number of grids is at least the rule set's
  ``grids.min_count`` and inside ``grid_count_range`` of ``run.json``; the population of the units of each
  grid equals the ``grids`` layer's population, whose geometry is the union of its units;
* contiguity (rule 6) — adjacency is rebuilt from the unit geometries (a shared boundary of positive length,
  measured in a local UTM projection, not a corner contact) plus the ``bridges`` of ``run.json``; every grid
  must be one connected component;
* leads (rule 2) — exactly one ``lead`` per grid in ``groups.csv``, eligible under the rule file's ``[lead]``
  table (level, kind, ownership; enterprise-owned only if ``scenario.plan.allow_enterprise_leads``), not
  modelled, in the city, standing inside its grid (within ``tolerance_m``); distinct leads;
* membership — every ``member`` stands inside its grid; every facility standing inside a grid is listed in
  that grid's group; ``cross_grid`` facilities are of a cross-grid kind; ``collaborating`` units are external
  (``in_city`` false) or provincial and of an external level, at least ``collaborating.min_per_group`` each;
* rule 3 — at least ``members.min_required`` members per grid that are secondary comprehensive hospitals or
  continuing-care facilities;
* rule 5 — the lead reserves at least ``ceil(outpatient_share × outpatient_daily)`` slots and
  ``ceil(bed_share × beds)`` beds; the referral rows to the grid's primary-care members sum exactly to the
  reservation; ``residents_served`` is non-negative and sums to the grid population;
* ``compliance.csv`` agrees with these findings wherever the verifier can judge a rule.

Use :func:`verify_run` for the list of violations (empty: every rule holds) or :func:`assert_valid_run` in
tests.
"""

from __future__ import annotations

import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config.rules import load_rules

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
KNOWN_ROLES = ("lead", "member", "cross_grid", "collaborating")


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


def verify_run(run_dir: str | Path, *, tolerance_m: float = 50.0) -> list[str]:
    """Re-check a run folder against its rule set; returns the violations (empty list: all rules hold).

    Parameters
    ----------
    run_dir : folder written by ``caregrid run``
    tolerance_m : how far (metres) a facility may stand outside its grid's polygon and still count as inside
        (recorded coordinates on a grid edge, or in a clipping sliver dropped from the planning units)
    """
    run_dir = Path(run_dir)
    v: list[str] = []
    needed = ["run.json", "plan.gpkg", "groups.csv", "referrals.csv", "compliance.csv"]
    missing = [n for n in needed if not (run_dir / n).exists()]
    if missing:
        return [f"run folder {run_dir}: missing file(s) {', '.join(missing)}"]

    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    rules, rule_errors = _load_rule_set(record)
    if rules is None:
        return [f"run.json: cannot load the rule set ({'; '.join(rule_errors) or 'none named'})"]
    scenario = record.get("scenario") or {}
    plan_cfg = scenario.get("plan") or {}
    allow_enterprise = bool(plan_cfg.get("allow_enterprise_leads", True))

    gpkg = run_dir / "plan.gpkg"
    units = gpd.read_file(gpkg, layer="units")
    grids_layer = gpd.read_file(gpkg, layer="grids")
    fac = gpd.read_file(gpkg, layer="facilities")
    groups = _csv(run_dir / "groups.csv")
    referrals = _csv(run_dir / "referrals.csv")
    compliance = _csv(run_dir / "compliance.csv")

    # ---------------------------------------------------------------- units and grids
    units["unit_id"] = _text(units["unit_id"])
    units["grid_id"] = _text(units["grid_id"]) if "grid_id" in units else ""
    units["population"] = pd.to_numeric(units["population"], errors="coerce").astype(float)
    dup = units["unit_id"][units["unit_id"].duplicated()]
    if len(dup):
        v.append(f"units: {dup.nunique()} unit id(s) occur more than once (e.g. {', '.join(dup.unique()[:5])}); "
                 "each unit must be listed once with exactly one grid")
    no_grid = units["grid_id"].str.strip() == ""
    if no_grid.any():
        v.append(f"units: {int(no_grid.sum())} unit(s) have no grid id (e.g. "
                 f"{', '.join(units.loc[no_grid, 'unit_id'].head(5))}; "
                 f"{units.loc[no_grid, 'population'].sum():,.0f} residents); every unit needs exactly one grid")
    if units["population"].isna().any() or (units["population"] < 0).any():
        v.append("units: population missing or negative for some unit(s)")
    unit_grid = units["grid_id"].to_numpy().astype(str)
    grid_ids = sorted({g for g in unit_grid if g.strip()}, key=_sort_key)
    pop_of = units.groupby("grid_id")["population"].sum().to_dict()

    n_min = int(rules["grids"]["min_count"])
    if len(grid_ids) < n_min:
        v.append(f"R1 grids: the plan has {len(grid_ids)} grid(s); {rules.id} requires at least {n_min}")
    rng = record.get("grid_count_range")
    if rng is not None and len(rng) == 2:
        lo, hi = int(rng[0]), int(rng[1])
        if not lo <= len(grid_ids) <= hi:
            v.append(f"R1 grids: the plan has {len(grid_ids)} grid(s), outside the run's grid_count_range "
                     f"{lo}–{hi}")

    grids_layer["grid_id"] = _text(grids_layer["grid_id"])
    grids_layer["lead_facility_id"] = _text(grids_layer.get("lead_facility_id", pd.Series("", index=grids_layer.index)))
    gl_ids = grids_layer["grid_id"].tolist()
    if len(set(gl_ids)) != len(gl_ids):
        v.append("grids layer: a grid id occurs more than once")
    if set(gl_ids) != set(grid_ids):
        only_l = sorted(set(gl_ids) - set(grid_ids), key=_sort_key)
        only_u = sorted(set(grid_ids) - set(gl_ids), key=_sort_key)
        v.append("grids layer and units layer name different grids"
                 + (f"; only in the grids layer: {', '.join(only_l)}" if only_l else "")
                 + (f"; only in the units layer: {', '.join(only_u)}" if only_u else ""))
    gl_pop = dict(zip(gl_ids, pd.to_numeric(grids_layer["population"], errors="coerce").astype(float), strict=True))
    for g in grid_ids:
        if g in gl_pop and not abs(gl_pop[g] - pop_of.get(g, 0.0)) <= 0.5:
            v.append(f"population: grid {g} has {pop_of.get(g, 0.0):,.0f} residents in its units but "
                     f"{gl_pop[g]:,.0f} in the grids layer")

    # projected geometries (metres)
    local = _local_crs(units)
    units_m = units.to_crs(local)
    ugeom = units_m.geometry.to_numpy()
    grid_geom_m: dict[str, Any] = {}
    for g in grid_ids:
        grid_geom_m[g] = shapely.union_all(ugeom[unit_grid == g])
    gl_m = grids_layer.to_crs(local)
    for g, geom in zip(gl_m["grid_id"], gl_m.geometry, strict=True):
        if g in grid_geom_m and geom is not None:
            mine = grid_geom_m[g]
            diff = shapely.area(shapely.symmetric_difference(mine, geom))
            if diff > 1e-4 * max(shapely.area(mine), 1.0) + 1e4:
                v.append(f"grids layer: the polygon of grid {g} differs from the union of its units by "
                         f"{diff / 1e6:,.3f} km²")

    # ---------------------------------------------------------------- contiguity (rule 6)
    id_index = {u: k for k, u in enumerate(units["unit_id"])}
    bridges = []
    for b in record.get("bridges") or []:
        a_, b_ = str(b.get("unit_a")), str(b.get("unit_b"))
        if a_ in id_index and b_ in id_index:
            bridges.append((id_index[a_], id_index[b_]))
        else:
            v.append(f"run.json: bridge {a_} – {b_} names unit(s) not in the units layer")
    nbrs = unit_adjacency(ugeom, MIN_EDGE_M)
    sure = unit_adjacency(ugeom, SURE_EDGE_M)
    for a_, b_ in bridges:
        for nb in (nbrs, sure):
            nb[a_].add(b_)
            nb[b_].add(a_)
    pieces = grid_pieces(unit_grid, nbrs)
    pieces_sure = grid_pieces(unit_grid, sure)
    contiguous: dict[str, bool | None] = {}
    for g in grid_ids:
        ps = pieces.get(g, [])
        if len(ps) > 1:
            ps = sorted(ps, key=len, reverse=True)
            stray = [units["unit_id"].iat[i] for p in ps[1:] for i in p]
            v.append(f"R6 contiguity: grid {g} is in {len(ps)} pieces (units per piece: "
                     f"{', '.join(str(len(p)) for p in ps)}); detached unit(s): {', '.join(stray[:8])}"
                     + (" …" if len(stray) > 8 else ""))
            contiguous[g] = False
        elif len(pieces_sure.get(g, [])) == 1:
            contiguous[g] = True
        else:
            contiguous[g] = None  # connected only through very short shared edges: the planner may differ

    # ---------------------------------------------------------------- facilities
    fac = fac.copy()
    fac["facility_id"] = _text(fac["facility_id"])
    for col in ("level", "kind", "ownership", "role", "grid_id", "name"):
        fac[col] = _text(fac[col]) if col in fac else ""
    for col in ("in_city", "modelled"):
        fac[col] = _bool(fac[col]) if col in fac else (col == "in_city")
    for col in ("beds", "outpatient_daily", "reserved_outpatient_slots", "reserved_beds"):
        fac[col] = pd.to_numeric(fac[col], errors="coerce").astype(float) if col in fac else np.nan
    if fac["facility_id"].duplicated().any():
        v.append("facilities layer: duplicate facility ids "
                 + ", ".join(fac.loc[fac["facility_id"].duplicated(), "facility_id"].unique()[:5]))
    fac = fac.drop_duplicates("facility_id").reset_index(drop=True)
    frow = {fid: k for k, fid in enumerate(fac["facility_id"])}
    fac_m = fac.to_crs(local).geometry.to_numpy()
    # distance (m) of every facility to every grid polygon
    dist = np.full((len(fac), len(grid_ids)), np.inf)
    for k, g in enumerate(grid_ids):
        dist[:, k] = shapely.distance(fac_m, grid_geom_m[g])
    gcol = {g: k for k, g in enumerate(grid_ids)}

    def where(fid: str) -> str:
        i = frow[fid]
        k = int(np.argmin(dist[i])) if len(grid_ids) else -1
        return f"{dist[i, k]:,.0f} m from grid {grid_ids[k]}" if k >= 0 else "no grid"

    lead_cfg = rules["lead"]
    owners = set(lead_cfg["ownerships"]) | ({"enterprise"} if allow_enterprise and lead_cfg.get("enterprise_switch")
                                            else set())

    def lead_problem(i: int) -> str | None:
        r = fac.iloc[i]
        bad = []
        if r["level"] not in lead_cfg["levels"]:
            bad.append(f"level {r['level'] or '?'} (needs {'/'.join(lead_cfg['levels'])})")
        if r["kind"] not in lead_cfg["kinds"]:
            bad.append(f"kind {r['kind'] or '?'} (needs {'/'.join(lead_cfg['kinds'])})")
        if r["ownership"] not in owners:
            why = " (enterprise leads are switched off by the scenario)" if r["ownership"] == "enterprise" else ""
            bad.append(f"ownership {r['ownership'] or '?'}{why} (needs {'/'.join(sorted(owners))})")
        if not r["in_city"]:
            bad.append("outside the city (in_city false)")
        if r["modelled"]:
            bad.append("a modelled, not a real, facility")
        return "; ".join(bad) if bad else None

    # ---------------------------------------------------------------- groups.csv
    for col in ("grid_id", "facility_id", "role"):
        if col not in groups:
            groups[col] = ""
    unknown_fac = sorted(set(groups["facility_id"]) - set(frow))
    if unknown_fac:
        v.append(f"groups.csv: facility id(s) not in the facilities layer: {', '.join(unknown_fac[:8])}")
    groups = groups[groups["facility_id"].isin(frow)]
    bad_role = sorted(set(groups["role"]) - set(KNOWN_ROLES))
    if bad_role:
        v.append(f"groups.csv: unknown role(s) {', '.join(bad_role)}; expected {', '.join(KNOWN_ROLES)}")
    bad_grid = sorted(set(groups["grid_id"]) - set(grid_ids), key=_sort_key)
    if bad_grid:
        v.append(f"groups.csv: group(s) for grid(s) that hold no unit: {', '.join(bad_grid)}")
    if groups.duplicated(["grid_id", "facility_id"]).any():
        d = groups[groups.duplicated(["grid_id", "facility_id"], keep=False)]
        v.append("groups.csv: a facility is listed twice in one group: "
                 + ", ".join(f"{g}/{f}" for g, f in d[["grid_id", "facility_id"]].drop_duplicates().to_numpy()[:5]))

    grid_lead: dict[str, str] = {}
    lead_ok: dict[str, bool] = {}
    for g in grid_ids:
        leads = groups.loc[(groups.grid_id == g) & (groups.role == "lead"), "facility_id"].tolist()
        if len(leads) != 1:
            v.append(f"R2 lead: grid {g} has {len(leads)} lead(s) in groups.csv"
                     + (f" ({', '.join(leads)})" if leads else "") + "; exactly one is required")
            lead_ok[g] = False
            if len(leads) == 0:
                continue
        lid = leads[0]
        grid_lead[g] = lid
        i = frow[lid]
        problem = lead_problem(i)
        if problem:
            v.append(f"R2 lead: {lid} {fac['name'].iat[i]} leads grid {g} but is not eligible under {rules.id}: "
                     f"{problem}")
        lead_ok.setdefault(g, problem is None)
        if dist[i, gcol[g]] > tolerance_m:
            v.append(f"R2 lead: {lid} leads grid {g} but stands {dist[i, gcol[g]]:,.0f} m outside it "
                     f"(tolerance {tolerance_m:g} m)")
    counts = pd.Series(list(grid_lead.values()), dtype=object).value_counts()
    for lid, c in counts[counts > 1].items():
        v.append(f"R2 one group per grid: {lid} leads {c} grids; each grid needs its own lead")
    gl_lead = dict(zip(grids_layer["grid_id"], grids_layer["lead_facility_id"], strict=True))
    for g in grid_ids:
        if g in gl_lead and gl_lead[g] != grid_lead.get(g, ""):
            v.append(f"grids layer: grid {g} names lead {gl_lead[g] or '(none)'} but groups.csv names "
                     f"{grid_lead.get(g) or '(none)'}")
    if "lead_facility_id" in units:
        ul = _text(units["lead_facility_id"])
        wrong = ul.to_numpy() != np.array([grid_lead.get(g, "") for g in unit_grid], dtype=object)
        if wrong.any():
            v.append(f"units layer: {int(wrong.sum())} unit(s) name a lead other than their grid's lead in "
                     f"groups.csv (e.g. {', '.join(units.loc[wrong, 'unit_id'].head(3))})")

    # members stand inside their grid; every facility inside a grid is in its group
    own = groups[groups.role.isin(LEAD_ROLES)]
    listed: dict[str, list[str]] = {}
    for g, fid in own[["grid_id", "facility_id"]].to_numpy():
        listed.setdefault(fid, []).append(g)
    for fid, gs in listed.items():
        i = frow[fid]
        if len(gs) > 1:
            v.append(f"membership: {fid} {fac['name'].iat[i]} is lead/member of {len(gs)} groups ({', '.join(gs)}); "
                     "a facility stands in one grid")
        if not fac["in_city"].iat[i]:
            v.append(f"membership: {fid} {fac['name'].iat[i]} is lead/member of grid {gs[0]} but lies outside the "
                     "city (in_city false)")
        for g in gs:
            if g in gcol and dist[i, gcol[g]] > tolerance_m:
                v.append(f"membership: {fid} {fac['name'].iat[i]} is listed in grid {g} but stands "
                         f"{dist[i, gcol[g]]:,.0f} m outside it ({where(fid)})")
        if fac["grid_id"].iat[i] and fac["grid_id"].iat[i] not in gs:
            v.append(f"facilities layer: {fid} has grid_id {fac['grid_id'].iat[i]} but groups.csv lists it in "
                     f"{', '.join(gs)}")
    if len(grid_ids):
        inside = dist.min(axis=1) <= 1.0
        for i in np.flatnonzero(inside & fac["in_city"].to_numpy()):
            fid = fac["facility_id"].iat[i]
            if fid not in listed:
                k = int(np.argmin(dist[i]))
                v.append(f"membership: {fid} {fac['name'].iat[i]} stands inside grid {grid_ids[k]} but is not "
                         "listed in any group as lead or member")

    cross_kinds = set(rules["cross_grid"]["kinds"])
    for g, fid in groups.loc[groups.role == "cross_grid", ["grid_id", "facility_id"]].to_numpy():
        i = frow[fid]
        if fac["kind"].iat[i] not in cross_kinds or not fac["in_city"].iat[i]:
            v.append(f"cross-grid: {fid} {fac['name'].iat[i]} ({fac['kind'].iat[i]}) is listed as cross_grid in "
                     f"grid {g} but only in-city {', '.join(sorted(cross_kinds))} facilities serve several grids")
        if g in listed.get(fid, []):
            v.append(f"cross-grid: {fid} is both a member and cross_grid in grid {g}")

    col_cfg = rules["collaborating"]
    col_levels = set(col_cfg.get("external_levels", []))
    n_collab: dict[str, int] = {g: 0 for g in grid_ids}
    for g, fid in groups.loc[groups.role == "collaborating", ["grid_id", "facility_id"]].to_numpy():
        i = frow[fid]
        external = (not fac["in_city"].iat[i]) or fac["ownership"].iat[i] == "provincial"
        level_ok = not col_levels or fac["level"].iat[i] in col_levels
        if not external or not level_ok:
            why = [] if external else ["it is an in-city, non-provincial facility"]
            if not level_ok:
                why.append(f"level {fac['level'].iat[i]} is not {'/'.join(sorted(col_levels))}")
            v.append(f"R4 collaborating: {fid} {fac['name'].iat[i]} collaborates with grid {g} but "
                     + " and ".join(why))
            continue
        if g in listed.get(fid, []):
            v.append(f"R4 collaborating: {fid} is both inside grid {g} and its collaborating unit")
            continue
        if g in n_collab:
            n_collab[g] += 1
    need_c = int(col_cfg.get("min_per_group", 1))
    for g in grid_ids:
        if g in grid_lead and n_collab[g] < need_c:
            v.append(f"R4 collaborating: grid {g} has {n_collab[g]} valid collaborating unit(s); {rules.id} "
                     f"requires at least {need_c}")

    # ---------------------------------------------------------------- rule 3
    m = rules["members"]
    req = ((fac["level"].isin(m["required_levels"]) & fac["kind"].isin(m["required_kinds"]))
           | fac["kind"].isin(m["continuing_care_kinds"])) & fac["in_city"]
    req_ids = set(fac.loc[req, "facility_id"])
    need_m = int(m.get("min_required", 1))
    n_req: dict[str, int] = {}
    for g in grid_ids:
        mem = groups.loc[(groups.grid_id == g) & groups.role.isin(LEAD_ROLES), "facility_id"]
        n_req[g] = int(mem.isin(req_ids).sum())
        if n_req[g] < need_m:
            v.append(f"R3 member: grid {g} has {n_req[g]} secondary comprehensive hospital(s) or continuing-care "
                     f"facilit(ies) among its members; {rules.id} requires at least {need_m}")

    # ---------------------------------------------------------------- rule 5
    ref_cfg = rules["referral"]
    pc_kinds = set(ref_cfg["primary_care_kinds"])
    for col in ("grid_id", "lead_facility_id", "facility_id"):
        referrals[col] = referrals[col] if col in referrals else ""
    for col in ("residents_served", "reserved_outpatient_slots", "reserved_beds"):
        referrals[col] = _num(referrals[col]) if col in referrals else np.nan
    r5: dict[tuple[str, str], bool | None] = {}
    for g in grid_ids:
        rows = referrals[referrals.grid_id == g]
        gpop = float(pop_of.get(g, 0.0))
        if (rows["residents_served"] < 0).any():
            v.append(f"R5 referral: grid {g} has negative residents_served")
        if g not in grid_lead:
            continue
        lid = grid_lead[g]
        li = frow[lid]
        if (rows["lead_facility_id"] != lid).any():
            v.append(f"R5 referral: referrals.csv rows of grid {g} name a lead other than {lid}")
        mem = groups.loc[(groups.grid_id == g) & (groups.role == "member"), "facility_id"]
        pcs = [f for f in mem if fac["kind"].iat[frow[f]] in pc_kinds and fac["in_city"].iat[frow[f]]]
        if not pcs:
            v.append(f"R5 referral: grid {g} has no primary-care member ({', '.join(sorted(pc_kinds))}): the "
                     f"slots and beds its lead {lid} must reserve for primary-care referrals reach no one")
            r5[("R5.outpatient", g)] = r5[("R5.beds", g)] = False
            continue
        served = float(rows["residents_served"].fillna(0).sum())
        if not abs(served - gpop) <= 0.5:
            v.append(f"R5 referral: residents_served of grid {g} sum to {served:,.0f}, not the grid's "
                     f"{gpop:,.0f} residents")
        targets = [f for f in rows["facility_id"] if f]
        stray = sorted(set(targets) - set(pcs))
        if stray:
            v.append(f"R5 referral: grid {g} refers to {', '.join(stray[:5])}, not primary-care member(s) of "
                     "its group")
        absent = sorted(set(pcs) - set(targets))
        if absent:
            v.append(f"R5 referral: primary-care member(s) {', '.join(absent[:5])} of grid {g} have no "
                     "referral row")
        to_pc = rows[rows.facility_id.isin(pcs)]
        for rid, cap_col, res_col, share in (
            ("R5.outpatient", "outpatient_daily", "reserved_outpatient_slots", ref_cfg["outpatient_share"]),
            ("R5.beds", "beds", "reserved_beds", ref_cfg["bed_share"]),
        ):
            what = "outpatient slots" if cap_col == "outpatient_daily" else "beds"
            cap = fac[cap_col].iat[li]
            if not np.isfinite(cap):
                v.append(f"{rid}: lead {lid} of grid {g} has no {cap_col} figure; the reservation cannot be checked")
                r5[(rid, g)] = False
                continue
            need = math.ceil(share * cap - 1e-9)
            reserved = fac[res_col].iat[li]
            if not (np.isfinite(reserved) and reserved >= need):
                v.append(f"{rid}: lead {lid} of grid {g} reserves {reserved:,.0f} {what}; needs ≥ {need:,} "
                         f"(ceil({share:.4g} × {cap:,.0f}))")
            vals = to_pc[res_col]
            if (vals < 0).any() or vals.isna().any():
                v.append(f"{rid}: grid {g} has missing or negative reserved {what} in referrals.csv")
            alloc = float(vals.fillna(0).sum())
            if np.isfinite(reserved) and abs(alloc - reserved) > 1e-6:
                v.append(f"{rid}: referrals of grid {g} to its primary-care members sum to {alloc:,.0f} {what}, "
                         f"not the {reserved:,.0f} its lead {lid} reserves")
            for f, x in zip(to_pc["facility_id"], vals, strict=True):
                y = fac[res_col].iat[frow[f]]
                if np.isfinite(x) and not (np.isfinite(y) and abs(x - y) <= 1e-6):
                    v.append(f"{rid}: facilities layer gives {f} {y} reserved {what}, referrals.csv {x}")
            r5[(rid, g)] = bool(alloc >= need)

    # ---------------------------------------------------------------- scenario bounds (S.*)
    gcfg = scenario.get("grids") or {}
    s_pop: dict[str, bool] = {}
    s_beds: dict[str, bool] = {}
    lo_p, hi_p = gcfg.get("min_population"), gcfg.get("max_population")
    for g in grid_ids:
        if lo_p is not None or hi_p is not None:
            gp = pop_of.get(g, 0.0)
            ok = (lo_p is None or gp >= lo_p - 0.5) and (hi_p is None or gp <= hi_p + 0.5)
            s_pop[g] = ok
            if not ok:
                v.append(f"scenario: grid {g} has {gp:,.0f} residents, outside the scenario's bounds "
                         f"{lo_p or 0:,.0f}–{hi_p if hi_p is not None else float('inf'):,.0f}")
        rate_min = gcfg.get("min_beds_per_1000")
        if rate_min is not None and g in grid_lead:
            mem = groups.loc[(groups.grid_id == g) & groups.role.isin(LEAD_ROLES), "facility_id"]
            beds = float(np.nansum(fac["beds"].to_numpy()[[frow[f] for f in mem]]))
            gp = pop_of.get(g, 0.0)
            rate = beds / gp * 1000 if gp else float("nan")
            s_beds[g] = bool(rate >= rate_min - 1e-9)
            if not s_beds[g]:
                v.append(f"scenario: grid {g} has {rate:.2f} group beds per 1,000 residents; the scenario asks for "
                         f"≥ {rate_min}")

    # ---------------------------------------------------------------- compliance.csv
    judged: dict[tuple[str, str], bool | None] = {}
    judged[("R1.grids", "city")] = len(grid_ids) >= n_min
    uncovered = bool(no_grid.any()) or any(g not in grid_lead for g in unit_grid)
    judged[("R1.coverage", "city")] = False if uncovered else None
    n_leads = groups[groups.role == "lead"].groupby("grid_id").size()
    # one group per grid: every grid (a layout grid without an eligible lead included) has exactly one lead
    judged[("R2.one_group_per_grid", "city")] = (len(set(grid_lead.values())) == len(grid_ids)
                                                 and bool((n_leads.reindex(grid_ids).fillna(0) == 1).all()))
    for g in grid_ids:
        judged[("R2.lead", g)] = bool(g in grid_lead and lead_ok.get(g, False))
        if g not in grid_lead:
            continue
        judged[("R3.member", g)] = n_req[g] >= need_m
        judged[("R4.collaborating", g)] = n_collab[g] >= need_c
        judged[("R5.outpatient", g)] = r5.get(("R5.outpatient", g))
        judged[("R5.beds", g)] = r5.get(("R5.beds", g))
        judged[("R6.contiguous", g)] = contiguous.get(g)
        if g in s_pop:
            judged[("S.population", g)] = s_pop[g]
        if g in s_beds:
            judged[("S.beds_per_1000", g)] = s_beds[g]

    need_cols = ("rule_id", "scope", "passed")
    if not all(c in compliance for c in need_cols):
        v.append(f"compliance.csv: missing column(s); expected {', '.join(need_cols)}")
        return v
    comp_passed = _bool(compliance["passed"])
    table: dict[tuple[str, str], bool] = {}
    for rid, scope, ok in zip(compliance["rule_id"], compliance["scope"], comp_passed, strict=True):
        key = (rid, scope)
        if key in table:
            v.append(f"compliance.csv: rule {rid} for {scope} appears more than once")
        table[key] = bool(ok)
    for key, mine in judged.items():
        if key not in table:
            v.append(f"compliance.csv: no row for rule {key[0]} ({key[1]})")
            continue
        if mine is None:
            continue
        if mine is False and table[key]:
            v.append(f"compliance.csv marks rule {key[0]} ({key[1]}) as passed, but the verifier finds it violated")
        elif mine is True and not table[key]:
            v.append(f"compliance.csv marks rule {key[0]} ({key[1]}) as failed, but the verifier finds it holds")
    if "compliance_passed" in record and bool(record["compliance_passed"]) != bool(comp_passed.all()):
        v.append(f"run.json: compliance_passed is {record['compliance_passed']} but compliance.csv "
                 f"{'passes every rule' if comp_passed.all() else 'has failed rules'}")
    return v


def assert_valid_run(run_dir: str | Path, **kwargs) -> None:
    """Raise :class:`VerificationError` (an ``AssertionError``) listing every violation found in ``run_dir``."""
    violations = verify_run(run_dir, **kwargs)
    if violations:
        raise VerificationError(Path(run_dir), violations)
