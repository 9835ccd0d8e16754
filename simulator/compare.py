"""Lay run folders side by side: city-level indicators and compliance, differences against the first run.

Indicators are normalised (shares, per 1,000 / 10,000 residents, minutes) so cities of different size compare;
absolute sizes (residents, area, grids) are shown but marked as not normalised. Every figure covers all residents:
the unserved count (residents of grids without a lead) stands beside the minutes, which are of served residents only,
are differenced only when every run serves everyone, and rank a run that leaves residents unserved after one that
does not (column ``best 最优``). The compliance summary counts every grid of a run. For two layouts of one city the
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
from .runfolder.schema import CITY, REQUIRED_COMPLETE
from .runfolder.writer import write_csv

#: how a row is shown: count (no decimals), share (percent), minutes (one decimal), number (two decimals)
COUNT, SHARE, MINUTES, NUMBER = "count", "share", "minutes", "number"
#: (column of the city row of indicators.csv, or a row of COMPARISON_ROWS; normalised?; kind; better: -1 lower,
#: +1 higher, 0 neither) in table order. Minutes are of served residents: they stand beside the unserved count.
COMPARED = [
    ("population", False, COUNT, 0),
    ("area_km2", False, NUMBER, 0),
    ("grids", False, COUNT, 0),
    ("unserved_residents", False, COUNT, -1),
    ("unserved_share", True, SHARE, -1),
    ("share_within_access", True, SHARE, +1),
    ("share_within_primary_care", True, SHARE, +1),
    ("travel_mean_min", True, MINUTES, -1),
    ("travel_p90_min", True, MINUTES, -1),
    ("travel_gini", True, NUMBER, -1),  # inequality of the minutes to the lead (0 = all equally far)
    ("beds_per_1000", True, NUMBER, +1),
    ("tertiary_beds_per_1000", True, NUMBER, +1),
    ("outpatient_slots_per_1000", True, NUMBER, +1),
    ("reserved_slots_per_10000", True, NUMBER, +1),
    ("reserved_beds_per_10000", True, NUMBER, +1),
    ("beds_estimated_share", False, SHARE, 0),
    ("outpatient_estimated_share", False, SHARE, 0),
    ("share_nearest_lead_elsewhere", True, SHARE, -1),
    ("population_cv", True, NUMBER, -1),
    ("population_max_min_ratio", True, NUMBER, -1),
    ("polsby_popper", True, NUMBER, +1),
    ("rules_failed", True, COUNT, -1),
]
#: minutes of served residents only: ranked after the unserved share, differenced only when no run leaves anyone out
SERVED_ONLY = frozenset({"travel_mean_min", "travel_p90_min", "travel_gini"})
#: how to read the comparison (compare.md and compare_table.html)
NOTE = (
    "Shares are of all residents; residents of a grid without a lead hospital (or of no grid) are unserved "
    "未覆盖 and count as not reached. Minutes are of served residents only, shown beside the unserved count. "
    "Differences (Δ) are against the first run, for normalised figures only (shares in percentage points, per "
    "1,000 / 10,000 residents, minutes); minutes are differenced only when every run serves every resident. "
    "'best 最优' names the run that does best on a figure; on minutes the run with fewer unserved residents "
    "ranks first."
)
#: capacity rows and the row saying how much of their figure rests on estimated capacities
ESTIMATED_BY = {
    "beds_per_1000": "beds_estimated_share",
    "tertiary_beds_per_1000": "beds_estimated_share",
    "reserved_beds_per_10000": "beds_estimated_share",
    "outpatient_slots_per_1000": "outpatient_estimated_share",
    "reserved_slots_per_10000": "outpatient_estimated_share",
}
#: the column naming the run that does best on a row (ties: all of them)
BEST = "best 最优"


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
    if col.startswith("unserved_") and col not in city:  # a run folder from before the field: from its units
        pop = run.units["population"].to_numpy(dtype=float)
        unserved = float(pop[~np.isfinite(run.units["travel_min_to_lead"].to_numpy(dtype=float))].sum())
        return unserved if col == "unserved_residents" else (unserved / pop.sum() if pop.sum() else np.nan)
    return float(city[col]) if col in city and pd.notna(city[col]) else np.nan


def _run_names(runs: list[RunFolder]) -> list[str]:
    """Scenario names, made unique by the folder name."""
    names: list[str] = []
    for r in runs:
        base = r.scenario["name"]
        names.append(base if base not in names else f"{base} ({r.path.name})")
    return names


def _best(names: list[str], vals: list[float], better: int, unserved: list[float] | None) -> str:
    """Names of the runs that do best on a row (ties: all of them); with ``unserved`` (shares) the unserved share
    ranks first, so a plan that leaves residents without a lead never beats one that serves them."""
    if not better:
        return ""
    shares = unserved or [0.0] * len(vals)
    keys = {n: (u, -better * v) for n, v, u in zip(names, vals, shares, strict=True) if np.isfinite(v)}
    top = min(keys.values(), default=None)
    return ", ".join(n for n, k in keys.items() if k == top)


def _indicator_table(runs: list[RunFolder], names: list[str]) -> pd.DataFrame:
    """One row per compared indicator: the value of every run, the differences against the first run (normalised
    rows only; minutes of served residents only while no run leaves residents unserved) and the best run."""
    rows = []
    unserved = [_value(r, "unserved_share") for r in runs]
    unserved = [0.0 if np.isnan(u) else u for u in unserved]  # run folders from before the field: all served
    everyone_served = all(u == 0 for u in unserved)
    for col, norm, kind, better in COMPARED:
        vals = [_value(r, col) for r in runs]
        row: dict[str, Any] = {"indicator": col, "label": _label(col), "normalised": norm, "kind": kind}
        row.update(zip(names, vals, strict=True))
        for n, v in zip(names[1:], vals[1:], strict=True):
            row[f"Δ {n}"] = v - vals[0] if norm and (col not in SERVED_ONLY or everyone_served) else np.nan
        row[BEST] = _best(names, vals, better, unserved if col in SERVED_ONLY else None)
        rows.append(row)
    return pd.DataFrame(rows)


def _compliance_table(runs: list[RunFolder], names: list[str]) -> pd.DataFrame:
    """Per rule: city-wide checks as passed/FAILED; grid checks as grids passed of *all* the run's grids (a grid
    without a lead has no group to check, so it counts as failing every group rule)."""
    rows = []
    for rid in dict.fromkeys(rid for r in runs for rid in r.compliance["rule_id"]):
        row = {"rule_id": rid}
        for n, r in zip(names, runs, strict=True):
            row[n] = _compliance_cell(r, rid)
        rows.append(row)
    return pd.DataFrame(rows)


def _compliance_cell(run: RunFolder, rule_id: str) -> str:
    sub = run.compliance[run.compliance["rule_id"] == rule_id]
    if sub.empty:
        return "n/a"
    # one status per scope: failed if any row fails, else planned / no_data if any row is not judged, else passed
    worst = {"failed": 0, "no_data": 1, "planned": 2, "passed": 3}
    status = sub["status"].astype(str).map(worst).groupby(sub["scope"].astype(str)).min()
    name = {v: k for k, v in worst.items()}
    if (sub["scope"].astype(str) == CITY).all():
        return "FAILED" if status.iloc[0] == 0 else name[int(status.iloc[0])]
    grids = [str(g) for g in run.grid_indicators["grid_id"]]
    counts = pd.Series([name[int(status[g])] for g in grids if g in status.index], dtype=object).value_counts()
    unchecked = sum(g not in status.index for g in grids)
    extra = [f"{int(counts[k])} {k}" for k in ("planned", "no_data") if k in counts]
    extra += [f"{unchecked} without a lead 无牵头医院"] if unchecked else []
    note = f" ({'; '.join(extra)})" if extra else ""
    return f"{int(counts.get('passed', 0))}/{len(grids)} grids passed{note}"


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
    """A cell of a table of counts: whole numbers with thousands separators, missing values empty."""
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and np.isfinite(v):
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return "" if pd.isna(v) else str(v)


def _fmt(v: float, kind: str, delta: bool = False) -> str:
    """A figure for people: counts without decimals, shares as percentages (differences in percentage points),
    minutes with one decimal, other figures with two; missing values empty."""
    if not np.isfinite(v):
        return ""
    sign = "+" if delta else ""
    if kind == SHARE:
        return f"{v * 100:{sign},.1f} pp" if delta else f"{v:.1%}"
    decimals = {COUNT: 0, MINUTES: 1}.get(kind, 2)
    return f"{v:{sign},.{decimals}f}"


def display_table(cmp: Comparison) -> pd.DataFrame:
    """The indicator table as text for compare.md / compare_table.html: formatted by kind, no internal columns, and
    the minutes of served residents never alone (the unserved count stands beside them when there is one)."""
    table = cmp.table.set_index("indicator")
    unserved = table.loc["unserved_residents", cmp.names] if "unserved_residents" in table.index else None
    deltas = [c for c in table.columns if str(c).startswith("Δ ")]
    rows = []
    for col, r in table.iterrows():
        row = {"indicator 指标": r["label"]}
        for n in cmp.names:
            text = _fmt(float(r[n]), r["kind"])
            u = float(unserved[n]) if unserved is not None else 0.0
            if col in SERVED_ONLY and text and u > 0:
                text += f" (served only; {u:,.0f} unserved 未覆盖)"
            est = float(table.loc[ESTIMATED_BY[col], n]) if ESTIMATED_BY.get(col) in table.index else np.nan
            if text and est > 0:
                what = "group beds" if ESTIMATED_BY[col].startswith("beds") else "outpatient slots"
                text += f" (estimate 估算: {est:.0%} of {what})"
            row[n] = text
        for d in deltas:
            row[d] = _fmt(float(r[d]), r["kind"], delta=True)
            if col in SERVED_ONLY and not row[d] and np.isfinite(float(r[d.removeprefix("Δ ")])):
                row[d] = "not comparable: unserved residents 不可比"
        row[BEST] = r[BEST]
        rows.append(row)
    return pd.DataFrame(rows)


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
        NOTE,
        "",
        _markdown(display_table(cmp)),
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
            indicators=_rows(display_table(cmp)),
            note=NOTE,
            compliance=_rows(cmp.compliance),
            changed=_rows(_changed_summary(cmp.changed_units)) if cmp.changed_units is not None else None,
            map_link=len(runs) == 2,
        )
        (tmp / "compare_table.html").write_text(page, encoding="utf-8")
    return out
