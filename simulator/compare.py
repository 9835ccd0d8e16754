"""Lay run folders side by side: city-level indicators and compliance, differences against the first run.

Indicators are normalised (shares, per 1,000 / 10,000 residents, minutes) so cities of different size compare;
absolute sizes (residents, area, grids) are shown but marked as not normalised. For two layouts of one city the
units that changed lead hospital are listed (grids are matched by their lead, since grid labels may differ).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config.labels import COMPARISON_ROWS, INDICATORS, Text
from .errors import InputError
from .runfolder.atomic import atomic_output_dir
from .runfolder.reader import RunFolder, read_run
from .runfolder.schema import REQUIRED_COMPLETE
from .runfolder.writer import write_csv

#: (column of the city row of indicators.csv, or a row of COMPARISON_ROWS; normalised?) in table order
COMPARED = [
    ("population", False),
    ("area_km2", False),
    ("grids", False),
    ("travel_mean_min", True),
    ("travel_p90_min", True),
    ("share_within_access", True),
    ("share_within_primary_care", True),
    ("beds_per_1000", True),
    ("tertiary_beds_per_1000", True),
    ("outpatient_slots_per_1000", True),
    ("reserved_slots_per_10000", True),
    ("reserved_beds_per_10000", True),
    ("share_nearest_lead_elsewhere", True),
    ("population_cv", True),
    ("population_max_min_ratio", True),
    ("polsby_popper", True),
    ("rules_failed", True),
]


@dataclass
class Comparison:
    """The comparison tables (see :func:`compare_runs`) and the runs they came from."""

    table: pd.DataFrame
    compliance: pd.DataFrame
    changed_units: pd.DataFrame | None
    names: list[str]
    runs: list[RunFolder] = field(default_factory=list)


def _label(col: str) -> str:
    label = INDICATORS.get(col) or COMPARISON_ROWS[col]
    return label.full


def _value(run: RunFolder, col: str) -> float:
    """The city-wide value of ``col`` for one run (NaN when the run has none)."""
    if col == "grids":
        return float(len(run.grid_indicators))
    if col == "rules_failed":
        return float(run.failed)
    city = run.city_indicators
    return float(city[col]) if col in city and pd.notna(city[col]) else np.nan


def _run_names(runs: list[RunFolder]) -> list[str]:
    """Scenario names, made unique by the folder name."""
    names: list[str] = []
    for r in runs:
        base = r.scenario["name"]
        names.append(base if base not in names else f"{base} ({r.path.name})")
    return names


def _indicator_table(runs: list[RunFolder], names: list[str]) -> pd.DataFrame:
    rows = []
    for col, norm in COMPARED:
        vals = [_value(r, col) for r in runs]
        row: dict[str, Any] = {"indicator": col, "label": _label(col), "normalised": norm}
        row.update(zip(names, vals, strict=True))
        for n, v in zip(names[1:], vals[1:], strict=True):
            row[f"Δ {n}"] = v - vals[0] if norm else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _compliance_table(runs: list[RunFolder], names: list[str]) -> pd.DataFrame:
    rows = []
    for rid in dict.fromkeys(rid for r in runs for rid in r.compliance["rule_id"]):
        row = {"rule_id": rid}
        for n, r in zip(names, runs, strict=True):
            sub = r.compliance[r.compliance["rule_id"] == rid]
            row[n] = "n/a" if sub.empty else f"{int(sub['passed'].sum())}/{len(sub)} passed"
        rows.append(row)
    return pd.DataFrame(rows)


def compare_runs(run_dirs: list[str | Path]) -> Comparison:
    """Compare run folders (the first is the reference for differences).

    Raises
    ------
    InputError
        Fewer than two folders, or a folder that is not a complete run folder.
    """
    if len(run_dirs) < 2:
        raise InputError(None, "compare needs at least two run folders", field="RUN_DIR")
    runs = [read_run(d, required=REQUIRED_COMPLETE) for d in run_dirs]
    names = _run_names(runs)
    return Comparison(
        table=_indicator_table(runs, names),
        compliance=_compliance_table(runs, names),
        changed_units=_changed_units(runs, names),
        names=names,
        runs=runs,
    )


def _changed_units(runs: list[RunFolder], names: list[str]) -> pd.DataFrame | None:
    """Units whose lead hospital differs from the first run (only for runs over the same units)."""
    first = pd.DataFrame(runs[0].units.drop(columns="geometry"))
    out = []
    for name, r in zip(names[1:], runs[1:], strict=True):
        other = pd.DataFrame(r.units.drop(columns="geometry"))
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


def _cell(v: Any) -> str:
    """A table cell: floats with 3 decimals and thousands separators, missing values empty."""
    if isinstance(v, float) and np.isfinite(v):
        return f"{v:,.3f}"
    return "" if pd.isna(v) else str(v)


def _rows(df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(column names, rows of cell text) of a table."""
    return [str(c) for c in df.columns], [[_cell(v) for v in r] for r in df.itertuples(index=False)]


def _markdown(df: pd.DataFrame) -> str:
    cols, rows = _rows(df)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _changed_summary(changed: pd.DataFrame) -> pd.DataFrame:
    return changed.groupby("compared_with").agg(units=("unit_id", "size"), residents=("residents", "sum")).reset_index()


def _write_markdown(cmp: Comparison, path: Path) -> None:
    md = [
        f"# {Text.scenario_comparison}",
        "",
        _markdown(cmp.table.drop(columns=["indicator"])),
        "",
        f"## {Text.compliance}",
        "",
        _markdown(cmp.compliance),
    ]
    if cmp.changed_units is not None:
        md += ["", f"## {Text.changed_units}", "", _markdown(_changed_summary(cmp.changed_units))]
    path.write_text("\n".join(md) + "\n", encoding="utf-8")


def write_comparison(cmp: Comparison, run_dirs: list[str | Path], out: str | Path) -> Path:
    """Write compare.csv, compare.md, compare_table.html (+ compare_compliance.csv, changed_units.csv and, for
    two runs, the side-by-side map compare.html) into ``out`` (replaced atomically)."""
    from .render.compare_map import write_compare_map
    from .render.templating import render

    out = Path(out)
    runs = cmp.runs or [Path(d) for d in run_dirs]
    with atomic_output_dir(out, preserve=(), kind="compare") as tmp:
        write_csv(cmp.table, tmp / "compare.csv")
        write_csv(cmp.compliance, tmp / "compare_compliance.csv")
        if cmp.changed_units is not None:
            write_csv(cmp.changed_units, tmp / "changed_units.csv")
        _write_markdown(cmp, tmp / "compare.md")
        if len(runs) == 2:  # the side-by-side map holds two runs
            write_compare_map(runs, tmp / "compare.html")
        page = render(
            "compare_table.html.j2",
            indicators=_rows(cmp.table.drop(columns=["indicator"])),
            compliance=_rows(cmp.compliance),
            changed=_rows(_changed_summary(cmp.changed_units)) if cmp.changed_units is not None else None,
            map_link=len(runs) == 2,
        )
        (tmp / "compare_table.html").write_text(page, encoding="utf-8")
    return out
