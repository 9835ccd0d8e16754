"""caregrid: grids 网格 and tight urban medical groups 紧密型城市医疗集团 for health-system planners.

The public API follows the data flow load → validate → planning units → travel → optimise → evaluate → render::

    import simulator as cg
    scenario = cg.load_scenario("scenarios/panjin.toml")
    city = cg.load_city(scenario)
    units = cg.planning_units(scenario, city)
    plan = cg.make_plan(scenario, city, units)
    cg.write_plan(plan, "out/panjin")
"""

from .compare import compare_runs, write_comparison
from .config.rules import load_rules
from .config.scenario import Scenario, load_scenario
from .ensemble import run_ensemble
from .errors import InputError, PlanningError
from .evaluate.indicators import compute_indicators
from .load.city import CityData, load_city
from .optimise import ModelSpec, assign_units_to_grids, diagnose_infeasibility
from .plan.make import Plan
from .render.report import write_report
from .runfolder.writer import write_plan
from .sweep import run_sweep
from .units.pipeline import planning_units
from .units.planning_units import PlanningUnits, build_h3_units, build_polygon_units
from .workflow import make_plan

__all__ = [
    "CityData",
    "InputError",
    "ModelSpec",
    "Plan",
    "PlanningError",
    "PlanningUnits",
    "Scenario",
    "assign_units_to_grids",
    "build_h3_units",
    "build_polygon_units",
    "compare_runs",
    "compute_indicators",
    "diagnose_infeasibility",
    "load_city",
    "load_rules",
    "load_scenario",
    "make_plan",
    "planning_units",
    "run_ensemble",
    "run_sweep",
    "write_comparison",
    "write_plan",
    "write_report",
]
