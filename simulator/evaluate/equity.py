"""Equity 均衡布局: the access and capacity indicators per district/county and per urban/rural part, inequality
measures, and each group's service lines (``indicators_district.csv``, ``service_lines.csv``).

Parts
-----
* ``district`` rows: the units of one district or county (the unit's ``district`` adcode); the facilities standing
  in it (their ``district``) give its capacity;
* ``urban_rural`` rows: ``urban`` = the units of urban districts 市辖区, ``rural`` = those of counties 县 — the
  district table's ``urban`` column (by default its ``type``), since units carry no urban flag of their own; a
  planning area of urban districts alone has no rural row;
* one ``city`` row (the whole planning area);
* one ``max_min_ratio`` row: for every indicator, the largest district value over the smallest (NaN when the
  smallest is 0 or any is missing), the "max/min district ratio".

Indicators are those of :mod:`.indicators` that make sense for an area (population, unserved residents, the travel
minutes to the own lead and their shares within reach, the 15-minute primary-care share, beds, tertiary beds and
outpatient slots per 1,000 residents of the group facilities standing in the part, the estimated share of those
capacities, reserved referral slots and beds per 10,000 received by the part's primary-care facilities, readiness
fields), plus ``travel_gini``: the Gini coefficient of the minutes to the own lead across the part's served
residents (0 = everybody equally far; population-weighted, see :func:`weighted_gini`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..config.centres import ServiceLine
from ..config.rules import RuleSet
from ..config.targets import TargetSet
from ..load.validate import READINESS_FIELDS
from .indicators import (  # noqa: F401 - weighted_gini is part of this module's API too
    _access,
    _bundled_targets,
    _estimated,
    _estimated_share,
    _per,
    _primary_care_minutes,
    _readiness,
    weighted_gini,
)
from .partition import GridPartition

#: roles whose facilities count in an area's capacity (the groups' own facilities)
CAPACITY_ROLES = ("lead", "member", "cross_grid")
#: ``part_type`` values of ``indicators_district.csv``, in table order
PART_TYPES = ("district", "urban_rural", "city", "max_min_ratio")
#: columns of ``service_lines.csv``
SERVICE_LINE_COLUMNS = ("grid_id", "service_line", "service_line_name", "offered", "facility_ids", "source")


def _part_row(sel: np.ndarray, fsel: np.ndarray, ctx: dict, access_minutes: float, primary_care_minutes: float,
              targets: TargetSet) -> dict:
    """Indicators of the units ``sel`` and the group facilities ``fsel`` standing among them."""
    pop, travel = ctx["pop"], ctx["travel"]
    gpop = float(pop[sel].sum())
    per1000 = 1000 / gpop if gpop else np.nan
    fac = ctx["facilities"]
    tert = fsel & (fac["level"].to_numpy() == "tertiary")
    served = ctx["referral_district"]
    ref = ctx["referrals"][np.isin(served, ctx["districts_of"](sel))]
    return {
        "population": gpop,
        "units": int(sel.sum()),
        "area_km2": float(ctx["area"][sel].sum()),
        "unserved_residents": float(pop[sel & ~np.isfinite(travel)].sum()),
        **_access(travel[sel], pop[sel], access_minutes),
        "travel_gini": weighted_gini(travel[sel], pop[sel]),
        "share_within_primary_care": float(pop[sel & (ctx["pc_time"] <= primary_care_minutes)].sum() / gpop)
        if gpop else np.nan,
        "beds_per_1000": _per(ctx["beds"], fsel, per1000),
        "tertiary_beds_per_1000": _per(ctx["beds"], tert, per1000),
        "outpatient_slots_per_1000": _per(ctx["slots"], fsel, per1000),
        "beds_estimated_share": _estimated_share(ctx["beds"], ctx["beds_est"], fsel),
        "outpatient_estimated_share": _estimated_share(ctx["slots"], ctx["slots_est"], fsel),
        "reserved_slots_per_10000": float(ref["reserved_outpatient_slots"].sum() / gpop * 1e4) if gpop else np.nan,
        "reserved_beds_per_10000": float(ref["reserved_beds"].sum() / gpop * 1e4) if gpop else np.nan,
        "primary_care_facilities": int((ctx["is_pc"] & fsel).sum()),
        **_readiness(fac.loc[fsel], gpop, targets),
    }


def district_indicators(
    units: pd.DataFrame,
    facilities: pd.DataFrame,
    groups: pd.DataFrame,
    referrals: pd.DataFrame,
    adjacency,
    rules: RuleSet,
    unit_minutes_to_facility: Callable[[np.ndarray, np.ndarray], np.ndarray],
    districts: pd.DataFrame | None = None,
    *,
    access_minutes: float = 30.0,
    primary_care_minutes: float = 15.0,
    targets: TargetSet | None = None,
) -> pd.DataFrame:
    """Indicators per district/county, per urban/rural part, for the city, and the max/min district ratios.

    Parameters
    ----------
    units : plan units (``district``, ``district_name``, ``population``, ``area_km2``, ``grid_id``,
        ``travel_min_to_lead`` in minutes)
    facilities, groups, referrals : the plan's tables (facilities positional, as the callable takes them)
    adjacency : (n, n) unit adjacency
    unit_minutes_to_facility : (unit indices, facility indices) → minutes
    districts : the district table (``adcode``, ``urban``); ``None``: no urban/rural rows
    access_minutes, primary_care_minutes : thresholds of the shares (minutes)
    targets : the scenario's targets file (readiness norms and rates); ``None``: the bundled ``liaoning-2023``

    Returns
    -------
    pd.DataFrame
        columns ``part_type`` (:data:`PART_TYPES`), ``part_id``, ``part_name`` and the indicators
    """
    targets = targets if targets is not None else _bundled_targets()
    for col in READINESS_FIELDS:
        if col not in facilities:
            facilities = facilities.assign(**{col: np.nan})
    p = GridPartition.from_groups(units["grid_id"].to_numpy(), adjacency, units["population"].to_numpy(dtype=float),
                                  facilities, groups)
    fgrid = facilities["grid_id"].fillna("").astype(str).to_numpy()
    is_pc = facilities["kind"].isin(rules["referral"]["primary_care_kinds"]).to_numpy()
    udist = units["district"].astype(str).to_numpy()
    fdist = _facility_districts(units, facilities, udist)
    fac_district = dict(zip(facilities["facility_id"].astype(str), fdist, strict=True))
    ctx = {
        "pop": p.population,
        "travel": units["travel_min_to_lead"].to_numpy(dtype=float),
        "area": units["area_km2"].to_numpy(dtype=float),
        "facilities": facilities,
        "beds": pd.to_numeric(facilities["beds"], errors="coerce").to_numpy(dtype=float),
        "slots": pd.to_numeric(facilities["outpatient_daily"], errors="coerce").to_numpy(dtype=float),
        "beds_est": _estimated(facilities, "beds_status"),
        "slots_est": _estimated(facilities, "outpatient_status"),
        "is_pc": is_pc,
        "pc_time": _primary_care_minutes(p, is_pc, fgrid, unit_minutes_to_facility),
        "referrals": referrals,
        "referral_district": referrals["facility_id"].astype(str).map(fac_district).fillna("").to_numpy(),
        "districts_of": lambda sel: np.unique(udist[sel]),
    }
    in_group = np.isin(facilities["role"].to_numpy(), CAPACITY_ROLES) & (fgrid != "")
    args = (access_minutes, primary_care_minutes, targets)
    names = units.groupby(udist)["district_name"].first().to_dict() if "district_name" in units else {}
    rows = []
    for d in sorted(set(udist)):
        rows.append({"part_type": "district", "part_id": d, "part_name": str(names.get(d, d)),
                     **_part_row(udist == d, in_group & (fdist == d), ctx, *args)})
    if districts is not None and "urban" in districts:
        urban_codes = set(districts.loc[districts["urban"].astype(bool), "adcode"].astype(str))
        urban = np.isin(udist, list(urban_codes))
        for key, sel, name in (("urban", urban, "urban districts 市辖区"), ("rural", ~urban, "counties 县")):
            if sel.any():
                fsel = in_group & (np.isin(fdist, list(urban_codes)) == (key == "urban")) & (fdist != "")
                rows.append({"part_type": "urban_rural", "part_id": key, "part_name": name,
                             **_part_row(sel, fsel, ctx, *args)})
    everything = np.ones(len(udist), bool)
    rows.append({"part_type": "city", "part_id": "city", "part_name": "planning area 规划区",
                 **_part_row(everything, in_group, ctx, *args)})
    df = pd.DataFrame(rows)
    return pd.concat([df, _max_min_row(df)], ignore_index=True)


def _facility_districts(units: pd.DataFrame, facilities: pd.DataFrame, udist: np.ndarray) -> np.ndarray:
    """(f,) district adcode of each facility: its ``district`` column, else (blank) the district of the planning unit
    it stands in (when the tables carry geometry), else ""."""
    fdist = (facilities["district"].fillna("").astype(str).to_numpy() if "district" in facilities
             else np.full(len(facilities), "")).astype(object)
    blank = fdist == ""
    if blank.any() and "geometry" in units and "geometry" in facilities and "in_area" in facilities:
        from ..plan.groups import facility_units

        fu = facility_units(facilities, units)
        fill = blank & (fu >= 0)
        fdist[fill] = udist[fu[fill]]
    return fdist.astype(str)


def _max_min_row(df: pd.DataFrame) -> pd.DataFrame:
    """One row: each numeric indicator's largest district value over its smallest (NaN for a 0 or missing value)."""
    d = df[df["part_type"] == "district"]
    row: dict = {"part_type": "max_min_ratio", "part_id": "max_min_ratio", "part_name": "max/min across districts"}
    for col in (c for c in df.columns[3:] if not c.endswith("_target")):
        v = pd.to_numeric(d[col], errors="coerce").to_numpy(dtype=float)
        ok = len(v) > 0 and np.isfinite(v).all() and v.min() > 0
        row[col] = float(v.max() / v.min()) if ok else np.nan
    return pd.DataFrame([row])


def service_lines(groups: pd.DataFrame, facilities: pd.DataFrame, lines: Sequence[ServiceLine]) -> pd.DataFrame:
    """Which service lines each group offers, from the kinds of its lead, members and cross-grid institutions.

    Returns
    -------
    pd.DataFrame
        one row per grid with a lead and line (columns :data:`SERVICE_LINE_COLUMNS`); ``offered`` is false when no
        facility of the line's kinds serves the group, ``facility_ids`` names those that do (";"-joined)
    """
    kind = dict(zip(facilities["facility_id"].astype(str), facilities["kind"].astype(str), strict=True))
    cc = facilities["continuing_care"].fillna(False).astype(bool) if "continuing_care" in facilities else \
        pd.Series(False, index=facilities.index)
    flagged = set(facilities.loc[cc.to_numpy(), "facility_id"].astype(str))
    serving = groups[groups["role"].isin(CAPACITY_ROLES)]
    grids = list(dict.fromkeys(groups.loc[groups["role"] == "lead", "grid_id"].astype(str)))
    rows = []
    for g in grids:
        ids = serving.loc[serving["grid_id"].astype(str) == g, "facility_id"].astype(str).drop_duplicates()
        for line in lines:
            hit = [f for f in ids if kind.get(f) in line.kinds or (line.continuing_care and f in flagged)]
            rows.append((g, line.id, line.label, bool(hit), ";".join(hit), line.source))
    return pd.DataFrame(rows, columns=list(SERVICE_LINE_COLUMNS))
