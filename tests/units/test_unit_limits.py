"""Refusals before the work starts: too many units for the resolution, and a planning area without residents."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_csv

import simulator as cg
from simulator.errors import InputError
from simulator.units.pipeline import estimate_h3_units

PANJIN = Path(__file__).resolve().parents[2] / "scenarios" / "panjin.toml"


def test_too_many_units_are_refused_before_building():
    sc = cg.load_scenario(PANJIN, {"units.max_units": 500})  # Panjin's urban area at resolution 7 is ~900 units
    city = cg.load_city(sc)
    with pytest.raises(InputError, match=r"about [0-9,]+ units, above units\.max_units = 500") as ei:
        cg.planning_units(sc, city)
    assert ei.value.field == "units.resolution"
    units = cg.planning_units(cg.load_scenario(PANJIN, {"units.max_units": 2000}), city)
    assert 500 < len(units) <= 2000


def test_unit_estimate_is_close_to_the_units_built():
    sc = cg.load_scenario(PANJIN)
    city = cg.load_city(sc)
    built = len(cg.planning_units(sc, city))
    area = city.area.to_crs(cg.units.planning_units.equal_area_crs(city.area)).area.sum() / 1e6
    centre = city.area.union_all().representative_point()
    estimate = estimate_h3_units(area, centre.x, centre.y, 7)
    # the estimate ignores the extra pieces of cells split at district edges: within 25 % below the count
    assert 0.75 * built <= estimate <= built


def test_a_planning_area_without_residents_is_an_input_error(tmp_path):
    sc = cg.load_scenario(PANJIN)
    city = cg.load_city(sc)
    seat = city.districts.iloc[0]
    points = write_csv(
        tmp_path / "pop.csv",
        [{"lon": str(seat["seat_lon"]), "lat": str(seat["seat_lat"]), "population": "0"}],
    )
    sc = cg.load_scenario(PANJIN, {"inputs.population": str(points), "inputs.population_crs": "EPSG:4326"})
    with pytest.raises(InputError, match="no residents") as ei:
        cg.planning_units(sc, city)
    assert ei.value.path == str(points) and ei.value.field == "population"
