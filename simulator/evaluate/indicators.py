"""Plan indicators, per grid and for the city (``indicators.csv`` / ``indicators.json`` in the run folder).

All travel figures are minutes of the scenario's travel model; shares are of residents (population-weighted).
Readiness indicators need facility fields (doctors, nurses, ambulances, ambulances_negative_pressure, aeds); where
the facilities of a grid carry none of them the value is ``None`` ("no data"), never zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from ..config.rules import RuleSet
from ..plan.groups import grid_sort_key
from ..units.planning_units import equal_area_crs

CITY = "city"


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Population-weighted quantile: the smallest value v with weight share of values ≤ v at least ``q``."""
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    keep = weights > 0
    if not keep.any():
        return float("nan")
    v, w = values[keep], weights[keep]
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    return float(v[order][np.searchsorted(cum, q - 1e-12)])


def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    """4πA / P² of projected polygons (1 = circle)."""
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    return 4 * np.pi * area / np.maximum(perim, 1e-12) ** 2


def _access(minutes: np.ndarray, pop: np.ndarray, threshold: float) -> dict:
    """Travel statistics over residents whose grid has a lead (finite minutes); the share within the threshold is
    of all residents, so residents of a layout grid without a lead count as not reached."""
    total = pop.sum()
    led = np.isfinite(minutes)
    keys = ("travel_mean_min", "travel_median_min", "travel_p90_min", "travel_max_min", "share_within_access")
    if total <= 0 or pop[led].sum() <= 0:
        return dict.fromkeys(keys, float("nan")) | ({"share_within_access": 0.0} if total > 0 else {})
    m, w = minutes[led], pop[led]
    return {
        "travel_mean_min": float((m * w).sum() / w.sum()),
        "travel_median_min": weighted_quantile(m, w, 0.5),
        "travel_p90_min": weighted_quantile(m, w, 0.9),
        "travel_max_min": float(m[w > 0].max()),
        "share_within_access": float(w[m <= threshold].sum() / total),
    }


def _readiness(fac: pd.DataFrame, pop: float, targets: dict) -> dict:
    out: dict[str, float | None] = {}
    doctors, nurses = fac["doctors"], fac["nurses"]
    have = doctors.notna() & nurses.notna()
    out["nurses_per_doctor"] = (
        float(nurses[have].sum() / doctors[have].sum()) if have.any() and doctors[have].sum() else None
    )
    out["nurses_per_doctor_target"] = targets["doctor_nurse_ratio"]
    amb = fac["ambulances"]
    out["ambulances_per_30000"] = float(amb.sum() / pop * 30000) if amb.notna().any() and pop else None
    neg = fac["ambulances_negative_pressure"]
    both = amb.notna() & neg.notna()
    out["ambulance_negative_pressure_share"] = (
        float(neg[both].sum() / amb[both].sum()) if both.any() and amb[both].sum() else None
    )
    aeds = fac["aeds"]
    out["aeds_per_10000"] = float(aeds.sum() / pop * 10000) if aeds.notna().any() and pop else None
    return out


def compute_indicators(
    units: pd.DataFrame,
    facilities: pd.DataFrame,
    groups: pd.DataFrame,
    referrals: pd.DataFrame,
    adjacency: sp.spmatrix,
    rules: RuleSet,
    unit_minutes_to_facility: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    access_minutes: float = 30.0,
    primary_care_minutes: float = 15.0,
    unit_geometry=None,
) -> pd.DataFrame:
    """Indicators per grid plus one ``city`` row.

    Parameters
    ----------
    units : plan units (``grid_id``, ``population``, ``area_km2``, ``travel_min_to_lead``; geometry for shape)
    facilities : plan facilities (``facility_id``, ``grid_id``, ``role``, ``level``, ``kind``, ``beds``,
        ``outpatient_daily``, readiness fields), in the same order as the indices the callable takes
    groups, referrals : ``groups.csv`` / ``referrals.csv`` tables
    adjacency : (n, n) unit adjacency (incl. exclave bridges)
    unit_minutes_to_facility : (unit indices, facility indices) → minutes matrix
    access_minutes : threshold for "within reach of the lead" (scenario ``travel.access_minutes``)
    primary_care_minutes : the 15-minute medical service circle 15分钟医疗服务圈
    """
    grid = units["grid_id"].to_numpy().astype(str)
    pop = units["population"].to_numpy(dtype=float)
    travel = units["travel_min_to_lead"].to_numpy(dtype=float)
    grids = sorted(set(grid), key=grid_sort_key)
    fid = facilities["facility_id"].to_numpy()
    fgrid = facilities["grid_id"].fillna("").astype(str).to_numpy()
    role = facilities["role"].to_numpy()
    beds = pd.to_numeric(facilities["beds"], errors="coerce").to_numpy()
    slots = pd.to_numeric(facilities["outpatient_daily"], errors="coerce").to_numpy()
    for col in ("doctors", "nurses", "ambulances", "ambulances_negative_pressure", "aeds"):
        if col not in facilities:
            facilities = facilities.assign(**{col: np.nan})
    pc_kinds = rules["referral"]["primary_care_kinds"]
    is_pc = facilities["kind"].isin(pc_kinds).to_numpy()
    leads = groups.loc[groups["role"] == "lead"].set_index("grid_id")["facility_id"].to_dict()
    lead_idx = np.array([int(np.flatnonzero(fid == leads[g])[0]) for g in grids if g in leads])
    lead_grids = [g for g in grids if g in leads]

    # time from each unit to its nearest in-grid primary-care facility
    pc_time = np.full(len(units), np.inf)
    for g in grids:
        sel = np.flatnonzero(grid == g)
        pcs = np.flatnonzero(is_pc & (fgrid == g))
        if len(pcs) and len(sel):
            pc_time[sel] = unit_minutes_to_facility(sel, pcs).min(axis=1)
    # boundary cost: is the nearest of the plan's leads another grid's lead?
    if len(lead_idx):
        to_leads = unit_minutes_to_facility(np.arange(len(units)), lead_idx)
        nearest = np.array(lead_grids)[np.argmin(to_leads, axis=1)]
        best = to_leads.min(axis=1)
    else:
        nearest, best = np.full(len(units), ""), np.full(len(units), np.nan)
    other = nearest != grid
    extra = np.where(other, travel - best, 0.0)

    coo = sp.triu(adjacency, k=1).tocoo()
    cut = grid[coo.row] != grid[coo.col]
    pp = {}
    if unit_geometry is not None:
        import geopandas as gpd

        gs = gpd.GeoSeries(unit_geometry, crs="EPSG:4326")
        laea = equal_area_crs(gs)
        dissolved = gpd.GeoDataFrame({"grid_id": grid}, geometry=gs.to_numpy(), crs="EPSG:4326").dissolve("grid_id")
        pp = dict(zip(dissolved.index, polsby_popper(dissolved.to_crs(laea).geometry.to_numpy()), strict=True))

    total_pop = pop.sum()
    targets = rules["targets"]
    rows = []
    for g in [*grids, CITY]:
        sel = np.ones(len(units), bool) if g == CITY else grid == g
        in_group = np.isin(role, ["lead", "member", "cross_grid"]) & ((fgrid == g) if g != CITY else (fgrid != ""))
        gpop = pop[sel].sum()
        per1000 = 1000 / gpop if gpop else np.nan
        tert = in_group & (facilities["level"].to_numpy() == "tertiary")
        ref = referrals if g == CITY else referrals[referrals["grid_id"] == g]
        row = {
            "grid_id": g,
            "lead_facility_id": leads.get(g, "") if g != CITY else "",
            "population": float(gpop),
            "area_km2": float(units["area_km2"].to_numpy()[sel].sum()),
            "units": int(sel.sum()),
            "population_share": float(gpop / total_pop) if total_pop else np.nan,
            **_access(travel[sel], pop[sel], access_minutes),
            "share_within_primary_care": float(pop[sel & (pc_time <= primary_care_minutes)].sum() / gpop)
            if gpop
            else np.nan,
            "beds_per_1000": float(np.nansum(beds[in_group]) * per1000)
            if np.isfinite(beds[in_group]).any()
            else np.nan,
            "tertiary_beds_per_1000": float(np.nansum(beds[tert]) * per1000)
            if np.isfinite(beds[tert]).any()
            else np.nan,
            "outpatient_slots_per_1000": float(np.nansum(slots[in_group]) * per1000)
            if np.isfinite(slots[in_group]).any()
            else np.nan,
            "reserved_slots_per_10000": float(ref["reserved_outpatient_slots"].sum() / gpop * 1e4) if gpop else np.nan,
            "reserved_beds_per_10000": float(ref["reserved_beds"].sum() / gpop * 1e4) if gpop else np.nan,
            "primary_care_members": int((is_pc & in_group).sum()),
            "share_nearest_lead_elsewhere": float(pop[sel & other].sum() / gpop) if gpop else np.nan,
            "extra_min_nearest_lead_elsewhere": float(
                (extra[sel & other] * pop[sel & other]).sum() / pop[sel & other].sum()
            )
            if pop[sel & other].sum()
            else 0.0,
            "polsby_popper": float(pp.get(g, np.nan))
            if g != CITY
            else float(np.mean(list(pp.values())))
            if pp
            else np.nan,
            "cut_edges": int((cut & ((grid[coo.row] == g) | (grid[coo.col] == g))).sum())
            if g != CITY
            else int(cut.sum()),
        }
        row.update(_readiness(facilities.loc[in_group], gpop, targets))
        rows.append(row)
    df = pd.DataFrame(rows)
    gp = df.loc[df.grid_id != CITY, "population"].to_numpy()
    df["population_cv"] = np.nan
    df["population_max_min_ratio"] = np.nan
    if len(gp):
        df.loc[df.grid_id == CITY, "population_cv"] = float(gp.std() / gp.mean()) if gp.mean() else np.nan
        df.loc[df.grid_id == CITY, "population_max_min_ratio"] = float(gp.max() / gp.min()) if gp.min() else np.inf
    return df
