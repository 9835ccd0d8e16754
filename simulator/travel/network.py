"""Road networks: travel minutes along roads, with one-way streets honoured.

A network is a directed graph of nodes (lon, lat in WGS-84 degrees) and arcs with travel minutes. The travel time
from a planning unit to a facility is the access leg from the unit to its nearest node (straight line × circuity at
the scenario speed), the shortest path along the arcs, and the access leg from the facility's nearest node. Shortest
paths are computed with ``scipy.sparse.csgraph.dijkstra`` on the reversed graph from the facility nodes only, which
gives the time *to* each facility from every node (the direction residents travel).

Two readers:

* line files (GeoPackage / GeoJSON / Shapefile) with a speed field in km/h: nodes are line vertices, every segment
  can be driven both ways (a line file has no direction convention);
* osmnx GraphML files, read with ``networkx``: osmnx stores a two-way street as two arcs (u→v and v→u) and a one-way
  street as one arc; parallel arcs between the same nodes keep the fastest (as ``osmnx.convert.to_digraph`` does).
  Arc minutes come from ``travel_time`` (seconds), else ``length`` (metres) at ``speed_kph``/``maxspeed``, else at
  the scenario speed. A GraphML file declared undirected is driven both ways.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..errors import InputError
from .straight_line import haversine_km, straight_line_minutes, unit_to_point_minutes


def _fastest_arcs(u: np.ndarray, v: np.ndarray, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep one arc per ordered node pair, the fastest (a sparse matrix would otherwise sum parallel arcs)."""
    order = np.lexsort((minutes, v, u))
    u, v, minutes = u[order], v[order], minutes[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return u[first], v[first], minutes[first]


class RoadNetwork:
    """A directed road graph.

    Parameters
    ----------
    nodes : np.ndarray
        (k, 2) node coordinates, lon/lat in WGS-84 degrees.
    u, v : np.ndarray
        (a,) arc tails and heads (node indices); an arc is driven from ``u`` to ``v`` only.
    minutes : np.ndarray
        (a,) travel minutes of each arc (> 0). Parallel arcs keep the fastest.
    """

    def __init__(self, nodes: np.ndarray, u: np.ndarray, v: np.ndarray, minutes: np.ndarray) -> None:
        n = len(nodes)
        u, v, minutes = _fastest_arcs(np.asarray(u), np.asarray(v), np.asarray(minutes, dtype=float))
        self.graph = sp.csr_matrix((minutes, (u, v)), shape=(n, n))
        self.nodes = np.asarray(nodes, dtype=float)
        self._scale = np.cos(np.radians(self.nodes[:, 1].mean()))
        self.tree = cKDTree(self.nodes * [self._scale, 1])

    @classmethod
    def load(
        cls, path: str | Path, speed_field: str = "speed_kmh", crs: str | None = None, default_speed_kmh: float = 30.0
    ) -> RoadNetwork:
        """Read a line file or an osmnx GraphML file (by suffix ``.graphml``)."""
        path = Path(path)
        if path.suffix.lower() == ".graphml":
            return cls.from_graphml(path, default_speed_kmh)
        return cls.from_lines(path, speed_field, crs)

    @classmethod
    def from_lines(cls, path: str | Path, speed_field: str = "speed_kmh", crs: str | None = None) -> RoadNetwork:
        """Line file with a speed field (km/h); every segment is two-way."""
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
        tail, head = inv[: len(a)], inv[len(a) :]
        minutes = haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1]) / seg_speed * 60.0
        return cls(nodes, np.r_[tail, head], np.r_[head, tail], np.r_[minutes, minutes])

    @classmethod
    def from_graphml(cls, path: str | Path, default_speed_kmh: float = 30.0) -> RoadNetwork:
        """osmnx GraphML (node ``x``/``y`` in WGS-84 degrees), read with networkx; one-way arcs stay one-way."""
        import networkx as nx

        path = Path(path)
        try:
            g = nx.read_graphml(path, force_multigraph=True)
        except (nx.NetworkXError, SyntaxError, ValueError, OSError) as exc:
            # ElementTree's ParseError is a SyntaxError
            raise InputError(path, f"not valid GraphML: {exc}") from exc
        ids = {node: k for k, node in enumerate(g.nodes)}
        try:
            nodes = np.array([(float(d["x"]), float(d["y"])) for _, d in g.nodes(data=True)], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            bad = next(n for n, d in g.nodes(data=True) if not _has_xy(d))
            raise InputError(path, "node without numeric x/y coordinates", row=f"node {bad}", field="x/y") from exc
        if len(nodes) == 0:
            raise InputError(path, "the GraphML file has no nodes")
        edges = list(g.edges(data=True))
        u = np.array([ids[a] for a, _, _ in edges], dtype=np.int64)
        v = np.array([ids[b] for _, b, _ in edges], dtype=np.int64)
        minutes = np.array([_arc_minutes(d, nodes[i], nodes[j], default_speed_kmh) for (_, _, d), i, j in
                            zip(edges, u, v, strict=True)], dtype=float)
        if not g.is_directed():
            u, v, minutes = np.r_[u, v], np.r_[v, u], np.r_[minutes, minutes]
        return cls(nodes, u, v, minutes)

    def _snap(self, lon, lat):
        _, k = self.tree.query(np.column_stack([np.asarray(lon) * self._scale, lat]))
        return k

    def minutes(self, unit_lon, unit_lat, pt_lon, pt_lat, speed_kmh: float, circuity: float) -> np.ndarray:
        """(n_units, n_points) minutes from each unit to each point: access legs + shortest path to the point.

        Dijkstra runs once per point (on the reversed graph), never per unit. Units that cannot reach a point
        along the network fall back to the straight-line time.
        """
        nu, npt = self._snap(unit_lon, unit_lat), self._snap(pt_lon, pt_lat)
        to_point = dijkstra(self.graph.T.tocsr(), directed=True, indices=npt)  # (m, nodes): node → point
        access_u = straight_line_minutes(unit_lon, unit_lat, self.nodes[nu, 0], self.nodes[nu, 1], speed_kmh, circuity)
        access_p = straight_line_minutes(pt_lon, pt_lat, self.nodes[npt, 0], self.nodes[npt, 1], speed_kmh, circuity)
        total = to_point[:, nu].T + access_u[:, None] + access_p[None, :]
        direct = unit_to_point_minutes(unit_lon, unit_lat, pt_lon, pt_lat, speed_kmh, circuity)
        return np.where(np.isfinite(total), total, direct)


def _has_xy(d: dict) -> bool:
    try:
        float(d["x"]), float(d["y"])
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _first_number(value) -> float | None:
    """osmnx may store lists as text ('[50, 60]') or OSM values like '50;60': take the first number."""
    if value is None:
        return None
    text = str(value).strip("[] ").replace(";", ",").split(",")[0].strip().strip("'\"")
    try:
        x = float(text)
    except ValueError:
        return None
    return x if np.isfinite(x) and x > 0 else None


def _arc_minutes(d: dict, a: np.ndarray, b: np.ndarray, default_speed_kmh: float) -> float:
    seconds = _first_number(d.get("travel_time"))
    if seconds is not None:
        return seconds / 60.0
    metres = _first_number(d.get("length"))
    km = metres / 1000 if metres is not None else float(haversine_km(*a, *b))
    kmh = _first_number(d.get("speed_kph")) or _first_number(d.get("maxspeed")) or default_speed_kmh
    return km / kmh * 60.0
