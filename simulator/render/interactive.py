"""The interactive map ``map.html`` (folium / Leaflet), drawn from a run folder alone.

Grids as coloured polygons (Okabe–Ito palette), district outlines, facilities as markers (shape = role,
size = level, letter = kind, dashed outline = approximate location, hollow = modelled facility), lines lead →
member, referral reservations to primary-care members (width = reserved outpatient slots), dashed lines to
collaborating units outside the city, toggleable choropleths (population density, travel minutes to the lead),
layer control, scale bar, fullscreen, title box with the compliance verdict and a data-source line.

It works offline (:mod:`simulator.render.assets`). With ``tiles="none"`` (default) the page makes no network request
at all. ``tiles="amap"`` draws AMap tiles, which are in GCJ-02, so every overlay coordinate is shifted
WGS-84 → GCJ-02 first.

Names from the run folder are escaped for where they land: HTML (templates), JavaScript strings (:func:`js_string`),
folium tooltips (:func:`tooltip_html`), GeoJSON properties shown as tooltip HTML (escaped before embedding).
"""

from __future__ import annotations

import html as _html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from ..config.labels import KINDS, LEVELS, ROLES, Text
from ..runfolder.reader import RunFolder, read_run
from ..runfolder.schema import MAP_HTML
from .assets import inline_assets
from .ems_layer import draw_stations
from .figures import figure_text, is_estimate
from .layers import (
    DISPLAY_DECIMALS,
    choropleth_classes,
    districts_of,
    drawing_order,
    facility_roles,
    features,
    fmt_num,
    grid_summary,
    label_point,
    leads_by_grid,
    referrals_by_facility,
    short_name,
    spread_offsets,
)
from .markers import marker_svg
from .plan_layers import draw_shared_centres
from .style import GRID_PALETTE, LEVEL_SIZE, NEUTRAL, OTHER, ROLE_SHAPE, SOURCE_LINE, darken, marker_style
from .templating import Markup, escape, folium_html, macros, render

#: above this many planning units the choropleths are dissolved by colour class (keeps map.html small)
PER_UNIT_LIMIT = 3000
#: Leaflet panes (z-index): grid fill under the choropleths, outlines and links above them
PANES = {"cg_grids": 380, "cg_choro": 395, "cg_outline": 420, "cg_links": 440}
TILES = ("none", "osm", "amap")

Shift = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class MapScript(MacroElement):
    """JavaScript that runs once its parent map exists (``map`` is the map variable).

    The code is a value of the template, never part of its source, so text in it is not read as jinja.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "(function(){ var map = {{ this._parent.get_name() }}; {{ this.code }} })();"
        "{% endmacro %}"
    )

    def __init__(self, code: str):
        super().__init__()
        self._name = "CaregridScript"
        self.code = str(code)


def _parts() -> Any:
    return macros("map_parts.html.j2")


def map_scripts() -> Any:
    """The macros of ``map_scripts.js.j2`` (JavaScript snippets run on a map)."""
    return macros("map_scripts.js.j2")


def _esc(values: Any) -> list[str]:
    """Each value as escaped HTML text safe to hand to folium (GeoJSON properties its tooltips insert as HTML)."""
    return [folium_html(escape(v)) for v in values]


# ------------------------------------------------------------------------------------------------------- scene


@dataclass
class _Scene:
    """What one run's map needs, computed once: grid summary and colours, facilities in display coordinates."""

    run: RunFolder
    shift: Shift | None
    summary: pd.DataFrame
    colours: dict[str, str]
    fac: pd.DataFrame
    pos: dict[str, tuple[float, float]]
    leads: dict[str, str]
    referrals: dict[str, dict[str, Any]]
    name_of: dict[str, str]


def _shift_fn(tiles: str) -> Shift | None:
    if tiles == "amap":
        from ..load.coords import wgs84_to_gcj02

        return wgs84_to_gcj02
    return None


def _scene(run: RunFolder, tiles: str) -> _Scene:
    shift = _shift_fn(tiles)
    summary = grid_summary(run)
    fac = facility_roles(run)
    lon, lat = fac["lon"].to_numpy(float), fac["lat"].to_numpy(float)
    if shift is not None:
        lon, lat = shift(lon, lat)
    fac["x"], fac["y"] = np.round(lon, DISPLAY_DECIMALS), np.round(lat, DISPLAY_DECIMALS)
    return _Scene(
        run=run,
        shift=shift,
        summary=summary,
        colours=dict(zip(summary["grid_id"], summary["colour"], strict=True)),
        fac=fac,
        pos={fid: (y, x) for fid, x, y in zip(fac["facility_id"], fac["x"], fac["y"], strict=True)},
        leads=leads_by_grid(run.groups),
        referrals=referrals_by_facility(run.referrals),
        name_of=dict(zip(fac["facility_id"], fac["name"], strict=True)),
    )


# ------------------------------------------------------------------------------------------------- base layers


def _add_tiles(m: Any, tiles: str) -> None:
    import folium

    if tiles not in TILES:
        raise ValueError(f"tiles must be 'none', 'osm' or 'amap', not {tiles!r}")
    if tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (WGS-84)", control=False).add_to(m)
    elif tiles == "amap":
        folium.TileLayer(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            attr="© AMap 高德地图 (GCJ-02; overlays shifted to GCJ-02)",
            name="AMap 高德 (GCJ-02)",
            subdomains="1234",
            control=False,
        ).add_to(m)


def _add_base(m: Any, tiles: str) -> None:
    import folium

    m.get_root().header.add_child(folium.Element(render("map_style.html.j2")), name="caregrid_css")
    _add_tiles(m, tiles)
    for name, z in PANES.items():
        folium.map.CustomPane(name, z_index=z, pointer_events=True).add_to(m)


def _grid_tooltip_table(sc: _Scene) -> Any:
    """The grids with the tooltip fields (text escaped: folium's GeoJsonTooltip inserts it as HTML)."""
    run = sc.run
    g = run.grids.merge(sc.summary.drop(columns=["lead_facility_id", "lead_name"]), on="grid_id", how="left")
    mod = " (modelled)" if run.population_modelled else ""
    est_note = np.where(g["beds_estimated"], f" ({Text.estimate})", "")
    g["t_grid"] = _esc(f"{Text.grid} " + g["grid_id"].astype(str))
    g["t_lead"] = _esc(g["lead_name"].fillna("").replace("", str(Text.none)))
    g["t_res"] = [f"{int(x):,}{mod}" for x in g["residents"]]
    g["t_beds"] = [f"{fmt_num(b, 1)}{n}" for b, n in zip(g["beds_per_1000"], est_note, strict=True)]
    g["t_travel"] = [f"{fmt_num(t, 1)} min" for t in g["mean_travel_min"]]
    g["grid_id"] = _esc(g["grid_id"].astype(str))  # a planner's label, embedded in the page
    return g


def _draw_grids(m: Any, sc: _Scene) -> int:
    """Coloured grid fill with a tooltip, and dark outlines above the choropleths; returns the grids drawn."""
    import folium

    g = _grid_tooltip_table(sc)
    grid_fc = features(g, ["grid_id", "colour", "t_grid", "t_lead", "t_res", "t_beds", "t_travel"], sc.shift)
    fg = folium.FeatureGroup(name=str(Text.grids), show=True).add_to(m)
    folium.GeoJson(
        grid_fc,
        name="grid fill",
        pane="cg_grids",
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.32,
            "color": f["properties"]["colour"],
            "weight": 0,
            "className": "cg-grid",
        },
        highlight_function=lambda f: {"fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(
            fields=["t_grid", "t_lead", "t_res", "t_beds", "t_travel"],
            aliases=[
                str(x) for x in (Text.grid, Text.lead_hospital, Text.residents, Text.beds_per_1000, Text.mean_travel)
            ],
            sticky=True,
        ),
    ).add_to(fg)
    folium.GeoJson(
        grid_fc,
        name="grid outline",
        pane="cg_outline",
        interactive=False,
        style_function=lambda f: {
            "fill": False,
            "color": darken(f["properties"]["colour"]),
            "weight": 3,
            "className": "cg-grid-outline",
        },
    ).add_to(fg)
    return len(grid_fc["features"])


def _draw_districts(m: Any, sc: _Scene) -> int:
    """District outlines (dissolved from the units) and name labels; returns the districts drawn."""
    import folium

    dist = districts_of(sc.run.units)
    shown = dist.assign(district=_esc(dist["district"]), district_name=_esc(dist["district_name"]))
    dist_fc = features(shown, ["district", "district_name"], sc.shift)
    fg = folium.FeatureGroup(name=str(Text.district_boundaries), show=True).add_to(m)
    folium.GeoJson(
        dist_fc,
        pane="cg_outline",
        style_function=lambda f: {
            "fill": False,
            "color": "#222222",
            "weight": 1.6,
            "dashArray": "6 4",
            "className": "cg-district",
        },
        tooltip=folium.GeoJsonTooltip(fields=["district_name", "district"], aliases=[str(Text.district), "adcode"]),
    ).add_to(fg)
    pts = sc.run.facilities.geometry
    avoid = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    for d in dist.itertuples():
        p = label_point(d.geometry, avoid)
        x, y = sc.shift(np.array([p.x]), np.array([p.y])) if sc.shift else ([p.x], [p.y])
        folium.Marker(
            [float(np.asarray(y)[0]), float(np.asarray(x)[0])],
            icon=folium.DivIcon(
                html=folium_html(_parts().district_label(str(d.district_name))),
                icon_size=(120, 16),
                icon_anchor=(60, 8),
                class_name="cg-district-label",
            ),
            interactive=False,
        ).add_to(fg)
    return len(dist_fc["features"])


# ------------------------------------------------------------------------------------------------- choropleths


def _choropleth_texts(modelled: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(legend captions, layer names) of the two unit layers."""
    mod = f" ({Text.modelled})" if modelled else ""
    captions = {"density": f"{Text.density}, residents/km²{mod}", "travel": f"{Text.travel_to_the_lead} (min)",
                "stability": str(Text.stability)}
    names = {"density": f"{Text.density}{' (modelled)' if modelled else ''}", "travel": str(Text.travel_to_lead),
             "stability": str(Text.stability)}
    return captions, names


def _choropleth_features(sc: _Scene, key: str, c: dict[str, Any], caption: str) -> tuple[dict, Any, bool]:
    """Per-unit features with a unit tooltip, or (many units) features dissolved by class."""
    import folium

    units = sc.run.units
    if len(units) <= PER_UNIT_LIMIT:
        ug = units[["unit_id", "district_name", "population", "geometry"]].copy()
        ug["unit_id"], ug["district_name"] = _esc(ug["unit_id"]), _esc(ug["district_name"])
        ug["cls"] = c["cls"]
        ug["t_val"] = [fmt_num(v, {"density": 0, "travel": 1}.get(key, 2)) for v in c["values"]]
        ug["t_pop"] = [f"{int(p):,}" for p in units["population"]]
        ug = ug[ug["cls"] >= 0]
        fc = features(ug, ["unit_id", "district_name", "cls", "t_val", "t_pop"], sc.shift)
        tip = folium.GeoJsonTooltip(
            fields=["unit_id", "district_name", "t_pop", "t_val"],
            aliases=[str(Text.unit), str(Text.district), str(Text.residents), caption],
        )
        return fc, tip, True
    b = c["breaks"]
    digits = 1 if key == "stability" else 0
    labels = [f"{fmt_num(b[i], digits)}–{fmt_num(b[i + 1], digits)}" for i in range(len(b) - 1)]
    ug = units[["geometry"]].copy()
    ug["cls"] = c["cls"]
    ug = ug[ug["cls"] >= 0].dissolve(by="cls").reset_index()
    ug["t_val"] = [labels[int(k)] for k in ug["cls"]]
    fc = features(ug, ["cls", "t_val"], sc.shift)
    return fc, folium.GeoJsonTooltip(fields=["t_val"], aliases=[caption]), False


def _draw_choropleths(m: Any, sc: _Scene) -> None:
    """Population density and travel minutes per unit, each a layer (off at start) with its class legend."""
    import folium

    classes = choropleth_classes(sc.run)
    captions, names = _choropleth_texts(sc.run.population_modelled)
    for key in classes:
        c = classes[key]
        fc, tip, per_unit = _choropleth_features(sc, key, c, captions[key])
        cols = c["colours"]
        fg = folium.FeatureGroup(name=names[key], show=False).add_to(m)
        folium.GeoJson(
            fc,
            pane="cg_choro",
            style_function=lambda f, cols=cols, per_unit=per_unit: {
                "fillColor": cols[int(f["properties"]["cls"])],
                "fillOpacity": 0.85,
                "color": "#ffffff",
                "weight": 0.3 if per_unit else 0,
                "className": "cg-unit",
            },
            tooltip=tip,
        ).add_to(fg)
        b = c["breaks"]
        legend = _parts().class_legend(captions[key], [(col, b[i], b[i + 1]) for i, col in enumerate(cols)],
                                       1 if key == "stability" else 0)
        m.add_child(MapScript(map_scripts().toggled_box(folium_html(legend), "cg-cmap", "bottomleft", fg.get_name())))


# ------------------------------------------------------------------------------------------------------- links


def _collaborating_line(sc: _Scene, lead: str, fid: str) -> Any:
    import folium

    tip = _parts().collaborating_tooltip(sc.name_of.get(lead, lead), sc.name_of.get(fid, fid))
    return folium.PolyLine(
        [sc.pos[lead], sc.pos[fid]],
        color="#444444",
        weight=2,
        dash_array="8 5",
        opacity=0.9,
        pane="cg_links",
        class_name="cg-collab-line",
        tooltip=folium_html(tip),
    )


def _referral_line(sc: _Scene, lead: str, fid: str, colour: str, max_slots: float) -> Any:
    import folium

    rr = sc.referrals[fid]
    slots = float(rr["reserved_outpatient_slots"])
    tip = _parts().referral_tooltip(
        sc.name_of.get(lead, lead),
        sc.name_of.get(fid, fid),
        slots,
        float(rr["reserved_beds"]),
        float(rr["residents_served"]),
    )
    return folium.PolyLine(
        [sc.pos[lead], sc.pos[fid]],
        color=colour,
        weight=1.5 + 8.5 * slots / max(max_slots, 1.0),
        opacity=0.6,
        pane="cg_links",
        class_name="cg-referral",
        tooltip=folium_html(tip),
    )


def _member_line(sc: _Scene, lead: str, fid: str, role: str, colour: str) -> Any:
    import folium

    return folium.PolyLine(
        [sc.pos[lead], sc.pos[fid]],
        color=colour if role == "member" else "#333333",
        weight=1.5,
        opacity=0.9,
        dash_array="2 4" if role == "cross_grid" else None,
        pane="cg_links",
        class_name="cg-member-line",
    )


def _draw_links(m: Any, sc: _Scene) -> int:
    """Lines lead → member / cross-grid unit / collaborating unit; returns the referral lines drawn."""
    import folium

    fg_links = folium.FeatureGroup(name=str(Text.group_links), show=True).add_to(m)
    fg_ref = folium.FeatureGroup(name=str(Text.referral_reservations), show=True).add_to(m)
    fg_col = folium.FeatureGroup(name=str(Text.collaborating_units), show=True).add_to(m)
    groups = sc.run.groups
    if groups.empty:
        return 0
    max_slots = float(sc.run.referrals["reserved_outpatient_slots"].max()) if sc.referrals else 1.0
    n_ref = 0
    for r in groups.itertuples():
        gid, fid, role = str(r.grid_id), str(r.facility_id), r.role
        lead = sc.leads.get(gid)
        if role == "lead" or lead is None or fid not in sc.pos or lead not in sc.pos:
            continue
        colour = darken(sc.colours.get(gid, NEUTRAL))
        if role == "collaborating":
            _collaborating_line(sc, lead, fid).add_to(fg_col)
        elif role == "member" and fid in sc.referrals:
            _referral_line(sc, lead, fid, colour, max_slots).add_to(fg_ref)
            n_ref += 1
        else:
            _member_line(sc, lead, fid, role, colour).add_to(fg_links)
    return n_ref


# -------------------------------------------------------------------------------------------------- facilities


def _popup_fields(
    row: pd.Series, referral: dict[str, Any] | None, reservation_estimated: bool = False, reservation_note: str = ""
) -> dict[str, Any]:
    """The facts of a facility's popup as text (the template escapes them).

    Beds and outpatient figures carry their estimate note ("≥ 500 (estimate 估算: grade rule 等级标准下限)");
    reserved slots and beds the plan sets are shares of the lead's figures, marked estimate when those are
    (``reservation_estimated``); ``reservation_note`` replaces that mark ("(declared 已申报)" for a lead's declared
    figures, not styled as an estimate).
    """
    role = row["display_role"]
    grid = f" · grid {row['display_grid']}" if row["display_grid"] else ""
    level = LEVELS.get(str(row.get("level")))
    level_en, level_zh = (level.en, level.zh) if level else (str(row.get("level")), "")
    kind = KINDS.get(str(row.get("kind")))
    beds = row.get("beds")
    slots, rbeds = row.get("reserved_outpatient_slots"), row.get("reserved_beds")
    has_slots = slots is not None and np.isfinite(slots)
    return {
        "name": str(row["name"]),
        "facility_id": str(row["facility_id"]),
        "role": role,
        # a linked campus (scenario change) is drawn like a facility of no group but named as a campus
        "role_text": str(ROLES["campus" if _text(row.get("role")) == "campus" else role]) + grid,
        "level_text": f"{level_en} {level_zh} {row.get('grade') or ''}".strip(),
        "kind_text": f"{kind.en} {kind.zh}" if kind else f"{row.get('kind')} ",
        "beds_text": figure_text(beds, row.get("beds_status")),
        "outpatient_text": figure_text(row.get("outpatient_daily"), row.get("outpatient_status")),
        "slots_text": (f"{slots:,.0f} {Text.outpatient_slots_day}, {rbeds:,.0f} {Text.beds}" if has_slots else ""),
        "slots_note": f"({Text.estimate})" if reservation_estimated and has_slots and not reservation_note else "",
        "slots_declared": reservation_note if has_slots else "",
        "residents_served_text": f"{referral['residents_served']:,.0f}" if referral else "",
        "modelled": bool(row["modelled"]),
        "approximate": bool(row["approximate"]),
        "location_quality": str(row.get("location_quality") or ""),
        # what-if changes: "added by scenario change 方案调整新增", "changed by scenario change …: level 二级 → 三级"
        "change_text": _text(row.get("change")),
    }


def _text(value: Any) -> str:
    """A text cell of the facilities layer; "" when blank or missing (GeoPackage may give None or NaN)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value).strip()


def _facility_marker(
    row: pd.Series, st: dict[str, Any], offset: np.ndarray, referral: dict | None, reservation: tuple[bool, str]
) -> Any:
    import folium

    s, (dx, dy) = st["size"], offset
    role = row["display_role"]
    svg = marker_svg(
        st["shape"], s, st["fill"], st["stroke"],
        dashed=st["dashed"], hollow=st["hollow"], letter=st["letter"], weight=st["weight"],
    )  # fmt: skip
    marker = folium.Marker(
        [float(row["y"]), float(row["x"])],
        icon=folium.DivIcon(
            html=svg,
            icon_size=(s, s),
            icon_anchor=(int(round(s / 2 - dx)), int(round(s / 2 - dy))),
            popup_anchor=(int(round(dx)), int(round(dy - s / 2))),
            class_name=f"cg-fac cg-role-{role}" + (" cg-approx" if row["approximate"] or row["modelled"] else ""),
        ),
        tooltip=folium.Tooltip(folium_html(_parts().facility_tooltip(str(row["name"]), role)), permanent=False),
        z_index_offset=1000 if role == "lead" else 0,
    )
    popup = _parts().popup(_popup_fields(row, referral, *reservation))
    marker.add_child(MapScript(map_scripts().bind_popup(folium_html(popup))))
    return marker


def _lead_label(row: pd.Series, size: int, offset: np.ndarray = np.zeros(2)) -> Any:  # noqa: B008
    """The lead's "grid name" label, its lower left corner on the upper right of the lead's star (moved with the
    star where markers sharing a location are spread, ``offset`` in pixels)."""
    import folium

    dx, dy = offset
    return folium.Marker(
        [float(row["y"]), float(row["x"])],
        icon=folium.DivIcon(
            html=folium_html(_parts().lead_label(str(row["display_grid"]), short_name(row["name"]))),
            icon_size=None,
            icon_anchor=(int(round(-(size / 2 - 3) - dx)), int(round(size / 2 + 16 - dy))),
            class_name="cg-lead-label",
        ),
        interactive=False,
    )


def _reservation_mark(lead: pd.Series, referrals: pd.DataFrame) -> tuple[bool, str]:
    """(estimated, note) of the reservation a lead's popup and its members' popups show: estimated when a figure
    the plan sets rests on an estimated capacity; "(declared 已申报)" when the lead declared every figure."""
    bases = ["", ""]
    cols = ("reserved_outpatient_basis", "reserved_beds_basis")
    if not referrals.empty and all(c in referrals for c in cols):
        sub = referrals[referrals["lead_facility_id"].astype(str) == str(lead["facility_id"])]
        if len(sub):
            bases = [str(sub[c].iloc[0]) for c in cols]
    est = [is_estimate(lead.get(c)) and b != "declared" for c, b in zip(("outpatient_status", "beds_status"), bases,
                                                                         strict=True)]
    return any(est), f"({Text.declared})" if bases == ["declared", "declared"] else ""


def _draw_facilities(m: Any, sc: _Scene) -> None:
    """Facility markers (popup, tooltip), spread around shared locations; leads on top with a name label."""
    import folium

    fg = folium.FeatureGroup(name=str(Text.facilities), show=True).add_to(m)
    fac = sc.fac
    styles = [marker_style(row, sc.colours) for _, row in fac.iterrows()]
    sizes = np.array([s["size"] for s in styles], dtype=float)
    offsets = spread_offsets(fac["x"].to_numpy(), fac["y"].to_numpy(), sizes)
    reservation = {
        str(r["facility_id"]): _reservation_mark(r, sc.run.referrals)
        for _, r in fac[fac["display_role"] == "lead"].iterrows()
    }
    for i in drawing_order(fac["display_role"]):
        row = fac.iloc[i]
        ref = sc.referrals.get(row["facility_id"])
        lead = str(row["facility_id"]) if row["display_role"] == "lead" else str((ref or {}).get("lead_facility_id"))
        estimated, note = reservation.get(lead, (False, ""))
        # "declared" is the lead's figure; a member's allocation of it is the plan's proposal
        note = note if row["display_role"] == "lead" else ""
        _facility_marker(row, styles[i], offsets[i], ref, (estimated, note)).add_to(fg)
        if row["display_role"] == "lead":
            _lead_label(row, styles[i]["size"], offsets[i]).add_to(fg)


# ------------------------------------------------------------------------------------------------ frame, boxes


def _fit_to_city(m: Any, sc: _Scene, compact: bool) -> None:
    """Frame the city's planning units (not the external hospitals), leaving room for the boxes."""
    minx, miny, maxx, maxy = sc.run.units.total_bounds
    if sc.shift is not None:
        (minx, maxx), (miny, maxy) = sc.shift(np.array([minx, maxx]), np.array([miny, maxy]))
    m.fit_bounds(
        [[float(miny), float(minx)], [float(maxy), float(maxx)]],
        padding_top_left=(50, 80),  # title box
        padding_bottom_right=(40 if compact else 320, 30),  # layer control and legend on the right
    )


def _title_html(sc: _Scene) -> str:
    run = sc.run
    en, zh = run.verdict
    units_cfg = run.scenario.get("units") or {}
    res, kind = units_cfg.get("resolution"), units_cfg.get("kind")
    unit_text = f"{len(run.units):,} units" + (f" (H3 res {res})" if kind == "h3" and res is not None else "")
    return _parts().title(
        run.name,
        len(sc.summary),
        int(run.units["population"].sum()),
        run.population_modelled,
        unit_text,
        run.record.get("mode"),
        run.failed == 0,
        en,
        zh,
        sc.fac.attrs.get("not_drawn", 0),
    )


def _legend_html(sc: _Scene, *, open_: bool) -> str:
    present = set(sc.fac["display_role"])
    roles = []
    for role in ("lead", "member", "cross_grid", "collaborating", "other"):
        if role == "other" and role not in present:
            continue
        fill = {"lead": GRID_PALETTE[0], "member": GRID_PALETTE[0], "other": OTHER}.get(role, NEUTRAL)
        size = {"lead": 22, "other": 11}.get(role, 16)
        roles.append((role, marker_svg(ROLE_SHAPE[role], size, fill, "#222", dashed=False, hollow=False)))
    grids = [
        {"grid_id": r.grid_id, "lead_name": r.lead_name, "colour": r.colour, "outline": darken(r.colour)}
        for r in sc.summary.itertuples()
    ]
    size_markers = [
        marker_svg("circle", LEVEL_SIZE[lv], "#bbbbbb", "#333", dashed=False, hollow=False)
        for lv in ("tertiary", "secondary", "primary")
    ]
    return _parts().legend(
        grids,
        roles,
        marker_svg("circle", 16, "#ffffff", "#333", dashed=True, hollow=True),
        Markup("".join(size_markers)),
        [k for k in KINDS if k in set(sc.fac["kind"].astype(str))],
        open_,
    )


def _add_boxes(m: Any, sc: _Scene, tiles: str, compact: bool) -> None:
    """Title (top centre), legend (bottom right), data sources (attribution line)."""
    m.add_child(MapScript(map_scripts().box(folium_html(_title_html(sc)), "cg-title")))
    legend = folium_html(_legend_html(sc, open_=not compact))
    m.add_child(MapScript(map_scripts().box(legend, "cg-legend", "bottomright")))
    extra = " · tiles © OpenStreetMap contributors" if tiles == "osm" else ""
    m.add_child(MapScript(map_scripts().attribution(_html.escape(SOURCE_LINE) + extra)))


def draw_run(m: Any, run: RunFolder, *, tiles: str = "none", compact: bool = False) -> dict[str, int]:
    """Draw one run on the folium map ``m`` (a :class:`folium.Map`).

    Returns
    -------
    dict
        Counts of what was drawn: ``grids``, ``facilities``, ``referral_lines``, ``districts``.
    """
    sc = _scene(run, tiles)
    _add_base(m, tiles)
    n_grids = _draw_grids(m, sc)
    n_districts = _draw_districts(m, sc)
    _draw_choropleths(m, sc)
    n_ref = _draw_links(m, sc)
    _draw_facilities(m, sc)
    draw_stations(m, run, sc.shift)  # ambulance stations, when the scenario sited them
    draw_shared_centres(m, run, sc.shift)
    _fit_to_city(m, sc, compact)
    _add_boxes(m, sc, tiles, compact)
    return {"grids": n_grids, "facilities": len(sc.fac), "referral_lines": n_ref, "districts": n_districts}


# --------------------------------------------------------------------------------------------- page and files


def new_map(**kw: Any) -> Any:
    """An empty :class:`folium.Map` as caregrid draws on (no tiles; scale bar; quarter zoom steps)."""
    import folium

    return folium.Map(tiles=None, control_scale=True, zoom_start=10, zoom_snap=0.25, **kw)


def add_controls(m: Any, *, collapsed: bool = False) -> None:
    """Fullscreen button and layer control (folded on small screens)."""
    import folium
    from folium.plugins import Fullscreen

    Fullscreen(position="topleft", title=str(Text.full_screen), title_cancel=str(Text.exit_full_screen)).add_to(m)
    lc = folium.LayerControl(collapsed=collapsed, position="topright").add_to(m)
    if not collapsed:
        m.add_child(MapScript(map_scripts().collapse_on_small_screen(lc.get_name())))


def page_html(fig_or_map: Any, title: str) -> str:
    """The complete HTML page of a folium map or figure, with a title and the assets inlined (offline)."""
    page = fig_or_map.get_root().render()
    page = page.replace("<head>", f"<head>\n<title>{escape(title)}</title>", 1)
    return inline_assets(page)


def save_page(fig_or_map: Any, out_html: Path, title: str) -> Path:
    """Write :func:`page_html` to ``out_html`` (atomically replaced); returns the path."""
    page = page_html(fig_or_map, title)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(out_html.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_html)
    return out_html


def build_map(run: RunFolder | str | Path, *, tiles: str = "none") -> Any:
    """The interactive map of one run as a :class:`folium.Map` (not yet saved)."""
    run = run if isinstance(run, RunFolder) else read_run(run)
    m = new_map()
    info = draw_run(m, run, tiles=tiles)
    add_controls(m)
    m._caregrid_info = info
    return m


class MapView:
    """An interactive map ready to show in a notebook (offline: assets inlined) or to save as a file."""

    def __init__(self, m: Any, title: str):
        self.map = m  # the folium.Map, to add layers before showing or saving
        self.title = title

    def html(self) -> str:
        return page_html(self.map, self.title)

    def save(self, path: str | Path) -> Path:
        return save_page(self.map, Path(path), self.title)

    def _repr_html_(self) -> str:
        doc = _html.escape(self.html(), quote=True)
        return f'<iframe srcdoc="{doc}" style="width:100%;height:620px;border:1px solid #ccc"></iframe>'


def plan_map(run_dir: str | Path | RunFolder, *, tiles: str = "none") -> MapView:
    """The interactive map of a run folder, for a notebook (``plan_map(run_dir)`` shows it inline)."""
    run = run_dir if isinstance(run_dir, RunFolder) else read_run(run_dir)
    return MapView(build_map(run, tiles=tiles), f"{run.name} — caregrid map")


def write_map(run_dir: str | Path, out_html: str | Path | None = None, *, tiles: str = "none") -> Path:
    """Write ``map.html`` (self-contained, works offline) for the run folder; returns its path."""
    run = read_run(run_dir)
    m = build_map(run, tiles=tiles)
    return save_page(m, Path(out_html) if out_html else run.path / MAP_HTML, f"{run.name} — caregrid map")
