"""End-to-end steps a scenario runs (load → validate → planning units → …), used by the CLI and notebooks."""

from __future__ import annotations

import warnings

import numpy as np

from ..config.scenario import Scenario
from ..errors import InputError
from ..load.city import CityData
from ..load.readers import read_vector
from .planning_units import PlanningUnits, bridge_exclaves, build_h3_units, build_polygon_units
from .population import aggregate_population, model_population


def planning_units(scenario: Scenario, city: CityData) -> PlanningUnits:
    """Build the scenario's planning units with residents, linked across exclaves.

    Population is the planner's (``inputs.population``) when given, else the documented model
    (:func:`simulator.population.model_population`); ``population_status`` says which.
    """
    inp = scenario.inputs
    if scenario.units.kind == "h3":
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
        notes.insert(0, "population per unit is MODELLED from 2020 census district totals (see simulator.population)")
    if not np.isfinite(pop).all():
        raise InputError(inp.population, "population aggregation produced non-finite values", field="population")
    units.gdf["population"] = pop
    units.gdf["population_status"] = status
    units.notes.extend(notes)
    return bridge_exclaves(units)
