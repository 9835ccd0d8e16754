"""Travel minutes between planning units and facilities.

Default model: great-circle distance × circuity factor ÷ speed (scenario ``[travel]``: ``circuity`` = 1.3,
``speed_kmh`` = 30). With a road network (a GeoPackage/GeoJSON of lines with a speed field in km/h) the time is
the access leg (straight line × circuity at the same speed to the nearest network node) plus the shortest
network path, computed with ``scipy.sparse.csgraph.dijkstra`` from the facility nodes only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..errors import InputError

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
    """A road graph: node coordinates (lon, lat) and undirected edges with travel minutes.

    Build it with :meth:`load` from a line file (GeoPackage / GeoJSON / Shapefile with a km/h field; nodes are
    line vertices) or an osmnx GraphML file (edge ``travel_time`` in seconds, else ``length`` in metres at
    ``speed_kph``/``maxspeed``, else the scenario speed).
    """

    def __init__(self, nodes: np.ndarray, u: np.ndarray, v: np.ndarray, minutes: np.ndarray) -> None:
        n = len(nodes)
        g = sp.coo_matrix((np.r_[minutes, minutes], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
        self.graph, self.nodes = g, np.asarray(nodes, dtype=float)
        self._scale = np.cos(np.radians(self.nodes[:, 1].mean()))
        self.tree = cKDTree(self.nodes * [self._scale, 1])

    @classmethod
    def load(
        cls, path: str | Path, speed_field: str = "speed_kmh", crs: str | None = None, default_speed_kmh: float = 30.0
    ) -> RoadNetwork:
        path = Path(path)
        if path.suffix.lower() == ".graphml":
            return cls.from_graphml(path, default_speed_kmh)
        return cls.from_lines(path, speed_field, crs)

    @classmethod
    def from_lines(cls, path: str | Path, speed_field: str = "speed_kmh", crs: str | None = None) -> RoadNetwork:
        import shapely

        from ..load.readers import read_vector

        path = Path(path)
        lines = read_vector(path, crs)
        if speed_field not in lines.columns:
            raise InputError(path, f"missing column '{speed_field}' (km/h) in the road network", field=speed_field)
        speed = np.asarray(pd.to_numeric(lines[speed_field], errors="coerce"), dtype=float)
        if not np.all(speed > 0):
            i = int(np.flatnonzero(~(speed > 0))[0])
            raise InputError(
                path,
                f"speed must be a number > 0 km/h, found {lines[speed_field].iloc[i]!r}",
                row=f"feature {i}",
                field=speed_field,
            )
        parts, idx = shapely.get_parts(lines.geometry.to_numpy(), return_index=True)
        coords, cidx = shapely.get_coordinates(parts, return_index=True)
        same = cidx[1:] == cidx[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        seg_speed = speed[idx[cidx[:-1][same]]]
        nodes, inv = np.unique(np.round(np.vstack([a, b]), 7), axis=0, return_inverse=True)
        inv = inv.ravel()
        minutes = haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1]) / seg_speed * 60.0
        return cls(nodes, inv[: len(a)], inv[len(a) :], minutes)

    @classmethod
    def from_graphml(cls, path: str | Path, default_speed_kmh: float = 30.0) -> RoadNetwork:
        """Read an osmnx GraphML file (node ``x``/``y`` in WGS-84 degrees) with the standard library's XML parser."""
        import xml.etree.ElementTree as ET

        path = Path(path)
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise InputError(path, f"not valid GraphML: {exc}") from exc
        ns = {"g": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
        q = (lambda t: f"g:{t}") if ns else (lambda t: t)
        keys = {k.get("id"): k.get("attr.name") for k in root.iter(f"{{{ns['g']}}}key" if ns else "key")}
        graph = root.find(q("graph"), ns)
        if graph is None:
            raise InputError(path, "no <graph> element in the GraphML file")

        def attrs(el):
            return {keys.get(d.get("key"), d.get("key")): d.text for d in el.findall(q("data"), ns)}

        ids, xy = {}, []
        for k, node in enumerate(graph.findall(q("node"), ns)):
            a = attrs(node)
            if "x" not in a or "y" not in a:
                raise InputError(path, "node without x/y coordinates", row=f"node {node.get('id')}", field="x/y")
            ids[node.get("id")] = k
            xy.append((float(a["x"]), float(a["y"])))
        nodes = np.array(xy)
        u, v, minutes = [], [], []
        for edge in graph.findall(q("edge"), ns):
            a = attrs(edge)
            i, j = ids[edge.get("source")], ids[edge.get("target")]
            if a.get("travel_time"):
                m = float(a["travel_time"]) / 60.0
            else:
                length_km = float(a["length"]) / 1000 if a.get("length") else float(haversine_km(*nodes[i], *nodes[j]))
                speed = a.get("speed_kph") or a.get("maxspeed")
                try:
                    kmh = float(str(speed).split(";")[0]) if speed else default_speed_kmh
                except ValueError:
                    kmh = default_speed_kmh
                m = length_km / kmh * 60.0
            u.append(i)
            v.append(j)
            minutes.append(m)
        return cls(nodes, np.array(u, dtype=np.int64), np.array(v, dtype=np.int64), np.array(minutes))

    def _snap(self, lon, lat):
        _, k = self.tree.query(np.column_stack([np.asarray(lon) * self._scale, lat]))
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
