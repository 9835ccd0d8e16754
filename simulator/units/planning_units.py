"""Planning units: H3 hexagons clipped to the planning area, or polygons the planner supplies.

Every unit lies in exactly one district: a hexagon that straddles a district boundary is split into one piece
per district (unit id ``<h3 index>-<adcode>``), so district census totals can be disaggregated exactly.
Adjacency means a shared edge (not just a corner): for two whole H3 cells this is H3's neighbour relation;
where a clipped piece is involved it is measured geometrically (shared boundary ≥ ``min_shared_edge_m``).

H3 resolutions (average hexagon area; see README for unit counts per city): 6 ≈ 36.1 km², 7 ≈ 5.16 km²,
8 ≈ 0.737 km², 9 ≈ 0.105 km².
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely

from ..errors import InputError
from ..load.validate import check_geometries, check_unique

#: A piece of a hexagon smaller than this share of a whole cell is merged away (dropped) — clipping slivers
MIN_PIECE_SHARE = 0.01


@dataclass
class PlanningUnits:
    """Planning units and their edge adjacency.

    Attributes
    ----------
    gdf : GeoDataFrame (EPSG:4326), index 0..n-1: ``unit_id``, ``district``, ``district_name``, ``population``
        (int), ``population_status``, ``area_km2``, ``lon``, ``lat`` (a point inside the unit), ``geometry``
    adjacency : (n, n) symmetric boolean CSR matrix, True where two units share an edge
    notes : what was done to build them (slivers dropped, area covered…)
    bridges : (k, 3) array of (unit i, unit j, km) links added by :func:`bridge_exclaves` between pieces of the
        planning area that share no edge (an exclave district such as 清河门区 in Fuxin); they count as
        adjacency for contiguity and are drawn on maps
    """

    gdf: gpd.GeoDataFrame
    adjacency: sp.csr_matrix
    notes: list[str] = field(default_factory=list)
    bridges: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __len__(self) -> int:
        return len(self.gdf)


def equal_area_crs(geoms: gpd.GeoSeries) -> pyproj.CRS:
    """A Lambert azimuthal equal-area CRS centred on the data (areas in m²)."""
    minx, miny, maxx, maxy = geoms.total_bounds
    return pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={(miny + maxy) / 2:.4f} +lon_0={(minx + maxx) / 2:.4f} +datum=WGS84 +units=m"
    )


def _cells_for_polygon(geom, resolution: int) -> list[str]:
    shape = h3.geo_to_h3shape(geom.__geo_interface__)
    return list(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))


def _cell_polygons(cells: np.ndarray) -> np.ndarray:
    """Shapely polygons of H3 cells (lon/lat), built in one vectorised call per vertex count."""
    rings = [h3.cell_to_boundary(c) for c in cells]
    counts = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    out = np.empty(len(cells), dtype=object)
    for k in np.unique(counts):
        sel = np.flatnonzero(counts == k)
        latlng = np.array([rings[i] for i in sel], dtype=float)  # (s, k, 2) as (lat, lng)
        out[sel] = shapely.polygons(latlng[:, :, ::-1])
    return out


def build_h3_units(districts: gpd.GeoDataFrame, resolution: int) -> PlanningUnits:
    """Cover the districts with H3 cells at ``resolution`` and clip them, one piece per district.

    Parameters
    ----------
    districts : GeoDataFrame (EPSG:4326) with ``adcode``, ``name`` and polygon geometry
    resolution : H3 resolution (7 ≈ 5.2 km², 8 ≈ 0.74 km², 9 ≈ 0.11 km² per cell)
    """
    cell_ids: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for k, geom in enumerate(districts.geometry.to_numpy()):
        polys = getattr(geom, "geoms", [geom])
        cells = np.unique(
            np.concatenate(
                [np.asarray(_cells_for_polygon(p, resolution), dtype=object) for p in polys]
                or [np.array([], dtype=object)]
            )
        )
        cell_ids.append(cells.astype(str))
        owners.append(np.full(len(cells), k))
    cells = np.concatenate(cell_ids)
    owner = np.concatenate(owners)
    uniq, inverse = np.unique(cells, return_inverse=True)
    hexes = _cell_polygons(uniq)[inverse]

    district_geoms = districts.geometry.to_numpy()
    for g in district_geoms:
        shapely.prepare(g)
    pieces = np.empty(len(cells), dtype=object)
    whole = np.zeros(len(cells), dtype=bool)
    for k, g in enumerate(district_geoms):
        sel = np.flatnonzero(owner == k)
        inside = shapely.contains_properly(g, hexes[sel])
        whole[sel] = inside
        pieces[sel[inside]] = hexes[sel[inside]]
        cut = sel[~inside]
        pieces[cut] = shapely.intersection(hexes[cut], g)
    laea = equal_area_crs(districts.geometry)
    transformer = pyproj.Transformer.from_crs("EPSG:4326", laea, always_xy=True)
    area_m2 = shapely.area(
        shapely.transform(pieces, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    )
    cell_area_m2 = h3.average_hexagon_area(resolution, unit="m^2")
    keep = area_m2 >= MIN_PIECE_SHARE * cell_area_m2
    dropped_km2 = area_m2[~keep].sum() / 1e6
    cells, owner, pieces, whole, area_m2 = cells[keep], owner[keep], pieces[keep], whole[keep], area_m2[keep]
    # intersections can carry stray lines/points along edges; keep the polygonal part
    cut = np.flatnonzero(~whole)
    pieces[cut] = np.array([_polygonal(g) for g in pieces[cut]], dtype=object)

    # a cell split between districts gets one unit per piece
    split = pd.Series(cells).duplicated(keep=False).to_numpy()
    adcodes = districts["adcode"].astype(str).to_numpy()[owner]
    unit_id = np.where(split, np.char.add(np.char.add(cells.astype(str), "-"), adcodes.astype(str)), cells)
    order = np.argsort(unit_id, kind="stable")
    cells, owner, pieces, whole, area_m2, unit_id = (a[order] for a in (cells, owner, pieces, whole, area_m2, unit_id))

    gdf = gpd.GeoDataFrame(
        {
            "unit_id": unit_id.astype(str),
            "h3": cells.astype(str),
            "district": districts["adcode"].astype(str).to_numpy()[owner],
            "district_name": districts["name"].astype(str).to_numpy()[owner],
            "area_km2": area_m2 / 1e6,
        },
        geometry=pieces,
        crs="EPSG:4326",
    )
    _add_points(gdf)
    adjacency = _h3_adjacency(cells, whole, pieces)
    total_km2 = _area_km2(districts.geometry, laea).sum()
    notes = [
        f"H3 resolution {resolution}: {len(gdf):,} units ({int(whole.sum()):,} whole cells, "
        f"{int((~whole).sum()):,} clipped pieces), covering {gdf.area_km2.sum():,.1f} of {total_km2:,.1f} km²",
    ]
    if dropped_km2 > 0:
        notes.append(
            f"dropped {int((~keep).sum())} clipping slivers < {MIN_PIECE_SHARE:.0%} of a cell ({dropped_km2:.2f} km²)"
        )
    return PlanningUnits(gdf=gdf, adjacency=adjacency, notes=notes)


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def _area_km2(geoms: gpd.GeoSeries, crs) -> np.ndarray:
    return geoms.to_crs(crs).area.to_numpy() / 1e6


def _add_points(gdf: gpd.GeoDataFrame) -> None:
    geoms = gdf.geometry.to_numpy()
    pts = shapely.centroid(geoms)
    outside = ~shapely.contains(geoms, pts)
    if outside.any():
        pts[outside] = shapely.point_on_surface(geoms[outside])
    gdf["lon"] = shapely.get_x(pts)
    gdf["lat"] = shapely.get_y(pts)


def _h3_adjacency(cells: np.ndarray, whole: np.ndarray, pieces: np.ndarray) -> sp.csr_matrix:
    n = len(cells)
    index = pd.Series(np.arange(n)).groupby(cells).apply(list).to_dict()
    rows, cols = [], []
    for i, c in enumerate(cells):
        for nb in h3.grid_ring(c, 1):
            for j in index.get(nb, ()):
                rows.append(i)
                cols.append(j)
        for j in index[c]:
            if j != i:
                rows.append(i)
                cols.append(j)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    both_whole = whole[rows] & whole[cols]
    check = ~both_whole
    ok = both_whole.copy()
    if check.any():
        ok[check] = shares_edge(pieces[rows[check]], pieces[cols[check]])
    adj = sp.csr_matrix((np.ones(ok.sum(), dtype=bool), (rows[ok], cols[ok])), shape=(n, n))
    adj = ((adj + adj.T) > 0).astype(bool)
    adj.setdiag(False)
    adj.eliminate_zeros()
    return adj.tocsr()


def shares_edge(a: np.ndarray, b: np.ndarray, min_shared_edge_m: float = 20.0) -> np.ndarray:
    """Whether polygon pairs share a boundary of at least ``min_shared_edge_m`` (lon/lat input).

    Boundaries of clipped pieces come from different source polygons and rarely coincide to the last digit,
    so the shared length is measured as the area of ``a`` within a thin buffer (5 m) of ``b`` divided by the
    buffer width — robust to sub-metre mismatches, and a corner contact gives ≈ 0.
    """
    eps_deg = 5.0 / 111_320.0
    overlap = shapely.area(shapely.intersection(a, shapely.buffer(b, eps_deg, quad_segs=2)))
    # degrees² → m²: scale by metres per degree at the pair's latitude
    lat = shapely.get_y(shapely.centroid(a))
    m_per_deg2 = 111_320.0**2 * np.cos(np.radians(lat))
    shared_m = overlap * m_per_deg2 / 5.0
    return shared_m >= min_shared_edge_m


def build_polygon_units(
    polygons: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, path, id_field: str = "unit_id"
) -> PlanningUnits:
    """Planning units from the planner's polygons (townships, communities…), clipped to the planning area.

    Each polygon is assigned to the district it overlaps most; polygons entirely outside the area are dropped
    (and said so); adjacency is a shared edge of at least 20 m.
    """
    if id_field not in polygons.columns:
        raise InputError(path, f"missing column '{id_field}' (the unit id)", field=id_field)
    polygons = check_geometries(polygons, path, "units", polygons=True)
    polygons = polygons.assign(unit_id=polygons[id_field].astype(str))
    check_unique(polygons, "unit_id", path)
    inter = gpd.overlay(
        polygons[["unit_id", "geometry"]],
        districts[["adcode", "name", "geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    laea = equal_area_crs(districts.geometry)
    inter["area_km2"] = _area_km2(inter.geometry, laea)
    best = inter.sort_values(["unit_id", "area_km2"], ascending=[True, False]).drop_duplicates("unit_id")
    clipped = inter.dissolve(by="unit_id", as_index=False, aggfunc="first")[["unit_id", "geometry"]]
    gdf = clipped.merge(best[["unit_id", "adcode", "name"]], on="unit_id").rename(
        columns={"adcode": "district", "name": "district_name"}
    )
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs="EPSG:4326").sort_values("unit_id").reset_index(drop=True)
    gdf["area_km2"] = _area_km2(gdf.geometry, laea)
    _add_points(gdf)
    notes = [f"{len(gdf):,} planner-supplied polygon units from {path}"]
    lost = sorted(set(polygons["unit_id"]) - set(gdf["unit_id"]))
    if lost:
        notes.append(f"{len(lost)} polygons lie outside the planning area and were dropped: {', '.join(lost[:10])}")
    geoms = gdf.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    sel = i < j
    i, j = i[sel], j[sel]
    ok = shares_edge(geoms[i], geoms[j])
    n = len(gdf)
    adj = sp.csr_matrix((np.ones(ok.sum(), dtype=bool), (i[ok], j[ok])), shape=(n, n))
    adj = ((adj + adj.T) > 0).tocsr()
    return PlanningUnits(gdf=gdf, adjacency=adj, notes=notes)


def bridge_exclaves(units: PlanningUnits) -> PlanningUnits:
    """Link the disconnected pieces of the planning area so contiguous grids can exist.

    A planning area made of urban districts can be in several pieces (Fuxin's 清河门区 is an exclave some 40 km
    from the city core). A grid must be one connected piece, so without a link no grid could hold the exclave
    unless it had its own lead hospital. Each piece is linked to its nearest other piece by the closest pair of
    unit points (a minimum spanning tree over pieces), recorded in ``units.bridges`` and in ``units.notes``.
    """
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
    from scipy.spatial import cKDTree

    n_comp, label = connected_components(units.adjacency, directed=False)
    if n_comp == 1:
        return units
    xy = _local_xy_km(units.gdf)
    pair_i = np.zeros((n_comp, n_comp), dtype=np.int64)
    pair_j = np.zeros((n_comp, n_comp), dtype=np.int64)
    dist = np.zeros((n_comp, n_comp))
    members = [np.flatnonzero(label == c) for c in range(n_comp)]
    trees = [cKDTree(xy[m]) for m in members]
    for a in range(n_comp):
        for b in range(a + 1, n_comp):
            d, k = trees[b].query(xy[members[a]])
            best = int(np.argmin(d))
            pair_i[a, b], pair_j[a, b], dist[a, b] = members[a][best], members[b][k[best]], d[best]
    mst = minimum_spanning_tree(sp.csr_matrix(np.triu(dist) + 1e-9 * (np.triu(dist) > 0))).tocoo()
    bridges = []
    for a, b in zip(mst.row, mst.col, strict=True):
        a, b = min(a, b), max(a, b)
        bridges.append((pair_i[a, b], pair_j[a, b], dist[a, b]))
    bridges = np.array(bridges, dtype=float)
    i, j = bridges[:, 0].astype(np.int64), bridges[:, 1].astype(np.int64)
    extra = sp.csr_matrix((np.ones(2 * len(i), dtype=bool), (np.r_[i, j], np.r_[j, i])), shape=units.adjacency.shape)
    adjacency = ((units.adjacency + extra) > 0).tocsr()
    names = units.gdf["district_name"].to_numpy()
    notes = list(units.notes) + [
        f"planning area is in {n_comp} pieces; linked by {len(bridges)} bridge(s) for contiguity: "
        + "; ".join(
            f"{names[a]} unit {units.gdf.unit_id.iat[a]} – {names[b]} unit {units.gdf.unit_id.iat[b]} ({d:.1f} km)"
            for a, b, d in zip(i, j, bridges[:, 2], strict=True)
        )
    ]
    return PlanningUnits(gdf=units.gdf, adjacency=adjacency, notes=notes, bridges=bridges)


def _local_xy_km(gdf: gpd.GeoDataFrame) -> np.ndarray:
    lon, lat = gdf["lon"].to_numpy(), gdf["lat"].to_numpy()
    lat0 = np.radians(lat.mean())
    return np.column_stack([(lon - lon.mean()) * 111.32 * np.cos(lat0), (lat - lat.mean()) * 110.57])
