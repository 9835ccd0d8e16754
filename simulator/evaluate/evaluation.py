"""Evaluate a plan: the rule checks (``compliance.csv``) and the indicators (``indicators.csv``), both from one
:class:`~.partition.GridPartition` worth of facts, and the run record's summary of the checks."""

from __future__ import annotations

from ..config.centres import centre_rules_name, load_service_lines
from ..config.rules import STATUSES, Switches, failed_checks, load_rules
from ..config.targets import load_targets
from ..load.city import CityData
from ..plan.family_doctors import FamilyDoctorNorm, allocate_to_teams, family_doctor_figures, family_doctor_needs
from ..plan.make import Plan
from .compliance import compliance_table
from .emergency import evaluate_emergency
from .equity import district_indicators, service_lines
from .indicators import compute_indicators


def census_population(city: CityData, population_status: str) -> int | None:
    """Residents the grids must cover: the census total of the planning area when the unit population is modelled
    from it (``None``: the units' own population is the total)."""
    if population_status != "modelled":
        return None
    d = city.districts
    return int(d.loc[d["adcode"].isin(city.area["adcode"]), "population_2020"].sum())


def evaluate_plan(plan: Plan, city: CityData) -> Plan:
    """Fill in ``plan.compliance`` and ``plan.indicators`` and the record's ``compliance_passed`` / ``failed_rules``.

    Parameters
    ----------
    plan : a plan from :func:`simulator.plan.build_plan` (units with ``grid_id`` and ``travel_min_to_lead``)
    city : the city it was made for (census totals)

    Returns
    -------
    Plan
        the same object, evaluated
    """
    scenario, units = plan.scenario, plan.units
    rules = plan.rules or load_rules(scenario.rules)
    targets = load_targets(scenario.targets)  # the one source of the readiness norms (indicators, emergency, targets)
    plan.compliance = compliance = compliance_table(
        units,
        units["grid_id"].to_numpy(),
        plan.adjacency,
        plan.grid_lead,
        plan.facilities,
        plan.groups,
        rules,
        allow_enterprise=scenario.plan.allow_enterprise_leads,
        census_population=census_population(city, plan.record["population_status"]),
        pop_bounds=(scenario.grids.min_population, scenario.grids.max_population),
        min_beds_per_1000=scenario.grids.min_beds_per_1000,
        switches=Switches.of(scenario),
        shared_centres=plan.shared_centres,
    )
    plan.indicators = compute_indicators(
        units,
        plan.facilities,
        plan.groups,
        plan.referrals,
        plan.adjacency,
        rules,
        plan.travel_minutes,
        access_minutes=scenario.travel.access_minutes,
        primary_care_minutes=scenario.travel.primary_care_minutes,
        unit_geometry=units.geometry.to_numpy(),
        targets=targets,
    )
    pc_kinds = rules["referral"]["primary_care_kinds"]
    plan.family_doctors = family_doctor_needs(units, plan.facilities, plan.groups, pc_kinds,
                                              FamilyDoctorNorm.of(scenario))
    plan.referral_allocations = allocate_to_teams(plan.referrals, plan.facilities)
    # the targets file judges the GP norm too (targets.csv), from the declared GPs per grid, district and city
    fd_figures = family_doctor_figures(units, plan.facilities, plan.groups, pc_kinds)
    emergency = evaluate_emergency(scenario, units, plan.facilities, plan.travel_minutes, targets=targets,
                                   other_figures=[fd_figures])
    plan.emergency, plan.targets, plan.ems_stations = emergency.figures, emergency.targets, emergency.stations
    plan.record.update(emergency.record)  # run.json "targets" (and "ems" when the scenario sites stations)
    if emergency.seconds is not None:
        plan.record["timings"] = dict(plan.record.get("timings") or {}, ems_siting_s=emergency.seconds)
    plan.indicators_district = district_indicators(
        units, plan.facilities, plan.groups, plan.referrals, plan.adjacency, rules, plan.travel_minutes,
        getattr(city, "districts", None), access_minutes=scenario.travel.access_minutes,
        primary_care_minutes=scenario.travel.primary_care_minutes, targets=targets,
    )
    plan.service_lines = service_lines(plan.groups, plan.facilities, load_service_lines(centre_rules_name(scenario)))
    failed = failed_checks(compliance)
    # "passed" = no rule check fails; rows the data cannot judge or the plan only sets are counted, not hidden
    plan.record["compliance_passed"] = bool(not failed.any())
    plan.record["failed_rules"] = compliance.loc[failed, ["rule_id", "scope"]].to_dict("records")
    plan.record["compliance_status_counts"] = {
        s: int((compliance["status"] == s).sum()) for s in STATUSES if (compliance["status"] == s).any()
    }
    return plan
