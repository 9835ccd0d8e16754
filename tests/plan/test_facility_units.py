"""Which planning unit a facility stands in, including a facility equidistant from two units."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from shapely.geometry import Point, box

from simulator.plan.groups import facility_units


def test_facility_between_two_units_takes_the_lower_index():
    units = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1), box(0, 2, 1, 3)], crs="EPSG:4326")
    facilities = gpd.GeoDataFrame(
        {"in_area": [True, True, True, False]},
        geometry=[Point(1.5, 0.5), Point(2.5, 0.5), Point(0.5, 1.5), Point(9, 9)],  # gap, inside, gap, outside
        crs="EPSG:4326",
    )
    np.testing.assert_array_equal(facility_units(facilities, units), [0, 1, 0, -1])
