"""CRS handling: simulator.load.coords against prcoords (the reference implementation), and datum conversion on load."""

from __future__ import annotations

import numpy as np
import prcoords
import pyproj
import pytest
from conftest import FACILITY_ROWS

from simulator.load import coords as coords
from simulator.load.readers import read_facilities

N = 1000
TOL_DEG = 1e-7


@pytest.fixture(scope="module")
def liaoning_points():
    """1,000 random WGS-84 points in Liaoning's bounding box (fixed seed)."""
    rng = np.random.default_rng(20240611)
    lon = rng.uniform(118.8, 125.8, N)
    lat = rng.uniform(38.7, 43.5, N)
    return lon, lat


def _prc(func, lon, lat):
    """Apply a prcoords function point by point; prcoords takes and returns (lat, lon)."""
    out = np.array([func((la, lo)) for lo, la in zip(lon, lat, strict=True)])
    return out[:, 1], out[:, 0]


def test_wgs84_to_gcj02_matches_prcoords(liaoning_points):
    lon, lat = liaoning_points
    got = coords.wgs84_to_gcj02(lon, lat)
    ref = _prc(lambda p: prcoords.wgs_gcj(p, False), lon, lat)
    assert np.abs(got[0] - ref[0]).max() < TOL_DEG
    assert np.abs(got[1] - ref[1]).max() < TOL_DEG
    # the shift itself is hundreds of metres, so agreement is not trivial
    assert np.abs(got[0] - lon).min() > 1e-3


def test_gcj02_to_wgs84_matches_prcoords_exact_inverse(liaoning_points):
    glon, glat = _prc(lambda p: prcoords.wgs_gcj(p, False), *liaoning_points)
    got = coords.gcj02_to_wgs84(glon, glat)
    ref = _prc(lambda p: prcoords.gcj_wgs_bored(p, False), glon, glat)
    assert np.abs(got[0] - ref[0]).max() < TOL_DEG
    assert np.abs(got[1] - ref[1]).max() < TOL_DEG
    # and it really inverts the forward shift (back to the original points)
    assert np.abs(got[0] - liaoning_points[0]).max() < 1e-9
    assert np.abs(got[1] - liaoning_points[1]).max() < 1e-9


def test_bd09_to_gcj02_matches_prcoords(liaoning_points):
    blon, blat = _prc(lambda p: prcoords.wgs_bd(p, False), *liaoning_points)
    got = coords.bd09_to_gcj02(blon, blat)
    ref = _prc(prcoords.bd_gcj, blon, blat)
    assert np.abs(got[0] - ref[0]).max() < TOL_DEG
    assert np.abs(got[1] - ref[1]).max() < TOL_DEG
    # BD-09 sits about 1 km from WGS-84: a no-op would fail above
    assert np.abs(blon - liaoning_points[0]).min() > 1e-3


def test_bd09_to_wgs84_is_exact(liaoning_points):
    lon, lat = liaoning_points
    blon, blat = _prc(lambda p: prcoords.wgs_bd(p, False), lon, lat)
    got = coords.bd09_to_wgs84(blon, blat)
    assert np.abs(got[0] - lon).max() < TOL_DEG
    assert np.abs(got[1] - lat).max() < TOL_DEG
    # prcoords' own iterative inverse is within ~2e-7° of the truth
    ref = _prc(lambda p: prcoords.bd_wgs_bored(p, False), blon, blat)
    assert np.abs(got[1] - ref[1]).max() < 3e-7


def test_empty_arrays_convert():
    lon, lat = coords.gcj02_to_wgs84(np.array([]), np.array([]))
    assert lon.shape == (0,) and lat.shape == (0,)


# three real Fuxin locations (WGS-84): 海州区 seat, 清河门区, 细河区
WGS = np.array([[121.65227, 42.009083], [121.4163, 41.7813], [121.6100, 42.0500]])


def _facility_rows(lon, lat):
    return [
        dict(FACILITY_ROWS[0], facility_id=f"C-{i}", lon=f"{x:.9f}", lat=f"{y:.9f}")
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]


def _bd_by_hand(p, _check=False):
    # prcoords' iterative inverse of its own WGS-84 → BD-09 forward transform
    return prcoords.bd_wgs_bored(p, False)


@pytest.mark.parametrize(
    ("crs", "forward", "inverse", "truth_tol"),
    [
        ("gcj02", prcoords.wgs_gcj, prcoords.gcj_wgs_bored, TOL_DEG),
        ("GCJ-02", prcoords.wgs_gcj, prcoords.gcj_wgs_bored, TOL_DEG),
        ("bd09", prcoords.wgs_bd, _bd_by_hand, TOL_DEG),
    ],
)
def test_facility_csv_in_chinese_datum_loads_to_wgs84(facility_csv, crs, forward, inverse, truth_tol):
    src_lon, src_lat = _prc(lambda p: forward(p, False), WGS[:, 0], WGS[:, 1])
    path = facility_csv(rows=_facility_rows(src_lon, src_lat))
    gdf = read_facilities(path, crs)
    by_hand = _prc(lambda p: inverse(p, False), src_lon, src_lat)
    np.testing.assert_allclose(gdf["lon"].to_numpy(), by_hand[0], atol=TOL_DEG, rtol=0)
    np.testing.assert_allclose(gdf["lat"].to_numpy(), by_hand[1], atol=TOL_DEG, rtol=0)
    np.testing.assert_allclose(gdf.geometry.x.to_numpy(), WGS[:, 0], atol=truth_tol, rtol=0)
    np.testing.assert_allclose(gdf.geometry.y.to_numpy(), WGS[:, 1], atol=truth_tol, rtol=0)
    assert gdf.crs.to_epsg() == 4326


def test_facility_csv_in_utm_loads_to_wgs84(facility_csv):
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)
    x, y = to_utm.transform(WGS[:, 0], WGS[:, 1])
    rows = [
        {k: v for k, v in r.items() if k not in ("lon", "lat")} | {"x": f"{a:.4f}", "y": f"{b:.4f}"}
        for r, a, b in zip(_facility_rows(x, y), x, y, strict=True)
    ]
    fields = [f for f in rows[0]]
    path = facility_csv(rows=rows, fields=fields)
    gdf = read_facilities(path, "EPSG:32651")
    np.testing.assert_allclose(gdf["lon"].to_numpy(), WGS[:, 0], atol=1e-8, rtol=0)
    np.testing.assert_allclose(gdf["lat"].to_numpy(), WGS[:, 1], atol=1e-8, rtol=0)


def test_wgs84_csv_is_not_shifted(facility_csv):
    path = facility_csv(rows=_facility_rows(WGS[:, 0], WGS[:, 1]))
    gdf = read_facilities(path, "EPSG:4326")
    np.testing.assert_array_equal(gdf["lon"].to_numpy(), WGS[:, 0])
    np.testing.assert_array_equal(gdf["lat"].to_numpy(), WGS[:, 1])
