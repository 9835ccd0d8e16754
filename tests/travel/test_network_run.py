"""A scenario with a road network: travel minutes come from the network, and the plan still verifies."""

from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import LineString

import simulator as cg
from simulator.evaluate.verify import verify_run
from simulator.travel import haversine_km

PANJIN = Path(__file__).resolve().parents[2] / "scenarios" / "panjin.toml"


def test_run_with_a_line_network(tmp_path):
    # a coarse lattice of roads over Panjin (every 0.05°), 60 km/h: network times differ from straight lines
    xs, ys = np.arange(121.70, 122.46, 0.05), np.arange(40.75, 41.36, 0.05)
    lines = [LineString([(x, ys[0]), (x, ys[-1])]) for x in xs] + [LineString([(xs[0], y), (xs[-1], y)]) for y in ys]
    # split into segments between lattice nodes so that crossings are network nodes
    segs = []
    for line in lines:
        c = np.asarray(line.coords)
        n = int(round(max(abs(c[1] - c[0])) / 0.05))
        pts = np.linspace(c[0], c[1], n + 1)
        segs += [LineString([pts[k], pts[k + 1]]) for k in range(n)]
    path = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame({"speed_kmh": np.full(len(segs), 60.0)}, geometry=segs, crs="EPSG:4326").to_file(path)
    sc = cg.load_scenario(PANJIN, {"travel.network": str(path)})
    city = cg.load_city(sc)
    plan = cg.make_plan(sc, city, cg.planning_units(sc, city))
    assert verify_run(cg.write_plan(plan, tmp_path / "run")) == []
    u = plan.units
    lead = plan.facilities.set_index("facility_id").loc[u.lead_facility_id]
    km = haversine_km(u.lon.to_numpy(), u.lat.to_numpy(), lead.lon.to_numpy(), lead.lat.to_numpy())
    straight = km * 1.3 / 30 * 60
    # network time = access legs at 30 km/h × 1.3 + lattice distance at 60 km/h: never below the straight
    # distance at 60 km/h, and different from the straight-line model
    lattice_min = km / 60 * 60
    assert (u.travel_min_to_lead.to_numpy() >= lattice_min * 0.99 - 1e-6).all()
    assert not np.allclose(u.travel_min_to_lead.to_numpy(), straight)
