"""Travel times: straight line × circuity ÷ speed, and road networks (lines with speeds, osmnx GraphML)."""

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
from shapely.geometry import LineString

from simulator.errors import InputError
from simulator.travel import RoadNetwork, TravelTimes, adjacency_minutes, haversine_km, straight_line_minutes

# one degree of longitude at the equator on a sphere of radius 6371.0088 km
KM_PER_DEG_EQ = 2 * np.pi * 6371.0088 / 360


def test_haversine_against_hand_values():
    assert haversine_km(0, 0, 1, 0) == pytest.approx(KM_PER_DEG_EQ, rel=1e-12)
    assert haversine_km(0, 0, 0, 1) == pytest.approx(KM_PER_DEG_EQ, rel=1e-12)
    # 60° N: a degree of longitude is half as long
    assert haversine_km(0, 60, 0.001, 60) == pytest.approx(0.001 * KM_PER_DEG_EQ / 2, rel=1e-6)


def test_straight_line_minutes_scales_with_circuity_and_speed():
    d = haversine_km(122.0, 41.0, 122.1, 41.0)
    assert straight_line_minutes(122.0, 41.0, 122.1, 41.0, 30, 1.3) == pytest.approx(d * 1.3 / 30 * 60)
    assert straight_line_minutes(122.0, 41.0, 122.1, 41.0, 60, 1.0) == pytest.approx(d)


def test_adjacency_minutes_is_symmetric_with_edge_times():
    adj = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool))
    lon = np.array([0.0, 0.01, 0.03])
    lat = np.zeros(3)
    m = adjacency_minutes(adj, lon, lat, speed_kmh=60, circuity=1.0)
    assert (m != m.T).nnz == 0
    assert m[0, 1] == pytest.approx(0.01 * KM_PER_DEG_EQ)
    assert m[1, 2] == pytest.approx(0.02 * KM_PER_DEG_EQ)
    assert m[0, 2] == 0


def _line_network(tmp_path):
    # a fast road along the equator from lon 0 to 0.1 (60 km/h) and a slow spur north (10 km/h)
    lines = gpd.GeoDataFrame(
        {"speed_kmh": [60.0, 10.0]},
        geometry=[LineString([(0, 0), (0.05, 0), (0.1, 0)]), LineString([(0.05, 0), (0.05, 0.02)])],
        crs="EPSG:4326",
    )
    path = tmp_path / "roads.gpkg"
    lines.to_file(path, layer="roads", driver="GPKG")
    return path


def test_line_network_times_by_hand(tmp_path):
    net = RoadNetwork.load(_line_network(tmp_path))
    # unit exactly on node (0.1, 0); facility on node (0, 0): 0.1° at 60 km/h, no access legs
    got = net.minutes(np.array([0.1]), np.array([0.0]), np.array([0.0]), np.array([0.0]), 30.0, 1.3)
    assert got[0, 0] == pytest.approx(0.1 * KM_PER_DEG_EQ, rel=1e-9)
    # unit at the end of the spur: 0.05° fast + 0.02° slow
    got = net.minutes(np.array([0.05]), np.array([0.02]), np.array([0.0]), np.array([0.0]), 30.0, 1.3)
    expect = 0.05 * KM_PER_DEG_EQ + haversine_km(0.05, 0, 0.05, 0.02) / 10 * 60
    assert got[0, 0] == pytest.approx(expect, rel=1e-6)
    # a unit off the network pays a straight-line access leg to its nearest node
    got = net.minutes(np.array([0.1]), np.array([0.001]), np.array([0.0]), np.array([0.0]), 30.0, 1.3)
    access = haversine_km(0.1, 0.001, 0.1, 0) * 1.3 / 30 * 60
    assert got[0, 0] == pytest.approx(0.1 * KM_PER_DEG_EQ + access, rel=1e-6)


def test_line_network_rejects_bad_speed(tmp_path):
    lines = gpd.GeoDataFrame({"speed_kmh": [0.0]}, geometry=[LineString([(0, 0), (0.1, 0)])], crs="EPSG:4326")
    path = tmp_path / "bad.gpkg"
    lines.to_file(path, driver="GPKG")
    with pytest.raises(InputError, match="speed must be a number > 0") as ei:
        RoadNetwork.load(path)
    assert ei.value.field == "speed_kmh" and ei.value.row == "feature 0"


def _graphml(edges: str, directed: bool = True) -> str:
    """An osmnx-style GraphML file: three nodes on the equator 0.1° apart, the given <edge> elements."""
    return f"""<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="node" attr.name="x" attr.type="string"/>
  <key id="d1" for="node" attr.name="y" attr.type="string"/>
  <key id="d2" for="edge" attr.name="length" attr.type="string"/>
  <key id="d3" for="edge" attr.name="travel_time" attr.type="string"/>
  <key id="d4" for="edge" attr.name="speed_kph" attr.type="string"/>
  <key id="d5" for="edge" attr.name="oneway" attr.type="string"/>
  <graph edgedefault="{'directed' if directed else 'undirected'}">
    <node id="1"><data key="d0">0.0</data><data key="d1">0.0</data></node>
    <node id="2"><data key="d0">0.1</data><data key="d1">0.0</data></node>
    <node id="3"><data key="d0">0.2</data><data key="d1">0.0</data></node>
{edges}
  </graph>
</graphml>
"""


def _arc(u: int, v: int, *, length: float | None = None, seconds: float | None = None, kph: float | None = None,
         oneway: bool = False) -> str:
    data = "".join(
        f'<data key="{k}">{x}</data>'
        for k, x in (("d2", length), ("d3", seconds), ("d4", kph), ("d5", oneway))
        if x is not None
    )
    return f'    <edge source="{u}" target="{v}">{data}</edge>'


def _street(u: int, v: int, **kw) -> str:
    """A two-way street as osmnx stores it: one arc each way, with the same attributes."""
    return _arc(u, v, **kw) + "\n" + _arc(v, u, **kw)


def _minutes(tmp_path, text: str, unit_lon: float, fac_lon: float) -> float:
    path = tmp_path / "city.graphml"
    path.write_text(text, encoding="utf-8")
    net = RoadNetwork.load(path)
    got = net.minutes(np.array([unit_lon]), np.array([0.0]), np.array([fac_lon]), np.array([0.0]), 30.0, 1.3)
    return float(got[0, 0])


def test_osmnx_two_way_street_is_not_doubled(tmp_path):
    # a two-way street of 600 s: osmnx writes two arcs; a resident at either end needs 10 minutes, not 20
    text = _graphml(_street(1, 2, length=11000, seconds=600))
    assert _minutes(tmp_path, text, 0.1, 0.0) == pytest.approx(10.0)
    assert _minutes(tmp_path, text, 0.0, 0.1) == pytest.approx(10.0)


def test_osmnx_times_by_hand(tmp_path):
    # 600 s on the first street (travel_time wins over length), 12 km at 40 km/h on the second
    text = _graphml(_street(1, 2, length=11000, seconds=600) + "\n" + _street(2, 3, length=12000, kph=40))
    assert _minutes(tmp_path, text, 0.2, 0.0) == pytest.approx(10.0 + 12 / 40 * 60)


def test_osmnx_one_way_street_is_honoured(tmp_path):
    # 1 → 2 is a fast one-way street (60 s); back from 2 to 1 only a slow two-way detour via 3 (300 s + 300 s)
    edges = "\n".join([_arc(1, 2, seconds=60, oneway=True), _street(2, 3, seconds=300), _street(3, 1, seconds=300)])
    text = _graphml(edges)
    assert _minutes(tmp_path, text, 0.0, 0.1) == pytest.approx(1.0)  # with the one-way direction
    assert _minutes(tmp_path, text, 0.1, 0.0) == pytest.approx(10.0)  # against it: the detour


def test_osmnx_parallel_arcs_keep_the_fastest(tmp_path):
    edges = "\n".join([_street(1, 2, seconds=600), _street(1, 2, seconds=240)])
    assert _minutes(tmp_path, _graphml(edges), 0.1, 0.0) == pytest.approx(4.0)


def test_undirected_graphml_is_two_way(tmp_path):
    text = _graphml(_arc(1, 2, seconds=600), directed=False)
    assert _minutes(tmp_path, text, 0.1, 0.0) == pytest.approx(10.0)
    assert _minutes(tmp_path, text, 0.0, 0.1) == pytest.approx(10.0)


def test_graphml_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.graphml"
    bad.write_text("<graphml><graph>", encoding="utf-8")
    with pytest.raises(InputError, match="not valid GraphML") as ei:
        RoadNetwork.load(bad)
    assert ei.value.path == str(bad)
    no_xy = _graphml("").replace('<data key="d1">0.0</data></node>\n    <node id="2">', '</node>\n    <node id="2">', 1)
    path = tmp_path / "noxy.graphml"
    path.write_text(no_xy, encoding="utf-8")
    with pytest.raises(InputError, match="x/y") as ei:
        RoadNetwork.load(path)
    assert ei.value.row == "node 1"


def test_line_network_is_two_way(tmp_path):
    net = RoadNetwork.load(_line_network(tmp_path))
    there = net.minutes(np.array([0.1]), np.array([0.0]), np.array([0.0]), np.array([0.0]), 30.0, 1.3)[0, 0]
    back = net.minutes(np.array([0.0]), np.array([0.0]), np.array([0.1]), np.array([0.0]), 30.0, 1.3)[0, 0]
    assert there == pytest.approx(back) == pytest.approx(0.1 * KM_PER_DEG_EQ, rel=1e-9)


class CountingNetwork:
    """Straight-line minutes that count the points of every question (one Dijkstra pass on a real network)."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def minutes(self, unit_lon, unit_lat, pt_lon, pt_lat, speed_kmh, circuity):
        self.calls.append(len(pt_lon))
        return straight_line_minutes(unit_lon[:, None], unit_lat[:, None], pt_lon[None, :], pt_lat[None, :],
                                     speed_kmh, circuity)


def test_travel_times_are_cached_per_facility():
    calls = []
    lon, lat = np.array([0.0, 0.1, 0.2]), np.zeros(3)
    tt = TravelTimes(lon, lat, np.array([0.0, 0.3]), np.zeros(2), 30.0, 1.3, CountingNetwork(calls))
    first = tt.minutes(np.arange(3), np.array([1, 0]))
    again = tt.minutes(np.array([2, 0]), np.array([0]))
    assert calls == [2]  # the second question is answered from the cache
    expect = straight_line_minutes(lon[:, None], lat[:, None], np.array([0.3, 0.0])[None, :], 0.0, 30.0, 1.3)
    np.testing.assert_allclose(first, expect)
    np.testing.assert_allclose(again[:, 0], expect[[2, 0], 1])


def test_a_road_network_answers_every_prefetched_facility_in_one_pass():
    calls = []
    lon, lat = np.array([0.0, 0.1, 0.2]), np.zeros(3)
    fac = np.array([0.0, 0.3, 0.5, 0.7])
    tt = TravelTimes(lon, lat, fac, np.zeros(4), 30.0, 1.3, CountingNetwork(calls), prefetch=np.array([0, 2, 3]))
    tt.minutes(np.arange(3), np.array([1]))
    tt.minutes(np.arange(3), np.array([2, 3, 0]))
    assert calls == [4]  # the first question computed the asked one and the prefetched ones together
    plain = TravelTimes(lon, lat, fac, np.zeros(4), 30.0, 1.3, None, prefetch=np.array([0, 2, 3]))
    plain.minutes(np.arange(3), np.array([1]))
    assert set(plain._columns) == {1}  # straight lines: nothing computed ahead
