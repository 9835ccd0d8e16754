"""Medical groups from a unit → grid assignment: roles, collaborating units, referral reservations, compliance.

Roles (``role`` in the facilities layer / ``groups.csv``):

* ``lead`` 牵头医院 — the grid's lead hospital;
* ``member`` 成员单位 — a facility located inside the grid;
* ``cross_grid`` 跨网格 — maternal–child health, public-health, rehab/nursing facilities: a member of the grid they
  stand in (counted there for rule 3) and listed as ``cross_grid`` in every other group;
* ``collaborating`` 协作单位 — provincial hospitals / regional medical centres outside the group (rule 4);
* ``unassigned`` — in-city facilities outside the planning area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.rules import RuleSet, collaborating_candidates, cross_grid, eligible_leads, primary_care, required_members
from ..travel import haversine_km
from ..units.population import largest_remainder


@dataclass
class Groups:
    facilities: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def facility_units(facilities: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> np.ndarray:
    """Index of the unit each facility stands in (−1 outside the planning area); nearest unit if it falls in a
    dropped sliver or on an edge."""
    out = np.full(len(facilities), -1, dtype=np.int64)
    inside = facilities["in_area"].to_numpy()
    if not inside.any():
        return out
    geoms = units.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    pts = facilities.geometry.to_numpy()[inside]
    fi, ui = tree.query(pts, predicate="intersects")
    first = pd.Series(ui).groupby(fi).min()
    idx = np.full(len(pts), -1, dtype=np.int64)
    idx[first.index.to_numpy()] = first.to_numpy()
    missing = idx < 0
    if missing.any():
        # query_nearest returns every unit tied at the nearest distance: keep the lowest index per facility
        qi, ui = tree.query_nearest(pts[missing], return_distance=False)
        nearest = pd.Series(ui).groupby(qi).min()
        idx[np.flatnonzero(missing)[nearest.index.to_numpy()]] = nearest.to_numpy()
    out[inside] = idx
    return out


def grid_sort_key(grid_id: str) -> tuple:
    """Order G1, G2, …, G10 numerically, then any planner-named grids alphabetically."""
    g = str(grid_id)
    return (0, int(g[1:]), g) if len(g) > 1 and g[0] == "G" and g[1:].isdigit() else (1, 0, g)


def grid_labels(lead_ids: list[str]) -> dict[str, str]:
    """Grid ids G1, G2, … in the order of the lead facility ids (deterministic)."""
    return {fid: f"G{k + 1}" for k, fid in enumerate(sorted(lead_ids))}


def form_groups(
    units: gpd.GeoDataFrame,
    unit_grid: np.ndarray,
    grid_lead: dict[str, str],
    facilities: gpd.GeoDataFrame,
    fac_unit: np.ndarray,
    rules: RuleSet,
    unit_minutes_to_facility,
    collaborating_ids: list[str] | None = None,
) -> Groups:
    """Build the groups of a plan.

    Parameters
    ----------
    units : planning units (``population`` used for referral shares)
    unit_grid : (n,) grid id per unit (str)
    grid_lead : grid id → lead facility id
    facilities : all facilities (``in_area`` marks the planning area's)
    fac_unit : (f,) unit index of each facility (−1 outside the area)
    unit_minutes_to_facility : callable(unit_idx array, facility_idx array) → (len(units), len(facs)) minutes
    collaborating_ids : scenario-named collaborating units (every group gets all of them); default nearest one
    """
    f = facilities.copy()
    grid_of_fac = np.where(fac_unit >= 0, unit_grid[np.maximum(fac_unit, 0)], "")
    f["grid_id"] = grid_of_fac
    lead_ids = set(grid_lead.values())
    is_lead = f["facility_id"].isin(lead_ids).to_numpy()
    is_cross = cross_grid(f, rules)
    is_collab = collaborating_candidates(f, rules)
    # object dtype: a fixed-width numpy string array would cut "collaborating" to the longest initial value
    role = np.where(fac_unit >= 0, "member", np.where(f["in_city"].to_numpy(), "unassigned", "")).astype(object)
    role[is_cross & (fac_unit >= 0)] = "cross_grid"
    role[is_lead] = "lead"
    role[is_collab & ~f["in_city"].to_numpy()] = "collaborating"
    role[(role == "")] = "unassigned"
    f["role"] = role

    grids = sorted(grid_lead, key=grid_sort_key)
    rows = []
    for g in grids:
        here = np.flatnonzero(grid_of_fac == g)
        for i in here:
            r = "lead" if is_lead[i] else "member"
            rows.append((g, f["facility_id"].iat[i], f["name"].iat[i], r))
        for i in np.flatnonzero(is_cross & (fac_unit >= 0) & (grid_of_fac != g)):
            rows.append((g, f["facility_id"].iat[i], f["name"].iat[i], "cross_grid"))
    # collaborating units (rule 4): named by the scenario, else the nearest external unit to each lead
    notes = []
    collab_idx = np.flatnonzero(is_collab)
    lead_index = {fid: int(np.flatnonzero(f["facility_id"].to_numpy() == fid)[0]) for fid in lead_ids}
    if collaborating_ids:
        chosen = [int(np.flatnonzero(f["facility_id"].to_numpy() == c)[0]) for c in collaborating_ids]
        for g in grids:
            rows += [(g, f["facility_id"].iat[i], f["name"].iat[i], "collaborating") for i in chosen]
        notes.append("collaborating units named by the scenario: " + ", ".join(collaborating_ids))
    elif len(collab_idx):
        lon, lat = f["lon"].to_numpy(), f["lat"].to_numpy()
        for g in grids:
            li = lead_index[grid_lead[g]]
            d = haversine_km(lon[li], lat[li], lon[collab_idx], lat[collab_idx])
            k = rules["collaborating"].get("min_per_group", 1)
            for i in collab_idx[np.lexsort((f["facility_id"].to_numpy()[collab_idx], d))][:k]:
                rows.append((g, f["facility_id"].iat[i], f["name"].iat[i], "collaborating"))
        notes.append("collaborating units: the nearest external tertiary hospital to each lead (no scenario choice)")
    groups = pd.DataFrame(rows, columns=["grid_id", "facility_id", "name", "role"])

    referrals, ref_notes = _referrals(f, units, unit_grid, grid_lead, grids, grid_of_fac, fac_unit, rules,
                                      unit_minutes_to_facility)
    notes += ref_notes
    return Groups(facilities=f, groups=groups, referrals=referrals, notes=notes)


#: columns of ``referrals.csv`` (one row per grid and primary-care member receiving its lead's reservation)
REFERRAL_COLUMNS = (
    "grid_id",
    "lead_facility_id",
    "facility_id",
    "residents_served",
    "reserved_outpatient_slots",
    "reserved_beds",
    "reserved_outpatient_basis",
    "reserved_beds_basis",
    "reservation_source",
    "reserved_outpatient_status",
    "reserved_beds_status",
    "reserved_slots_per_10000",
    "reserved_beds_per_10000",
)
#: the declared figure of each capacity column (``simulator.load.reservations.attach_reservations``)
DECLARED_OF = {"outpatient_daily": "declared_outpatient_daily", "beds": "declared_beds"}


def lead_reservation(lead: pd.Series, capacity_col: str, share: float) -> tuple[float, str]:
    """What a lead reserves of ``capacity_col`` for primary care, and on what basis.

    Returns
    -------
    (figure, basis)
        ``(declared, "declared")`` when the lead declared a figure; else ``(ceil(share × capacity), "planned")``,
        the reservation the rule requires as the plan's figure; ``(nan, "no_data")`` when the capacity is unknown
    """
    declared = pd.to_numeric(lead.get(DECLARED_OF[capacity_col], np.nan), errors="coerce")
    if np.isfinite(declared):
        return float(declared), "declared"
    cap = pd.to_numeric(lead.get(capacity_col, np.nan), errors="coerce")
    if np.isfinite(cap):
        return float(math.ceil(share * cap - 1e-9)), "planned"
    return np.nan, "no_data"


def _referrals(
    f: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    unit_grid: np.ndarray,
    grid_lead: dict[str, str],
    grids: list[str],
    grid_of_fac: np.ndarray,
    fac_unit: np.ndarray,
    rules: RuleSet,
    unit_minutes_to_facility,
) -> tuple[pd.DataFrame, list[str]]:
    """Rule 5's referrals: each lead reserves slots and beds for its grid's primary care — the figures it declared
    (``inputs.reservations``), else the shares the rule requires as the plan's figures — and the plan allocates them
    to the grid's primary-care members by the residents each serves (nearest in-grid facility).

    Sets ``reserved_outpatient_slots`` / ``reserved_beds`` of ``f`` (leads and primary-care members) in place;
    returns ``referrals.csv`` (columns :data:`REFERRAL_COLUMNS`) and notes.
    """
    notes: list[str] = []
    fids = f["facility_id"].to_numpy()
    lead_index = {fid: int(np.flatnonzero(fids == fid)[0]) for fid in set(grid_lead.values())}
    is_lead = np.isin(fids, list(grid_lead.values()))
    ref = rules["referral"]
    is_pc = primary_care(f, rules) & (fac_unit >= 0)
    pop = units["population"].to_numpy(dtype=float)
    f["reserved_outpatient_slots"] = np.nan
    f["reserved_beds"] = np.nan
    ref_rows = []
    basis: dict[str, tuple[str, str, str]] = {}
    for g in grids:
        li = lead_index[grid_lead[g]]
        lead = f.iloc[li]
        res_slots, slots_basis = lead_reservation(lead, "outpatient_daily", ref["outpatient_share"])
        res_beds, beds_basis = lead_reservation(lead, "beds", ref["bed_share"])
        declared = "declared" in (slots_basis, beds_basis)
        basis[g] = (slots_basis, beds_basis, str(lead.get("declared_source", "") or "") if declared else "")
        f.loc[f.index[li], ["reserved_outpatient_slots", "reserved_beds"]] = [res_slots, res_beds]
        in_grid = np.flatnonzero(unit_grid == g)
        pcs = np.flatnonzero(is_pc & (grid_of_fac == g))
        if len(pcs) == 0:
            ref_rows.append((g, grid_lead[g], "", 0, np.nan, np.nan, float(pop[in_grid].sum())))
            continue
        minutes = unit_minutes_to_facility(in_grid, pcs)
        nearest = np.argmin(minutes, axis=1)
        served = np.bincount(nearest, weights=pop[in_grid], minlength=len(pcs))
        tie = np.argsort(f["facility_id"].to_numpy()[pcs]).argsort()
        alloc_s = (
            largest_remainder(int(res_slots), served, tie) if np.isfinite(res_slots) else np.full(len(pcs), np.nan)
        )
        alloc_b = largest_remainder(int(res_beds), served, tie) if np.isfinite(res_beds) else np.full(len(pcs), np.nan)
        grid_pop = float(pop[in_grid].sum())
        ids = f["facility_id"].to_numpy()[pcs]
        ref_rows.extend(
            zip(
                [g] * len(pcs), [grid_lead[g]] * len(pcs), ids, served.astype(float), alloc_s, alloc_b,
                [grid_pop] * len(pcs), strict=True,
            )
        )  # fmt: skip
        # one assignment per grid, not per facility: a city may list 100,000 primary-care sites
        f.loc[f.index[pcs], "reserved_outpatient_slots"] = alloc_s
        f.loc[f.index[pcs], "reserved_beds"] = alloc_b
    referrals = pd.DataFrame(
        ref_rows,
        columns=[
            "grid_id",
            "lead_facility_id",
            "facility_id",
            "residents_served",
            "reserved_outpatient_slots",
            "reserved_beds",
            "grid_population",
        ],
    )
    declared_any = np.zeros(len(f), dtype=bool)
    for col in DECLARED_OF.values():
        declared_any |= pd.to_numeric(f[col], errors="coerce").notna().to_numpy() if col in f else False
    unused = f["facility_id"].to_numpy()[declared_any & ~is_lead]
    if len(unused):
        notes.append(
            f"declared referral reservations of {len(unused)} facilit(ies) not used, not a lead hospital in this plan: "
            + ", ".join(sorted(map(str, unused))[:8])
        )
    # whether each figure is the lead's declaration or the plan's, and who declared it
    for k, col in enumerate(("reserved_outpatient_basis", "reserved_beds_basis", "reservation_source")):
        referrals[col] = referrals["grid_id"].map({g: b[k] for g, b in basis.items()}).fillna("").astype(str)
    # the reservations are shares of the lead's capacity: say whether that capacity is a fact or an estimate
    lead_at = pd.Series(range(len(f)), index=f["facility_id"].to_numpy())
    for col, status in (("reserved_outpatient_status", "outpatient_status"), ("reserved_beds_status", "beds_status")):
        values = f[status].astype(str).to_numpy() if status in f else np.full(len(f), "")
        stated = values[lead_at.reindex(referrals["lead_facility_id"]).fillna(-1).astype(int).to_numpy()]
        referrals[col] = np.where(stated == "", "fact", stated)
    per10k = 1e4 / referrals["residents_served"].where(referrals["residents_served"] > 0)
    referrals["reserved_slots_per_10000"] = referrals["reserved_outpatient_slots"] * per10k
    referrals["reserved_beds_per_10000"] = referrals["reserved_beds"] * per10k
    referrals = referrals[list(REFERRAL_COLUMNS)]
    return referrals, notes


def eligible_lead_mask(facilities: gpd.GeoDataFrame, rules: RuleSet, allow_enterprise: bool) -> np.ndarray:
    return eligible_leads(facilities, rules, allow_enterprise) & facilities["in_area"].to_numpy()


def required_member_mask(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    return required_members(facilities, rules) & facilities["in_area"].to_numpy()
