"""Travel times: straight line × circuity ÷ speed, and road networks (lines with speeds, osmnx GraphML)."""

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
from shapely.geometry import LineString

from simulator.errors import InputError
from simulator.travel.costs import RoadNetwork, adjacency_minutes, haversine_km, straight_line_minutes

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


GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="node" attr.name="x" attr.type="string"/>
  <key id="d1" for="node" attr.name="y" attr.type="string"/>
  <key id="d2" for="edge" attr.name="length" attr.type="string"/>
  <key id="d3" for="edge" attr.name="travel_time" attr.type="string"/>
  <key id="d4" for="edge" attr.name="speed_kph" attr.type="string"/>
  <graph edgedefault="directed">
    <node id="1"><data key="d0">0.0</data><data key="d1">0.0</data></node>
    <node id="2"><data key="d0">0.1</data><data key="d1">0.0</data></node>
    <node id="3"><data key="d0">0.2</data><data key="d1">0.0</data></node>
    <edge source="1" target="2"><data key="d2">11000</data><data key="d3">600</data></edge>
    <edge source="2" target="3"><data key="d2">12000</data><data key="d4">40</data></edge>
  </graph>
</graphml>
"""


def test_osmnx_graphml_times_by_hand(tmp_path):
    path = tmp_path / "city.graphml"
    path.write_text(GRAPHML, encoding="utf-8")
    net = RoadNetwork.load(path)
    got = net.minutes(np.array([0.2]), np.array([0.0]), np.array([0.0]), np.array([0.0]), 30.0, 1.3)
    # 600 s on the first edge (travel_time wins), 12 km at 40 km/h on the second
    assert got[0, 0] == pytest.approx(10.0 + 12 / 40 * 60)
