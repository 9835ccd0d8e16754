"""geodata/<city>/boundaries.geojson against the reference copy in ../shared (within 1 m), and validity."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from conftest import GEODATA, SHARED, read_rows, require

from simulator.load.readers import read_boundaries

REFERENCE = SHARED / "data" / "boundaries_wgs84"
UTM51N = "EPSG:32651"
CASES = [(city, r["adcode"]) for city in ("fuxin", "panjin") for r in read_rows(GEODATA / city / "districts.csv")]


@pytest.fixture(scope="module")
def boundaries():
    return {city: gpd.read_file(GEODATA / city / "boundaries.geojson") for city in ("fuxin", "panjin")}


@pytest.mark.parametrize(("city", "adcode"), CASES)
def test_boundary_matches_reference_within_1_m(boundaries, city, adcode):
    ref_path = REFERENCE / f"{adcode}.geojson"
    require(REFERENCE.is_dir(), f"reference boundaries not available: {REFERENCE} is absent (no ../shared)")
    assert ref_path.exists(), f"no reference polygon {ref_path}"
    ours = boundaries[city]
    assert ours.crs.to_epsg() == 4326
    mine = ours.loc[ours["adcode"].astype(str) == adcode]
    assert len(mine) == 1, f"{city}: expected exactly one feature with adcode {adcode}, found {len(mine)}"
    ref = gpd.read_file(ref_path)
    assert len(ref) == 1
    a = mine.to_crs(UTM51N).geometry.iloc[0]
    b = ref.set_crs("EPSG:4326", allow_override=True).to_crs(UTM51N).geometry.iloc[0]
    assert shapely.hausdorff_distance(a, b) < 1.0
    # same number of parts and the same area to 0.001 %
    assert shapely.get_num_geometries(a) == shapely.get_num_geometries(b)
    assert a.area == pytest.approx(b.area, rel=1e-5)


@pytest.mark.parametrize("city", ["fuxin", "panjin"])
def test_district_polygons_valid_and_complete(boundaries, city):
    gdf = boundaries[city]
    codes = sorted(r["adcode"] for r in read_rows(GEODATA / city / "districts.csv"))
    assert sorted(gdf["adcode"].astype(str)) == codes  # one polygon per district of the table, no extras
    geoms = gdf.geometry.to_numpy()
    assert shapely.is_valid(geoms).all(), shapely.is_valid_reason(geoms)
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert not shapely.is_empty(geoms).any()
    # districts do not overlap each other (shared edges only): sum of areas = area of the union
    utm = gdf.to_crs(UTM51N).geometry
    assert utm.area.sum() == pytest.approx(shapely.union_all(utm.to_numpy()).area, rel=1e-6)


@pytest.mark.parametrize("city", ["fuxin", "panjin"])
def test_stored_area_column_matches_geometry(boundaries, city):
    gdf = boundaries[city]
    area = gdf.to_crs(UTM51N).area / 1e6
    # area_km2 is rounded to 0.01 km² and computed in the city's own UTM zone (51N for both cities)
    assert (abs(area - gdf["area_km2"]) <= 0.006).all(), list(zip(area, gdf["area_km2"], strict=True))


@pytest.mark.parametrize("city", ["fuxin", "panjin"])
def test_read_boundaries_loads_without_repairs(city, recwarn):
    gdf = read_boundaries(GEODATA / city / "boundaries.geojson", "EPSG:4326")
    assert not [w for w in recwarn if "repaired" in str(w.message)]
    assert gdf["adcode"].map(type).eq(str).all()
    assert len(gdf) == len(read_rows(GEODATA / city / "districts.csv"))
