"""The same facilities read identically from GeoJSON, GeoPackage, Shapefile and CSV; a Shapefile without .prj
and no CRS given is an error."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from simulator.errors import InputError
from simulator.load.readers import read_boundaries, read_facilities

ROWS = pd.DataFrame(
    {
        "facility_id": ["A", "B", "C"],
        "name": ["甲医院", "乙医院", "丙社区卫生服务中心"],
        "level": ["tertiary", "secondary", "primary"],
        "kind": ["general", "general", "community_health_centre"],
        "beds": [800.0, 200.0, np.nan],
    }
)
LON = np.array([122.05, 122.07, 122.10])
LAT = np.array([41.12, 41.15, 41.10])


def _gdf(crs="EPSG:4326"):
    return gpd.GeoDataFrame(ROWS.copy(), geometry=[Point(x, y) for x, y in zip(LON, LAT, strict=True)], crs=crs)


@pytest.mark.parametrize(("suffix", "driver"), [(".geojson", "GeoJSON"), (".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_vector_formats_read_the_same_points(tmp_path, suffix, driver):
    path = tmp_path / f"fac{suffix}"
    _gdf().to_file(path, driver=driver)
    got = read_facilities(path)
    assert list(got.facility_id) == ["A", "B", "C"]
    np.testing.assert_allclose(got.lon, LON, atol=1e-9)
    np.testing.assert_allclose(got.lat, LAT, atol=1e-9)
    assert got.beds.iloc[0] == 800 and np.isnan(got.beds.iloc[2])
    assert list(got.name) == list(ROWS.name)


def test_projected_geopackage_is_reprojected(tmp_path):
    path = tmp_path / "fac_utm.gpkg"
    _gdf().to_crs("EPSG:32651").to_file(path, driver="GPKG")
    got = read_facilities(path)
    np.testing.assert_allclose(got.lon, LON, atol=1e-7)


def test_csv_reads_the_same_points(tmp_path):
    path = tmp_path / "fac.csv"
    ROWS.assign(lon=LON, lat=LAT).to_csv(path, index=False)
    got = read_facilities(path, "EPSG:4326")
    np.testing.assert_allclose(got.lon, LON)


def test_shapefile_without_prj_needs_a_crs(tmp_path):
    path = tmp_path / "fac.shp"
    _gdf().to_file(path, driver="ESRI Shapefile")
    (tmp_path / "fac.prj").unlink()
    with pytest.raises(InputError, match="no coordinate reference system") as ei:
        read_facilities(path)
    assert ei.value.path == str(path) and ei.value.field == "crs"
    got = read_facilities(path, "EPSG:4326")  # given explicitly, it loads
    np.testing.assert_allclose(got.lat, LAT, atol=1e-9)


def test_boundaries_from_geopackage(tmp_path):
    path = tmp_path / "b.gpkg"
    gpd.GeoDataFrame({"adcode": ["1", "2"], "name": ["东区", "西区"]},
                     geometry=[box(122, 41, 122.1, 41.1), box(122.1, 41, 122.2, 41.1)], crs="EPSG:4326").to_file(path)
    got = read_boundaries(path)
    assert list(got.adcode) == ["1", "2"] and got.geometry.is_valid.all()


def test_shapefile_keeps_capability_flags_truncated_to_ten_characters(tmp_path):
    """A Shapefile cuts maternal_critical to maternal_c: the flag must be restored, not silently lost as no data."""
    path = tmp_path / "fac.shp"
    with pytest.warns(UserWarning):  # the driver says it truncates the field names
        _gdf().assign(maternal_critical=["true", "false", ""], fever_clinic=["1", "0", "1"]).to_file(path)
    got = read_facilities(path)
    assert got["maternal_critical"].iloc[:2].tolist() == [1.0, 0.0] and np.isnan(got["maternal_critical"].iloc[2])
    assert got["fever_clinic"].tolist() == [1.0, 0.0, 1.0]
