"""``report.html``: a one-page, self-contained, printable report of a run folder.

Everything is read from the run folder (``run.json``, ``compliance.csv``, ``indicators.csv``, ``plan.gpkg``,
``map.png`` if the maps step wrote it); charts are matplotlib PNGs inlined as base64, so the file opens with no
internet and prints cleanly to A4 PDF. The page is the template ``templates/report.html.j2`` (autoescaped).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config.labels import INDICATORS, KINDS, LEVELS, ROLES, SHARES, Text
from ..runfolder import schema as s
from ..runfolder.reader import RunFolder, read_run
from . import fonts
from .figures import estimate_note, figure_text, is_estimate
from .plan_layers import plan_layers_context
from .targets_page import targets_context
from .templating import render

#: indicators always shown as whole numbers
_COUNTS = ("population", "units", "cut_edges")


def format_indicator(key: str, v: Any) -> str | None:
    """An indicator value as shown in the report: shares in %, counts whole, else 2 decimals; None = no data."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if key in SHARES:
        return f"{100 * float(v):.1f}%"
    if isinstance(v, int | np.integer) or key in _COUNTS:
        return f"{float(v):,.0f}"
    if isinstance(v, float | np.floating):
        return f"{float(v):,.2f}"
    return str(v)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _charts(ind: pd.DataFrame, units: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    font = fonts.cjk_font()  # grid names may be Chinese (a planner's layout); without a CJK font: "grid 1", ...
    names = fonts.grid_names([str(g) for g in ind.grid_id if g != s.CITY], font is not None)
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"]} if font else {}):
        return _draw_charts(ind, units, names)


def _population_chart(grids: pd.DataFrame, names: dict[str, str]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.bar([names.get(str(g), str(g)) for g in grids.grid_id], grids.population / 1e4, color="#0072B2")
    ax.set_ylabel("residents (10,000)")
    ax.set_title("Population per grid")
    return _png(fig)


def _travel_chart(units: gpd.GeoDataFrame, names: dict[str, str]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.6))
    data, weights, labels = [], [], []
    for g, sub in units.groupby("grid_id"):
        sub = sub[np.isfinite(sub["travel_min_to_lead"])]  # a layout grid without a lead has no travel times
        if len(sub):
            data.append(sub["travel_min_to_lead"].to_numpy())
            weights.append(sub["population"].to_numpy(dtype=float))
            labels.append(names.get(str(g), str(g)))
    if data:
        bins = np.linspace(0, max(60.0, float(np.max(np.concatenate(data)))), 25)
        ax.hist(data, bins=bins, weights=[w / 1e3 for w in weights], label=labels, stacked=True)
    ax.set_xlabel("minutes to lead hospital")
    ax.set_ylabel("residents (1,000)")
    ax.legend(fontsize=7)
    ax.set_title("Travel time to the lead")
    return _png(fig)


def _beds_chart(grids: pd.DataFrame, names: dict[str, str]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.bar([names.get(str(g), str(g)) for g in grids.grid_id], grids.beds_per_1000.fillna(0), color="#009E73")
    ax.set_ylabel("beds per 1,000")
    ax.set_title("Group beds per 1,000 residents")
    return _png(fig)


def _draw_charts(ind: pd.DataFrame, units: gpd.GeoDataFrame, names: dict[str, str]) -> list[tuple[str, str]]:
    grids = ind[ind.grid_id != s.CITY]
    return [
        (str(Text.population_per_grid), _population_chart(grids, names)),
        (str(Text.travel_distribution), _travel_chart(units, names)),
        (str(Text.beds_per_1000_short), _beds_chart(grids, names)),
    ]


#: indicators computed from facility bed or outpatient figures (estimated when a group's figures are)
_FROM_BEDS = ("beds_per_1000", "tertiary_beds_per_1000", "reserved_beds_per_10000")
_FROM_OUTPATIENT = ("outpatient_slots_per_1000", "reserved_slots_per_10000")


def estimated_inputs(run: RunFolder) -> dict[str, dict[str, bool]]:
    """Per grid (and ``city``): whether its group's beds / outpatient figures include estimates.

    Returns ``{grid_id: {"beds": bool, "outpatient": bool}}`` over the lead and members of each group.
    """
    fac = run.facilities.drop_duplicates("facility_id").set_index("facility_id")
    out: dict[str, dict[str, bool]] = {}
    groups = run.groups
    if not groups.empty:
        held = groups[groups["role"].isin(("lead", "member"))].astype({"grid_id": str, "facility_id": str})
        for gid, sub in held.groupby("grid_id"):
            f = fac.loc[[x for x in sub["facility_id"] if x in fac.index]]
            out[str(gid)] = {
                "beds": bool(f["beds_status"].map(is_estimate).any()),
                "outpatient": bool(f["outpatient_status"].map(is_estimate).any()),
            }
    out[s.CITY] = {k: any(v[k] for v in out.values()) for k in ("beds", "outpatient")}
    return out


#: rule checks whose figures come from facility figures: rule id -> (whose figures, which figure)
_RULE_FIGURES = {
    "R5.outpatient": ("lead", "outpatient_status"),
    "R5.beds": ("lead", "beds_status"),
    "S.beds_per_1000": ("group", "beds_status"),
}


def _compliance_rows(run: RunFolder) -> list[dict[str, Any]]:
    """compliance.csv as text, each row with ``estimate``: the note for figures built on estimates ("" if none).

    R5.outpatient / R5.beds check shares of the lead's outpatient and bed figures, S.beds_per_1000 the group's beds:
    where those are estimated, the required and actual values are marked "(estimate 估算: grade rule 等级标准下限)".
    """
    fac = run.facilities.drop_duplicates("facility_id").set_index("facility_id")
    groups = run.groups.astype({"grid_id": str, "facility_id": str}) if not run.groups.empty else run.groups
    rows = []
    for r in run.compliance.to_dict("records"):
        row = {k: (v if k == "passed" else "" if pd.isna(v) else str(v)) for k, v in r.items()}
        row.setdefault("status", "passed" if row.get("passed") else "failed")
        whose, field = _RULE_FIGURES.get(row.get("rule_id", ""), (None, None))
        note = ""
        if whose and len(groups):
            sub = groups[groups["grid_id"] == row.get("scope")]
            roles = ("lead",) if whose == "lead" else ("lead", "member")
            ids = [x for x in sub.loc[sub["role"].isin(roles), "facility_id"] if x in fac.index]
            statuses = [fac.at[x, field] for x in ids if is_estimate(fac.at[x, field])]
            if statuses:
                note = estimate_note(statuses[0]) if whose == "lead" else f"({Text.estimate})"
        # a declared figure is the lead's, not an estimate; "passed against an estimate" is already in the text
        actual = row.get("actual", "")
        row["estimate"] = "" if str(Text.declared) in actual or str(Text.estimate) in actual else note
        # compliance.csv may already mark the required capacity (evaluate.compliance.capacity_note): not twice
        row["estimate_required"] = "" if str(Text.estimate) in row.get("required", "") else note
        rows.append(row)
    return rows


def _indicator_rows(ind: pd.DataFrame, estimated: dict[str, dict[str, bool]] | None = None) -> list[tuple[str, list]]:
    """(label, cells) per indicator; a cell is None (no data), its text, or (text, True) when built on estimates."""
    estimated = estimated or {}
    rows = []
    for c in (c for c in INDICATORS if c in ind.columns):
        field = "beds" if c in _FROM_BEDS else "outpatient" if c in _FROM_OUTPATIENT else None
        cells: list = []
        for gid, v in zip(ind["grid_id"].astype(str), ind[c], strict=True):
            text = format_indicator(c, v)
            est = field is not None and text is not None and estimated.get(gid, {}).get(field, False)
            cells.append((text, True) if est else text)
        rows.append((INDICATORS[c].short, cells))
    return rows


# ------------------------------------------------------------------------------------------------ medical groups

#: order of the roles in a group's table
_ROLE_ORDER = ("lead", "member", "cross_grid", "collaborating", "campus")


def _number(v: Any, spec: str) -> str:
    """``v`` formatted with ``spec`` (thousands separators), "" when absent or not a finite number."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    return format(f, spec) if np.isfinite(f) else ""


def _count(v: Any) -> str:
    """A whole number with thousands separators, "" when absent."""
    return _number(v, ",.0f")


def _rate(v: Any) -> str:
    """One decimal with thousands separators, "" when absent."""
    return _number(v, ",.1f")


def _facility_row(
    fid: str, role: str, fac: pd.DataFrame, name: str, ref: dict[str, Any] | None, lead: pd.Series,
    basis: tuple[str, str] = ("", ""),
) -> dict[str, Any]:
    """One facility of a group as the report shows it (text; the template escapes it).

    Reserved slots and beds the plan sets are shares of the lead's outpatient and bed figures: they carry the lead's
    estimate marks (``slots_estimated``, ``beds_estimated``); figures the lead declared (``basis``, from
    referrals.csv's ``reserved_*_basis``) are marked declared instead (``slots_declared``, ``beds_declared``).
    """
    slots_declared, beds_declared = (b == "declared" for b in basis)
    f = fac.loc[fid] if fid in fac.index else pd.Series(dtype=object)
    level, kind = LEVELS.get(str(f.get("level"))), KINDS.get(str(f.get("kind")))
    row: dict[str, Any] = {
        "facility_id": fid,
        "name": str(f.get("name") or name),
        "role": role,
        "role_text": str(ROLES[role]),
        "modelled": bool(f.get("modelled", False)),
        "change": _change_note(f.get("change")),
        "level_text": " · ".join(str(x) for x in (level, kind) if x is not None),
        "beds": figure_text(f.get("beds"), f.get("beds_status")),
        "outpatient": figure_text(f.get("outpatient_daily"), f.get("outpatient_status")),
        "estimated": is_estimate(f.get("beds_status")) or is_estimate(f.get("outpatient_status")),
        "slots_estimated": is_estimate(lead.get("outpatient_status")) and not slots_declared,
        "beds_estimated": is_estimate(lead.get("beds_status")) and not beds_declared,
        "slots_declared": slots_declared,
        "beds_declared": beds_declared,
        "residents_served": "",
        "slots": "",
        "reserved_beds": "",
        "slots_per_10000": "",
        "beds_per_10000": "",
    }
    if ref is not None:
        row.update(
            residents_served=_count(ref.get("residents_served")),
            slots=_count(ref.get("reserved_outpatient_slots")),
            reserved_beds=_count(ref.get("reserved_beds")),
            slots_per_10000=_rate(ref.get("reserved_slots_per_10000")),
            beds_per_10000=_rate(ref.get("reserved_beds_per_10000")),
        )
    elif role == "lead":  # what the lead reserves for the grid's primary care (sum of the members' rows)
        row.update(slots=_count(f.get("reserved_outpatient_slots")), reserved_beds=_count(f.get("reserved_beds")))
    return row


def reservation_basis(referrals: pd.DataFrame, grid_id: str) -> tuple[str, str]:
    """(outpatient, beds) basis of a grid's reservation from referrals.csv: ``declared`` / ``planned`` / ``no_data``
    (``""`` for a run folder written before the columns existed)."""
    cols = ("reserved_outpatient_basis", "reserved_beds_basis")
    if referrals.empty or not all(c in referrals for c in cols):
        return "", ""
    sub = referrals[referrals["grid_id"].astype(str) == str(grid_id)]
    if sub.empty:
        return "", ""
    first = sub.iloc[0]
    return tuple("" if pd.isna(first[c]) else str(first[c]) for c in cols)  # type: ignore[return-value]


def _change_note(value: Any) -> str:
    """What a what-if change did to a facility ("added by scenario change 方案调整新增", …); "" when nothing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value).strip()


def group_sections(run: RunFolder) -> list[dict[str, Any]]:
    """Each grid's 医疗集团: lead, members, cross-grid institutions, collaborating units, referral reservations.

    One entry per grid of the plan (grids without a lead have ``rows`` empty): ``grid_id``, ``lead_name``,
    ``rows`` (one per facility and role, in :data:`_ROLE_ORDER`; primary-care members carry their reservation from
    ``referrals.csv``), ``n`` (facilities per role).
    """
    fac = run.facilities.drop_duplicates("facility_id").set_index("facility_id")
    groups = run.groups.astype({"grid_id": str, "facility_id": str}) if not run.groups.empty else run.groups
    refs = run.referrals.astype({"grid_id": str, "facility_id": str}) if not run.referrals.empty else run.referrals
    ref_of = {(r["grid_id"], r["facility_id"]): r for r in refs.to_dict("records")} if len(refs) else {}
    grid_ids = [str(g) for g in run.grids["grid_id"]]
    if len(groups):
        grid_ids += [g for g in groups["grid_id"].unique() if g not in grid_ids]
    out = []
    for gid in grid_ids:
        sub = groups[groups["grid_id"] == gid] if len(groups) else groups
        lead_ids = [x for x in (sub.loc[sub["role"] == "lead", "facility_id"] if len(sub) else []) if x in fac.index]
        lead = fac.loc[lead_ids[0]] if lead_ids else pd.Series(dtype=object)
        basis = reservation_basis(refs, gid)
        rows = [
            _facility_row(
                r["facility_id"], role, fac, str(r.get("name") or ""), ref_of.get((gid, r["facility_id"])), lead, basis
            )
            for role in _ROLE_ORDER
            for r in (sub[sub["role"] == role].to_dict("records") if len(sub) else [])
        ]
        lead = next((r["name"] for r in rows if r["role"] == "lead"), "")
        n = {role: sum(r["role"] == role for r in rows) for role in _ROLE_ORDER}
        out.append({"grid_id": gid, "lead_name": lead, "rows": rows, "n": n, "n_referrals": sum(
            (gid, r["facility_id"]) in ref_of for r in rows)})
    return out


#: per-draw indicators of an ensemble's consensus report: run.json key → (label, unit)
SPREAD_INDICATORS = {
    "travel_mean_min": ("mean travel to lead 平均到牵头医院时间", "min"),
    "travel_p90_min": ("90th percentile travel 90%分位时间", "min"),
    "share_within_access": ("residents within access minutes 可及人口比例", "share"),
}


def _spread_chart(draws: dict[str, list[float]], consensus: dict[str, float]) -> str:
    """Box plots of the draws' city indicators, with the consensus plan's value as a red mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in SPREAD_INDICATORS if draws.get(k)]
    font = fonts.cjk_font()
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"]} if font else {}):
        fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(3.2 * max(len(keys), 1), 2.6))
        for ax, k in zip(np.atleast_1d(axes), keys, strict=False):
            label, unit = SPREAD_INDICATORS[k]
            ax.boxplot(draws[k], widths=0.5)
            if k in consensus and np.isfinite(consensus[k]):
                ax.plot([1], [consensus[k]], "o", color="#c00", label="consensus 共识")
            ax.set_title(label if font else label.split(" ")[0] + " " + " ".join(label.split(" ")[1:-1]),
                         fontsize=8)
            ax.set_ylabel(unit, fontsize=8)
            ax.set_xticks([1], [f"{len(draws[k])} draws"], fontsize=7)
        np.atleast_1d(axes)[0].legend(fontsize=7, loc="best")
        fig.tight_layout()
        return _png(fig)


def ensemble_context(run: RunFolder) -> dict[str, Any] | None:
    """The first page of a consensus plan (``run.json`` ``ensemble``): what was sampled, the representative draw,
    the robustness, and the draws' spread; ``None`` for an ordinary run."""
    e = run.record.get("ensemble")
    if not e:
        return None
    city = run.indicators[run.indicators["grid_id"] == s.CITY]
    own = {k: float(city[k].iloc[0]) for k in SPREAD_INDICATORS if k in city and not city.empty}
    draws = e.get("indicator_draws") or {}
    comp = run.compliance
    reading = comp.loc[comp["rule_id"] == "R3.member", "reading"].dropna() if "reading" in comp else pd.Series([])
    return {
        "member_reading": str(reading.iloc[0]) if len(reading) else "",
        "samples": int(e.get("samples", 0)),
        "seed": e.get("seed"),
        "sampled": [str(x) for x in e.get("sampled", [])],
        "representative": e.get("representative_draw"),
        "agreement": f"{float(e.get('representative_agreement', 0)):.0%}",
        "robustness": f"{float(e.get('robustness', 0)):.0%}",
        "plan_share": f"{float(e.get('plan_share', 0)):.0%}",
        "robustness_failed": [f"{k}: {v:.0%}" for k, v in (e.get("robustness_failed_rules") or {}).items()],
        "chart": _spread_chart(draws, own) if any(draws.values()) else "",
    }


def _map_png(run: RunFolder) -> str:
    png = run.path / s.MAP_PNG
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode() if png.exists() else ""


def report_context(run: RunFolder) -> dict[str, Any]:
    """The values ``report.html.j2`` shows (text; the template escapes them)."""
    rec, sc, fac = run.record, run.scenario, run.facilities
    key = s.RunKey
    return {
        "name": sc["name"],
        "description": sc.get("description", ""),
        "failed": run.failed,
        "mode": str(rec.get(key.MODE)),
        "rules": rec.get(key.RULES, ""),
        "solver": str(rec.get(key.SOLVER)),
        "status": str(rec.get(key.STATUS)),
        "contiguity": str(rec.get(key.CONTIGUITY)),
        "population_status": str(rec.get(key.POPULATION_STATUS)),
        "n_modelled": int(fac["modelled"].astype(bool).sum()),
        "n_approximate": int((~fac["location_quality"].isin(list(s.EXACT_LOCATIONS))).sum()),
        "map_png": _map_png(run),
        "has_map_html": (run.path / s.MAP_HTML).exists(),
        "compliance": _compliance_rows(run),
        "grid_ids": [str(g) for g in run.indicators["grid_id"]],
        "indicator_rows": _indicator_rows(run.indicators, estimated_inputs(run)),
        "groups": group_sections(run),
        "charts": _charts(run.indicators, run.units),
        "notes": [str(n) for n in rec.get(key.NOTES, []) + rec.get(key.SOLVER_NOTES, [])],
        "changes": change_items(rec),
        "ensemble": ensemble_context(run),
        "targets_page": targets_context(run),
        "plan_layers": plan_layers_context(run, format_indicator),
    }


def change_items(record: dict[str, Any]) -> list[dict[str, str]]:
    """The what-if changes the run applied (``run.json`` ``changes``): label, action, one line of text, note."""
    return [
        {k: str(c.get(k) or "") for k in ("label", "action", "text", "note")}
        for c in record.get(s.RunKey.CHANGES) or []
    ]


def render_report(run_dir: str | Path | RunFolder) -> str:
    """HTML text of the report for a run folder."""
    run = run_dir if isinstance(run_dir, RunFolder) else read_run(run_dir, required=s.REQUIRED_COMPLETE)
    return render("report.html.j2", **report_context(run))


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into the run folder (atomically replaced); returns its path."""
    run_dir = Path(run_dir)
    out = run_dir / s.REPORT_HTML
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render_report(run_dir), encoding="utf-8")
    tmp.replace(out)
    return out
