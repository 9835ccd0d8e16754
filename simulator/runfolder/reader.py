"""Reading a run folder back (the one reader, used by the maps, the report and ``caregrid compare``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..config.rules import STATUSES, failed_checks
from ..errors import InputError
from . import schema as s


def as_bool(values: pd.Series) -> pd.Series:
    """A column of booleans as written by pandas/GeoPackage ("True", 1, "yes", ...) as a bool Series."""
    if values.dtype == bool:
        return values
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))


@dataclass
class RunFolder:
    """A run folder read back: layers in EPSG:4326, CSVs as tables (empty when the file is absent).

    Attributes
    ----------
    path
        The folder.
    units, grids, facilities
        The ``plan.gpkg`` layers; facility columns ``modelled`` / ``in_city`` as bool.
    groups, referrals, compliance, indicators
        ``groups.csv``, ``referrals.csv``, ``compliance.csv`` (``passed`` as bool), ``indicators.csv``;
        ``grid_id`` / ``facility_id`` kept as text.
    record
        ``run.json`` (empty dict when absent).
    shared_centres, indicators_district, service_lines, family_doctors, referral_allocations
        the plan layers of issue 15 (``shared_centres.csv`` …), empty when the run did not write them.
    """

    path: Path
    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    compliance: pd.DataFrame
    indicators: pd.DataFrame
    record: dict[str, Any]
    shared_centres: pd.DataFrame = field(default_factory=pd.DataFrame)
    indicators_district: pd.DataFrame = field(default_factory=pd.DataFrame)
    service_lines: pd.DataFrame = field(default_factory=pd.DataFrame)
    family_doctors: pd.DataFrame = field(default_factory=pd.DataFrame)
    referral_allocations: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def scenario(self) -> dict[str, Any]:
        """The scenario as recorded in ``run.json``."""
        return self.record.get(s.RunKey.SCENARIO) or {}

    @property
    def name(self) -> str:
        """Scenario name (or city, or the folder name)."""
        sc = self.scenario
        return str(sc.get("name") or sc.get("city") or self.path.name)

    @property
    def failed(self) -> int:
        """Number of failed rule checks (rows of ``compliance.csv``)."""
        if self.compliance.empty:
            return 0
        return int(failed_checks(self.compliance).sum())

    @property
    def verdict(self) -> tuple[str, str]:
        """(English, Chinese) compliance verdict."""
        n = len(self.compliance)
        status = self.compliance["status"].astype(str) if "status" in self.compliance else pd.Series(dtype=str)
        n_open = int(status.isin(("planned", "no_data")).sum())
        open_en = f"; {n_open} not judged (planned / no data)" if n_open else ""
        open_zh = f"；{n_open} 项未核查（规划值/无数据）" if n_open else ""
        if self.failed == 0:
            if n_open:
                return f"no rule check fails: {n - n_open} of {n} passed{open_en}", f"无未通过项{open_zh}"
            return f"all {n} rule checks passed", "全部规则通过"
        return f"{self.failed} of {n} rule checks failed{open_en}", f"{self.failed} 项未通过{open_zh}"

    @property
    def population_modelled(self) -> bool:
        """True when any unit's residents are modelled (disaggregated from census totals), not observed."""
        st = self.units.get("population_status")
        return st is not None and bool((st.astype(str) == "modelled").any())

    @property
    def city_indicators(self) -> pd.Series:
        """The city-wide row of ``indicators.csv``."""
        return self.indicators[self.indicators["grid_id"] == s.CITY].iloc[0]

    @property
    def grid_indicators(self) -> pd.DataFrame:
        """The per-grid rows of ``indicators.csv``."""
        return self.indicators[self.indicators["grid_id"] != s.CITY]


def _check_files(run_dir: Path, required: Iterable[str]) -> None:
    for name in required:
        if not (run_dir / name).exists():
            raise InputError(
                run_dir / name, "missing: not a complete run folder (write one with `caregrid run RUN_DIR`)"
            )


def _csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    return csv_unsafe(pd.read_csv(path, dtype=dict.fromkeys(s.ID_COLUMNS, str)))


def csv_unsafe(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`simulator.runfolder.writer.csv_safe`: drop the apostrophe written before formula-like text."""
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            text = df[col]
            guarded = text.map(lambda v: isinstance(v, str) and len(v) > 1 and v[0] == "'" and v[1] in s.FORMULA_CHARS)
            if guarded.any():
                df[col] = text.where(~guarded, text.str[1:])
    return df


def _layer(gpkg: Path, layer: str) -> gpd.GeoDataFrame:
    return gpd.read_file(gpkg, layer=layer).to_crs(4326)


def read_run(run_dir: str | Path, *, required: Iterable[str] = s.REQUIRED_FOR_MAPS) -> RunFolder:
    """Read a run folder written by ``caregrid run`` (:func:`simulator.runfolder.writer.write_plan`).

    Parameters
    ----------
    run_dir
        The run folder.
    required
        File names that must exist (:data:`~simulator.runfolder.schema.REQUIRED_FOR_MAPS` by default;
        :data:`~simulator.runfolder.schema.REQUIRED_COMPLETE` for a comparison or a report).

    Raises
    ------
    InputError
        When a required file is missing.
    """
    run_dir = Path(run_dir)
    _check_files(run_dir, required)
    gpkg = run_dir / s.PLAN_GPKG
    facilities = _layer(gpkg, s.FACILITIES_LAYER)
    for col in s.FACILITY_BOOL_COLUMNS:
        if col in facilities:
            facilities[col] = as_bool(facilities[col])
    compliance = _csv(run_dir / s.COMPLIANCE_CSV)
    if "passed" in compliance:
        compliance["passed"] = as_bool(compliance["passed"])
    if "passed" in compliance and "status" not in compliance:  # a run folder written before the status column
        compliance["status"] = compliance["passed"].map({True: "passed", False: "failed"})
    if "status" in compliance:
        bad = sorted(set(compliance["status"].astype(str)) - set(STATUSES))
        if bad:
            raise InputError(
                f"{run_dir / s.COMPLIANCE_CSV}: column 'status' has {bad[0]!r}; expected one of {', '.join(STATUSES)}"
            )
    record_path = run_dir / s.RUN_JSON
    return RunFolder(
        path=run_dir,
        units=_layer(gpkg, s.UNITS_LAYER),
        grids=_layer(gpkg, s.GRIDS_LAYER),
        facilities=facilities,
        groups=_csv(run_dir / s.GROUPS_CSV),
        referrals=_csv(run_dir / s.REFERRALS_CSV),
        compliance=compliance,
        indicators=_csv(run_dir / s.INDICATORS_CSV),
        record=json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {},
        shared_centres=_csv(run_dir / s.SHARED_CENTRES_CSV),
        indicators_district=_csv(run_dir / s.INDICATORS_DISTRICT_CSV),
        service_lines=_csv(run_dir / s.SERVICE_LINES_CSV),
        family_doctors=_csv(run_dir / s.FAMILY_DOCTORS_CSV),
        referral_allocations=_csv(run_dir / s.REFERRAL_ALLOCATIONS_CSV),
    )
