"""Planner-supplied polygons as planning units, end to end: the same plan as the equivalent H3 units."""

from pathlib import Path

import geopandas as gpd
import pandas as pd

import simulator as cg
from simulator.evaluate.verify import verify_run

PANJIN = Path(__file__).resolve().parents[2] / "scenarios" / "panjin.toml"


def test_polygon_units_reproduce_the_h3_plan(tmp_path):
    base = cg.load_scenario(PANJIN)
    city = cg.load_city(base)
    h3_units = cg.planning_units(base, city)
    # the planner's "communities": exactly the H3 units, written as polygons with their own ids
    polys = h3_units.gdf[["unit_id", "geometry"]].rename(columns={"unit_id": "community"})
    path = tmp_path / "communities.gpkg"
    polys.to_file(path, layer="communities", driver="GPKG")
    sc = cg.load_scenario(PANJIN, {"units.kind": "polygons", "inputs.units": str(path),
                                   "inputs.units_id_field": "community"})
    city2 = cg.load_city(sc)
    units = cg.planning_units(sc, city2)
    assert len(units) == len(h3_units)
    assert units.gdf.population.sum() == h3_units.gdf.population.sum()
    # same adjacency (as unit-id pairs) up to the geometric test's tolerance: at most 1 % of edges differ
    def pairs(u):
        coo = u.adjacency.tocoo()
        ids = u.gdf.unit_id.to_numpy()
        return {tuple(sorted((ids[a], ids[b]))) for a, b in zip(coo.row, coo.col, strict=True)}

    a, b = pairs(h3_units), pairs(units)
    assert len(a ^ b) <= 0.01 * len(a)
    plan = cg.make_plan(sc, city2, units)
    out = cg.write_plan(plan, tmp_path / "run")
    assert verify_run(out) == []
    ref = cg.make_plan(base, cg.load_city(base), h3_units)
    got = plan.units.set_index("unit_id").lead_facility_id
    want = ref.units.set_index("unit_id").lead_facility_id
    agree = (got.reindex(want.index) == want).mean()
    assert agree > 0.99
    assert set(pd.unique(plan.grids.lead_facility_id)) == set(pd.unique(ref.grids.lead_facility_id))
    assert isinstance(plan.units, gpd.GeoDataFrame)
