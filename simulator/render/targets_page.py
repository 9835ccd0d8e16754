"""The report's targets page 规划目标 and emergency section 急救保障 (template ``targets_page.html.j2``).

Reads ``targets.csv``, ``emergency.csv``, ``ems_stations.csv`` and ``run.json`` of a run folder; a folder written
before these files existed gets an empty page (``has_targets`` false). Values are text; the template escapes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.labels import CAPABILITIES
from ..config.labels import TargetText as L
from ..runfolder import schema as s
from ..runfolder.reader import RunFolder, csv_unsafe

#: shares shown in %
_SHARE_QUANTITIES = ("ambulance_negative_pressure_share",)


def _csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    return csv_unsafe(pd.read_csv(path, dtype={"scope_id": str, "facility_id": str, "grid_id": str,
                                                "district": str, "unit_id": str}, keep_default_na=False,
                                  na_values=[""]))


def _value(v: Any, quantity: str = "") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    v = float(v)
    if quantity in _SHARE_QUANTITIES:
        return f"{100 * v:.0f}%"
    if quantity.endswith("_centres"):
        return f"{v:,.0f}"
    return f"{v:,.0f}" if v == round(v) and abs(v) >= 10 else f"{v:,.2f}"


def _share(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{100 * float(v):.1f}%"


def _have_required(have: Any, required: Any) -> str:
    h = "no data" if have is None or (isinstance(have, float) and not np.isfinite(have)) else f"{float(have):,.0f}"
    r = "" if required is None or (isinstance(required, float) and not np.isfinite(required)) else f"{required:,.0f}"
    return f"{h} / {r}" if r else h


def _scopes(table: pd.DataFrame) -> list[dict[str, str]]:
    seen = table[["scope", "scope_id", "scope_name"]].drop_duplicates()
    order = {"grid": 0, "district": 1, "city": 2}
    seen = seen.assign(o=seen["scope"].map(order)).sort_values("o", kind="stable")
    return [{"scope": r.scope, "id": str(r.scope_id), "name": str(r.scope_name)} for r in seen.itertuples()]


def _target_rows(table: pd.DataFrame, scopes: list[dict[str, str]], quantity_of: dict[str, str]) -> list[dict]:
    rows = []
    for tid, t in table.groupby("target_id", sort=False):
        first = t.iloc[0]
        by = {(r.scope, str(r.scope_id)): r for r in t.itertuples()}
        cells = []
        for sc in scopes:
            r = by.get((sc["scope"], sc["id"]))
            cells.append(None if r is None else {"status": str(r.status),
                                                 "value": _value(r.baseline, quantity_of.get(tid, ""))})
        rows.append({
            "id": str(tid), "text_en": str(first["text_en"]), "text_zh": str(first["text_zh"]),
            "target": str(first["target"]), "year": "" if pd.isna(first["year"]) else f"{int(first['year'])}",
            "quote": str(first["source_quote"]), "document": str(first["source_document"]),
            "url": "" if pd.isna(first["source_url"]) else str(first["source_url"]),
            "note": "" if pd.isna(first["note"]) else str(first["note"]), "cells": cells,
        })
    return rows


def _emergency_rows(fig: pd.DataFrame, scopes: list[dict[str, str]], centre_minutes: Any) -> list[tuple[str, list]]:
    if fig.empty:
        return []
    fig = fig.set_index(["scope", "scope_id"])
    keys = [(sc["scope"], sc["id"]) for sc in scopes if (sc["scope"], sc["id"]) in fig.index]

    def row(label: str, fn) -> tuple[str, list[str]]:
        return label, [fn(fig.loc[k]) for k in keys]

    out = [
        row(str(L.ambulances), lambda r: _have_required(r["ambulances"], r["ambulances_required"])),
        row(str(L.negative_pressure), lambda r: _have_required(r["ambulances_negative_pressure"],
                                                               r["ambulances_negative_pressure_required"])),
        row(str(L.aeds), lambda r: _have_required(r["aeds"], r["aeds_required"])),
        row(str(L.nurses_per_doctor), lambda r: _value(r["nurses_per_doctor"]) or "no data"),
    ]
    for c, label in CAPABILITIES.items():
        col = f"{c}_share_within"
        if col in fig:
            m = f"{float(centre_minutes):g}" if centre_minutes != "" else ""
            out.append(row(f"{label} — {L.within.en} {m} min ({m}{L.within.zh})",
                           lambda r, col=col: _share(r[col]) or "no data"))
    for col, label in (("ems_covered_share_existing", L.covered_before), ("ems_covered_share", L.covered_after)):
        if col in fig:
            out.append(row(str(label), lambda r, col=col: _share(r[col])))
    return out


def _example_files(run: RunFolder) -> list[str]:
    """Facility files of the scenario whose names mark them as examples (made-up figures)."""
    files = (run.scenario.get("inputs") or {}).get("facilities") or []
    names = [f["path"] if isinstance(f, dict) else str(f) for f in files]
    return [n for n in names if "example" in Path(n).name.lower()]


def targets_context(run: RunFolder) -> dict[str, Any]:
    """Values of the targets page: ``has_targets``, scopes, target rows, emergency rows, siting facts, stations."""
    table = _csv(run.path / s.TARGETS_CSV)
    if table.empty:
        return {"has_targets": False}
    scopes = _scopes(table)
    rec = run.record
    ems = rec.get(s.RunKey.EMS) or {}
    stations = _csv(run.path / s.EMS_STATIONS_CSV)
    return {
        "has_targets": True,
        "targets_id": (rec.get(s.RunKey.TARGETS) or {}).get("id", ""),
        "scopes": scopes,
        "rows": _target_rows(table, scopes, dict(zip(table["target_id"], table.get("quantity", ""), strict=False))),
        "emergency_rows": _emergency_rows(_csv(run.path / s.EMERGENCY_CSV), scopes,
                                          (run.scenario.get("ems") or {}).get("centre_minutes", "")),
        "example_files": _example_files(run),
        "ems": {k: ("" if v is None else v) for k, v in ems.items() if not isinstance(v, list | dict)},
        "ems_share": _share(ems.get("covered_share")), "ems_share_before": _share(ems.get("covered_share_existing")),
        "stations": [
            {k: ("" if pd.isna(v) else str(v)) for k, v in r.items()} | {
                "residents": _value(r["residents_within"]),
                "approximate": str(r.get("location_quality", "")) not in ("", "nan", "unit_point", *s.EXACT_LOCATIONS)}
            for r in stations.to_dict("records")
        ],
    }
