"""Plan indicators, per grid and for the city (``indicators.csv`` / ``indicators.json`` in the run folder).

All travel figures are minutes of the scenario's travel model; shares are of residents (population-weighted).
City figures cover every resident: residents of a grid without a lead (hence without a medical group), or of no grid,
are *unserved* (``unserved_residents`` / ``unserved_share``); the access shares (``share_within_access``,
``share_within_primary_care``) are of all residents and count unserved residents as not reached, while the minutes
(``travel_mean_min``, ``travel_median_min``, ``travel_p90_min``, ``travel_max_min``) are of served residents only and
are to be read beside the unserved count. ``travel_gini`` is the population-weighted Gini of those minutes (0 = every
served resident equally far; the same figure per district in ``indicators_district.csv``, :mod:`.equity`).
``beds_estimated_share`` / ``outpatient_estimated_share`` say how much of the group's beds / outpatient slots (hence
of the per-1,000 and reserved figures) rests on estimated or modelled capacities rather than sourced facts.
Readiness indicators need facility fields (doctors, nurses, ambulances, ambulances_negative_pressure, aeds); where
the facilities of a grid carry none of them the value is ``None`` ("no data"), never zero. Their norms come from the
scenario's targets file only (:mod:`.readiness`): ``<quantity>_target`` beside each readiness figure, and a rate
``<count>_per_<N>`` the targets file judges becomes a column of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from ..config.rules import RuleSet
from ..config.targets import TargetSet, load_targets
from ..load.validate import READINESS_FIELDS
from ..units.planning_units import equal_area_crs
from .partition import GridPartition
from .readiness import RATIO_QUANTITY, SHARE_QUANTITY, norm_of, rate_columns, readiness_quantities

CITY = "city"


@functools.cache
def _bundled_targets() -> TargetSet:
    """The bundled targets file (read once; a :class:`TargetSet` is immutable), for callers that pass none."""
    return load_targets()


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


def weighted_gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Gini coefficient of ``values`` over a population with ``weights`` residents each.

    ``Σ_i Σ_j w_i w_j |x_i − x_j| / (2 W² μ)`` computed in O(n log n) from the sorted Lorenz curve; NaN without
    residents or when the mean is 0. Non-finite values are left out.
    """
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = np.isfinite(x) & (w > 0)
    x, w = x[keep], w[keep]
    if not len(x) or (x * w).sum() <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    p = w / w.sum()
    lorenz = np.cumsum(w * x) / (w * x).sum()
    prev = np.concatenate([[0.0], lorenz[:-1]])
    return float(1.0 - (p * (lorenz + prev)).sum())


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


def _readiness(fac: pd.DataFrame, pop: float, targets: TargetSet) -> dict:
    """Readiness figures of the group facilities ``fac`` for ``pop`` residents and, per quantity, the targets file's
    norm (``<quantity>_target``, NaN where the file judges no such quantity); ``None`` where no facility reports."""
    out: dict[str, float | None] = {}
    doctors, nurses = fac["doctors"], fac["nurses"]
    have = doctors.notna() & nurses.notna()
    out[RATIO_QUANTITY] = (
        float(nurses[have].sum() / doctors[have].sum()) if have.any() and doctors[have].sum() else None
    )
    for col, count, per in rate_columns(targets, READINESS_FIELDS):
        values = fac[count]
        out[col] = float(values.sum() / pop * per) if values.notna().any() and pop else None
    amb, neg = fac["ambulances"], fac["ambulances_negative_pressure"]
    both = amb.notna() & neg.notna()
    out[SHARE_QUANTITY] = (
        float(neg[both].sum() / amb[both].sum()) if both.any() and amb[both].sum() else None
    )
    for q in readiness_quantities(targets, READINESS_FIELDS):
        out[f"{q}_target"] = norm_of(targets, q)
    return out


@dataclass
class _Facts:
    """Per-unit and per-facility arrays shared by every indicator row (built once per plan)."""

    partition: GridPartition
    units: pd.DataFrame
    facilities: pd.DataFrame
    referrals: pd.DataFrame
    travel: np.ndarray  # (n,) minutes to the unit's own lead (NaN without a lead)
    fgrid: np.ndarray  # (f,) grid id of each facility ("" outside the planning area)
    role: np.ndarray
    beds: np.ndarray
    slots: np.ndarray
    beds_est: np.ndarray  # (f,) the facility's beds figure is an estimate or modelled, not a sourced fact
    slots_est: np.ndarray
    is_pc: np.ndarray  # (f,) primary-care kinds
    pc_time: np.ndarray  # (n,) minutes to the nearest in-grid primary-care facility
    other: np.ndarray  # (n,) the nearest of the plan's leads leads another grid
    extra: np.ndarray  # (n,) minutes lost to that: own-lead minutes − nearest-lead minutes
    compactness: dict[str, float]


def _primary_care_minutes(p: GridPartition, is_pc: np.ndarray, fgrid: np.ndarray, minutes: Callable) -> np.ndarray:
    """Minutes from each unit to its nearest in-grid primary-care facility (``inf`` where the grid has none, or has
    no lead: without a medical group there is no grid 15-minute medical service circle)."""
    pc_time = np.full(len(p.unit_grid), np.inf)
    for g in p.led_grids:
        sel = np.flatnonzero(p.unit_grid == g)
        pcs = np.flatnonzero(is_pc & (fgrid == g))
        if len(pcs) and len(sel):
            pc_time[sel] = minutes(sel, pcs).min(axis=1)
    return pc_time


def _nearest_lead_elsewhere(p: GridPartition, travel: np.ndarray, minutes: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Boundary cost: whether the nearest of the plan's leads is another grid's, and the extra minutes (n,)."""
    lead_grids = [g for g in p.grids if g in p.grid_lead]
    lead_idx = np.array([p.lead_row(g) for g in lead_grids])
    n = len(p.unit_grid)
    if len(lead_idx):
        to_leads = minutes(np.arange(n), lead_idx)
        nearest = np.array(lead_grids)[np.argmin(to_leads, axis=1)]
        best = to_leads.min(axis=1)
    else:
        nearest, best = np.full(n, ""), np.full(n, np.nan)
    other = nearest != p.unit_grid
    return other, np.where(other, travel - best, 0.0)


def _compactness(grid: np.ndarray, unit_geometry) -> dict[str, float]:
    """Polsby–Popper of each grid's dissolved polygon (equal-area projection); empty without geometry."""
    if unit_geometry is None:
        return {}
    import geopandas as gpd

    gs = gpd.GeoSeries(unit_geometry, crs="EPSG:4326")
    laea = equal_area_crs(gs)
    dissolved = gpd.GeoDataFrame({"grid_id": grid}, geometry=gs.to_numpy(), crs="EPSG:4326").dissolve("grid_id")
    return dict(zip(dissolved.index, polsby_popper(dissolved.to_crs(laea).geometry.to_numpy()), strict=True))


def _estimated(facilities: pd.DataFrame, status_col: str) -> np.ndarray:
    """(f,) whether each facility's capacity figure is an estimate or modelled (``*_status`` column); a file without
    the column holds the planner's own figures, taken as given."""
    if status_col not in facilities:
        return np.zeros(len(facilities), bool)
    status = facilities[status_col].fillna("").astype(str).str.strip()
    return (status.str.startswith("estimate") | status.str.startswith("modelled")).to_numpy()


def _estimated_share(total: np.ndarray, estimated: np.ndarray, mask: np.ndarray) -> float:
    """Share of ``nansum(total[mask])`` that comes from estimated figures (NaN when there is no figure)."""
    whole = np.nansum(total[mask])
    return float(np.nansum(total[mask & estimated]) / whole) if np.isfinite(total[mask]).any() and whole else np.nan


def _per(total: np.ndarray, mask: np.ndarray, scale: float) -> float:
    """``nansum(total[mask]) × scale``, or NaN when no selected facility has a figure (no data, not zero)."""
    return float(np.nansum(total[mask]) * scale) if np.isfinite(total[mask]).any() else np.nan


def _grid_row(x: _Facts, g: str, access_minutes: float, primary_care_minutes: float, targets: TargetSet) -> dict:
    """Indicators of grid ``g``, or of the whole city for ``g == CITY``."""
    p = x.partition
    pop = p.population
    city = g == CITY
    sel = np.ones(len(pop), bool) if city else p.unit_grid == g
    in_group = np.isin(x.role, ["lead", "member", "cross_grid"]) & ((x.fgrid != "") if city else (x.fgrid == g))
    gpop = pop[sel].sum()
    unserved = pop[sel & ~np.isfinite(x.travel)].sum()  # residents without a lead: lead-less grid or no grid
    per1000 = 1000 / gpop if gpop else np.nan
    tert = in_group & (x.facilities["level"].to_numpy() == "tertiary")
    ref = x.referrals if city else x.referrals[x.referrals["grid_id"] == g]
    away = sel & x.other
    a, b, cut = p.cut_edges
    pp = x.compactness
    row = {
        "grid_id": g,
        "lead_facility_id": "" if city else p.grid_lead.get(g, ""),
        "population": float(gpop),
        "area_km2": float(x.units["area_km2"].to_numpy()[sel].sum()),
        "units": int(sel.sum()),
        "population_share": float(gpop / pop.sum()) if pop.sum() else np.nan,
        "unserved_residents": float(unserved),
        "unserved_share": float(unserved / gpop) if gpop else np.nan,
        **_access(x.travel[sel], pop[sel], access_minutes),
        # inequality of access (issue 15, equity): Gini of the minutes to the own lead across served residents
        "travel_gini": weighted_gini(x.travel[sel], pop[sel]),
        "share_within_primary_care": float(pop[sel & (x.pc_time <= primary_care_minutes)].sum() / gpop)
        if gpop
        else np.nan,
        "beds_per_1000": _per(x.beds, in_group, per1000),
        "tertiary_beds_per_1000": _per(x.beds, tert, per1000),
        "outpatient_slots_per_1000": _per(x.slots, in_group, per1000),
        "beds_estimated_share": _estimated_share(x.beds, x.beds_est, in_group),
        "outpatient_estimated_share": _estimated_share(x.slots, x.slots_est, in_group),
        "reserved_slots_per_10000": float(ref["reserved_outpatient_slots"].sum() / gpop * 1e4) if gpop else np.nan,
        "reserved_beds_per_10000": float(ref["reserved_beds"].sum() / gpop * 1e4) if gpop else np.nan,
        "primary_care_members": int((x.is_pc & in_group).sum()),
        "share_nearest_lead_elsewhere": float(pop[away].sum() / gpop) if gpop else np.nan,
        "extra_min_nearest_lead_elsewhere": float((x.extra[away] * pop[away]).sum() / pop[away].sum())
        if pop[away].sum()
        else 0.0,
        "polsby_popper": (float(np.mean(list(pp.values()))) if pp else np.nan) if city else float(pp.get(g, np.nan)),
        "cut_edges": int(cut.sum()) if city else int((cut & ((p.unit_grid[a] == g) | (p.unit_grid[b] == g))).sum()),
    }
    row.update(_readiness(x.facilities.loc[in_group], gpop, targets))
    return row


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
    targets: TargetSet | None = None,
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
    targets : the scenario's targets file, the one source of the readiness norms (``<quantity>_target`` columns,
        rate columns such as ``ambulances_per_30000``); ``None``: the bundled ``liaoning-2023``
    """
    targets = targets if targets is not None else _bundled_targets()
    for col in READINESS_FIELDS:
        if col not in facilities:
            facilities = facilities.assign(**{col: np.nan})
    p = GridPartition.from_groups(
        units["grid_id"].to_numpy(), adjacency, units["population"].to_numpy(dtype=float), facilities, groups
    )
    travel = units["travel_min_to_lead"].to_numpy(dtype=float)
    fgrid = facilities["grid_id"].fillna("").astype(str).to_numpy()
    is_pc = facilities["kind"].isin(rules["referral"]["primary_care_kinds"]).to_numpy()
    other, extra = _nearest_lead_elsewhere(p, travel, unit_minutes_to_facility)
    facts = _Facts(
        partition=p,
        units=units,
        facilities=facilities,
        referrals=referrals,
        travel=travel,
        fgrid=fgrid,
        role=facilities["role"].to_numpy(),
        beds=pd.to_numeric(facilities["beds"], errors="coerce").to_numpy(),
        slots=pd.to_numeric(facilities["outpatient_daily"], errors="coerce").to_numpy(),
        beds_est=_estimated(facilities, "beds_status"),
        slots_est=_estimated(facilities, "outpatient_status"),
        is_pc=is_pc,
        pc_time=_primary_care_minutes(p, is_pc, fgrid, unit_minutes_to_facility),
        other=other,
        extra=extra,
        compactness=_compactness(p.unit_grid, unit_geometry),
    )
    df = pd.DataFrame([_grid_row(facts, g, access_minutes, primary_care_minutes, targets) for g in [*p.grids, CITY]])
    return _add_balance(df)


def _add_balance(df: pd.DataFrame) -> pd.DataFrame:
    """Population balance of the grids (coefficient of variation, max/min), on the city row only."""
    gp = df.loc[df.grid_id != CITY, "population"].to_numpy()
    df["population_cv"] = np.nan
    df["population_max_min_ratio"] = np.nan
    if len(gp):
        df.loc[df.grid_id == CITY, "population_cv"] = float(gp.std() / gp.mean()) if gp.mean() else np.nan
        df.loc[df.grid_id == CITY, "population_max_min_ratio"] = float(gp.max() / gp.min()) if gp.min() else np.inf
    return df
