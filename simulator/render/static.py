"""The static map ``map.png`` / ``map.pdf``: A4 width at 300 dpi (2480 px), for print and for the report.

Drawn with geopandas/matplotlib in the local UTM zone, with title, legend, scale bar, north arrow and data-source
line. Chinese labels need a CJK font (Debian ``fonts-noto-cjk``, see :mod:`simulator.render.fonts`); without one the
labels fall back to English (facility and district names to their ids).
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config.labels import ROLES, Label, Text
from ..runfolder.reader import RunFolder, read_run
from ..runfolder.schema import MAP_PDF, MAP_PNG
from . import fonts
from .layers import (
    districts_of,
    drawing_order,
    facility_roles,
    fmt_num,
    grid_summary,
    label_point,
    leads_by_grid,
    referrals_by_facility,
    short_name,
    spread_offsets,
)
from .style import GRID_PALETTE, NEUTRAL, OTHER, SOURCE_LINE, darken, marker_style

A4_WIDTH_PX = 2480  # at 300 dpi
DPI = 300
MARGIN_IN = 0.3
_ARROWS = "→↗↑↖←↙↓↘"  # by bearing, counter-clockwise from east
_MPL_MARKERS = {"star": "*", "circle": "o", "diamond": "D", "square": "s"}


@dataclass(frozen=True)
class _Lang:
    """Whether Chinese can be drawn (a CJK font is installed); English otherwise."""

    chinese: bool
    #: grid id -> the name drawn (:func:`fonts.grid_names`)
    grids: dict[str, str] = field(default_factory=dict)

    def t(self, label: Label) -> str:
        return label.text(self.chinese)

    def cn(self, text: str, fallback: str) -> str:
        """``text`` (may be Chinese) or, without a CJK font, ``fallback``."""
        return text if self.chinese else fallback

    def grid(self, grid_id: Any) -> str:
        """A grid's id as drawn (English stand-in for a Chinese id without a CJK font)."""
        return self.grids.get(str(grid_id), fonts.drawable(str(grid_id), self.chinese, "grid"))


@dataclass(frozen=True)
class _Frame:
    """Page layout in inches and the map extent (projected metres)."""

    crs: str
    box: tuple[float, float, float, float]
    width_in: float
    map_w: float
    map_h: float
    title_h: float
    grid_leg_h: float
    fac_leg_h: float
    height_in: float

    @property
    def span_x(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def span_y(self) -> float:
        return self.box[3] - self.box[1]

    def fy(self, y_in: float) -> float:
        """Inches from the top → figure fraction."""
        return 1 - y_in / self.height_in

    def fx(self, x_in: float) -> float:
        """Inches from the left → figure fraction."""
        return x_in / self.width_in

    def inside(self, x: float, y: float) -> bool:
        return self.box[0] <= x <= self.box[2] and self.box[1] <= y <= self.box[3]


# ----------------------------------------------------------------------------------------------- preparation


def utm_crs(units: gpd.GeoDataFrame) -> str:
    """EPSG code of the UTM zone of the units' centroid."""
    lon, lat = units.geometry.union_all().centroid.coords[0]
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _fit_box(bounds: np.ndarray, map_w: float) -> tuple[tuple[float, float, float, float], float]:
    """Map extent (grids plus 4 % padding, widened or heightened to the frame's aspect) and frame height."""
    xmin, ymin, xmax, ymax = bounds
    padx, pady = (xmax - xmin) * 0.04, (ymax - ymin) * 0.04
    box = (xmin - padx, ymin - pady, xmax + padx, ymax + pady)
    span_x, span_y = box[2] - box[0], box[3] - box[1]
    map_h = min(max(map_w * span_y / span_x, 4.5), 8.4)
    if map_h < map_w * span_y / span_x:  # tall city: widen the frame so the aspect fits
        cx = (box[0] + box[2]) / 2
        box = (cx - span_y * map_w / map_h / 2, box[1], cx + span_y * map_w / map_h / 2, box[3])
    elif map_h > map_w * span_y / span_x:
        cy = (box[1] + box[3]) / 2
        box = (box[0], cy - span_x * map_h / map_w / 2, box[2], cy + span_x * map_h / map_w / 2)
    return box, map_h


def _frame(crs: str, bounds: np.ndarray, n_grids: int) -> _Frame:
    width_in = A4_WIDTH_PX / DPI
    map_w = width_in - 2 * MARGIN_IN
    box, map_h = _fit_box(bounds, map_w)
    title_h, fac_leg_h, foot_h = 1.0, 1.25, 0.5
    grid_leg_h = 0.3 + 0.19 * (n_grids + 1)  # one row per grid and the district boundary
    return _Frame(
        crs=crs,
        box=box,
        width_in=width_in,
        map_w=map_w,
        map_h=map_h,
        title_h=title_h,
        grid_leg_h=grid_leg_h,
        fac_leg_h=fac_leg_h,
        height_in=title_h + map_h + 0.12 + grid_leg_h + fac_leg_h + foot_h,
    )


@dataclass
class _Data:
    """The run projected to UTM, with what the drawing steps share."""

    run: RunFolder
    summary: pd.DataFrame
    colours: dict[str, str]
    grids: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    fac: pd.DataFrame  # facility_roles plus projected px, py
    frame: _Frame
    lang: _Lang
    halo: list[Any]


def _prepare(run: RunFolder, font: str | None) -> _Data:
    import matplotlib.patheffects as pe

    summary = grid_summary(run)
    crs = utm_crs(run.units)
    grids = run.grids.to_crs(crs)
    fac = facility_roles(run)
    fac_xy = gpd.GeoSeries(gpd.points_from_xy(fac["lon"], fac["lat"]), crs=4326).to_crs(crs)
    fac["px"], fac["py"] = fac_xy.x.to_numpy(), fac_xy.y.to_numpy()
    return _Data(
        run=run,
        summary=summary,
        colours=dict(zip(summary["grid_id"], summary["colour"], strict=True)),
        grids=grids,
        districts=districts_of(run.units).to_crs(crs),
        fac=fac,
        frame=_frame(crs, grids.total_bounds, len(summary)),
        lang=_Lang(font is not None, fonts.grid_names(list(summary["grid_id"]), font is not None)),
        halo=[pe.withStroke(linewidth=2.4, foreground="white")],
    )


# -------------------------------------------------------------------------------------------------- the map


def _map_axes(fig: Any, d: _Data) -> Any:
    f = d.frame
    ax = fig.add_axes([f.fx(MARGIN_IN), f.fy(f.title_h + f.map_h), f.fx(f.map_w), f.map_h / f.height_in])
    ax.set_facecolor("#f7f7f4")
    return ax


def _draw_areas(ax: Any, d: _Data, names: bool = True) -> None:
    """Grid fills and outlines, dashed district boundaries and district names."""
    for g in d.grids.itertuples():
        c = d.colours.get(str(g.grid_id), NEUTRAL)
        gs = gpd.GeoSeries([g.geometry], crs=d.frame.crs)
        gs.plot(ax=ax, color=c, alpha=0.38, linewidth=0, zorder=1)
        gs.boundary.plot(ax=ax, color=darken(c), linewidth=1.6, zorder=2)
    d.districts.boundary.plot(ax=ax, color="#222222", linewidth=0.8, linestyle=(0, (5, 3)), zorder=3)
    if not names:
        return
    avoid = d.fac[["px", "py"]].to_numpy(float)
    for dist in d.districts.itertuples():
        p = label_point(dist.geometry, avoid)
        ax.text(
            p.x,
            p.y,
            d.lang.cn(str(dist.district_name), str(dist.district)),
            ha="center",
            va="center",
            fontsize=9,
            color="#333",
            fontweight="bold",
            path_effects=d.halo,
            zorder=4,
        )


def _set_extent(ax: Any, f: _Frame) -> None:
    ax.set_xlim(f.box[0], f.box[2])
    ax.set_ylim(f.box[1], f.box[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for sp in ax.spines.values():
        sp.set_color("#555")


def _edge_point(x0: float, y0: float, x1: float, y1: float, box: tuple) -> tuple[float, float]:
    """Where the segment from (x0, y0) (inside box) towards (x1, y1) leaves the box."""
    xmin, ymin, xmax, ymax = box
    t = 1.0
    dx, dy = x1 - x0, y1 - y0
    for delta, lo, hi, p in ((dx, xmin, xmax, x0), (dy, ymin, ymax, y0)):
        if delta > 0:
            t = min(t, (hi - p) / delta)
        elif delta < 0:
            t = min(t, (lo - p) / delta)
    return x0 + t * dx, y0 + t * dy


def _collaborating_link(ax: Any, a: tuple, b: tuple, fid: str, f: _Frame, edge_labels: dict) -> None:
    """Dashed line to a collaborating unit; one outside the frame ends at the edge and gets a label there."""
    (x0, y0), (x1, y1) = a, b
    inside = f.inside(x1, y1)
    ex, ey = (x1, y1) if inside else _edge_point(x0, y0, x1, y1, f.box)
    ax.plot([x0, ex], [y0, ey], color="#444", lw=1.2, ls=(0, (6, 4)), zorder=5)
    if inside:
        return
    km = math.hypot(x1 - x0, y1 - y0) / 1000
    bearing = math.atan2(y1 - y0, x1 - x0)
    prev = edge_labels.get(fid)  # a unit collaborating with several grids: one label between the line ends
    edge_labels[fid] = (
        (ex, ey, km, bearing) if prev is None else ((prev[0] + ex) / 2, (prev[1] + ey) / 2, min(prev[2], km), bearing)
    )


def _edge_labels(ax: Any, d: _Data, edge_labels: dict) -> None:
    f = d.frame
    for fid, (ex, ey, km, bearing) in edge_labels.items():
        left = ex < (f.box[0] + f.box[2]) / 2
        arrow = _ARROWS[round(bearing / (math.pi / 4)) % 8]
        ax.annotate(
            f"{arrow} {d.lang.cn(name_of_fac(d.fac, fid), fid)} ({d.lang.t(Text.collaborating_unit)}, {km:,.0f} km)",
            (ex, ey),
            xytext=(5 if left else -5, 7),
            textcoords="offset points",
            fontsize=7.5,
            ha="left" if left else "right",
            va="bottom",
            color="#222",
            zorder=6,
            path_effects=d.halo,
        )


def _draw_links(ax: Any, d: _Data, edge_names: bool = True) -> None:
    """Lead → member lines (referral reservations wider by slots), cross-grid dotted, collaborating dashed."""
    run = d.run
    pos = {r.facility_id: (r.px, r.py) for r in d.fac.itertuples()}
    leads = leads_by_grid(run.groups)
    refs = referrals_by_facility(run.referrals)
    max_slots = float(run.referrals["reserved_outpatient_slots"].max()) if refs else 1.0
    edge_labels: dict[str, tuple] = {}
    for r in run.groups.itertuples():
        gid, fid, role = str(r.grid_id), str(r.facility_id), r.role
        lead = leads.get(gid)
        if role == "lead" or lead not in pos or fid not in pos:
            continue
        (x0, y0), (x1, y1) = pos[lead], pos[fid]
        col = darken(d.colours.get(gid, NEUTRAL))
        if role == "collaborating":
            _collaborating_link(ax, pos[lead], pos[fid], fid, d.frame, edge_labels)
        elif role == "member" and fid in refs:
            lw = 0.7 + 4.0 * float(refs[fid]["reserved_outpatient_slots"]) / max(max_slots, 1.0)
            ax.plot([x0, x1], [y0, y1], color=col, lw=lw, alpha=0.55, solid_capstyle="round", zorder=5)
        else:
            colour = col if role == "member" else "#333"
            ax.plot([x0, x1], [y0, y1], color=colour, lw=0.9, ls=":" if role == "cross_grid" else "-", zorder=5)
    if edge_names:
        _edge_labels(ax, d, edge_labels)


def _draw_marker(fig: Any, ax: Any, d: _Data, row: pd.Series, st: dict, diam: float, offset: np.ndarray) -> None:
    from matplotlib.transforms import ScaledTranslation

    x, y = row["px"], row["py"]
    dx, dy = offset
    tr = ax.transData + ScaledTranslation(dx / 72, -dy / 72, fig.dpi_scale_trans)
    is_lead = row["display_role"] == "lead"
    d_pt = diam * (1.35 if st["shape"] == "star" else 1.0)
    ax.scatter(
        [x],
        [y],
        s=d_pt**2,
        marker=_MPL_MARKERS[st["shape"]],
        transform=tr,
        facecolors="white" if st["hollow"] else st["fill"],
        edgecolors=st["stroke"],
        linewidths=1.1 if is_lead else 0.7,
        linestyles=(0, (2.0, 1.2)) if st["dashed"] else "solid",
        alpha=0.75 if row["display_role"] == "other" else 1.0,
        zorder=8 if is_lead else 7,
    )
    if is_lead:
        right = x < d.frame.box[0] + 0.62 * d.frame.span_x
        ax.annotate(
            f"{d.lang.grid(row['display_grid'])} {d.lang.cn(short_name(row['name']), str(row['facility_id']))}",
            (x, y),
            xycoords=tr,  # the marker's own position: spread markers carry their label with them
            xytext=(d_pt / 2 if right else -d_pt / 2, d_pt / 4),
            textcoords="offset points",
            fontsize=8.5,
            fontweight="bold",
            ha="left" if right else "right",
            va="bottom",
            zorder=9,
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#333", "lw": 0.6, "alpha": 0.9},
        )


def _draw_markers(fig: Any, ax: Any, d: _Data) -> None:
    """Facility markers (in points), spread where several share one recorded location (district seats)."""
    fac = d.fac
    styles = [marker_style(row, d.colours) for _, row in fac.iterrows()]
    diam = np.array([s["size"] for s in styles], dtype=float) * 0.42  # pixels of the web map → points
    offsets = spread_offsets(fac["lon"].to_numpy(), fac["lat"].to_numpy(), diam, gap=1.2)
    for i in drawing_order(fac["display_role"]):
        row = fac.iloc[i]
        if d.frame.inside(row["px"], row["py"]):
            _draw_marker(fig, ax, d, row, styles[i], diam[i], offsets[i])


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2, 5 × 10^k m) of about a fifth of ``span_m``."""
    target = span_m / 5
    p = 10 ** math.floor(math.log10(target))
    for k in (1, 2, 5, 10):
        if k * p >= target * 0.7:
            return k * p
    return 10 * p


def _draw_scale_bar(ax: Any, d: _Data) -> None:
    from matplotlib.patches import Rectangle

    f = d.frame
    length = _nice_length(f.span_x)
    x0, y0 = f.box[0] + f.span_x * 0.04, f.box[1] + f.span_y * 0.035
    hbar = f.span_y * 0.008
    for k in range(4):
        ax.add_patch(
            Rectangle(
                (x0 + k * length / 4, y0),
                length / 4,
                hbar,
                facecolor="#222" if k % 2 == 0 else "white",
                edgecolor="#222",
                lw=0.6,
                zorder=10,
            )
        )
    for frac in (0, 0.5, 1):
        label = f"{length * frac / 1000:g}" + (" km" if frac == 1 else "")
        ax.text(
            x0 + length * frac,
            y0 + hbar * 1.8,
            label,
            ha="center",
            va="bottom",
            fontsize=7.5,
            zorder=10,
            path_effects=d.halo,
        )


def _draw_north_arrow(ax: Any, f: _Frame) -> None:
    from matplotlib.patches import FancyArrow

    nx, ny = f.box[2] - f.span_x * 0.05, f.box[3] - f.span_y * 0.14
    alen = f.span_y * 0.06
    ax.add_patch(
        FancyArrow(
            nx,
            ny,
            0,
            alen,
            width=f.span_x * 0.006,
            head_width=f.span_x * 0.024,
            head_length=alen * 0.45,
            length_includes_head=True,
            color="#222",
            zorder=10,
        )
    )
    ax.text(nx, ny + alen * 1.06, "N", ha="center", va="bottom", fontsize=11, fontweight="bold", zorder=10)


# -------------------------------------------------------------------------------------------- title, legends


def _draw_title(fig: Any, d: _Data) -> None:
    run, f, lang = d.run, d.frame, d.lang
    en, zh = run.verdict
    ok = run.failed == 0
    name = lang.cn(run.name, re.sub(r"[^\x00-\x7f]+", "", run.name).strip() or run.path.name)
    fig.text(f.fx(MARGIN_IN), f.fy(0.2), name, fontsize=14, fontweight="bold", va="top")
    pop = int(run.units["population"].sum())
    hidden = int(d.fac.attrs.get("not_drawn", 0))
    fig.text(
        f.fx(MARGIN_IN),
        f.fy(0.52),
        lang.t(Text.grids_and_groups)
        + f" · {len(d.summary)} grids · {pop:,} residents"
        + (" (modelled)" if run.population_modelled else "")
        + (f" · {hidden:,} " + lang.t(Text.not_drawn) if hidden else ""),
        fontsize=9.5,
        va="top",
    )
    fig.text(
        f.fx(MARGIN_IN),
        f.fy(0.75),
        lang.t(Text.compliance) + ": " + lang.t(Label(("✓ " if ok else "✗ ") + en, zh)),
        fontsize=9.5,
        va="top",
        color="#006d2c" if ok else "#b30000",
        fontweight="bold",
    )


def _grid_legend_label(r: Any, lang: _Lang) -> str:
    lead = lang.cn(r.lead_name, r.lead_facility_id) or lang.t(Text.no_lead)
    estimate = " (estimate)" if r.beds_estimated else ""
    return (
        f"{lang.grid(r.grid_id)}: {lead} · {r.residents:,} residents · "
        f"{fmt_num(r.beds_per_1000, 1)} beds/1,000{estimate} · "
        f"{fmt_num(r.mean_travel_min, 1)} min"
    )


def _draw_grid_legend(fig: Any, d: _Data, top: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    f, lang = d.frame, d.lang
    gax = fig.add_axes([f.fx(MARGIN_IN), f.fy(top + f.grid_leg_h), f.fx(f.map_w), f.grid_leg_h / f.height_in])
    gax.axis("off")
    handles = [
        Patch(facecolor=r.colour, alpha=0.6, edgecolor=darken(r.colour), label=_grid_legend_label(r, lang))
        for r in d.summary.itertuples()
    ]
    handles.append(Line2D([], [], color="#222", lw=0.8, ls=(0, (5, 3)), label=lang.t(Text.district_boundary)))
    gax.legend(
        handles=handles,
        loc="upper left",
        fontsize=7.5,
        title_fontsize=8,
        frameon=False,
        alignment="left",
        borderaxespad=0,
        title=lang.t(Text.grids)
        + " — lead hospital · residents · group beds per 1,000 residents · mean travel minutes to lead",
    )


def _draw_facility_legend(fig: Any, d: _Data, top: float) -> None:
    f, lang = d.frame, d.lang
    fax = fig.add_axes([f.fx(MARGIN_IN), f.fy(top + f.fac_leg_h), f.fx(f.map_w * 0.6), f.fac_leg_h / f.height_in])
    fax.axis("off")
    g0 = GRID_PALETTE[0]

    def mk(marker: str, ms: float, fc: str, label: str, ls: Any = "solid", ec: str = "#333") -> Any:
        return fax.scatter(
            [], [], s=ms**2, marker=marker, facecolors=fc, edgecolors=ec, linewidths=0.7, linestyles=ls, label=label
        )

    handles = [
        mk("*", 13, g0, lang.t(ROLES["lead"]), ec="#111"),
        mk("o", 8, g0, lang.t(ROLES["member"])),
        mk("D", 6.5, NEUTRAL, lang.t(ROLES["cross_grid"])),
        mk("s", 6.5, NEUTRAL, lang.t(ROLES["collaborating"])),
        mk("o", 5.5, OTHER, lang.t(ROLES["other"])),
        mk("o", 8, g0, lang.t(Text.approximate_location) + " (dashed)", ls=(0, (2.0, 1.2))),
        mk("o", 8, "white", lang.t(Text.modelled_facility) + " (hollow)", ls=(0, (2.0, 1.2))),
    ]
    fax.legend(
        handles=handles,
        loc="upper left",
        ncol=2,
        fontsize=7.5,
        frameon=False,
        alignment="left",
        borderaxespad=0,
        title_fontsize=8,
        title=lang.t(Text.facilities) + " (size: tertiary › secondary › primary)",
    )


def _draw_link_legend(fig: Any, d: _Data, top: float) -> None:
    from matplotlib.lines import Line2D

    f, lang = d.frame, d.lang
    lax = fig.add_axes(
        [f.fx(MARGIN_IN + f.map_w * 0.62), f.fy(top + f.fac_leg_h), f.fx(f.map_w * 0.38), f.fac_leg_h / f.height_in]
    )
    lax.axis("off")
    handles = [
        Line2D([], [], color="#555", lw=0.9, label=lang.t(Text.lead_to_member)),
        Line2D(
            [],
            [],
            color="#555",
            lw=3.5,
            alpha=0.55,
            label=lang.t(Text.referral_reservation) + "\n(width = outpatient slots/day)",
        ),
        Line2D([], [], color="#333", lw=0.9, ls=":", label=lang.t(Text.lead_to_cross_grid)),
        Line2D([], [], color="#444", lw=1.2, ls=(0, (6, 4)), label=lang.t(Text.collaborating_outside)),
    ]
    lax.legend(
        handles=handles,
        loc="upper left",
        fontsize=7.5,
        frameon=False,
        alignment="left",
        borderaxespad=0,
        title=lang.t(Text.links),
        title_fontsize=8,
    )


def _draw_footer(fig: Any, f: _Frame) -> None:
    fig.text(f.fx(MARGIN_IN), 0.26 / f.height_in, SOURCE_LINE, fontsize=6.8, color="#333", va="bottom")
    fig.text(
        f.fx(MARGIN_IN),
        0.1 / f.height_in,
        f"Projection {f.crs} (UTM); scale bar in this projection. Drawn by caregrid from the run folder.",
        fontsize=6.5,
        color="#777",
        va="bottom",
    )


# ----------------------------------------------------------------------------------------------------- public


def name_of_fac(fac: pd.DataFrame, fid: str) -> str:
    """The facility's name (its id when unknown)."""
    hit = fac.loc[fac["facility_id"] == fid, "name"]
    return str(hit.iat[0]) if len(hit) else fid


@contextlib.contextmanager
def static_style(font: str | None) -> Iterator[None]:
    """matplotlib settings of the static map (font, Type 3 PDF fonts); missing-glyph warnings silenced."""
    import matplotlib as mpl

    rc: dict[str, Any] = {"font.size": 9, "pdf.fonttype": 3, "axes.unicode_minus": False}  # Type 3: CJK embeds
    if font:
        rc["font.family"] = [font, "DejaVu Sans"]
    with mpl.rc_context(rc), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# ------------------------------------------------------------------------------------------------ urban-core inset

#: fewest facilities in the core for an inset
INSET_MIN_FACILITIES = 8
#: the inset's side as a share of the map frame's width
INSET_SIZE = 0.42
#: the largest share of the map's width the core may span (the inset enlarges it at least twice)
INSET_MAX_SHARE = INSET_SIZE / 2


def core_box(d: _Data) -> tuple[float, float, float, float] | None:
    """The dense urban core to enlarge (projected metres), or None when the facilities do not crowd.

    The core holds the 40 % of the city's facilities nearest their median point. It gets an inset when it spans at
    most :data:`INSET_MAX_SHARE` of the map and its markers crowd: the median distance between neighbouring
    markers is under one and a half marker widths at the map's scale.
    """
    f, fr = d.fac, d.frame
    sel = f[[fr.inside(x, y) for x, y in zip(f["px"], f["py"], strict=True)] & f["in_city"].astype(bool).to_numpy()]
    if len(sel) < INSET_MIN_FACILITIES:
        return None
    xy = sel[["px", "py"]].to_numpy(float)
    dist = np.hypot(*(xy - np.median(xy, axis=0)).T)
    core = xy[dist <= np.quantile(dist, 0.4)]
    (x0, y0), (x1, y1) = core.min(axis=0), core.max(axis=0)
    side = max(x1 - x0, y1 - y0) * 1.2 + 1.0
    if len(core) < INSET_MIN_FACILITIES or side > INSET_MAX_SHARE * fr.span_x:
        return None
    gaps = np.hypot(*(core[:, None, :] - core[None, :, :]).transpose(2, 0, 1)) + np.eye(len(core)) * 1e12
    marker_m = 38 * 0.42 / 72 * fr.span_x / fr.map_w  # a hospital marker's width in metres on the page
    if float(np.median(gaps.min(axis=1))) >= 1.5 * marker_m:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _inset_corner(d: _Data, box: tuple[float, float, float, float]) -> tuple[float, float]:
    """Lower-left corner (axes fraction) of the inset: the corner of the map with fewest facilities under it."""
    fr = d.frame
    w = INSET_SIZE
    h = w * fr.map_w / fr.map_h
    best: tuple[int, tuple[float, float]] | None = None
    for ox, oy in ((1 - w - 0.01, 0.01), (0.01, 1 - h - 0.01), (0.01, 0.01), (1 - w - 0.01, 1 - h - 0.01)):
        x0, y0 = fr.box[0] + ox * fr.span_x, fr.box[1] + oy * fr.span_y
        x1, y1 = x0 + w * fr.span_x, y0 + h * fr.span_y
        under = int(((d.fac["px"] >= x0) & (d.fac["px"] <= x1) & (d.fac["py"] >= y0) & (d.fac["py"] <= y1)).sum())
        overlaps = not (x1 < box[0] or box[2] < x0 or y1 < box[1] or box[3] < y0)
        score = under + (10_000 if overlaps else 0)
        if best is None or score < best[0]:
            best = (score, (ox, oy))
    assert best is not None
    return best[1]


def _draw_inset(fig: Any, ax: Any, d: _Data) -> Any | None:
    """An enlarged inset of the dense urban core (when facilities crowd), its extent outlined on the map."""
    from matplotlib.patches import Rectangle

    box = core_box(d)
    if box is None:
        return None
    fr = d.frame
    ox, oy = _inset_corner(d, box)
    w = INSET_SIZE
    h = w * fr.map_w / fr.map_h
    inset = ax.inset_axes([ox, oy, w, h], zorder=20)
    inset.set_facecolor("#f7f7f4")
    sub = replace(d, frame=replace(fr, box=box, map_w=fr.map_w * w, map_h=fr.map_w * w))
    _draw_areas(inset, sub, names=False)
    _set_extent(inset, sub.frame)
    _draw_links(inset, sub, edge_names=False)
    _draw_markers(fig, inset, sub)
    for sp in inset.spines.values():
        sp.set_linewidth(1.2)
    zoom = fr.span_x / (box[2] - box[0]) * w  # page width of the core in the inset / on the map
    inset.set_title(
        f"{d.lang.t(Text.urban_core)} ×{zoom:,.1f}", fontsize=7.5, loc="left", pad=2, color="#222",
        backgroundcolor="white",
    )  # fmt: skip
    ax.add_patch(
        Rectangle((box[0], box[1]), box[2] - box[0], box[3] - box[1], fill=False, ec="#222", lw=1.0, zorder=19)
    )
    return inset


# ------------------------------------------------------------------------------------------- smoothed outlines


def smoothed_grids(grids: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Grid outlines simplified for presentation, as a coverage (neighbours keep one shared, smoothed edge).

    The hexagon saw-tooth of the edges between grids is simplified away (tolerance: the units' typical edge length;
    the city's outer edge is kept). A drawing only: which unit belongs to which grid is unchanged and stays in
    ``plan.gpkg``.
    """
    import shapely

    edge = float(np.sqrt(units.to_crs(grids.crs).area.median()))
    out = grids.copy()
    geoms = grids.geometry.to_numpy()
    out["geometry"] = shapely.coverage_simplify(geoms, tolerance=0.9 * edge, simplify_boundary=False)
    return out


def _draw_smoothed_note(ax: Any, d: _Data) -> None:
    ax.text(
        0.01, 0.995, d.lang.t(Text.smoothed_outlines), transform=ax.transAxes, fontsize=7, ha="left", va="top",
        color="#222", zorder=12, bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#999", "lw": 0.5},
    )  # fmt: skip


def static_figure(run: RunFolder, font: str | None, *, dpi: int = DPI, smooth: bool = False) -> Any:
    """The static map of ``run`` as a :class:`matplotlib.figure.Figure` (Chinese labels only when ``font``).

    ``smooth`` draws the grid outlines smoothed (:func:`smoothed_grids`), and says on the map that it is a drawing.
    Call inside :func:`static_style` so the font applies.
    """
    from matplotlib.figure import Figure

    d = _prepare(run, font)
    if smooth:
        d = replace(d, grids=smoothed_grids(d.grids, run.units))
    f = d.frame
    fig = Figure(figsize=(f.width_in, f.height_in), dpi=dpi)  # no pyplot: no global state
    ax = _map_axes(fig, d)
    _draw_areas(ax, d)
    _set_extent(ax, f)
    _draw_links(ax, d)
    _draw_markers(fig, ax, d)
    _draw_inset(fig, ax, d)
    if smooth:
        _draw_smoothed_note(ax, d)
    _draw_scale_bar(ax, d)
    _draw_north_arrow(ax, f)
    _draw_title(fig, d)
    top = f.title_h + f.map_h + 0.12
    _draw_grid_legend(fig, d, top)
    _draw_facility_legend(fig, d, top + f.grid_leg_h)
    _draw_link_legend(fig, d, top + f.grid_leg_h)
    _draw_footer(fig, f)
    return fig


def _save(fig: Any, paths: list[Path], dpi: int) -> list[Path]:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp" + path.suffix)  # a failed redraw keeps the old file
        fig.savefig(tmp, dpi=dpi)
        tmp.replace(path)
    return paths


def write_static_map(
    run_dir: str | Path,
    png: str | Path | None = None,
    pdf: str | Path | None = None,
    *,
    dpi: int = DPI,
    smooth: bool = False,
) -> list[Path]:
    """Write ``map.png`` (A4 width at 300 dpi: 2480 px) and ``map.pdf`` for the run folder; returns the paths.

    ``smooth`` draws smoothed grid outlines for presentation (marked on the map as a drawing).
    """
    run = read_run(run_dir)
    font = fonts.cjk_font()
    paths = [Path(png) if png else run.path / MAP_PNG, Path(pdf) if pdf else run.path / MAP_PDF]
    with static_style(font):
        return _save(static_figure(run, font, dpi=dpi, smooth=smooth), paths, dpi)
