"""Chinese map datums: GCJ-02 and BD-09 to and from WGS-84, vectorised.

The transform follows the published GCJ-02 formula as implemented in the CC0 package ``prcoords``
(Mingye Wang); the inverse is the same fixed-point iteration as ``prcoords.gcj_wgs_bored`` but run
on numpy arrays, so a boundary or a raster grid with 10^5–10^6 vertices converts in one pass instead
of one Python call per point. ``tests/test_coords.py`` checks it against ``prcoords`` itself.
"""

from __future__ import annotations

import numpy as np

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_DLAT = 0.0060
_BD_DLON = 0.0065


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS-84 longitude/latitude (degrees) to GCJ-02 (degrees)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat_m = (
        -100
        + 2 * x
        + 3 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (
            2 * np.sin(x * 6 * pi)
            + 2 * np.sin(x * 2 * pi)
            + 2 * np.sin(y * pi)
            + 4 * np.sin(y / 3 * pi)
            + 16 * np.sin(y / 12 * pi)
            + 32 * np.sin(y / 30 * pi)
        )
        * 20
        / 3
    )
    dlon_m = (
        300
        + x
        + 2 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (
            2 * np.sin(x * 6 * pi)
            + 2 * np.sin(x * 2 * pi)
            + 2 * np.sin(x * pi)
            + 4 * np.sin(x / 3 * pi)
            + 15 * np.sin(x / 12 * pi)
            + 30 * np.sin(x / 30 * pi)
        )
        * 20
        / 3
    )
    rad_lat = np.radians(lat)
    magic = 1 - _GCJ_EE * np.sin(rad_lat) ** 2
    lat_deg_arclen = np.radians(_GCJ_A * (1 - _GCJ_EE) / magic**1.5)
    lon_deg_arclen = np.radians(_GCJ_A * np.cos(rad_lat) / np.sqrt(magic))
    return lon + dlon_m / lon_deg_arclen, lat + dlat_m / lat_deg_arclen


def _fixed_point_inverse(forward, x, y, x0, y0, tol_deg: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(u, v) = (x, y)`` by the fixed-point iteration u ← u − (forward(u) − x), from (x0, y0)."""
    u, v = x0, y0
    for _ in range(max_iter):
        fx, fy = forward(u, v)
        du, dv = fx - x, fy - y
        u, v = u - du, v - dv
        if du.size == 0 or max(np.abs(du).max(), np.abs(dv).max()) < tol_deg:
            break
    return u, v


def gcj02_to_wgs84(
    lon: np.ndarray, lat: np.ndarray, tol_deg: float = 1e-10, max_iter: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (iterative) inverse of :func:`wgs84_to_gcj02`; converges to ``tol_deg`` (1e-10° ≈ 0.01 mm)."""
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    flon, flat = wgs84_to_gcj02(glon, glat)
    return _fixed_point_inverse(
        wgs84_to_gcj02, glon, glat, glon - (flon - glon), glat - (flat - glat), tol_deg, max_iter
    )


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu BD-09 to GCJ-02 (degrees); accuracy ~1e-7° as in ``prcoords.bd_gcj``."""
    x = np.asarray(lon, dtype=float) - _BD_DLON
    y = np.asarray(lat, dtype=float) - _BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(np.radians(y) * 3000)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(np.radians(x) * 3000)
    return r * np.cos(theta), r * np.sin(theta)


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to Baidu BD-09 (degrees), the forward transform as in ``prcoords.gcj_bd``."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    r = np.hypot(x, y) + 0.00002 * np.sin(np.radians(y) * 3000)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(np.radians(x) * 3000)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02_exact(
    lon: np.ndarray, lat: np.ndarray, tol_deg: float = 1e-10, max_iter: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (iterative) inverse of :func:`gcj02_to_bd09`, started from the closed-form approximation."""
    blon = np.asarray(lon, dtype=float)
    blat = np.asarray(lat, dtype=float)
    return _fixed_point_inverse(gcj02_to_bd09, blon, blat, *bd09_to_gcj02(blon, blat), tol_deg, max_iter)


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu BD-09 to WGS-84 (degrees), exact inverse of WGS-84 → GCJ-02 → BD-09."""
    return gcj02_to_wgs84(*bd09_to_gcj02_exact(lon, lat))


def _shapely_transformer(func):
    def transform(coords: np.ndarray) -> np.ndarray:
        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return transform


def geometries_to_wgs84(geometries, datum: str):
    """Convert an array of shapely geometries given in ``gcj02`` or ``bd09`` to WGS-84."""
    import shapely

    func = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}[datum]
    return shapely.transform(geometries, _shapely_transformer(func))
