"""The stages in order for one scenario: plan (:mod:`simulator.plan`), evaluate (:mod:`simulator.evaluate`), and
the run record's closing facts. ``caregrid run`` and ``caregrid sweep`` call :func:`make_plan`, then write it."""

from __future__ import annotations

import time

from .config.scenario import Scenario
from .evaluate.evaluation import evaluate_plan
from .load.city import CityData
from .plan.make import Plan, build_plan
from .runfolder.writer import versions
from .units.planning_units import PlanningUnits


def make_plan(scenario: Scenario, city: CityData, units: PlanningUnits, *, repair: bool = False) -> Plan:
    """Make the scenario's plan and evaluate it (everything the run folder holds).

    Parameters
    ----------
    scenario, city, units : from :func:`simulator.load_scenario`, :func:`simulator.load_city`,
        :func:`simulator.planning_units`
    repair : given layout: find the compliant plan that moves the fewest residents

    Raises
    ------
    PlanningError
        no plan satisfies the rules (``exc.rule_ids`` names the failing rules)
    InputError
        the scenario names unknown leads or an unreadable layout
    """
    t0 = time.perf_counter()
    plan = evaluate_plan(build_plan(scenario, city, units, repair=repair), city)
    record = plan.record
    uid = plan.units["unit_id"]
    record["bridges"] = [
        {"unit_a": uid.iat[int(a)], "unit_b": uid.iat[int(b)], "km": float(d)} for a, b, d in plan.bridges
    ]
    record["notes"] = plan.notes + city.notes
    record["changes"] = city.changes  # the what-if changes applied to the facilities (scenario [[changes]])
    record["versions"] = versions()
    # an optimised plan already holds the solver's timings: total_s joins them
    record["timings"] = dict(record.get("timings") or {}, total_s=time.perf_counter() - t0)
    return plan
