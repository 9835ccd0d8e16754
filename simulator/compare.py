"""Lay run folders side by side: city-level indicators and compliance, differences against the first run.

Indicators are normalised (shares, per 1,000 / 10,000 residents, minutes) so cities of different size compare;
absolute sizes (residents, area, grids) are shown but marked as not normalised. For two layouts of one city the
units that changed lead hospital are listed (grids are matched by their lead, since grid labels may differ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import InputError
from .runfolder.atomic import atomic_output_dir

#: (column, label, normalised?) of the city row of indicators.csv
COMPARED = [
    ("population", "Residents 常住人口", False),
    ("area_km2", "Area km² 面积", False),
    ("grids", "Grids 网格数", False),
    ("travel_mean_min", "Mean minutes to lead 平均到牵头医院时间", True),
    ("travel_p90_min", "P90 minutes to lead", True),
    ("share_within_access", "Share within access threshold 可达比例", True),
    ("share_within_primary_care", "Share within 15 min of primary care 15分钟医疗服务圈", True),
    ("beds_per_1000", "Group beds per 1,000 每千人床位", True),
    ("tertiary_beds_per_1000", "Tertiary beds per 1,000", True),
    ("outpatient_slots_per_1000", "Outpatient slots per 1,000", True),
    ("reserved_slots_per_10000", "Reserved slots per 10,000 下沉号源", True),
    ("reserved_beds_per_10000", "Reserved beds per 10,000 下沉床位", True),
    ("share_nearest_lead_elsewhere", "Share whose nearest lead is in another grid", True),
    ("population_cv", "Population CV across grids 人口变异系数", True),
    ("population_max_min_ratio", "Max/min grid population", True),
    ("polsby_popper", "Mean compactness (Polsby–Popper)", True),
    ("rules_failed", "Rule checks failed 未通过规则数", True),
]


@dataclass
class Comparison:
    table: pd.DataFrame
    compliance: pd.DataFrame
    changed_units: pd.DataFrame | None
    names: list[str]


def _load(run_dir: Path) -> dict:
    for f in ("run.json", "indicators.csv", "compliance.csv", "plan.gpkg"):
        if not (run_dir / f).exists():
            raise InputError(run_dir / f, "missing: not a complete run folder (run `caregrid run` first)")
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    ind = pd.read_csv(run_dir / "indicators.csv")
    comp = pd.read_csv(run_dir / "compliance.csv")
    return {"record": record, "ind": ind, "comp": comp, "dir": run_dir}


def compare_runs(run_dirs: list[str | Path]) -> Comparison:
    """Compare run folders (the first is the reference for differences)."""
    if len(run_dirs) < 2:
        raise InputError(None, "compare needs at least two run folders", field="RUN_DIR")
    runs = [_load(Path(d)) for d in run_dirs]
    names = []
    for r in runs:
        base = r["record"]["scenario"]["name"]
        name = base if base not in names else f"{base} ({r['dir'].name})"
        names.append(name)
    rows = []
    for col, label, norm in COMPARED:
        vals = []
        for r in runs:
            city = r["ind"][r["ind"].grid_id == "city"].iloc[0]
            if col == "grids":
                vals.append(float((r["ind"].grid_id != "city").sum()))
            elif col == "rules_failed":
                vals.append(float((~r["comp"]["passed"].astype(bool)).sum()))
            else:
                vals.append(float(city[col]) if col in city and pd.notna(city[col]) else np.nan)
        row = {"indicator": col, "label": label, "normalised": norm}
        for n, v in zip(names, vals, strict=True):
            row[n] = v
        for n, v in zip(names[1:], vals[1:], strict=True):
            row[f"Δ {n}"] = v - vals[0] if norm else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    comp_rows = []
    rule_ids = list(dict.fromkeys(rid for r in runs for rid in r["comp"]["rule_id"]))
    for rid in rule_ids:
        row = {"rule_id": rid}
        for n, r in zip(names, runs, strict=True):
            sub = r["comp"][r["comp"]["rule_id"] == rid]
            row[n] = "n/a" if sub.empty else f"{int(sub.passed.astype(bool).sum())}/{len(sub)} passed"
        comp_rows.append(row)
    compliance = pd.DataFrame(comp_rows)
    changed = _changed_units(runs, names)
    return Comparison(table=table, compliance=compliance, changed_units=changed, names=names)


def _changed_units(runs: list[dict], names: list[str]) -> pd.DataFrame | None:
    """Units whose lead hospital differs from the first run (only for runs over the same units)."""
    first = gpd.read_file(runs[0]["dir"] / "plan.gpkg", layer="units", ignore_geometry=True)
    out = []
    for name, r in zip(names[1:], runs[1:], strict=True):
        other = gpd.read_file(r["dir"] / "plan.gpkg", layer="units", ignore_geometry=True)
        m = first.merge(other, on="unit_id", suffixes=("_a", "_b"))
        if len(m) < 0.9 * max(len(first), len(other)):
            continue  # different cities or unit sets: no unit-level comparison
        diff = m[m["lead_facility_id_a"] != m["lead_facility_id_b"]]
        out.append(
            pd.DataFrame(
                {
                    "compared_with": name,
                    "unit_id": diff["unit_id"],
                    "grid_a": diff["grid_id_a"],
                    "lead_a": diff["lead_facility_id_a"],
                    "grid_b": diff["grid_id_b"],
                    "lead_b": diff["lead_facility_id_b"],
                    "residents": diff["population_a"],
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else None


def _markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:,.3f}" if isinstance(v, float) and np.isfinite(v) else ("" if pd.isna(v) else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_comparison(cmp: Comparison, run_dirs: list[str | Path], out: str | Path) -> Path:
    """Write compare.csv, compare.md, compare.html (+ compare_compliance.csv, changed_units.csv, compare map)."""
    out = Path(out)
    with atomic_output_dir(out, preserve=()) as tmp:
        cmp.table.to_csv(tmp / "compare.csv", index=False)
        cmp.compliance.to_csv(tmp / "compare_compliance.csv", index=False)
        md = [
            "# Scenario comparison 方案比较",
            "",
            _markdown(cmp.table.drop(columns=["indicator"])),
            "",
            "## Compliance 规则核查",
            "",
            _markdown(cmp.compliance),
        ]
        if cmp.changed_units is not None:
            cmp.changed_units.to_csv(tmp / "changed_units.csv", index=False)
            summary = cmp.changed_units.groupby("compared_with").agg(
                units=("unit_id", "size"), residents=("residents", "sum")
            )
            md += ["", "## Units that changed lead hospital 调整单元", "", _markdown(summary.reset_index())]
        (tmp / "compare.md").write_text("\n".join(md) + "\n", encoding="utf-8")
        body = [
            "<!doctype html><html><head><meta charset='utf-8'><title>caregrid compare</title><style>"
            "body{font-family:'Noto Sans CJK SC',sans-serif;font-size:10pt;margin:1.5em}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}</style></head><body>",
            "<h1>Scenario comparison 方案比较</h1>",
            "<p>Differences (Δ) are against the first run and shown only for normalised indicators "
            "(shares, per 1,000 / 10,000 residents, minutes).</p>",
            cmp.table.drop(columns=["indicator"]).to_html(index=False, float_format=lambda v: f"{v:,.3f}", na_rep=""),
            "<h2>Compliance 规则核查</h2>",
            cmp.compliance.to_html(index=False),
        ]
        if cmp.changed_units is not None:
            body += [
                "<h2>Units that changed lead hospital 调整单元</h2>",
                cmp.changed_units.groupby("compared_with")
                .agg(units=("unit_id", "size"), residents=("residents", "sum"))
                .to_html(),
            ]
        try:
            from .render.maps import write_compare_map

            write_compare_map([Path(d) for d in run_dirs], tmp / "compare.html")
            body.append("<p><a href='compare.html'>Side-by-side map 对比地图</a></p>")
        except ImportError:
            pass
        body.append("</body></html>")
        (tmp / "compare_table.html").write_text("\n".join(body), encoding="utf-8")
    return out
