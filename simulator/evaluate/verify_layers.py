"""Independent check of issue 15's plan layers in a written run folder (called by :func:`.verify.verify_run`).

Reads the run folder's files with its own code — ``targets.csv``, ``emergency.csv``, ``family_doctors.csv``,
``referral_allocations.csv``, ``referrals.csv``, the ``units``, ``facilities`` and ``ems_stations`` layers of
``plan.gpkg``, ``run.json`` — and the targets file the run names (data, via
:func:`simulator.config.targets.load_targets`). It imports none of the code that computed these files; comparisons,
rates, requirements and travel minutes are re-derived here.

Checked (each failure is one line of :func:`verify_plan_layers`):

* ``targets.csv`` — every row's target is in the targets file with the file's norm; its ``status`` follows from
  ``baseline`` and the target's comparison (``at_least`` / ``at_most`` / ``between``); ``no_data`` exactly where
  ``baseline`` is empty; the baseline equals the ``emergency.csv`` figure of its quantity and scope, where that
  table holds the quantity;
* ``emergency.csv`` — residents of each grid, district and the city equal the ``units`` layer's; rates
  (``<count>_per_<N>``) equal count / residents × N; ambulances and AEDs required equal ⌈residents × norm / per⌉ of
  the targets file's first target on ``ambulances_per_<N>`` / ``aeds_per_<N>``, negative-pressure ambulances
  required ⌈ambulances required × share⌉; shortfalls equal max(required − held, 0); the counts of the grid rows,
  and of the district rows, sum to the city row;
* ``ems_stations`` (when ``run.json`` records a siting) — the layer exists with the recorded numbers of existing
  and new stations; with the straight-line travel model of ``run.json`` (speed, circuity) each station's
  ``residents_within`` and the covered shares (``covered_share``, ``covered_share_existing``; the city row of
  ``emergency.csv``) are recomputed from the ``units`` layer (unit point: the polygon's centroid, or a point on its
  surface when the centroid falls outside). A run on a road network records no minutes in the folder: that part is
  listed by :func:`unverifiable` instead;
* ``family_doctors.csv`` — residents per grid equal the ``units`` layer's; general practitioners needed equal
  ⌈residents × norm / per⌉ of the targets file's ``general_practitioners_per_<N>`` target (blank without one); the
  shortfall is max(needed − declared, 0), blank where nothing is declared;
* ``referral_allocations.csv`` — per receiving facility the parts sum to its ``referrals.csv`` row, and per grid
  to the lead's reserved slots and beds in the ``facilities`` layer.

Not re-derived (:func:`unverifiable` lists it per folder): the facility counts and five-centre figures behind
``emergency.csv`` (``plan.gpkg`` keeps neither the readiness counts nor the five-centre flags of the facilities; those
rows are checked for consistency only), and on a road-network run the stations' reach (the folder records no minutes).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..config.targets import load_targets
from ..errors import InputError

#: ``<count>_per_<residents>`` (own reading of a rate quantity's name)
_RATE = re.compile(r"^([a-z][a-z0-9_]*?)_per_([1-9][0-9]*)$")
#: counts per facility that emergency.csv sums per scope
_COUNTS = ("doctors", "nurses", "ambulances", "ambulances_negative_pressure", "aeds")
#: mean Earth radius (km) of the straight-line travel model
_EARTH_KM = 6371.0088
#: minutes within which a unit counts as on the edge of a station's reach (the recorded figure may fall either way)
_EDGE_MIN = 1e-6
_REL = 1e-6


def _num(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s.replace("", np.nan), errors="coerce").to_numpy(dtype=float)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _same(a: float, b: float, atol: float = 1e-6) -> bool:
    """Both missing, or equal within a relative 1e-6 (absolute ``atol``)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return not math.isfinite(a) and not math.isfinite(b)
    return abs(a - b) <= max(atol, _REL * max(abs(a), abs(b)))


def _fmt(x: float) -> str:
    return "empty" if not math.isfinite(x) else f"{x:g}"


def _passes(comparison: str, value: float, norm: float, norm_max: float | None) -> bool:
    if comparison == "at_least":
        return value >= norm - 1e-9
    if comparison == "at_most":
        return value <= norm + 1e-9
    return norm - 1e-9 <= value <= (norm_max if norm_max is not None else math.inf) + 1e-9


class _Folder:
    """The files of one run folder the checks read."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.record: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        scenario = self.record.get("scenario") or {}
        name = str(scenario.get("targets") or "liaoning-2023")
        if name.endswith(".toml") and scenario.get("path") and not Path(name).is_absolute():
            name = str(Path(scenario["path"]).parent / name)
        self.targets = load_targets(name)
        gpkg = run_dir / "plan.gpkg"
        self.layers = set(pyogrio.list_layers(gpkg)[:, 0]) if gpkg.exists() else set()
        self.units = gpd.read_file(gpkg, layer="units")
        self.pop = pd.to_numeric(self.units["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
        self.ugrid = self.units["grid_id"].fillna("").astype(str).to_numpy()
        self.udist = self.units["district"].fillna("").astype(str).to_numpy()

    def csv(self, name: str) -> pd.DataFrame | None:
        path = self.dir / name
        return _csv(path) if path.exists() else None

    def residents(self, scope: str, scope_id: str) -> float:
        """Residents of a grid, district or the city, from the units layer."""
        if scope == "city":
            return float(self.pop.sum())
        return float(self.pop[(self.ugrid if scope == "grid" else self.udist) == scope_id].sum())

    def rate_target(self, field: str):
        """The targets file's first target on ``<field>_per_<N>``, and N (``(None, None)`` without one)."""
        for t in self.targets:
            m = _RATE.match(t.quantity)
            if m and m[1] == field:
                return t, int(m[2])
        return None, None

    def required(self, field: str, residents: float) -> float:
        t, per = self.rate_target(field)
        return float(math.ceil(residents * t.norm / per - 1e-9)) if t is not None else math.nan


# ------------------------------------------------------------------------------------------------- targets.csv
def check_targets_csv(f: _Folder) -> list[str]:
    """Each row's status follows from its baseline, norm and comparison; the baseline is emergency.csv's figure."""
    table = f.csv("targets.csv")
    if table is None:
        return []
    by_id = {t.id: t for t in f.targets}
    em = f.csv("emergency.csv")
    em_rows = {(r["scope"], r["scope_id"]): r for r in em.to_dict("records")} if em is not None else {}
    out = []
    for k, r in enumerate(table.to_dict("records")):
        where = f"targets.csv row {k + 2} ({r['target_id']}, {r['scope']} {r['scope_id']})"
        t = by_id.get(r["target_id"])
        if t is None:
            out.append(f"{where}: target not in the targets file {f.targets.id}")
            continue
        base = float(_num(pd.Series([r["baseline"]]))[0])
        norm = float(_num(pd.Series([r["norm"]]))[0])
        if not _same(norm, t.norm):
            out.append(f"{where}: norm {_fmt(norm)} but the targets file says {t.norm:g}")
        want = "no_data" if not math.isfinite(base) else (
            "passed" if _passes(t.comparison, base, t.norm, t.norm_max) else "failed")
        if r["status"] != want:
            out.append(f"{where}: status {r['status']} but baseline {_fmt(base)} against {t.comparison} "
                       f"{t.norm:g} gives {want}")
        src = em_rows.get((r["scope"], r["scope_id"]))
        if src is not None and t.quantity in src:
            fig = float(_num(pd.Series([src[t.quantity]]))[0])
            if not _same(base, fig):
                out.append(f"{where}: baseline {_fmt(base)} but emergency.csv holds {_fmt(fig)} for {t.quantity}")
    return out


# ----------------------------------------------------------------------------------------------- emergency.csv
def _emergency_row(f: _Folder, where: str, r: dict[str, float], scope: str, scope_id: str) -> list[str]:
    out = []
    pop = f.residents(scope, scope_id)
    if not _same(r["population"], pop, atol=0.5):
        out.append(f"{where}: population {_fmt(r['population'])} but the units layer holds {pop:g} residents")
    for col, val in r.items():
        m = _RATE.match(col)
        if m and m[1] in r:
            want = r[m[1]] / r["population"] * int(m[2]) if r["population"] > 0 else math.nan
            if not _same(val, want):
                out.append(f"{where}: {col} {_fmt(val)} but {m[1]} / residents × {m[2]} = {_fmt(want)}")
    need = {"ambulances": f.required("ambulances", r["population"]), "aeds": f.required("aeds", r["population"])}
    share = f.targets.for_quantity("ambulance_negative_pressure_share")
    need["ambulances_negative_pressure"] = (float(math.ceil(need["ambulances"] * share.norm - 1e-9))
                                            if share is not None and math.isfinite(need["ambulances"]) else math.nan)
    for field, want in need.items():
        col = f"{field}_required"
        if col in r and not _same(r[col], want):
            out.append(f"{where}: {col} {_fmt(r[col])} but the targets file requires {_fmt(want)}")
        short = f"{field}_shortfall"
        if short in r:
            held = r.get(field, math.nan)
            exp = max(want - held, 0.0) if math.isfinite(held) and math.isfinite(want) else math.nan
            if not _same(r[short], exp):
                out.append(f"{where}: {short} {_fmt(r[short])} but max(required − held, 0) = {_fmt(exp)}")
    return out


def check_emergency_csv(f: _Folder) -> list[str]:
    """Residents, rates, requirements and shortfalls per row; grid and district counts sum to the city's."""
    em = f.csv("emergency.csv")
    if em is None:
        return []
    num = {c: _num(em[c]) for c in em.columns if c not in ("scope", "scope_id", "scope_name")}
    out = []
    for k in range(len(em)):
        scope, sid = em["scope"].iat[k], em["scope_id"].iat[k]
        row = {c: float(v[k]) for c, v in num.items()}
        out += _emergency_row(f, f"emergency.csv ({scope} {sid})", row, scope, sid)
    city = np.flatnonzero(em["scope"].to_numpy() == "city")
    if len(city) != 1:
        return out + [f"emergency.csv: {len(city)} city rows; expected 1"]
    # units of no grid (a layout's gap, which verify_run names) leave the grid rows short of the city: no sum check
    scopes = ("grid", "district") if (f.ugrid != "").all() else ("district",)
    for col in ("population", *[c for c in _COUNTS if c in num]):
        total = num[col][city[0]]
        for scope in scopes:
            part = num[col][em["scope"].to_numpy() == scope]
            got = float(np.nansum(part)) if np.isfinite(part).any() else math.nan
            if np.isfinite(part).any() or math.isfinite(total):
                if not _same(got, total, atol=0.5):
                    out.append(f"emergency.csv: {col} of the {scope} rows sums to {_fmt(got)}, the city row holds "
                               f"{_fmt(total)}")
    return out


# ------------------------------------------------------------------------------------------------ ems_stations
def unit_points(units: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of each unit's point: its polygon's centroid, or a point on its surface when that falls outside."""
    geoms = units.geometry.to_numpy()
    pts = shapely.centroid(geoms)
    outside = ~shapely.contains(geoms, pts)
    pts[outside] = shapely.point_on_surface(geoms[outside])
    return shapely.get_x(pts), shapely.get_y(pts)


def straight_minutes(lon1, lat1, lon2, lat2, speed_kmh: float, circuity: float) -> np.ndarray:
    """Great-circle km × circuity at ``speed_kmh``, in minutes (broadcasting, degrees in)."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dl = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1))) * circuity / speed_kmh * 60.0


def _travel(f: _Folder) -> dict[str, Any]:
    return (f.record.get("scenario") or {}).get("travel") or {}


def _share_within(pop: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Smallest and largest covered share, units on the edge of reach counted out and in."""
    total = pop.sum()
    return (float(pop[lo].sum() / total), float(pop[hi].sum() / total)) if total > 0 else (math.nan, math.nan)


def _within(share: float, bounds: tuple[float, float]) -> bool:
    return math.isfinite(share) and bounds[0] - 1e-9 <= share <= bounds[1] + 1e-9


def check_ems_stations(f: _Folder) -> list[str]:
    """The stations layer against ``run.json`` and coverage recomputed from the units layer (straight-line runs)."""
    ems = f.record.get("ems")
    if not ems:
        return []
    if "ems_stations" not in f.layers:
        return ["plan.gpkg: run.json records an ambulance-station siting but there is no ems_stations layer"]
    st = gpd.read_file(f.dir / "plan.gpkg", layer="ems_stations")
    status = st["status"].astype(str).to_numpy()
    out = [f"ems_stations: {int((status == s).sum())} {s} stations but run.json records {ems.get(key)}"
           for s, key in (("existing", "existing_stations"), ("new", "new_stations"))
           if int((status == s).sum()) != ems.get(key)]
    tr = _travel(f)
    if tr.get("network") or not tr.get("speed_kmh"):
        return out
    ulon, ulat = unit_points(f.units)
    slon, slat = st.geometry.x.to_numpy(), st.geometry.y.to_numpy()
    mins = straight_minutes(ulon[:, None], ulat[:, None], slon[None, :], slat[None, :], float(tr["speed_kmh"]),
                            float(tr.get("circuity", 1.0)))
    limit = float(ems["minutes"])
    lo, hi = mins <= limit - _EDGE_MIN, mins <= limit + _EDGE_MIN
    recorded = _num(st["residents_within"].astype(str))
    for j in range(len(st)):
        a, b = float(f.pop[lo[:, j]].sum()), float(f.pop[hi[:, j]].sum())
        if not (a - 0.5 <= recorded[j] <= b + 0.5):
            out.append(f"ems_stations {st['station_id'].iat[j]}: residents_within {_fmt(recorded[j])} but "
                       f"{a:g} residents live within {limit:g} min of it")
    existing = status == "existing"
    for key, cols in (("covered_share", np.ones(len(st), bool)), ("covered_share_existing", existing)):
        bounds = _share_within(f.pop, lo[:, cols].any(axis=1), hi[:, cols].any(axis=1))
        share = ems.get(key)
        if share is not None and not _within(float(share), bounds):
            out.append(f"run.json ems.{key} {share:g} but the stations reach {bounds[0]:g} of residents "
                       f"within {limit:g} min")
    em = f.csv("emergency.csv")
    if em is not None and "ems_covered_share" in em:
        city = _num(em.loc[em["scope"] == "city", "ems_covered_share"])
        bounds = _share_within(f.pop, lo.any(axis=1), hi.any(axis=1))
        if len(city) and not _within(float(city[0]), bounds):
            out.append(f"emergency.csv (city): ems_covered_share {_fmt(float(city[0]))} but the stations reach "
                       f"{bounds[0]:g} of residents within {limit:g} min")
    return out


def unverifiable(run_dir: str | Path) -> list[str]:
    """What :func:`verify_plan_layers` cannot re-check from this folder alone, one line each (empty: everything)."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    tr = (record.get("scenario") or {}).get("travel") or {}
    out = []
    if (run_dir / "emergency.csv").exists():
        out.append("emergency.csv: the facility counts per scope (ambulances, AEDs, doctors, nurses, *_reporting) and "
                   "the five-centre figures (*_centres, *_share_within) are checked for consistency only (rows sum to "
                   "the city, rates, requirements); plan.gpkg does not keep the facilities' readiness counts and "
                   "five-centre flags to re-derive them")
    if record.get("ems") and (tr.get("network") or not tr.get("speed_kmh")):
        out.append(f"ems_stations: the run's travel minutes come from a road network ({tr.get('network') or 'unknown'})"
                   ", which the run folder does not record; residents_within and the covered shares are not "
                   "re-checked (the station counts are)")
    return out


# ------------------------------------------------------------------------------------- family doctors, allocations
def check_family_doctors(f: _Folder) -> list[str]:
    """Residents, GPs needed by the targets file's norm, and the shortfall, per grid."""
    fd = f.csv("family_doctors.csv")
    if fd is None:
        return []
    t, per = f.rate_target("general_practitioners")
    res, gps = _num(fd["residents"]), _num(fd["general_practitioners"])
    need, short = _num(fd["general_practitioners_needed"]), _num(fd["general_practitioners_shortfall"])
    out = []
    for k, g in enumerate(fd["grid_id"]):
        where = f"family_doctors.csv ({g})"
        pop = f.residents("grid", g)
        if not _same(res[k], pop, atol=0.5):
            out.append(f"{where}: residents {_fmt(res[k])} but the units layer holds {pop:g}")
        want = float(math.ceil(pop * t.norm / per - 1e-9)) if t is not None else math.nan
        if not _same(need[k], want):
            out.append(f"{where}: general_practitioners_needed {_fmt(need[k])} but the targets file's norm gives "
                       f"{_fmt(want)}")
        exp = max(want - gps[k], 0.0) if math.isfinite(gps[k]) and math.isfinite(want) else math.nan
        if not _same(short[k], exp):
            out.append(f"{where}: general_practitioners_shortfall {_fmt(short[k])} but max(needed − declared, 0) "
                       f"= {_fmt(exp)}")
    return out


def check_referral_allocations(f: _Folder) -> list[str]:
    """Allocations sum per facility to ``referrals.csv`` and per grid to the lead's reserved slots and beds."""
    al, ref = f.csv("referral_allocations.csv"), f.csv("referrals.csv")
    if al is None or ref is None:
        return []
    fac = gpd.read_file(f.dir / "plan.gpkg", layer="facilities")
    fac = fac.set_index(fac["facility_id"].astype(str))
    out = []
    cols = ("reserved_outpatient_slots", "reserved_beds")
    al_num = pd.DataFrame({c: _num(al[c]) for c in cols}).assign(grid_id=al["grid_id"], facility_id=al["facility_id"],
                                                                lead=al["lead_facility_id"])
    ref = ref[ref["facility_id"] != ""]
    ref_num = pd.DataFrame({c: _num(ref[c]) for c in cols}).assign(grid_id=ref["grid_id"].to_numpy(),
                                                                  facility_id=ref["facility_id"].to_numpy(),
                                                                  lead=ref["lead_facility_id"].to_numpy())
    got = al_num.groupby(["grid_id", "facility_id"])[list(cols)].sum(min_count=1)
    want = ref_num.groupby(["grid_id", "facility_id"])[list(cols)].sum(min_count=1)
    for key in sorted(set(got.index) | set(want.index)):
        for c in cols:
            a = float(got[c].get(key, math.nan))
            b = float(want[c].get(key, math.nan))
            if not _same(a, b, atol=1e-6):
                out.append(f"referral_allocations.csv ({key[0]}, {key[1]}): {c} sum to {_fmt(a)}, referrals.csv "
                           f"holds {_fmt(b)}")
    for (g, lead), rows in al_num.groupby(["grid_id", "lead"]):
        for c in cols:
            held = float(pd.to_numeric(fac[c], errors="coerce").get(lead, math.nan)) if c in fac else math.nan
            total = float(rows[c].sum(min_count=1))
            if math.isfinite(held) and not _same(total, held, atol=1e-6):
                out.append(f"referral_allocations.csv ({g}): {c} sum to {_fmt(total)} but the lead {lead} reserves "
                           f"{held:g}")
    return out


CHECKS = (check_targets_csv, check_emergency_csv, check_ems_stations, check_family_doctors, check_referral_allocations)


def verify_plan_layers(run_dir: str | Path) -> list[str]:
    """Violations found in the plan layers of issue 15 (empty list: consistent, or none of the files present)."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists() or not (run_dir / "plan.gpkg").exists():
        return []  # verify_run names the missing files
    try:
        f = _Folder(run_dir)
    except InputError as exc:  # the targets file the run names is gone or broken: nothing here can be judged
        return [f"run.json: cannot load the targets file the run names ({exc}); the plan layers are not re-checked"]
    return [line for check in CHECKS for line in check(f)]
