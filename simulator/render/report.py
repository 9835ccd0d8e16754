"""``report.html``: a one-page, self-contained, printable report of a run folder.

Everything is read from the run folder (``run.json``, ``compliance.csv``, ``indicators.csv``, ``plan.gpkg``,
``map.png`` if the maps step wrote it); charts are matplotlib PNGs inlined as base64, so the file opens with no
internet and prints cleanly to A4 PDF.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

INDICATOR_LABELS = {
    "population": "Residents 常住人口",
    "population_share": "Share of city 占全市",
    "area_km2": "Area km² 面积",
    "units": "Units 单元",
    "travel_mean_min": "Mean min to lead 平均时间",
    "travel_median_min": "Median min 中位",
    "travel_p90_min": "P90 min",
    "travel_max_min": "Max min 最长",
    "share_within_access": "Within access threshold 可达比例",
    "share_within_primary_care": "Within 15 min of primary care 15分钟医疗服务圈",
    "beds_per_1000": "Beds /1,000 每千人床位",
    "tertiary_beds_per_1000": "Tertiary beds /1,000 三级床位",
    "outpatient_slots_per_1000": "Outpatient slots /1,000 门诊号源",
    "reserved_slots_per_10000": "Reserved slots /10,000 下沉号源",
    "reserved_beds_per_10000": "Reserved beds /10,000 下沉床位",
    "share_nearest_lead_elsewhere": "Nearest lead in another grid 就近牵头医院在他网格",
    "extra_min_nearest_lead_elsewhere": "…extra min 额外时间",
    "polsby_popper": "Compactness (Polsby–Popper) 紧凑度",
    "cut_edges": "Cut edges 边界边数",
    "nurses_per_doctor": "Nurses per doctor 医护比",
    "ambulances_per_30000": "Ambulances /30,000 救护车",
    "aeds_per_10000": "AEDs /10,000",
    "population_cv": "Population CV 人口变异系数",
    "population_max_min_ratio": "Max/min population 最大最小比",
}
SHARES = {"population_share", "share_within_access", "share_within_primary_care", "share_nearest_lead_elsewhere"}


def _fmt(key: str, v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return '<span class="nodata">no data</span>'
    if key in SHARES:
        return f"{100 * float(v):.1f}%"
    if isinstance(v, int | np.integer) or key in ("population", "units", "cut_edges"):
        return f"{float(v):,.0f}"
    if isinstance(v, float | np.floating):
        return f"{float(v):,.2f}"
    return html.escape(str(v))


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _charts(ind: pd.DataFrame, units: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    from .maps import cjk_font

    font = cjk_font()  # grid names may be Chinese (a planner's layout); without a CJK font they show as boxes
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"]} if font else {}):
        return _draw_charts(ind, units)


def _draw_charts(ind: pd.DataFrame, units: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    grids = ind[ind.grid_id != "city"]
    out = []
    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.bar(grids.grid_id, grids.population / 1e4, color="#0072B2")
    ax.set_ylabel("residents (10,000)")
    ax.set_title("Population per grid")
    out.append(("Population per grid 各网格人口", _png(fig)))
    fig, ax = plt.subplots(figsize=(4, 2.6))
    data, weights, labels = [], [], []
    for g, sub in units.groupby("grid_id"):
        sub = sub[np.isfinite(sub["travel_min_to_lead"])]  # a layout grid without a lead has no travel times
        if len(sub):
            data.append(sub["travel_min_to_lead"].to_numpy())
            weights.append(sub["population"].to_numpy(dtype=float))
            labels.append(g)
    if data:
        bins = np.linspace(0, max(60.0, float(np.max(np.concatenate(data)))), 25)
        ax.hist(data, bins=bins, weights=[w / 1e3 for w in weights], label=labels, stacked=True)
    ax.set_xlabel("minutes to lead hospital")
    ax.set_ylabel("residents (1,000)")
    ax.legend(fontsize=7)
    ax.set_title("Travel time to the lead")
    out.append(("Travel time distribution per grid 到牵头医院时间分布", _png(fig)))
    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.bar(grids.grid_id, grids.beds_per_1000.fillna(0), color="#009E73")
    ax.set_ylabel("beds per 1,000")
    ax.set_title("Group beds per 1,000 residents")
    out.append(("Beds per 1,000 每千人床位", _png(fig)))
    return out


CSS = """
body{font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei',sans-serif;margin:1.5em;color:#222;font-size:10pt}
h1{font-size:16pt;margin:0 0 .2em} h2{font-size:12pt;border-bottom:1px solid #999;margin-top:1.2em}
table{border-collapse:collapse;margin:.4em 0;font-size:8.5pt;page-break-inside:avoid}
td,th{border:1px solid #bbb;padding:2px 5px;text-align:right;vertical-align:top} th{background:#eee}
td.l,th.l{text-align:left} .pass{color:#096;font-weight:bold} .fail{color:#c00;font-weight:bold}
.nodata{color:#888;font-style:italic} .note{color:#555;font-size:8.5pt} .charts img{width:32%;margin-right:1%}
.verdict{padding:.4em .8em;display:inline-block;border-radius:4px;font-weight:bold}
.ok{background:#d8f3e6} .bad{background:#fbdada} img.map{width:100%;max-width:900px;border:1px solid #ccc}
@page{size:A4;margin:12mm}
@media print{body{margin:0} .charts img{width:32%}
 img.map{width:auto;max-width:100%;max-height:205mm;display:block;margin:auto}
 h2{page-break-after:avoid} tr{page-break-inside:avoid}}
"""


def render_report(run_dir: str | Path) -> str:
    """HTML text of the report for a run folder."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    comp = pd.read_csv(run_dir / "compliance.csv")
    ind = pd.read_csv(run_dir / "indicators.csv", keep_default_na=True)
    units = gpd.read_file(run_dir / "plan.gpkg", layer="units")
    fac = gpd.read_file(run_dir / "plan.gpkg", layer="facilities")
    sc = record["scenario"]
    failed = comp[~comp["passed"].astype(bool)]
    verdict = (
        '<span class="verdict ok">All rules passed 全部规则通过</span>'
        if failed.empty
        else f'<span class="verdict bad">{len(failed)} rule check(s) failed 未通过</span>'
    )
    modelled = int(fac["modelled"].astype(bool).sum())
    approx = int((~fac["location_quality"].isin(["exact", "street"])).sum())
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(sc['name'])}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(sc['name'])}</h1>",
        f"<p>{html.escape(sc.get('description', ''))}</p>",
        f"<p>{verdict} &nbsp; mode 模式: <b>{html.escape(str(record.get('mode')))}</b>; rules 规则: "
        f"{html.escape(record.get('rules', ''))}; solver: {html.escape(str(record.get('solver')))} "
        f"({html.escape(str(record.get('status')))}), "
        f"contiguity 连片: {html.escape(str(record.get('contiguity')))}</p>",
        "<p class='note'>Population per unit: <b>"
        + html.escape(str(record.get("population_status")))
        + "</b> (modelled = disaggregated from 2020 census district totals, not observed). "
        f"{modelled} facilities are modelled (not real), {approx} are placed approximately "
        "(district seat / modelled). Bed and outpatient figures marked estimate follow the rule in "
        "geodata/build_facilities.py.</p>",
    ]
    png = run_dir / "map.png"
    if png.exists():
        parts.append("<h2>Map 地图</h2>")
        parts.append(
            f"<img class='map' alt='plan map' src='data:image/png;base64,"
            f"{base64.b64encode(png.read_bytes()).decode()}'>"
        )
        if (run_dir / "map.html").exists():
            parts.append("<p class='note'>Interactive map 交互地图: <a href='map.html'>map.html</a></p>")
    parts.append(
        "<h2>Rule compliance 规则核查</h2><table><tr><th class='l'>rule</th><th class='l'>scope</th>"
        "<th class='l'>requirement 要求</th><th>required</th><th>actual</th><th>result</th></tr>"
    )
    for r in comp.itertuples():
        ok = bool(r.passed)
        parts.append(
            f"<tr><td class='l'>{html.escape(r.rule_id)}</td><td class='l'>{html.escape(str(r.scope))}</td>"
            f"<td class='l'>{html.escape(r.rule_en)}<br>{html.escape(r.rule_zh)}</td>"
            f"<td>{html.escape(str(r.required))}</td><td>{html.escape(str(r.actual))}</td>"
            f"<td class='{'pass' if ok else 'fail'}'>{'passed 通过' if ok else 'FAILED 未通过'}</td></tr>"
        )
    parts.append("</table>")
    cols = [c for c in INDICATOR_LABELS if c in ind.columns]
    parts.append("<h2>Indicators 指标</h2><table><tr><th class='l'>indicator 指标</th>")
    parts += [f"<th>{html.escape(g)}</th>" for g in ind.grid_id]
    parts.append("</tr>")
    for c in cols:
        parts.append(f"<tr><td class='l'>{html.escape(INDICATOR_LABELS[c])}</td>")
        parts += [f"<td>{_fmt(c, v)}</td>" for v in ind[c]]
        parts.append("</tr>")
    parts.append("</table>")
    parts.append("<h2>Charts 图表</h2><div class='charts'>")
    parts += [f"<img alt='{html.escape(t)}' title='{html.escape(t)}' src='{src}'>" for t, src in _charts(ind, units)]
    parts.append("</div>")
    notes = record.get("notes", []) + record.get("solver_notes", [])
    if notes:
        parts.append("<h2>Notes 说明</h2><ul class='note'>")
        parts += [f"<li>{html.escape(str(n))}</li>" for n in notes]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into the run folder (atomically replaced)."""
    run_dir = Path(run_dir)
    out = run_dir / "report.html"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render_report(run_dir), encoding="utf-8")
    tmp.replace(out)
    return out
