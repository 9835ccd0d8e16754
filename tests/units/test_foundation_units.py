"""Planning units: partition of the planning area, no overlaps, edge adjacency, exclave bridges, planner polygons."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pyproj
import pytest
import scipy.sparse as sp
import shapely
from conftest import GRID_LAT0, GRID_LON0, GRID_STEP, SCENARIOS
from scipy.sparse.csgraph import connected_components
from shapely.geometry import box

from simulator.config.scenario import load_scenario
from simulator.load.city import load_city
from simulator.units.planning_units import bridge_exclaves, build_h3_units, build_polygon_units

UTM51N = "EPSG:32651"
CASES = [("fuxin", 7), ("fuxin", 8), ("panjin", 7), ("panjin", 8)]


@pytest.fixture(scope="module")
def areas():
    """Planning area (urban districts) of each city, as loaded by the default scenario."""
    return {c: load_city(load_scenario(SCENARIOS / f"{c}.toml")).area for c in ("fuxin", "panjin")}


@pytest.fixture(scope="module")
def built(areas):
    cache = {}

    def get(city, res):
        if (city, res) not in cache:
            units = build_h3_units(areas[city], res)
            cache[city, res] = (units, units.gdf.to_crs(UTM51N).geometry.to_numpy())
        return cache[city, res]

    return get


def _pairs(adj) -> set[tuple[int, int]]:
    coo = sp.triu(adj, k=1).tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def _hexagon(cell: str):
    return shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])


def _whole_mask(gdf) -> np.ndarray:
    """Units that are an entire H3 cell (geometry equal to the cell's hexagon), found independently."""
    out = np.zeros(len(gdf), dtype=bool)
    for k, (uid, geom) in enumerate(zip(gdf["unit_id"], gdf.geometry, strict=True)):
        if h3.is_valid_cell(uid):
            hexa = _hexagon(uid)
            out[k] = shapely.area(shapely.symmetric_difference(geom, hexa)) < 1e-9 * hexa.area
    return out


@pytest.mark.parametrize(("city", "res"), CASES)
def test_every_unit_in_exactly_one_district(areas, built, city, res):
    units, geoms = built(city, res)
    gdf = units.gdf
    area = areas[city]
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.index) == list(range(len(gdf)))
    assert gdf["unit_id"].is_unique
    assert set(gdf["district"]) == set(area["adcode"])
    names = dict(zip(area["adcode"], area["name"], strict=True))
    assert (gdf["district_name"] == gdf["district"].map(names)).all()
    # checked in lon/lat, where the units were cut (projecting bends straight edges by millimetres)
    lonlat = gdf.geometry.to_numpy()
    unit_area = shapely.area(lonlat)
    for code, poly in area.set_index("adcode").geometry.items():
        inside = shapely.area(shapely.intersection(lonlat, poly))
        own = (gdf["district"] == code).to_numpy()
        # a unit of this district lies inside it; a unit of another district has (numerically) nothing in it
        assert (inside[own] >= unit_area[own] * (1 - 1e-9)).all()
        assert (inside[~own] <= unit_area[~own] * 1e-9).all()
    # split cells carry the district in their id
    split = gdf["unit_id"].str.contains("-")
    assert (gdf.loc[split, "unit_id"] == gdf.loc[split, "h3"] + "-" + gdf.loc[split, "district"]).all()
    assert (gdf.loc[~split, "unit_id"] == gdf.loc[~split, "h3"]).all()
    assert gdf.loc[split, "h3"].duplicated(keep=False).all()  # only a cell shared by districts is split


@pytest.mark.parametrize(("city", "res"), CASES)
def test_units_cover_each_district_within_half_a_percent(areas, built, city, res):
    units, geoms = built(city, res)
    dist_utm = areas[city].to_crs(UTM51N).set_index("adcode").geometry
    covered = gpd.GeoSeries(geoms, crs=UTM51N).area.groupby(units.gdf["district"].to_numpy()).sum()
    for code, poly in dist_utm.items():
        assert covered[code] == pytest.approx(poly.area, rel=0.005), code
    # the stored area_km2 (equal-area projection) agrees with the UTM area to 0.1 %
    np.testing.assert_allclose(units.gdf["area_km2"].to_numpy(), shapely.area(geoms) / 1e6, rtol=1e-3)


@pytest.mark.parametrize(("city", "res"), CASES)
def test_units_do_not_overlap(built, city, res):
    _, geoms = built(city, res)
    total = shapely.area(geoms).sum()
    union = shapely.union_all(geoms).area
    assert union == pytest.approx(total, rel=1e-7)


@pytest.mark.parametrize(("city", "res"), CASES)
def test_unit_points_inside_their_unit(built, city, res):
    units, _ = built(city, res)
    gdf = units.gdf
    pts = shapely.points(gdf["lon"].to_numpy(), gdf["lat"].to_numpy())
    assert shapely.intersects(gdf.geometry.to_numpy(), pts).all()


@pytest.mark.parametrize(("city", "res"), CASES)
def test_adjacency_symmetric_bool_no_self_loops(built, city, res):
    units, _ = built(city, res)
    adj = units.adjacency
    n = len(units.gdf)
    assert sp.issparse(adj) and adj.shape == (n, n)
    assert adj.dtype == bool
    assert (adj != adj.T).nnz == 0
    assert not adj.diagonal().any()
    assert adj.nnz > n  # a real graph: on average more than one neighbour per unit
    # a hexagon has at most 6 edge neighbours; a clipped piece can border more pieces of split neighbours
    degree = np.asarray(adj.sum(axis=1)).ravel()
    assert degree.max() <= 12


@pytest.mark.parametrize(("city", "res"), CASES)
def test_adjacency_of_whole_cells_equals_h3_neighbours(built, city, res):
    units, _ = built(city, res)
    gdf = units.gdf
    whole = _whole_mask(gdf)
    assert whole.sum() >= 50
    idx = np.flatnonzero(whole)
    cells = gdf["unit_id"].to_numpy()[idx]
    hexes = np.array([_hexagon(c) for c in cells], dtype=object)
    # candidate pairs found geometrically (hexagons that touch), independent of the module's h3 lookups
    a, b = shapely.STRtree(hexes).query(hexes, predicate="intersects")
    keep = a < b
    truth = {
        (int(idx[i]), int(idx[j]))
        for i, j in zip(a[keep], b[keep], strict=True)
        if h3.are_neighbor_cells(cells[i], cells[j])
    }
    got = {(i, j) for i, j in _pairs(units.adjacency) if whole[i] and whole[j]}
    assert got == truth
    assert len(truth) > 0


@pytest.mark.parametrize(("city", "res"), CASES)
def test_adjacency_of_clipped_pieces_matches_shared_boundary_length(built, city, res):
    """Independent check: length of one unit's boundary within 1 m of the other (UTM metres)."""
    units, geoms = built(city, res)
    gdf = units.gdf
    whole = _whole_mask(gdf)
    adj_pairs = _pairs(units.adjacency)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=1.0)
    keep = (a < b) & ~(whole[a] & whole[b])
    cand = np.column_stack([a[keep], b[keep]])
    # every adjacency pair is within 1 m (no long-distance links in build_h3_units)
    near = {tuple(map(int, p)) for p in np.column_stack([a[a < b], b[a < b]])}
    assert adj_pairs <= near
    rng = np.random.default_rng(7)
    if len(cand) > 3000:
        cand = cand[rng.choice(len(cand), 3000, replace=False)]
    ga, gb = geoms[cand[:, 0]], geoms[cand[:, 1]]
    shared = shapely.length(shapely.intersection(shapely.boundary(ga), shapely.buffer(gb, 1.0)))
    clear_yes = shared >= 40.0
    clear_no = shared <= 8.0
    is_adj = np.array([(int(i), int(j)) in adj_pairs for i, j in cand])
    assert is_adj[clear_yes].all(), cand[clear_yes & ~is_adj][:5]
    assert not is_adj[clear_no].any(), cand[clear_no & is_adj][:5]
    # the ambiguous band (8–40 m of shared edge) is rare
    assert (~clear_yes & ~clear_no).sum() <= max(5, 0.03 * len(cand))
    assert clear_yes.sum() > 50


@pytest.mark.parametrize("res", [7, 8])
def test_fuxin_urban_area_needs_one_bridge_to_qinghemen(areas, res):
    units = build_h3_units(areas["fuxin"], res)
    n_comp, label = connected_components(units.adjacency, directed=False)
    assert n_comp == 2
    q = (units.gdf["district"] == "210905").to_numpy()  # 清河门区
    assert len(set(label[q])) == 1 and len(set(label[~q])) == 1 and label[q][0] != label[~q][0]

    linked = bridge_exclaves(units)
    assert connected_components(linked.adjacency, directed=False)[0] == 1
    assert linked.bridges.shape == (1, 3)
    i, j, km = int(linked.bridges[0, 0]), int(linked.bridges[0, 1]), linked.bridges[0, 2]
    assert q[i] != q[j]
    assert linked.adjacency[i, j] and linked.adjacency[j, i]
    # exactly one new (symmetric) edge; the rest is unchanged
    assert (linked.adjacency != units.adjacency).nnz == 2
    # it joins the closest pair of unit points of the two pieces (geodesic check, 1 %)
    geod = pyproj.Geod(ellps="WGS84")
    lon, lat = units.gdf["lon"].to_numpy(), units.gdf["lat"].to_numpy()
    qi, oi = np.flatnonzero(q), np.flatnonzero(~q)
    qq, oo = np.meshgrid(qi, oi, indexing="ij")
    d = geod.inv(lon[qq].ravel(), lat[qq].ravel(), lon[oo].ravel(), lat[oo].ravel())[2] / 1000
    assert km == pytest.approx(d.min(), rel=0.01)
    assert geod.inv(lon[i], lat[i], lon[j], lat[j])[2] / 1000 == pytest.approx(d.min(), rel=0.01)
    assert any("清河门区" in n and "bridge" in n for n in linked.notes)


def test_bridge_exclaves_leaves_connected_area_unchanged(areas):
    units = build_h3_units(areas["panjin"], 7)
    assert connected_components(units.adjacency, directed=False)[0] == 1
    linked = bridge_exclaves(units)
    assert linked.bridges.shape == (0, 3)
    assert (linked.adjacency != units.adjacency).nnz == 0


# ---------------------------------------------------------------------------------------------- planner polygons


def _rook_edges():
    edges = set()
    for r in range(3):
        for c in range(3):
            if c < 2:
                edges.add((f"r{r}c{c}", f"r{r}c{c + 1}"))
            if r < 2:
                edges.add((f"r{r}c{c}", f"r{r + 1}c{c}"))
    return edges


def test_planner_polygons_give_nine_units_with_rook_adjacency(grid3x3):
    units = grid3x3["units"]
    gdf = units.gdf
    assert gdf["unit_id"].tolist() == [f"r{r}c{c}" for r in range(3) for c in range(3)]
    assert (gdf["district"] == "999001").all()
    ids = gdf["unit_id"].to_numpy()
    got = {tuple(sorted((ids[i], ids[j]))) for i, j in _pairs(units.adjacency)}
    assert len(_rook_edges()) == 12
    assert got == _rook_edges()  # corner-touching squares (e.g. r0c0–r1c1) are not neighbours
    assert (units.adjacency != units.adjacency.T).nnz == 0
    assert not units.adjacency.diagonal().any()
    # areas: geodesic area of each square (pyproj), 0.1 %
    geod = pyproj.Geod(ellps="WGS84")
    for uid, geom, a in zip(gdf["unit_id"], gdf.geometry, gdf["area_km2"], strict=True):
        r, c = int(uid[1]), int(uid[3])
        x0, y0 = GRID_LON0 + c * GRID_STEP, GRID_LAT0 + r * GRID_STEP
        expected = abs(geod.geometry_area_perimeter(box(x0, y0, x0 + GRID_STEP, y0 + GRID_STEP))[0]) / 1e6
        assert a == pytest.approx(expected, rel=1e-3)
        square = box(x0, y0, x0 + GRID_STEP, y0 + GRID_STEP)
        assert shapely.area(shapely.symmetric_difference(geom, square)) < 1e-9 * square.area


def test_planner_polygons_outside_area_are_dropped_and_reported(grid3x3, tmp_path):
    polys = gpd.read_file(grid3x3["path"])
    far = gpd.GeoDataFrame({"unit_id": ["far"]}, geometry=[box(122.5, 41.0, 122.51, 41.01)], crs="EPSG:4326")
    both = gpd.GeoDataFrame(gpd.pd.concat([polys, far], ignore_index=True), crs="EPSG:4326")
    units = build_polygon_units(both, grid3x3["districts"], tmp_path / "p.geojson")
    assert "far" not in set(units.gdf["unit_id"])
    assert len(units.gdf) == 9
    assert any("1 polygons lie outside the planning area" in n and "far" in n for n in units.notes)


def test_planner_polygon_straddling_districts_goes_to_larger_share(grid3x3, tmp_path):
    # split the middle column 30 % / 70 %: its squares go to the east district
    cut = GRID_LON0 + 1.3 * GRID_STEP
    d = grid3x3["districts"].geometry.iloc[0]
    minx, miny, maxx, maxy = d.bounds
    districts = gpd.GeoDataFrame(
        {"adcode": ["W", "E"], "name": ["西", "东"]},
        geometry=[box(minx, miny, cut, maxy), box(cut, miny, maxx, maxy)],
        crs="EPSG:4326",
    )
    units = build_polygon_units(gpd.read_file(grid3x3["path"]), districts, tmp_path / "p.geojson")
    got = dict(zip(units.gdf["unit_id"], units.gdf["district"], strict=True))
    assert got == {f"r{r}c{c}": ("W" if c == 0 else "E") for r in range(3) for c in range(3)}
    ids = units.gdf["unit_id"].to_numpy()
    assert {tuple(sorted((ids[i], ids[j]))) for i, j in _pairs(units.adjacency)} == _rook_edges()
