"""Straight-line travel minutes: great-circle distance × circuity factor ÷ speed.

Scenario ``[travel]``: ``circuity`` (default 1.3, dimensionless) and ``speed_kmh`` (default 30 km/h).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

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
