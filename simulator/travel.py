"""Travel minutes between planning units and facilities.

Default model: great-circle distance × circuity factor ÷ speed (scenario ``[travel]``: ``circuity`` = 1.3,
``speed_kmh`` = 30). With a road network (a GeoPackage/GeoJSON of lines with a speed field in km/h) the time is
the access leg (straight line × circuity at the same speed to the nearest network node) plus the shortest
network path, computed with ``scipy.sparse.csgraph.dijkstra`` from the facility nodes only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .errors import InputError

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance (km), broadcasting over the inputs (degrees)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def straight_line_minutes(lon1, lat1, lon2, lat2, speed_kmh: float, circuity: float) -> np.ndarray:
    """Minutes for distance × circuity at ``speed_kmh``."""
    return haversine_km(lon1, lat1, lon2, lat2) * circuity / speed_kmh * 60.0


def unit_to_point_minutes(
    unit_lon: np.ndarray,
    unit_lat: np.ndarray,
    pt_lon: np.ndarray,
    pt_lat: np.ndarray,
    speed_kmh: float = 30.0,
    circuity: float = 1.3,
    network=None,
) -> np.ndarray:
    """(n_units, n_points) travel minutes from unit points to facility points."""
    if network is None:
        return straight_line_minutes(
            unit_lon[:, None], unit_lat[:, None], pt_lon[None, :], pt_lat[None, :], speed_kmh, circuity
        )
    return network.minutes(unit_lon, unit_lat, pt_lon, pt_lat, speed_kmh, circuity)


def adjacency_minutes(
    adjacency: sp.csr_matrix, lon: np.ndarray, lat: np.ndarray, speed_kmh: float = 30.0, circuity: float = 1.3
) -> sp.csr_matrix:
    """Adjacency with travel minutes between neighbouring unit points as data (for shortest-path contiguity).

    A tiny floor (0.001 min) keeps zero-length edges (split pieces of one cell) as stored entries.
    """
    coo = sp.triu(adjacency, k=1).tocoo()
    minutes = straight_line_minutes(lon[coo.row], lat[coo.row], lon[coo.col], lat[coo.col], speed_kmh, circuity)
    minutes = np.maximum(minutes, 1e-3)
    m = sp.csr_matrix((minutes, (coo.row, coo.col)), shape=adjacency.shape)
    return (m + m.T).tocsr()


class RoadNetwork:
    """A road graph from line features with a speed (km/h) field; nodes are line end points.

    Parameters
    ----------
    path : GeoPackage / GeoJSON / Shapefile of LineStrings
    speed_field : column with km/h
    """

    def __init__(self, path: str | Path, speed_field: str = "speed_kmh", crs: str | None = None) -> None:
        import shapely

        from .io import read_vector

        path = Path(path)
        lines = read_vector(path, crs)
        if speed_field not in lines.columns:
            raise InputError(path, f"missing column '{speed_field}' (km/h) in the road network", field=speed_field)
        speed = np.asarray(lines[speed_field], dtype=float)
        if not np.all(speed > 0):
            i = int(np.flatnonzero(~(speed > 0))[0])
            raise InputError(path, f"speed must be > 0 km/h, found {speed[i]}", row=f"feature {i}", field=speed_field)
        parts, idx = shapely.get_parts(lines.geometry.to_numpy(), return_index=True)
        coords, cidx = shapely.get_coordinates(parts, return_index=True)
        same = np.r_[cidx[1:] == cidx[:-1], False]
        a, b = coords[:-1][same[:-1]], coords[1:][same[:-1]]
        seg_speed = speed[idx[cidx[:-1][same[:-1]]]]
        keys = np.round(np.vstack([a, b]), 7)
        nodes, inv = np.unique(keys, axis=0, return_inverse=True)
        ia, ib = inv[: len(a)].ravel(), inv[len(a) :].ravel()
        minutes = haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1]) / seg_speed * 60.0
        n = len(nodes)
        g = sp.coo_matrix((np.r_[minutes, minutes], (np.r_[ia, ib], np.r_[ib, ia])), shape=(n, n)).tocsr()
        self.graph, self.nodes, self.tree = g, nodes, cKDTree(nodes * [np.cos(np.radians(nodes[:, 1].mean())), 1])

    def _snap(self, lon, lat):
        scale = np.cos(np.radians(self.nodes[:, 1].mean()))
        _, k = self.tree.query(np.column_stack([np.asarray(lon) * scale, lat]))
        return k

    def minutes(self, unit_lon, unit_lat, pt_lon, pt_lat, speed_kmh: float, circuity: float) -> np.ndarray:
        """Access (straight line) + network shortest path, from the points' nodes only (m Dijkstra runs)."""
        nu, npt = self._snap(unit_lon, unit_lat), self._snap(pt_lon, pt_lat)
        net = dijkstra(self.graph, directed=False, indices=npt)  # (m, nodes)
        access_u = straight_line_minutes(unit_lon, unit_lat, self.nodes[nu, 0], self.nodes[nu, 1], speed_kmh, circuity)
        access_p = straight_line_minutes(pt_lon, pt_lat, self.nodes[npt, 0], self.nodes[npt, 1], speed_kmh, circuity)
        total = net[:, nu].T + access_u[:, None] + access_p[None, :]
        direct = unit_to_point_minutes(unit_lon, unit_lat, pt_lon, pt_lat, speed_kmh, circuity)
        # units cut off from the network fall back to the straight-line time
        return np.where(np.isfinite(total), total, direct)
