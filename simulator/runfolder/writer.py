"""Writing the run folder (the one writer; names and columns from :mod:`simulator.runfolder.schema`)."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import schema as s
from .atomic import atomic_output_dir

if TYPE_CHECKING:  # the plan stage imports this module; a runtime import back would be circular
    from ..plan.make import Plan


def versions() -> dict[str, str]:
    """Python and package versions for ``run.json`` ("not installed" for a missing package)."""
    out = {"python": platform.python_version()}
    for pkg in s.VERSIONED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out




def json_default(o: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays as Python values, NaN/inf as null, anything else as text."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)




def _finite(obj: Any) -> Any:
    """``obj`` with every NaN/inf float replaced by ``None`` (JSON has no NaN: ``JSON.parse`` rejects it)."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_json(obj: Any, path: Path) -> None:
    """UTF-8 JSON, Chinese kept readable (``ensure_ascii=False``), indented by 2; NaN and inf as ``null``."""
    text = json.dumps(_finite(obj), ensure_ascii=False, indent=2, default=json_default, allow_nan=False)
    path.write_text(text, encoding="utf-8")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells that a spreadsheet would run as a formula start with an apostrophe.

    ``=HYPERLINK(…)`` as a facility name becomes ``'=HYPERLINK(…)`` in the CSV (shown as text by Excel and
    LibreOffice); numbers are untouched, and the GeoPackage keeps the raw name. :func:`simulator.runfolder.reader`
    removes the apostrophe again when reading a run folder.
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            text = out[col]
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(s.FORMULA_CHARS))
            if risky.any():
                out[col] = text.where(~risky, "'" + text.astype(str))
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV output (UTF-8, no index) with formula-like text neutralised (:func:`csv_safe`)."""
    csv_safe(df).to_csv(path, index=False)


def _write_layers(plan: Plan, gpkg: Path) -> None:
    units = plan.units.drop(columns=["lon", "lat"])
    units.to_file(gpkg, layer=s.UNITS_LAYER, driver="GPKG")
    plan.grids.to_file(gpkg, layer=s.GRIDS_LAYER, driver="GPKG")
    fac = plan.facilities[s.facility_layer_columns(plan.facilities.columns)].copy()
    for col in s.FACILITY_BOOL_COLUMNS:
        if col in fac:
            fac[col] = fac[col].astype(bool)
    gpd.GeoDataFrame(fac, geometry="geometry", crs=s.CRS).to_file(gpkg, layer=s.FACILITIES_LAYER, driver="GPKG")


def _write_indicators(indicators: pd.DataFrame, folder: Path) -> None:
    write_csv(indicators, folder / s.INDICATORS_CSV)
    city = indicators.grid_id == s.CITY
    write_json(
        {"city": indicators[city].iloc[0].to_dict(), "grids": indicators[~city].to_dict("records")},
        folder / s.INDICATORS_JSON,
    )


def _write_emergency(plan: Plan, folder: Path) -> None:
    """emergency.csv, targets.csv, and the ambulance stations (table and plan.gpkg layer) when sited."""
    if plan.emergency is not None:
        write_csv(plan.emergency, folder / s.EMERGENCY_CSV)
    if plan.targets is not None:
        write_csv(plan.targets, folder / s.TARGETS_CSV)
    if plan.ems_stations is not None:
        write_csv(pd.DataFrame(plan.ems_stations.drop(columns="geometry")), folder / s.EMS_STATIONS_CSV)
        if len(plan.ems_stations):  # an empty layer has no geometry type: the CSV header alone says "none"
            plan.ems_stations.to_file(folder / s.PLAN_GPKG, layer=s.EMS_STATIONS_LAYER, driver="GPKG")


def _write_adjacency(plan: Plan, path: Path) -> None:
    adj = plan.adjacency.tocoo()
    keep = adj.row < adj.col  # each pair once
    ids = plan.units["unit_id"].to_numpy()
    write_csv(pd.DataFrame({"unit_a": ids[adj.row[keep]], "unit_b": ids[adj.col[keep]]}), path)


def write_plan(plan: Plan, out: str | Path, extras: Iterable[Callable[[Path], Any]] = ()) -> Path:
    """Write the run folder (atomically: a failed write leaves an existing folder as it was).

    Parameters
    ----------
    plan
        The plan and its evaluation (:class:`simulator.plan.make.Plan`).
    out
        The run folder to write or replace.
    extras
        Callables ``f(folder)`` run on the complete temporary folder before it replaces ``out`` (the maps, then the
        report), so they land together with the plan or not at all.

    Returns
    -------
    Path
        ``out``. Of an existing folder only ``units.gpkg`` (written by ``caregrid units``) is kept.
    """
    out = Path(out)
    with atomic_output_dir(out, preserve=(s.UNITS_GPKG,)) as tmp:
        write_plan_files(plan, tmp, extras)
    return out


def write_plan_files(plan: Plan, tmp: Path, extras: Iterable[Callable[[Path], Any]] = ()) -> None:
    """The run folder's files, written into ``tmp`` (a folder the caller makes atomic, e.g. an ensemble's)."""
    _write_layers(plan, tmp / s.PLAN_GPKG)
    write_csv(plan.groups, tmp / s.GROUPS_CSV)
    write_csv(plan.referrals, tmp / s.REFERRALS_CSV)
    write_csv(plan.compliance, tmp / s.COMPLIANCE_CSV)
    if plan.indicators is not None:
        _write_indicators(plan.indicators, tmp)
    if plan.moves is not None:
        write_csv(plan.moves, tmp / s.MOVES_CSV)
    _write_emergency(plan, tmp)
    for table, name in ((getattr(plan, "shared_centres", None), s.SHARED_CENTRES_CSV),
                        (getattr(plan, "indicators_district", None), s.INDICATORS_DISTRICT_CSV),
                        (getattr(plan, "service_lines", None), s.SERVICE_LINES_CSV),
                        (getattr(plan, "family_doctors", None), s.FAMILY_DOCTORS_CSV),
                        (getattr(plan, "referral_allocations", None), s.REFERRAL_ALLOCATIONS_CSV)):
        if table is not None:
            write_csv(table, tmp / name)
    _write_adjacency(plan, tmp / s.ADJACENCY_CSV)
    write_json(plan.record, tmp / s.RUN_JSON)
    for extra in extras:
        extra(tmp)
