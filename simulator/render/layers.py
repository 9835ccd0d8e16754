"""What the maps draw, computed from a run folder: grid summaries, facility roles, districts, choropleth classes,
display geometry, label and marker placement. No drawing here (see :mod:`interactive` and :mod:`static`)."""

from __future__ import annotations

import math
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..runfolder.reader import RunFolder
from ..runfolder.schema import EXACT_LOCATIONS
from .style import ROLE_RANK, grid_colours

DISPLAY_TOLERANCE = 1e-4  # degrees (~10 m): simplification of display geometry
DISPLAY_DECIMALS = 5  # ~1 m
DENSITY_BREAKS = [0, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000]  # residents/km²
TRAVEL_BREAKS = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120]  # minutes
#: display roles in precedence order: a facility in several groups is drawn in its first role
ROLE_ORDER = {"lead": 0, "cross_grid": 1, "member": 2, "collaborating": 3}


def fmt_num(x: float | None, digits: int = 0) -> str:
    """``1,234.5`` style, "n/a" for missing or infinite values."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.{digits}f}"


# ------------------------------------------------------------------------------------------------ grid summary


def _weighted_travel(minutes: np.ndarray, residents: np.ndarray) -> float:
    ok = np.isfinite(minutes)
    if not ok.any() or residents[ok].sum() <= 0:
        return float("nan")
    return float((minutes[ok] * residents[ok]).sum() / residents[ok].sum())


def _group_facility_ids(groups: pd.DataFrame, gid: str, known: pd.Index) -> list[str]:
    """Lead and members of grid ``gid`` that the facilities layer holds."""
    if groups.empty:
        return []
    sel = (groups["grid_id"].astype(str) == gid) & groups["role"].isin(("lead", "member"))
    return [x for x in groups.loc[sel, "facility_id"].astype(str).unique() if x in known]


def _grid_row(run: RunFolder, g: Any, fac: pd.DataFrame, colour: str) -> dict[str, Any]:
    gid = str(g.grid_id)
    sel = run.units[run.units["grid_id"].astype(str) == gid]
    pop = float(sel["population"].sum())
    ids = _group_facility_ids(run.groups, gid, fac.index)
    beds = fac.loc[ids, "beds"].astype(float) if ids else pd.Series(dtype=float)
    status = fac.loc[ids, "beds_status"].astype(str) if ids else pd.Series(dtype=str)
    total_beds = float(np.nansum(beds.to_numpy()))
    return {
        "grid_id": gid,
        "lead_facility_id": str(g.lead_facility_id or ""),
        "lead_name": str(g.lead_name or ""),
        "residents": int(pop),
        "group_beds": total_beds,
        "beds_estimated": bool(status.str.startswith("estimate").any()),
        "beds_unknown": int(beds.isna().sum()),
        "beds_per_1000": total_beds / pop * 1000 if pop > 0 and ids else float("nan"),
        "mean_travel_min": _weighted_travel(
            sel["travel_min_to_lead"].to_numpy(dtype=float), sel["population"].to_numpy(dtype=float)
        ),
        "units": len(sel),
        "area_km2": float(sel["area_km2"].sum()) if "area_km2" in sel else float("nan"),
        "colour": colour,
    }


def grid_summary(run: RunFolder) -> pd.DataFrame:
    """One row per grid: lead, residents, group beds per 1,000 residents, population-weighted travel minutes,
    units, area (km²) and the grid's map colour."""
    fac = run.facilities.set_index("facility_id")
    colours = grid_colours(run.grids["grid_id"])
    return pd.DataFrame([_grid_row(run, g, fac, colours[str(g.grid_id)]) for g in run.grids.itertuples()])


# ---------------------------------------------------------------------------------------------- facility roles


def _roles(groups: pd.DataFrame, facility_ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(display role, grid) per facility: its first role in :data:`ROLE_ORDER`, "other" when no group holds it."""
    role = pd.Series("other", index=facility_ids.index, dtype=object)
    grid = pd.Series("", index=facility_ids.index, dtype=object)
    if not groups.empty:
        ranked = groups.assign(_o=groups["role"].map(ROLE_ORDER).fillna(9)).sort_values(["_o", "grid_id"])
        first = ranked.drop_duplicates("facility_id").set_index("facility_id")
        fid = facility_ids.astype(str)
        has = fid.isin(first.index)
        role[has] = first.loc[fid[has], "role"].to_numpy()
        grid[has] = first.loc[fid[has], "grid_id"].astype(str).to_numpy()
    return role.where(role.isin(list(ROLE_ORDER)), "other"), grid


#: most facility markers a map draws; beyond it the least important are left out and the map says how many
MAX_DRAWN_FACILITIES = 3000


def _most_important(f: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The ``limit`` facilities a map draws: by role (leads first), hospitals before primary care, real first."""
    if len(f) <= limit:
        return f
    primary = f["kind"].isin(("community_health_centre", "township_hospital")) if "kind" in f else False
    key = pd.DataFrame(
        {"role": [-ROLE_RANK[r] for r in f["display_role"]], "primary": primary, "modelled": f["modelled"]},
        index=f.index,
    )
    keep = key.sort_values(["role", "primary", "modelled"], kind="stable").index[:limit]
    return f.loc[sorted(keep)]


def facility_roles(run: RunFolder, limit: int | None = None) -> pd.DataFrame:
    """The facilities drawn on the maps, with their display role and grid.

    Role from ``groups.csv`` (lead > cross-grid > member > collaborating); facilities in the city that no group
    holds are drawn as "not in a group"; units outside the city are drawn only when they collaborate with a group.
    Adds ``display_role``, ``display_grid``, ``approximate`` (location not an address), ``lon``, ``lat``.
    Above ``limit`` facilities (default :data:`MAX_DRAWN_FACILITIES`) the least important are left out (a map of
    200,000 markers neither renders nor reads); ``attrs["not_drawn"]`` counts them, and the maps say so.
    """
    f = run.facilities.copy()
    f["display_role"], f["display_grid"] = _roles(run.groups, f["facility_id"])
    in_city = f["in_city"] if "in_city" in f else pd.Series(True, index=f.index)
    f = f[in_city.astype(bool) | (f["display_role"] != "other")].copy()
    f["approximate"] = ~f["location_quality"].astype(str).isin(EXACT_LOCATIONS)
    f["modelled"] = f["modelled"].astype(bool)
    f["lon"] = f.geometry.x
    f["lat"] = f.geometry.y
    drawn = _most_important(f, MAX_DRAWN_FACILITIES if limit is None else limit)
    out = drawn.reset_index(drop=True)
    out.attrs["not_drawn"] = len(f) - len(drawn)
    return out


def leads_by_grid(groups: pd.DataFrame) -> dict[str, str]:
    """Lead facility id per grid id (from groups.csv)."""
    return {str(r.grid_id): str(r.facility_id) for r in groups.itertuples() if r.role == "lead"}


def referrals_by_facility(referrals: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The (first) referral reservation row per primary-care member's facility id."""
    if referrals.empty:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for rec in referrals.to_dict("records"):
        out.setdefault(str(rec["facility_id"]), rec)
    return out


# -------------------------------------------------------------------------------------------- display geometry


def _round_coords(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, DISPLAY_DECIMALS)


def display_geometry(geoms: Any, shift: Any = None) -> np.ndarray:
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


def _polygonal(geom: Any) -> Any:
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else shapely.Polygon()


def jsonable(v: Any) -> Any:
    """A numpy scalar as a JSON value (NaN/inf → None)."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def features(gdf: gpd.GeoDataFrame, props: list[str], shift: Any = None) -> dict[str, Any]:
    """GeoJSON FeatureCollection of display geometry with the columns ``props`` (empty geometries left out)."""
    geoms = display_geometry(gdf.geometry.to_numpy(), shift)
    feats = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        p = {k: jsonable(gdf[k].iat[i]) for k in props}
        feats.append({"type": "Feature", "id": str(i), "properties": p, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": feats}


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


# ------------------------------------------------------------------------------------------------- choropleths


def _breaks(values: np.ndarray, candidates: list[float]) -> list[float]:
    """Class breaks: the candidate values inside the data range, framed by the range itself."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return [0.0, 1.0]
    lo, hi = min(float(v.min()), candidates[0]), float(v.max())
    inner = [float(c) for c in candidates if lo < c < hi]
    top = hi if hi > (inner[-1] if inner else lo) else (inner[-1] if inner else lo) + 1.0
    return [lo, *inner, top]


def _class_colours(name: str, n: int) -> list[str]:
    """``n`` class colours from a branca (ColorBrewer) sequential colormap, skipping its near-white end."""
    import branca.colormap as bcm

    cm = getattr(bcm.linear, name).scale(0.0, 1.0)
    return [cm.rgb_hex_str(0.14 + 0.86 * i / max(n - 1, 1)) for i in range(n)]


def choropleth_classes(run: RunFolder) -> dict[str, dict[str, Any]]:
    """Classes for the two unit layers: population density (residents/km²) and travel minutes to the lead.

    Per layer: ``values`` per unit, class ``breaks``, class index ``cls`` per unit (-1 = no value) and ``colours``.
    """
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
    if "stability" in u.columns:  # a consensus plan of `caregrid ensemble`: agreement of the draws per unit
        vals = u["stability"].to_numpy(dtype=float)
        b = STABILITY_BREAKS
        cls = np.where(np.isfinite(vals), np.clip(np.searchsorted(b, vals, side="right") - 1, 0, len(b) - 2), -1)
        out["stability"] = {"values": vals, "breaks": b, "cls": cls,
                            "colours": _class_colours("RdYlGn_09", len(b) - 1)}
    return out


#: stability classes (share of draws agreeing on a unit's lead): fixed, so maps of two ensembles read alike
STABILITY_BREAKS = [0.0, 0.5, 0.7, 0.9, 1.0]


# ------------------------------------------------------------------------------------------------- placement


def spread_offsets(lon: np.ndarray, lat: np.ndarray, sizes: np.ndarray, gap: float = 2.0) -> np.ndarray:
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


def label_point(poly: Any, avoid_xy: np.ndarray, n: int = 14) -> Any:
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


def drawing_order(roles: pd.Series) -> np.ndarray:
    """Indices of facilities in drawing order (leads last, so on top); stable within a role."""
    return np.argsort([ROLE_RANK[r] for r in roles], kind="stable")
