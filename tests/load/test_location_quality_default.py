"""A planner's facility file without ``location_quality`` gives real coordinates: its facilities count as exact."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import Point

from simulator.load.validate import validate_facilities
from simulator.runfolder.schema import EXACT_LOCATIONS


def _facilities(**extra: list) -> gpd.GeoDataFrame:
    cols = {
        "facility_id": ["H1", "C1", "M1"],
        "name": ["甲市第一医院", "甲区社区卫生服务中心", "模拟社区卫生服务中心"],
        "level": ["tertiary", "primary", "primary"],
        "kind": ["general", "community_health_centre", "community_health_centre"],
        "modelled": ["false", "false", "true"],
        **extra,
    }
    return gpd.GeoDataFrame(cols, geometry=[Point(122.0, 41.0), Point(122.1, 41.1), Point(122.2, 41.2)], crs=4326)


def test_file_without_the_column_counts_as_exact():
    out = validate_facilities(_facilities(), "planner.csv")
    assert list(out["location_quality"]) == ["exact", "exact", "modelled"]
    assert out["location_quality"].iloc[:2].isin(EXACT_LOCATIONS).all()  # drawn solid, not dashed "approximate"


def test_file_with_the_column_keeps_its_values():
    given = ["district_seat", "exact", "modelled"]
    out = validate_facilities(_facilities(location_quality=given), "planner.csv")
    assert list(out["location_quality"]) == given
    assert out["location_quality"].iloc[0] not in EXACT_LOCATIONS
