"""End-to-end steps a scenario runs (load → validate → planning units → …), used by the CLI and notebooks."""

from __future__ import annotations

import warnings

import h3
import numpy as np

from ..config.scenario import Scenario
from ..errors import InputError
from ..load.city import CityData
from ..load.readers import read_vector
from .planning_units import PlanningUnits, bridge_exclaves, build_h3_units, build_polygon_units, equal_area_crs
from .population import aggregate_population, model_population


def estimate_h3_units(area_km2: float, lon: float, lat: float, resolution: int) -> int:
    """Cells needed to cover ``area_km2`` at ``resolution``, from the area of the H3 cell at (lon, lat), km²."""
    cell_km2 = h3.cell_area(h3.latlng_to_cell(lat, lon, resolution), unit="km^2")
    return int(np.ceil(area_km2 / cell_km2))


def _check_unit_count(scenario: Scenario, city: CityData) -> None:
    """Refuse before building when the resolution would make more units than ``units.max_units``."""
    area = city.area.to_crs(equal_area_crs(city.area))
    centre = city.area.union_all().representative_point()
    estimate = estimate_h3_units(float(area.area.sum()) / 1e6, centre.x, centre.y, scenario.units.resolution)
    limit = scenario.units.max_units
    if estimate > limit:
        raise InputError(
            scenario.path,
            f"resolution {scenario.units.resolution} would cut the planning area ({area.area.sum() / 1e6:,.0f} km²) "
            f"into about {estimate:,} units, above units.max_units = {limit:,}; choose a coarser resolution "
            "(one step coarser = 7× fewer units) or raise units.max_units knowingly",
            field="units.resolution",
        )


def planning_units(scenario: Scenario, city: CityData) -> PlanningUnits:
    """Build the scenario's planning units with residents, linked across exclaves.

    Population is the planner's (``inputs.population``) when given, else the documented model
    (:func:`simulator.units.population.model_population`); ``population_status`` says which.
    """
    inp = scenario.inputs
    if scenario.units.kind == "h3":
        _check_unit_count(scenario, city)
        units = build_h3_units(city.area, scenario.units.resolution)
    else:
        upath = scenario.input_path(inp.units)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            polys = read_vector(upath, inp.units_crs)
            units = build_polygon_units(polys, city.area, upath, inp.units_id_field)
        units.notes.extend(str(w.message) for w in caught)
    if inp.population:
        ppath = scenario.input_path(inp.population)
        pop, notes = aggregate_population(units, ppath, inp.population_crs, inp.population_field)
        status = "input"
    else:
        pm = scenario.population_model
        pop, notes = model_population(
            units,
            city.districts,
            city.boundaries,
            city.facilities,
            urban_share_district=pm.urban_share_district,
            urban_share_county=pm.urban_share_county,
            seat_bandwidth_km=pm.seat_bandwidth_km,
            facility_bandwidth_km=pm.facility_bandwidth_km,
            facility_weight=pm.facility_weight,
        )
        status = "modelled"
        notes.insert(0, "population per unit is MODELLED from 2020 census district totals "
                        "(see simulator.units.population)")
    source = scenario.input_path(inp.population) if inp.population else scenario.input_path(inp.districts)
    if not np.isfinite(pop).all():
        raise InputError(source, "population aggregation produced non-finite values", field="population")
    if pop.sum() <= 0:
        raise InputError(
            source,
            "the planning area has no residents (population 0 in total); expected population counts > 0 "
            "(an all-zero or all-nodata raster, or a census table of zeros?)",
            field=inp.population_field if inp.population else "population_2020",
        )
    units.gdf["population"] = pop
    units.gdf["population_status"] = status
    units.notes.extend(notes)
    return bridge_exclaves(units)
