"""Travel minutes of one run, computed once and reused (pre-checks, optimiser, groups and indicators ask again)."""

from __future__ import annotations

import numpy as np

from .network import RoadNetwork
from .straight_line import unit_to_point_minutes


class TravelTimes:
    """Minutes from planning units to facilities, cached per facility.

    Parameters
    ----------
    unit_lon, unit_lat : np.ndarray
        (n,) representative point of every planning unit, WGS-84 degrees.
    fac_lon, fac_lat : np.ndarray
        (f,) facility locations, WGS-84 degrees.
    speed_kmh : float
        straight-line (and access-leg) speed, km/h.
    circuity : float
        road distance ÷ great-circle distance (≥ 1, dimensionless).
    network : RoadNetwork, optional
        road network; ``None`` = straight lines only.
    prefetch : np.ndarray, optional
        facility indices a run will ask for (e.g. every facility in the planning area): with a road network the first
        question computes them all in one multi-source Dijkstra pass instead of one pass per later question.
    """

    def __init__(
        self,
        unit_lon: np.ndarray,
        unit_lat: np.ndarray,
        fac_lon: np.ndarray,
        fac_lat: np.ndarray,
        speed_kmh: float,
        circuity: float,
        network: RoadNetwork | None = None,
        prefetch: np.ndarray | None = None,
    ) -> None:
        self.unit_lon = np.asarray(unit_lon, dtype=float)
        self.unit_lat = np.asarray(unit_lat, dtype=float)
        self.fac_lon = np.asarray(fac_lon, dtype=float)
        self.fac_lat = np.asarray(fac_lat, dtype=float)
        self.speed_kmh, self.circuity, self.network = speed_kmh, circuity, network
        # facility index → (n_units,) minutes; a road network's Dijkstra runs once per facility per run
        self._columns: dict[int, np.ndarray] = {}
        self._prefetch = None if prefetch is None or network is None else np.asarray(prefetch, dtype=np.int64)

    def _fill(self, fac_idx: np.ndarray) -> None:
        if self._prefetch is not None:
            fac_idx, self._prefetch = np.concatenate([fac_idx, self._prefetch]), None
        todo = np.array(sorted(set(fac_idx.tolist()) - self._columns.keys()), dtype=np.int64)
        if todo.size == 0:
            return
        block = unit_to_point_minutes(
            self.unit_lon, self.unit_lat, self.fac_lon[todo], self.fac_lat[todo],
            self.speed_kmh, self.circuity, self.network,
        )
        for k, j in enumerate(todo.tolist()):
            self._columns[j] = block[:, k]

    def minutes(self, unit_idx, fac_idx) -> np.ndarray:
        """(len(unit_idx), len(fac_idx)) minutes from the given units to the given facilities."""
        fac_idx = np.atleast_1d(np.asarray(fac_idx, dtype=np.int64))
        self._fill(fac_idx)
        if fac_idx.size == 0:
            return np.zeros((len(np.atleast_1d(self.unit_lon[unit_idx])), 0))
        cols = np.column_stack([self._columns[j] for j in fac_idx.tolist()])
        return cols[unit_idx]
