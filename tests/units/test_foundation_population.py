"""Population: exact integer splitting, modelled disaggregation, and the planner's own population data."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from conftest import GRID_LAT0, GRID_LON0, GRID_STEP, SCENARIOS, write_csv
from rasterio.transform import Affine
from shapely.geometry import Point, box

from simulator.config.scenario import load_scenario
from simulator.errors import InputError
from simulator.load.city import load_city
from simulator.load.readers import read_districts
from simulator.units.pipeline import planning_units
from simulator.units.population import aggregate_population, largest_remainder, model_population

SCENARIO_NAMES = ["fuxin", "fuxin_all_res7", "panjin", "panjin_all"]

# ----------------------------------------------------------------------------------------- largest remainder


def test_largest_remainder_property_random_inputs():
    rng = np.random.default_rng(12345)
    for trial in range(500):
        n = int(rng.integers(1, 60))
        total = int(rng.integers(0, 10**7)) if trial % 5 else int(rng.integers(0, 5))
        kind = trial % 4
        if kind == 0:
            w = rng.random(n)
        elif kind == 1:
            w = rng.integers(0, 4, n).astype(float)  # many ties and zeros
        elif kind == 2:
            w = rng.lognormal(0, 3, n)  # very unequal
        else:
            w = np.zeros(n)  # all zero → even split
        tie = rng.permutation(n)
        parts = largest_remainder(total, w, tie)
        exact = total * (w / w.sum() if w.sum() > 0 else np.full(n, 1 / n))
        assert parts.dtype == np.int64
        assert parts.sum() == total
        assert (parts >= 0).all()
        assert (np.abs(parts - exact) < 1).all()
        # parts are the floor or the ceiling of the exact share
        assert np.all((parts == np.floor(exact)) | (parts == np.ceil(exact)))
        # zero weight gets nothing (when some weight is positive)
        if w.sum() > 0:
            assert (parts[w == 0] == 0).all()


def test_largest_remainder_hand_examples():
    # 10 over 3 equal weights: 3.33 each, one extra resident goes to the first in tie order
    assert largest_remainder(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]
    assert largest_remainder(10, np.array([1.0, 1.0, 1.0]), np.array([2, 1, 0])).tolist() == [3, 3, 4]
    # 7 over weights 1:2:4 → exact 1, 2, 4
    assert largest_remainder(7, np.array([1.0, 2.0, 4.0])).tolist() == [1, 2, 4]
    # 101 over 0.5:0.3:0.2 → 50.5, 30.3, 20.2 → remainders .5 .3 .2 → the first gets the one extra
    assert largest_remainder(101, np.array([0.5, 0.3, 0.2])).tolist() == [51, 30, 20]
    # 5 over 0.46:0.27:0.27 → 2.3, 1.35, 1.35 → one extra; tie of the .35 remainders goes to the earlier one
    assert largest_remainder(5, np.array([0.46, 0.27, 0.27])).tolist() == [2, 2, 1]
    # 6 over 0.1:0.1:0.8 → 0.6, 0.6, 4.8 → floors 0, 0, 4 → two extras: the .8 first, then the first .6
    assert largest_remainder(6, np.array([0.1, 0.1, 0.8])).tolist() == [1, 0, 5]
    assert largest_remainder(0, np.array([])).tolist() == []
    with pytest.raises(ValueError):
        largest_remainder(3, np.array([]))


# ------------------------------------------------------------------------------------ modelled, real scenarios


@pytest.fixture(scope="module")
def scenario_units():
    out = {}
    for name in SCENARIO_NAMES:
        scenario = load_scenario(SCENARIOS / f"{name}.toml")
        city = load_city(scenario)
        out[name] = (scenario, city, planning_units(scenario, city))
    return out


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_modelled_population_sums_to_census_per_district(scenario_units, census, name):
    scenario, city, units = scenario_units[name]
    gdf = units.gdf
    assert gdf["population"].dtype == np.int64
    assert (gdf["population"] >= 0).all()
    assert (gdf["population_status"] == "modelled").all()
    if scenario.districts == "urban":
        expected_codes = {a for a, r in census.items() if r["city"] == scenario.city and r["urban"]}
    else:
        expected_codes = {a for a, r in census.items() if r["city"] == scenario.city}
    per = gdf.groupby("district")["population"].sum().to_dict()
    assert set(per) == expected_codes
    for code in expected_codes:
        assert per[code] == census[code]["population"], (code, census[code]["name"])
    assert gdf["population"].sum() == sum(census[c]["population"] for c in expected_codes)


@pytest.mark.parametrize("name", ["fuxin", "panjin_all"])
def test_modelled_population_is_deterministic(scenario_units, name):
    scenario, _, first = scenario_units[name]
    again = planning_units(scenario, load_city(load_scenario(scenario.path)))
    assert again.gdf["unit_id"].tolist() == first.gdf["unit_id"].tolist()
    np.testing.assert_array_equal(again.gdf["population"].to_numpy(), first.gdf["population"].to_numpy())
    assert again.notes == first.notes


@pytest.mark.parametrize("name", ["fuxin", "panjin"])
def test_modelled_density_peaks_near_the_seat(scenario_units, name):
    """The urban kernel puts the densest unit of each urban district within a few km of its seat."""
    _, city, units = scenario_units[name]
    gdf = units.gdf.assign(density=units.gdf["population"] / units.gdf["area_km2"])
    geod = pyproj.Geod(ellps="WGS84")
    for code, grp in gdf.groupby("district"):
        row = city.districts.set_index("adcode").loc[code]
        top = grp.loc[grp["density"].idxmax()]
        km = geod.inv(top["lon"], top["lat"], row["seat_lon"], row["seat_lat"])[2] / 1000
        assert km < 5.0, (code, km)
        # and density falls off: the densest unit is > 2× the district's average density
        assert top["density"] > 2 * grp["population"].sum() / grp["area_km2"].sum()


@pytest.mark.parametrize(("urban_share", "dtype"), [("", "district"), ("0.5", "district"), ("", "county")])
def test_modelled_population_follows_documented_formula(tmp_path, grid3x3, urban_share, dtype):
    """Recompute the documented model by hand (geodesic distances) on the 3×3 grid: within 1 resident per unit."""
    seat_lon, seat_lat = GRID_LON0 + 1.5 * GRID_STEP, GRID_LAT0 + 1.5 * GRID_STEP  # centre of r1c1
    total = 12_345
    path = write_csv(
        tmp_path / "d.csv",
        [
            {
                "adcode": "999001",
                "name": "测试区",
                "type": dtype,
                "population_2020": str(total),
                "urban_share": urban_share,
                "seat_lon": str(seat_lon),
                "seat_lat": str(seat_lat),
            }
        ],
    )
    districts = read_districts(path)
    units = grid3x3["units"]
    pop, notes = model_population(units, districts, grid3x3["districts"], None)
    share = float(urban_share) if urban_share else (0.9 if dtype == "district" else 0.3)
    geod = pyproj.Geod(ellps="WGS84")
    gdf = units.gdf
    area = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in gdf.geometry])
    r_km = (
        geod.inv(
            gdf["lon"].to_numpy(), gdf["lat"].to_numpy(), np.full(len(gdf), seat_lon), np.full(len(gdf), seat_lat)
        )[2]
        / 1000
    )
    urban = area * np.exp(-r_km / 2.5)
    expected = total * (share * urban / urban.sum() + (1 - share) * area / area.sum())
    assert pop.sum() == total
    # 1 resident of rounding + 0.2 % for the model's flat-earth distances (see test_model_distance_accuracy)
    assert (np.abs(pop - expected) < 1.0 + 0.002 * expected).all()
    assert np.argmax(pop) == list(gdf["unit_id"]).index("r1c1")
    assert bool(urban_share) != any("default" in n for n in notes)


def test_model_distance_accuracy():
    from simulator.units.population import _km_between

    rng = np.random.default_rng(3)
    lon1, lat1 = rng.uniform(119, 125.5, 500), rng.uniform(39, 43, 500)
    lon2, lat2 = lon1 + rng.uniform(-0.6, 0.6, 500), lat1 + rng.uniform(-0.45, 0.45, 500)
    truth = pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2] / 1000
    assert (np.abs(_km_between(lon1, lat1, lon2, lat2) / truth - 1) < 0.001).all()


# --------------------------------------------------------------------------------------- planner population


def _cell_index(lon, lat, x0=121.595, y0=41.935, res=0.0025):
    return int((y0 - lat) // res), int((lon - x0) // res)


def _unit_centre(r, c, dx=0.0, dy=0.0):
    return GRID_LON0 + (c + 0.5) * GRID_STEP + dx, GRID_LAT0 + (r + 0.5) * GRID_STEP + dy


def test_raster_population_equals_hand_sums(tmp_path, grid3x3):
    import rasterio
    from affine import Affine

    values = np.zeros((16, 16), dtype="float32")  # 0.0025° cells; 4×4 cells per unit, 2-cell margin
    placed = [
        ((0, 0, 0.0, 0.0), 7.0),  # r0c0
        ((1, 1, -0.003, 0.002), 10.0),  # r1c1
        ((1, 1, 0.003, -0.003), 5.5),  # r1c1
        ((2, 2, 0.001, 0.001), 100.0),  # r2c2
    ]
    for (r, c, dx, dy), v in placed:
        i, j = _cell_index(*_unit_centre(r, c, dx, dy))
        values[i, j] += v
    values[0, 0] = 1000.0  # in the margin, outside every unit
    values[15, 3] = -9999.0  # nodata: ignored, not an error
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=16,
        width=16,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(0.0025, 0, 121.595, 0, -0.0025, 41.935),
        nodata=-9999.0,
    ) as dst:
        dst.write(values, 1)
    out, notes = aggregate_population(grid3x3["units"], path, None)
    got = dict(zip(grid3x3["units"].gdf["unit_id"], out, strict=True))
    expected = {f"r{r}c{c}": 0.0 for r in range(3) for c in range(3)}
    expected.update({"r0c0": 7.0, "r1c1": 15.5, "r2c2": 100.0})
    assert got == pytest.approx(expected, abs=1e-9)
    # only the window over the planning units is read: the 1,000 in the margin are not even loaded
    assert "122 residents in the raster window over the planning area" in notes[0]


def test_polygon_population_areal_weighting(tmp_path, grid3x3):
    half = GRID_STEP / 2
    polys = gpd.GeoDataFrame(
        {"population": [1000.0, 300.0, 200.0]},
        geometry=[
            # right half of r0c0 + left half of r0c1
            box(GRID_LON0 + half, GRID_LAT0, GRID_LON0 + GRID_STEP + half, GRID_LAT0 + GRID_STEP),
            # exactly r2c2
            box(
                GRID_LON0 + 2 * GRID_STEP,
                GRID_LAT0 + 2 * GRID_STEP,
                GRID_LON0 + 3 * GRID_STEP,
                GRID_LAT0 + 3 * GRID_STEP,
            ),
            # east half of r1c2, the other half outside every unit
            box(
                GRID_LON0 + 2 * GRID_STEP + half,
                GRID_LAT0 + GRID_STEP,
                GRID_LON0 + 3 * GRID_STEP + half,
                GRID_LAT0 + 2 * GRID_STEP,
            ),
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "pop.geojson"
    polys.to_file(path, driver="GeoJSON")
    out, notes = aggregate_population(grid3x3["units"], path, None)
    got = dict(zip(grid3x3["units"].gdf["unit_id"], out, strict=True))
    expected = {f"r{r}c{c}": 0.0 for r in range(3) for c in range(3)}
    expected.update({"r0c0": 500.0, "r0c1": 500.0, "r2c2": 300.0, "r1c2": 100.0})
    assert got == pytest.approx(expected, abs=0.05)
    assert "1,500 residents in the file, 1,400 inside the planning units" in notes[0]


def test_point_population_goes_to_containing_unit(tmp_path, grid3x3):
    pts = [
        (_unit_centre(0, 0, 0.002, 0.001), 10.0),
        (_unit_centre(0, 0, -0.004, -0.004), 20.0),
        (_unit_centre(0, 0), 30.0),
        (_unit_centre(1, 1, 0.0049, 0.0049), 5.0),
        ((121.50, 41.80), 999.0),  # outside every unit
    ]
    gdf = gpd.GeoDataFrame({"population": [v for _, v in pts]}, geometry=[Point(*xy) for xy, _ in pts], crs="EPSG:4326")
    path = tmp_path / "pop.geojson"
    gdf.to_file(path, driver="GeoJSON")
    out, notes = aggregate_population(grid3x3["units"], path, None)
    got = dict(zip(grid3x3["units"].gdf["unit_id"], out, strict=True))
    expected = {f"r{r}c{c}": 0.0 for r in range(3) for c in range(3)}
    expected.update({"r0c0": 60.0, "r1c1": 5.0})
    assert got == pytest.approx(expected, abs=1e-12)
    assert "1,064 residents in the file, 65 inside the planning units" in notes[0]


def test_point_population_in_gcj02_is_converted_before_assignment(tmp_path, grid3x3):
    import prcoords

    # a point in r0c0 whose raw GCJ-02 coordinates (shifted ~0.45 km east) fall in r0c1
    wgs = (GRID_LON0 + 0.008, GRID_LAT0 + 0.005)
    gcj = prcoords.wgs_gcj((wgs[1], wgs[0]), False)
    assert GRID_LON0 + GRID_STEP < gcj.lon < GRID_LON0 + 2 * GRID_STEP
    path = write_csv(tmp_path / "pop.csv", [{"lon": f"{gcj.lon:.9f}", "lat": f"{gcj.lat:.9f}", "population": "42"}])
    out, _ = aggregate_population(grid3x3["units"], path, "gcj02")
    got = dict(zip(grid3x3["units"].gdf["unit_id"], out, strict=True))
    assert got["r0c0"] == 42.0 and sum(got.values()) == 42.0


def test_point_on_shared_edge_is_counted_once(tmp_path, grid3x3):
    gdf = grid3x3["units"].gdf
    r0c0 = gdf.loc[gdf["unit_id"] == "r0c0"].geometry.iloc[0]
    minx, miny, maxx, maxy = r0c0.bounds
    edge_pt = Point(maxx, (miny + maxy) / 2)  # on the edge r0c0 | r0c1
    assert shapely.touches(r0c0, edge_pt)
    pts = gpd.GeoDataFrame({"population": [50.0]}, geometry=[edge_pt], crs="EPSG:4326")
    path = tmp_path / "pop.geojson"
    pts.to_file(path, driver="GeoJSON")
    out, _ = aggregate_population(grid3x3["units"], path, None)
    assert out.sum() == pytest.approx(50.0)


def _sparse_raster(path, width, height, transform):
    """A GeoTIFF whose header claims width × height cells but stores no tiles (GDAL's SPARSE_OK)."""
    with rasterio.open(
        path, "w", driver="GTiff", height=height, width=width, count=1, dtype="float32", crs="EPSG:4326",
        transform=transform, nodata=0.0, tiled=True, blockxsize=256, blockysize=256, sparse_ok=True,
        compress="deflate",
    ):
        pass
    return path


def test_a_huge_raster_is_read_only_over_the_planning_area(tmp_path, grid3x3):
    # 400,000 × 400,000 cells claimed (a terabyte as float64); the units cover a few hundred cells of it
    big = _sparse_raster(tmp_path / "big.tif", 400_000, 400_000, Affine(0.0005, 0, 100.0, 0, -0.0005, 60.0))
    assert big.stat().st_size < 50_000_000
    with rasterio.open(big, "r+") as dst:  # residents in one cell under unit r1c1's centre
        i, j = dst.index(*_unit_centre(1, 1, 0.0, 0.0))
        dst.write(np.full((1, 1), 42.0, dtype="float32"), 1, window=((i, i + 1), (j, j + 1)))
    out, _ = aggregate_population(grid3x3["units"], big, None)
    got = dict(zip(grid3x3["units"].gdf["unit_id"], out, strict=True))
    assert got["r1c1"] == pytest.approx(42.0) and out.sum() == pytest.approx(42.0)


def test_a_raster_window_above_the_limit_is_refused(tmp_path, grid3x3):
    from simulator.load.readers import read_population_raster

    fine = _sparse_raster(tmp_path / "fine.tif", 200_000, 200_000, Affine(1e-6, 0, 121.5, 0, -1e-6, 42.0))
    bounds = tuple(grid3x3["units"].gdf.total_bounds)
    with pytest.raises(InputError, match=r"above the limit of 1,000,000; use a coarser raster") as ei:
        read_population_raster(fine, None, bounds=bounds, max_cells=1_000_000)
    assert ei.value.path == str(fine)
