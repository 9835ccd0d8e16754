"""Emergency coverage 急救保障 (issue 15): readiness against the targets file, five-centre coverage, station siting.

* **Readiness** per grid, district and city: ambulances, negative-pressure ambulances, AEDs, doctors and nurses of
  the facilities standing in the scope (the planner's optional facility columns), against the requirements the
  targets file sets (``ems.ambulances``: 1 per 30,000 residents; ``ems.negative_pressure``: ≥ 40 %; ``ems.aeds``:
  1 per 10,000 …). A sum over facilities where no facility of the scope carries the column is ``NaN`` (no data),
  never zero; ``*_reporting`` counts the facilities whose figure the sum holds (a partial sum is a lower bound).
* **Five-centre coverage** 五大中心 (and infectious-disease wards, fever clinics): per scope, the facilities declaring
  each capability and the share of residents within ``ems.centre_minutes`` of one (travel model of the run). No data
  when no facility of the city's data carries the flag at all (an absent column or blank cells); when some carry it
  and none is true, the share is 0.
* **Ambulance-station siting** when the scenario's ``[ems]`` asks (:mod:`simulator.optimise.ems_siting`): the
  ``ems_stations`` layer and table, and coverage shares before (existing stations only) and after.

Everything lands in one figures table (``emergency.csv``), which :mod:`.targets_table` judges against the targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config.targets import TargetSet, load_targets
from ..errors import InputError
from ..load.validate import CAPABILITY_FLAGS, READINESS_FIELDS
from ..optimise.ems_siting import (
    EmsSiting,
    covered_units,
    maximal_covering,
    set_covering,
    site_coverage,
)
from ..plan.groups import facility_units, grid_sort_key
from ..travel import RoadNetwork
from .readiness import SHARE_QUANTITY, norm_of, rate_columns, required
from .targets_table import status_counts, targets_table

CITY = "city"
#: the five centres 五大中心 among the capability flags (the others: infectious-disease ward, fever clinic)
FIVE_CENTRES = ("chest_pain", "stroke", "trauma", "maternal_critical", "neonatal_critical")


@dataclass
class Emergency:
    """What :func:`evaluate_emergency` adds to a plan.

    Attributes
    ----------
    figures : ``emergency.csv``: one row per grid, district and the city
    targets : ``targets.csv``: each target per scope, baseline, status, source
    stations : the ``ems_stations`` layer (``None`` when the scenario asks for no siting)
    record : ``run.json`` ``ems`` (siting facts) and ``targets`` (file id, status counts)
    """

    figures: pd.DataFrame
    targets: pd.DataFrame
    stations: gpd.GeoDataFrame | None = None
    record: dict[str, Any] = field(default_factory=dict)
    #: wall seconds of the siting (``run.json`` ``timings.ems_siting_s``), ``None`` without siting
    seconds: float | None = None


@dataclass
class _Scopes:
    """Unit and facility masks of every scope (grids, districts, the city), in row order."""

    rows: list[dict[str, str]]
    unit_masks: list[np.ndarray]
    fac_masks: list[np.ndarray]

    @classmethod
    def of(cls, units: pd.DataFrame, fac_unit: np.ndarray) -> _Scopes:
        grid = units["grid_id"].fillna("").astype(str).to_numpy()
        district = units["district"].fillna("").astype(str).to_numpy()
        dname = units["district_name"].fillna("").astype(str).to_numpy() if "district_name" in units else district
        rows, umasks = [], []
        for g in sorted(pd.unique(grid[grid != ""]), key=grid_sort_key):
            rows.append({"scope": "grid", "scope_id": g, "scope_name": g})
            umasks.append(grid == g)
        for d in sorted(pd.unique(district[district != ""])):
            sel = district == d
            rows.append({"scope": "district", "scope_id": d, "scope_name": str(dname[sel][0])})
            umasks.append(sel)
        rows.append({"scope": CITY, "scope_id": CITY, "scope_name": CITY})
        umasks.append(np.ones(len(units), bool))
        inside = fac_unit >= 0
        fmasks = [inside & m[np.where(inside, fac_unit, 0)] for m in umasks]
        return cls(rows, umasks, fmasks)


def _sum(values: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """Sum over the facilities of ``mask`` that carry a figure (NaN when none does) and how many do."""
    have = mask & np.isfinite(values)
    return (float(values[have].sum()) if have.any() else np.nan), int(have.sum())


def _ratio(num: float, den: float, scale: float = 1.0) -> float:
    return num / den * scale if np.isfinite(num) and np.isfinite(den) and den > 0 else np.nan


def _readiness(fac: pd.DataFrame, mask: np.ndarray, pop: float, targets: TargetSet) -> dict[str, float]:
    """Readiness figures of one scope."""
    v = {c: pd.to_numeric(fac[c], errors="coerce").to_numpy(dtype=float) for c in READINESS_FIELDS}
    row: dict[str, float] = {"population": pop}
    for c in READINESS_FIELDS:
        row[c], row[f"{c}_reporting"] = _sum(v[c], mask)
    both = mask & np.isfinite(v["ambulances"]) & np.isfinite(v["ambulances_negative_pressure"])
    amb_both = v["ambulances"][both].sum()
    row["ambulance_negative_pressure_share"] = (
        float(v["ambulances_negative_pressure"][both].sum() / amb_both) if both.any() and amb_both > 0 else np.nan
    )
    staff = mask & np.isfinite(v["doctors"]) & np.isfinite(v["nurses"])
    row["nurses_per_doctor"] = _ratio(float(v["nurses"][staff].sum()), float(v["doctors"][staff].sum()))
    for col, count, per in rate_columns(targets, READINESS_FIELDS):
        row[col] = _ratio(row[count], pop, per)
    # requirements from the targets file's norms (the one source; a planner's targets file changes them)
    row["ambulances_required"] = required(targets, "ambulances", pop)
    row["ambulances_negative_pressure_required"] = float(
        np.ceil(row["ambulances_required"] * norm_of(targets, SHARE_QUANTITY) - 1e-9)
    )
    row["aeds_required"] = required(targets, "aeds", pop)
    row["ambulances_shortfall"] = max(row["ambulances_required"] - row["ambulances"], 0.0)
    row["aeds_shortfall"] = max(row["aeds_required"] - row["aeds"], 0.0)
    return row


def _capability_minutes(
    fac: pd.DataFrame, n_units: int, minutes: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> dict[str, np.ndarray | None]:
    """(n,) minutes from each unit to its nearest facility declaring each capability; ``None``: no data at all,
    ``inf``: flags present but none true."""
    out: dict[str, np.ndarray | None] = {}
    for c in CAPABILITY_FLAGS:
        flag = pd.to_numeric(fac[c], errors="coerce").to_numpy(dtype=float) if c in fac else np.full(len(fac), np.nan)
        if not np.isfinite(flag).any():
            out[c] = None
            continue
        having = np.flatnonzero(flag == 1)
        out[c] = minutes(np.arange(n_units), having).min(axis=1) if len(having) else np.full(n_units, np.inf)
    return out


def _capabilities(fac: pd.DataFrame, fmask: np.ndarray, umask: np.ndarray, pop: np.ndarray,
                  near: dict[str, np.ndarray | None], limit: float) -> dict[str, float]:
    row: dict[str, float] = {}
    total = pop[umask].sum()
    for c, m in near.items():
        if m is None:
            row[f"{c}_centres"], row[f"{c}_share_within"] = np.nan, np.nan
            continue
        flag = pd.to_numeric(fac[c], errors="coerce").to_numpy(dtype=float)
        row[f"{c}_centres"] = float((fmask & (flag == 1)).sum())
        row[f"{c}_share_within"] = float(pop[umask & (m <= limit)].sum() / total) if total > 0 else np.nan
    return row


def emergency_figures(
    units: pd.DataFrame,
    facilities: pd.DataFrame,
    fac_unit: np.ndarray,
    minutes: Callable[[np.ndarray, np.ndarray], np.ndarray],
    targets: TargetSet,
    centre_minutes: float = 30.0,
) -> pd.DataFrame:
    """Readiness and five-centre figures per grid, district and the city (``emergency.csv``).

    Parameters
    ----------
    units : plan units (``grid_id``, ``district``, ``district_name``, ``population``)
    facilities : facilities in the order ``minutes`` indexes them, readiness columns and capability flags
        (1.0 / 0.0 / NaN) optional
    fac_unit : (f,) unit index each facility stands in, −1 outside the planning area
    minutes : (unit indices, facility indices) → travel minutes
    targets : the targets file (requirements are rounded up from its norms)
    centre_minutes : a resident within this many minutes of a capability counts as reached

    Returns
    -------
    pandas.DataFrame
        one row per scope: ``scope``, ``scope_id``, ``scope_name``, readiness figures and requirements,
        ``<capability>_centres`` / ``<capability>_share_within``; the city's ``<capability>_centres`` is the fewest in
        any district (the targets read "full city and county coverage" as "one in every district")
    """
    fac = facilities.copy()
    for c in (*READINESS_FIELDS, *CAPABILITY_FLAGS):
        if c not in fac:
            fac[c] = np.nan
    pop = units["population"].to_numpy(dtype=float)
    scopes = _Scopes.of(units, np.asarray(fac_unit))
    near = _capability_minutes(fac, len(units), minutes)
    rows = []
    for head, umask, fmask in zip(scopes.rows, scopes.unit_masks, scopes.fac_masks, strict=True):
        row = dict(head)
        row.update(_readiness(fac, fmask, float(pop[umask].sum()), targets))
        row.update(_capabilities(fac, fmask, umask, pop, near, centre_minutes))
        rows.append(row)
    df = pd.DataFrame(rows)
    district = df["scope"] == "district"
    for c in CAPABILITY_FLAGS:
        col = f"{c}_centres"
        if district.any() and df.loc[district, col].notna().any():
            df.loc[df["scope"] == CITY, col] = df.loc[district, col].min()
    return df


# ---------------------------------------------------------------------------------------------------- siting
def _fixed_indices(scenario: Any, fac: pd.DataFrame) -> np.ndarray:
    ids = fac["facility_id"].astype(str).to_numpy()
    pos = {f: i for i, f in enumerate(ids)}
    unknown = [f for f in scenario.ems.fixed if f not in pos]
    if unknown:
        raise InputError(scenario.path, f"ems.fixed names unknown facility id(s) {', '.join(unknown)}; expected ids of "
                         "the scenario's facility files (existing ambulance stations)", field="ems.fixed")
    return np.array([pos[f] for f in scenario.ems.fixed], dtype=np.int64)


def _road_network(scenario: Any) -> RoadNetwork | None:
    tr = scenario.travel
    if not tr.network:
        return None
    return RoadNetwork.load(scenario.input_path(tr.network), tr.network_speed_field, default_speed_kmh=tr.speed_kmh)


def _cover(scenario: Any, units: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, network) -> Any:
    """Units reached from the points (lon, lat) within ``ems.minutes`` (station → unit, the run's travel model)."""
    tr = scenario.travel
    return site_coverage(units["lon"].to_numpy(dtype=float), units["lat"].to_numpy(dtype=float), lon, lat,
                         scenario.ems.minutes, tr.speed_kmh, tr.circuity, network)


def _candidate_sites(scenario: Any, units: pd.DataFrame, fac: pd.DataFrame, fixed: np.ndarray):
    """Candidate sites: (lon, lat, facility index or −1)."""
    if scenario.ems.candidates == "facilities":
        cand = np.setdiff1d(np.flatnonzero(fac["in_area"].to_numpy(dtype=bool)), fixed)
        return fac["lon"].to_numpy(dtype=float)[cand], fac["lat"].to_numpy(dtype=float)[cand], cand
    lon, lat = units["lon"].to_numpy(dtype=float), units["lat"].to_numpy(dtype=float)
    return lon, lat, np.full(len(units), -1, dtype=np.int64)


def site_stations(
    scenario: Any, units: pd.DataFrame, facilities: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, dict[str, Any], np.ndarray, np.ndarray]:
    """Run the scenario's ``[ems]`` siting model (minutes from each station to each unit's point).

    Returns
    -------
    (stations layer, run.json ``ems`` record, (n,) covered by existing stations, (n,) covered after siting)
    """
    ems = scenario.ems
    fac = facilities.reset_index(drop=True)
    pop = units["population"].to_numpy(dtype=float)
    fixed = _fixed_indices(scenario, fac)
    network = _road_network(scenario)
    fixed_cover = _cover(scenario, units, fac["lon"].to_numpy(dtype=float)[fixed],
                         fac["lat"].to_numpy(dtype=float)[fixed], network)
    slon, slat, sfac = _candidate_sites(scenario, units, fac, fixed)
    cover = _cover(scenario, units, slon, slat, network)
    if ems.stations is not None:
        if ems.stations > cover.shape[1]:
            raise InputError(scenario.path, f"ems.stations = {ems.stations} exceeds the {cover.shape[1]} candidate "
                             f"sites (ems.candidates = {ems.candidates!r})", field="ems.stations")
        res = maximal_covering(pop, cover, ems.stations, fixed_cover, solver=scenario.solver.name,
                               time_limit=ems.time_limit_s)
    else:
        res = set_covering(pop, cover, float(ems.coverage), fixed_cover, solver=scenario.solver.name,
                           time_limit=ems.time_limit_s)
    before = covered_units(cover, np.zeros(0, np.int64), fixed_cover)
    after = covered_units(cover, res.chosen, fixed_cover)
    layer = _stations_layer(units, fac, fixed, fixed_cover, cover, res, slon, slat, sfac, pop)
    record = _siting_record(scenario, res, cover, pop, before, len(fixed))
    return layer, record, before, after


def _stations_layer(units, fac, fixed, fixed_cover, cover, res: EmsSiting, slon, slat, sfac, pop) -> gpd.GeoDataFrame:
    uid = units["unit_id"].astype(str).to_numpy()
    fu = facility_units(fac, units) if len(fac) else np.zeros(0, np.int64)
    rows = []
    for k, j in enumerate(fixed):
        u = int(fu[j])
        reach = fixed_cover[:, k].toarray().ravel()
        rows.append(("existing", str(fac["facility_id"].iat[j]), str(fac["name"].iat[j]), u, float(fac["lon"].iat[j]),
                     float(fac["lat"].iat[j]), float(pop[reach].sum())))
    for j in res.chosen.tolist():
        f = int(sfac[j])
        u = int(fu[f]) if f >= 0 else j
        reach = cover[:, j].toarray().ravel()
        rows.append(("new", str(fac["facility_id"].iat[f]) if f >= 0 else "", str(fac["name"].iat[f]) if f >= 0 else "",
                     u, float(slon[j]), float(slat[j]), float(pop[reach].sum())))
    df = pd.DataFrame(rows, columns=["status", "facility_id", "name", "unit", "lon", "lat", "residents_within"])
    # where a station at a facility stands as reliably as the facility's location (district seats are approximate);
    # a new station at a unit stands at the unit's point
    lq = fac["location_quality"] if "location_quality" in fac else pd.Series("", fac.index)
    quality = dict(zip(fac["facility_id"].astype(str), lq.astype(str), strict=True))
    df["location_quality"] = [quality.get(f, "") if f else "unit_point" for f in df["facility_id"]]
    df.insert(0, "station_id", [f"S{k + 1}" for k in range(len(df))])
    unit = df["unit"].to_numpy(dtype=np.int64)
    ok = unit >= 0
    take = np.where(ok, unit, 0)
    df["unit_id"] = np.where(ok, uid[take], "")
    for col in ("grid_id", "district"):
        df[col] = np.where(ok, units[col].fillna("").astype(str).to_numpy()[take], "")
    df = df.drop(columns="unit")
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")


def _siting_record(scenario, res: EmsSiting, cover, pop, before, n_fixed) -> dict[str, Any]:
    ems = scenario.ems
    total = float(pop.sum())
    return {
        "model": res.model,
        "minutes": ems.minutes,
        "stations_requested": ems.stations,
        "coverage_requested": ems.coverage,
        "candidates": ems.candidates,
        "candidate_sites": int(cover.shape[1]),
        "existing_stations": n_fixed,
        "new_stations": int(len(res.chosen)),
        "status": res.status,
        "covered_residents": res.covered_population,
        "covered_share": res.share,
        "covered_share_existing": float(pop[before].sum() / total) if total > 0 else None,
        "reachable_share": res.reachable_share,
        "objective": res.objective,
        "bound": res.bound,
        "travel": "the run's travel model, minutes from the station to each planning unit's point",
        "notes": res.notes,
    }


def _coverage_columns(figures: pd.DataFrame, units: pd.DataFrame, before: np.ndarray, after: np.ndarray) -> None:
    """``ems_covered_share_existing`` / ``ems_covered_share`` per scope (in place)."""
    scopes = _Scopes.of(units, np.zeros(0, np.int64))
    pop = units["population"].to_numpy(dtype=float)
    for col, hit in (("ems_covered_share_existing", before), ("ems_covered_share", after)):
        vals = [float(pop[m & hit].sum() / pop[m].sum()) if pop[m].sum() > 0 else np.nan for m in scopes.unit_masks]
        figures[col] = vals


def evaluate_emergency(scenario: Any, units: pd.DataFrame, facilities: pd.DataFrame, minutes: Callable,
                       targets: TargetSet | None = None, other_figures: Iterable[pd.DataFrame] = ()) -> Emergency:
    """Figures, targets and (when the scenario asks) station siting of one plan.

    Parameters
    ----------
    scenario : the plan's scenario (``targets``, ``[ems]``, ``[travel]``, ``solver.name``)
    units : plan units (``grid_id``, ``district``, ``district_name``, ``population``, ``lon``, ``lat``, geometry)
    facilities : plan facilities in the order ``minutes`` indexes them (``in_area``, geometry …)
    minutes : (unit indices, facility indices) → travel minutes
    targets : the targets file (default: the one the scenario names)
    other_figures : more figures tables (``scope``, ``scope_id``, quantity columns) for targets whose quantities
        another module computes (e.g. family-doctor teams); merged with the emergency figures before judging
    """
    targets = targets or load_targets(getattr(scenario, "targets", "liaoning-2023"))
    fac_unit = facility_units(facilities, units)
    figures = emergency_figures(units, facilities, fac_unit, minutes, targets, scenario.ems.centre_minutes)
    stations, record, seconds = None, {}, None
    if scenario.ems.siting:
        t0 = time.perf_counter()
        stations, ems_record, before, after = site_stations(scenario, units, facilities)
        seconds = time.perf_counter() - t0
        _coverage_columns(figures, units, before, after)
        record["ems"] = ems_record
    table = targets_table(targets, [figures, *other_figures])
    record["targets"] = {"id": targets.id, "source": targets.source, "status_counts": status_counts(table)}
    return Emergency(figures, table, stations, record, seconds)


def console_lines(record: dict[str, Any]) -> list[str]:
    """What ``caregrid run`` prints about targets and siting, from the run record (``[]`` when it holds neither)."""
    lines = []
    counts = (record.get("targets") or {}).get("status_counts") or {}
    if counts:
        words = {"passed": "passed 通过", "failed": "failed 未通过", "no_data": "no_data 无数据"}
        lines.append("targets 规划目标: " + ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items())
                     + " (targets.csv)")
    ems = record.get("ems")
    if ems:
        share = ems.get("covered_share")
        covered = f"{100 * share:.1f}%" if share is not None else "no"
        lines.append(f"ambulance stations 急救站点: {ems['new_stations']} new 新增 + {ems['existing_stations']} "
                     f"existing 现有; {covered} of residents within {ems['minutes']:g} min ({ems['model']}, "
                     f"{ems['status']}; ems_stations.csv)")
    return lines
