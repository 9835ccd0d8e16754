"""Make a plan (optimise / fixed leads / given layout) and write the run folder.

Output contract of ``caregrid run SCENARIO --out DIR``:

* ``plan.gpkg`` — layers ``units``, ``grids``, ``facilities``;
* ``groups.csv``, ``referrals.csv``, ``compliance.csv``;
* ``run.json`` — scenario echo, mode, solver, status, objective, bound, gap, contiguity, model size, timings,
  versions, notes; ``moves.csv`` with ``--repair``.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.rules import RuleSet, load_rules, primary_care
from ..config.scenario import Scenario
from ..errors import CaregridError, InputError, PlanningError, RuleFailure, SolverError, SolverTimeLimit
from ..evaluate.compliance import compliance_table
from ..evaluate.indicators import compute_indicators
from ..load.city import CityData
from ..load.readers import read_table, read_vector
from ..optimise import AssignmentResult, ModelSpec, Relaxation, assign_units_to_grids, diagnose_infeasibility
from ..runfolder.atomic import atomic_output_dir
from ..travel import RoadNetwork, TravelTimes, adjacency_minutes
from ..units.planning_units import PlanningUnits, equal_area_crs
from .groups import Groups, eligible_lead_mask, facility_units, form_groups, grid_labels, required_member_mask


@dataclass
class Plan:
    """A plan and its evaluation (everything the run folder holds)."""

    scenario: Scenario
    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    compliance: pd.DataFrame
    record: dict[str, Any]
    adjacency: Any = None
    bridges: np.ndarray | None = None
    moves: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    indicators: pd.DataFrame | None = None

    @property
    def passed(self) -> bool:
        return bool(self.compliance["passed"].all())


def _grid_range(scenario: Scenario, rules: RuleSet, n_candidates: int) -> tuple[int, int]:
    g = scenario.grids
    if g.count is not None:
        lo = hi = int(g.count)
    else:
        lo = int(g.min) if g.min is not None else rules.min_grids
        hi = int(g.max) if g.max is not None else max(lo, n_candidates)
    if lo < rules.min_grids:
        raise PlanningError(
            f"the scenario asks for {lo} grid(s); {rules.id} requires at least {rules.min_grids} grids per city"
        )
    return lo, hi


def _facts(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (" …" if len(names) > limit else "")


def precheck(
    city: CityData, units: PlanningUnits, rules: RuleSet, scenario: Scenario, fac_unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Check the rules before any model is built; raise :class:`PlanningError` with the facts.

    Returns the candidate lead facility indices and the mask of units holding a rule-3 member.
    """
    f = city.facilities
    allow = scenario.plan.allow_enterprise_leads
    elig = eligible_lead_mask(f, rules, allow)
    cand = np.flatnonzero(elig)
    if scenario.plan.mode == "fixed_leads":
        ids = scenario.plan.leads
        unknown = [x for x in ids if x not in set(f["facility_id"])]
        if unknown:
            raise InputError(scenario.path, f"unknown lead facility id(s) {', '.join(unknown)}", field="plan.leads")
        bad = [x for x in ids if not elig[int(np.flatnonzero(f["facility_id"].to_numpy() == x)[0])]]
        if bad:
            names = [f.loc[f.facility_id == x, "name"].iat[0] for x in bad]
            raise PlanningError(
                f"rule 2 fails: {', '.join(f'{a} {b}' for a, b in zip(bad, names, strict=True))} "
                f"cannot lead under {rules.id} (must be a tertiary comprehensive/TCM hospital at "
                "city or district level inside the planning area)"
            )
    names = [f"{f['name'].iat[i]} ({f['facility_id'].iat[i]})" for i in cand]
    area = "、".join(city.area["name"])
    failures = []  # every failing rule is reported at once, so a planner can fix the data in one pass
    distinct = np.unique(fac_unit[cand])
    if len(cand) < rules.min_grids:
        failures.append(
            f"rule 2 fails: the planning area ({area}) has {len(cand)} hospital(s) eligible to lead"
            + (f" ({_facts(names)})" if names else "")
            + f"; {rules.id} requires at least {rules.min_grids} grids, each led by its own tertiary hospital"
        )
    elif len(distinct) < rules.min_grids:
        failures.append(
            f"rule 1 fails: the {len(cand)} hospitals eligible to lead ({_facts(names)}) all stand in "
            f"{len(distinct)} planning unit(s) (their recorded locations coincide: location quality "
            f"{', '.join(sorted(set(f['location_quality'].iloc[cand])))}); a unit belongs to one grid, so at most "
            f"{len(distinct)} grid(s) can be led, and {rules.id} requires at least {rules.min_grids}. "
            "Give the hospitals' real coordinates (facilities file) to plan this area"
        )
    req = required_member_mask(f, rules)
    member_units = np.zeros(len(units), dtype=bool)
    member_units[fac_unit[req & (fac_unit >= 0)]] = True
    if member_units.sum() < rules.min_grids:
        req_names = [f"{f['name'].iat[i]}" for i in np.flatnonzero(req)]
        failures.append(
            f"rule 3 fails: every group needs at least one secondary comprehensive hospital or continuing-care "
            f"facility inside its grid, but the planning area ({area}) has {int(req.sum())} such facilit"
            f"{'y' if req.sum() == 1 else 'ies'}"
            + (f" ({_facts(req_names)})" if req_names else "")
            + f" in {int(member_units.sum())} unit(s), so at most {int(member_units.sum())} grid(s) can comply; "
            f"{rules.id} requires at least {rules.min_grids} grids"
        )
    pc = primary_care(f, rules) & (fac_unit >= 0)
    pc_units = np.zeros(len(units), dtype=bool)
    pc_units[fac_unit[pc]] = True
    if pc_units.sum() < rules.min_grids:
        failures.append(
            f"rule 5 fails: each lead refers slots and beds to primary care in its grid, but the planning area ({area})"
            f" has primary-care facilities in {int(pc_units.sum())} unit(s); {rules.id} requires at least "
            f"{rules.min_grids} grids"
        )
    if failures:
        raise PlanningError(failures[0] if len(failures) == 1 else "\n  - " + "\n  - ".join(failures))
    return cand, np.vstack([member_units, pc_units])


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("caregrid", "numpy", "pandas", "geopandas", "shapely", "scipy", "pulp", "highspy", "h3", "pyproj"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _read_layout(scenario: Scenario, units: gpd.GeoDataFrame) -> np.ndarray:
    """Grid id per unit from the planner's layout (polygons with a grid field, or a unit_id → grid_id table)."""
    p = scenario.plan
    path = scenario.input_path(p.layout)
    field_ = p.layout_grid_field
    if path.suffix.lower() == ".csv" and p.layout_crs is None:
        table = read_table(path)
        for col in ("unit_id", field_):
            if col not in table.columns:
                raise InputError(path, f"missing column '{col}'; a layout table needs unit_id and {field_}", field=col)
        mapping = dict(zip(table["unit_id"].astype(str), table[field_].astype(str), strict=True))
        grid = units["unit_id"].map(mapping)
        if grid.isna().any():
            miss = units.loc[grid.isna(), "unit_id"].tolist()
            raise InputError(
                path,
                f"{len(miss)} planning unit(s) have no grid (e.g. {', '.join(miss[:5])}); every unit needs one",
                field="unit_id",
            )
        return grid.to_numpy(dtype=object).astype(str)
    polys = read_vector(path, p.layout_crs)
    if field_ not in polys.columns:
        raise InputError(path, f"missing column '{field_}' (grid id) in the layout", field=field_)
    pts = shapely.points(units["lon"].to_numpy(), units["lat"].to_numpy())
    ui, pi = shapely.STRtree(polys.geometry.to_numpy()).query(pts, predicate="within")
    grid = np.full(len(units), "", dtype=object)
    first = pd.Series(pi).groupby(ui).min()
    grid[first.index.to_numpy()] = polys[field_].astype(str).to_numpy()[first.to_numpy()]
    missing = grid == ""
    if missing.any():
        raise InputError(
            path,
            f"{int(missing.sum())} planning unit(s) ({units['population'].to_numpy()[missing].sum():,} "
            "residents) are not inside any layout polygon; the grids must cover the whole planning area",
            field="geometry",
        )
    return grid.astype(str)


def make_plan(scenario: Scenario, city: CityData, units: PlanningUnits, *, repair: bool = False) -> Plan:
    """Run the scenario's mode and evaluate the result. Raises :class:`PlanningError` when no plan exists."""
    t0 = time.perf_counter()
    rules = load_rules(scenario.rules)
    ug = units.gdf
    f = city.facilities  # positional (RangeIndex, guaranteed by load_city): fac_unit and candidates index it
    fac_unit = facility_units(f, ug)
    tr = scenario.travel
    network = (
        RoadNetwork.load(scenario.input_path(tr.network), tr.network_speed_field, default_speed_kmh=tr.speed_kmh)
        if tr.network
        else None
    )
    lon, lat = ug["lon"].to_numpy(), ug["lat"].to_numpy()
    travel = TravelTimes(lon, lat, f["lon"].to_numpy(), f["lat"].to_numpy(), tr.speed_kmh, tr.circuity, network)
    minutes = travel.minutes

    mode = scenario.plan.mode
    record: dict[str, Any] = {
        "scenario": scenario.to_dict(),
        "mode": mode + (" + repair" if repair else ""),
        "rules": rules.id,
        "units": len(ug),
        "unit_notes": units.notes,
        "population_status": str(ug["population_status"].iloc[0]),
    }
    notes: list[str] = []
    moves = None
    if mode == "given_layout":
        layout_grid = _read_layout(scenario, ug)
        if not repair:
            # checking a layout reports every failing rule in the compliance table instead of stopping early
            elig = np.flatnonzero(eligible_lead_mask(f, rules, scenario.plan.allow_enterprise_leads))
            ref_cand = _layout_leads(layout_grid, elig, f, fac_unit)
            return _evaluate_given(
                scenario, city, units, rules, f, fac_unit, layout_grid, ref_cand, elig, minutes, record, notes, t0
            )
    cand, member_units = precheck(city, units, rules, scenario, fac_unit)
    # two candidates in one unit cannot both lead; keep the larger (beds, then id) as the unit's candidate
    order = np.lexsort((f["facility_id"].to_numpy()[cand], -np.nan_to_num(f["beds"].to_numpy()[cand])))
    _, first = np.unique(fac_unit[cand][order], return_index=True)
    kept = np.sort(cand[order][first])
    if len(kept) < len(cand):
        dropped = sorted(set(cand) - set(kept))
        notes.append(
            "co-located candidate leads (same planning unit), only the largest kept: "
            + ", ".join(f["name"].iat[i] for i in dropped)
        )
    if mode == "fixed_leads":
        wanted = np.flatnonzero(f["facility_id"].isin(scenario.plan.leads).to_numpy())
        if len(np.unique(fac_unit[wanted])) < len(wanted):
            raise PlanningError(
                "rule 1 fails: two of the named leads stand in the same planning unit; a unit belongs to one grid"
            )
        kept = np.union1d(kept[~np.isin(fac_unit[kept], fac_unit[wanted])], wanted)
    cand = kept
    cost = minutes(np.arange(len(ug)), cand)
    adj_min = adjacency_minutes(units.adjacency, lon, lat, tr.speed_kmh, tr.circuity)
    lo, hi = _grid_range(scenario, rules, len(cand))
    if member_units[1].sum() < lo:
        raise PlanningError(
            f"rule 5 fails: {lo} grids are asked for, but only {int(member_units[1].sum())} planning unit(s) hold a "
            "primary-care facility to receive the lead's referred slots and beds, and each grid needs one"
        )
    if member_units[0].sum() < lo:
        raise PlanningError(
            f"rule 3 fails: {lo} grids are asked for, but only {int(member_units[0].sum())} planning unit(s) hold a "
            "secondary comprehensive hospital or continuing-care facility, and each grid needs one inside it"
        )
    if len(cand) < lo:
        raise PlanningError(
            f"rule 2 fails: {lo} grids are asked for, but only {len(cand)} eligible lead hospital(s) stand in "
            "distinct planning units"
        )
    must_open = (
        np.isin(cand, np.flatnonzero(f["facility_id"].isin(scenario.plan.leads).to_numpy()))
        if mode == "fixed_leads"
        else None
    )
    if mode == "fixed_leads":
        lo = hi = len(scenario.plan.leads)
    reference = None
    if mode == "given_layout":
        grids_given = sorted(set(layout_grid))
        ref_cand = _layout_leads(layout_grid, cand, f, fac_unit)
        missing = [g for g in grids_given if g not in ref_cand]
        if missing:
            notes.append(
                f"layout grid(s) {', '.join(missing)} contain no eligible lead; repair lets the optimiser "
                "choose their leads"
            )
        reference = np.array([ref_cand.get(g, -1) for g in layout_grid])
        lo = hi = max(len(grids_given), rules.min_grids)
        must_open = np.zeros(len(cand), dtype=bool)
        must_open[list(ref_cand.values())] = True
    beds = {}
    if scenario.grids.min_beds_per_1000 is not None:
        ub = np.zeros(len(ug))
        inside = (fac_unit >= 0) & ~f["facility_id"].isin(f["facility_id"].iloc[cand]).to_numpy()
        np.add.at(ub, fac_unit[inside], np.nan_to_num(f["beds"].to_numpy()[inside]))
        beds = dict(
            unit_beds=ub,
            lead_beds=np.nan_to_num(f["beds"].to_numpy()[cand]),
            min_beds_per_1000=scenario.grids.min_beds_per_1000,
        )
    pop = ug["population"].to_numpy(dtype=float)
    spec = ModelSpec(
        pop,
        cost,
        adj_min,
        fac_unit[cand],
        (lo, hi),
        must_open=must_open,
        member_units=member_units,
        pop_bounds=(scenario.grids.min_population, scenario.grids.max_population)
        if (scenario.grids.min_population or scenario.grids.max_population)
        else None,
        candidate_k=scenario.solver.candidate_k,
        reference_assignment=reference,
        coverage_minutes=tr.access_minutes,
        **beds,
    )
    how = dict(
        contiguity=scenario.solver.contiguity,
        time_limit_s=scenario.solver.time_limit_s,
        gap=scenario.solver.gap,
        threads=scenario.solver.threads,
        solver=scenario.solver.name,
    )
    result = assign_units_to_grids(spec, objective=scenario.solver.objective, **how)
    if not result.has_plan:
        raise _no_plan_error(result, spec, how, f, cand)
    unit_cand = result.unit_lead
    lead_ids = [f["facility_id"].iat[cand[j]] for j in result.open_leads]
    labels = grid_labels(lead_ids)
    if reference is not None:
        # keep the planner's grid names: each lead keeps the name of the layout grid it led
        named = {f["facility_id"].iat[cand[j]]: g for g, j in ref_cand.items()}
        spare = [g for g in grids_given if g not in named.values()]
        for fid in sorted(lead_ids):
            if fid not in named:
                named[fid] = spare.pop(0) if spare else labels[fid]
        labels = {fid: named[fid] for fid in lead_ids}
    grid_of_cand = np.array([labels.get(fid, "") for fid in f["facility_id"].to_numpy()[cand]], dtype=object)
    unit_grid = grid_of_cand[unit_cand].astype(str)
    grid_lead = {g: fid for fid, g in labels.items()}
    if reference is not None:
        old = np.asarray(layout_grid)
        moved = np.flatnonzero(reference != unit_cand)
        moves = pd.DataFrame(
            {
                "unit_id": ug["unit_id"].to_numpy()[moved],
                "from_grid": old[moved],
                "to_grid": unit_grid[moved],
                "residents": pop[moved],
            }
        )
        notes.append(f"repair moved {len(moved)} unit(s), {pop[moved].sum():,.0f} residents")
    record.update(
        {
            "solver": result.solver,
            "status": result.status,
            "objective_name": scenario.solver.objective,
            "objective": result.objective,
            "best_bound": result.bound,
            "gap": result.gap,
            "contiguity": result.contiguity,
            "model_size": result.model_size,
            "timings": result.timings,
            "candidate_leads": [f["facility_id"].iat[i] for i in cand],
            "solver_notes": result.notes,
            "grid_count_range": [lo, hi],
        }
    )
    return _finish(
        scenario, city, units, rules, f, fac_unit, unit_grid, grid_lead, minutes, record, notes, t0, moves=moves
    )


# constraint family of the optimiser -> rule id of the compliance table, and what a planner can change
_FAMILY_RULES = {
    "grid_count": ("R1.grids", "change grids.count (or grids.min / grids.max)"),
    "reachability": ("R1.coverage", "check the unit's adjacency and travel times to the candidate leads"),
    "must_open": ("R2.lead", "choose other leads (plan.leads / the layout) or let the optimiser choose"),
    "pop_lower": ("S.population", "lower grids.min_population or plan fewer grids"),
    "pop_upper": ("S.population", "raise grids.max_population or plan more grids"),
    "beds": ("S.beds_per_1000", "lower grids.min_beds_per_1000 or add beds to the facilities"),
}
# rows of member_units (see precheck): 0 = rule 3 member, 1 = primary care receiving the lead's referrals (rule 5)
_MEMBER_RULES = (
    (
        "R3.member",
        "grid of candidate {r.candidate} ({r.grid_units} units) has no unit with a secondary general hospital or "
        "continuing-care facility: rule 3 needs {r.amount:.0f} more member",
        "locate a secondary comprehensive hospital or continuing-care facility in the grid, or plan fewer grids",
    ),
    (
        "R5.outpatient",
        "the grid has no primary-care facility to receive the lead's referrals (rule 5)",
        "locate a primary-care facility in the grid, or plan fewer grids",
    ),
)


def _rule_failure(r: Relaxation, f: gpd.GeoDataFrame, cand: np.ndarray) -> RuleFailure:
    """The relaxation the optimiser's diagnosis asks for, as a failing rule with the facility named."""
    if r.family == "member_units":
        rule_id, text, fix = _MEMBER_RULES[r.kind]
        text = text.format(r=r)
    else:
        (rule_id, fix), text = _FAMILY_RULES[r.family], r.message
    if r.candidate is not None:
        i = cand[r.candidate]
        text = f"{f['name'].iat[i]} ({f['facility_id'].iat[i]}): {text}"
    return RuleFailure(rule_id, text, fix)


def _no_plan_error(
    result: AssignmentResult, spec: ModelSpec, how: dict, f: gpd.GeoDataFrame, cand: np.ndarray
) -> CaregridError:
    """The error to raise when the optimiser returned no plan: time limit, solver failure, or the failing rules."""
    if result.status.startswith("time_limit"):
        # running out of time is not proof that no plan exists: say what was tried instead of diagnosing
        return SolverTimeLimit(
            f"the solver found no plan within the time limit ({how['time_limit_s']:g} s; status "
            f"{result.status}) for {spec.n:,} units and {spec.m} candidate leads; raise solver.time_limit_s, use "
            "a coarser units.resolution, or set solver.candidate_k (see README, Benchmarks)"
        )
    if result.status != "infeasible":
        return SolverError(
            f"the solver stopped with status '{result.status}' and returned no plan"
            + (f" ({'; '.join(result.notes)})" if result.notes else "")
        )
    diag = diagnose_infeasibility(spec, **how)
    failures = [_rule_failure(r, f, cand) for r in diag.relaxations]
    msgs = [x.message for x in failures] or [diag.status]
    return PlanningError("no plan satisfies the rules; to make one possible: " + "; ".join(msgs), failures=failures)


def _layout_leads(layout_grid: np.ndarray, cand: np.ndarray, f: gpd.GeoDataFrame, fac_unit: np.ndarray) -> dict:
    """Lead of each layout grid: the eligible hospital inside it with the most beds (then smallest id)."""
    out = {}
    beds = np.nan_to_num(f["beds"].to_numpy()[cand])
    ids = f["facility_id"].to_numpy()[cand]
    for g in sorted(set(layout_grid)):
        inside = np.flatnonzero(np.isin(fac_unit[cand], np.flatnonzero(layout_grid == g)))
        if len(inside):
            out[g] = int(inside[np.lexsort((ids[inside], -beds[inside]))][0])
    return out


def _evaluate_given(
    scenario, city, units, rules, f, fac_unit, layout_grid, ref_cand, cand, minutes, record, notes, t0
) -> Plan:
    grid_lead = {}
    for g in sorted(set(layout_grid)):
        if g in ref_cand:
            grid_lead[g] = f["facility_id"].iat[cand[ref_cand[g]]]
        else:
            notes.append(f"layout grid {g} contains no hospital eligible to lead (rule 2 fails there)")
    # a grid without a lead cannot form a group; it stays in the units layer and fails coverage/lead rules
    record.update({"solver": "none (given layout)", "status": "evaluated", "contiguity": "checked"})
    plan = _finish(
        scenario, city, units, rules, f, fac_unit, np.asarray(layout_grid), grid_lead, minutes, record, notes, t0
    )
    for g in sorted(set(layout_grid) - set(grid_lead)):
        plan.compliance.loc[len(plan.compliance)] = [
            "R2.lead",
            g,
            "Led by a tertiary comprehensive hospital",
            "由三级综合医院牵头",
            "eligible lead",
            "none in the grid",
            False,
        ]
    return plan


def _finish(
    scenario, city, units, rules, f, fac_unit, unit_grid, grid_lead, minutes, record, notes, t0, moves=None
) -> Plan:
    ug = units.gdf
    groups: Groups = form_groups(
        ug, unit_grid, grid_lead, f, fac_unit, rules, minutes, scenario.plan.collaborating_units or None
    )
    notes += groups.notes
    fid = f["facility_id"].to_numpy()
    lead_idx = {g: int(np.flatnonzero(fid == x)[0]) for g, x in grid_lead.items()}
    travel = np.full(len(ug), np.nan)
    for g, li in lead_idx.items():
        sel = np.flatnonzero(unit_grid == g)
        travel[sel] = minutes(sel, np.array([li]))[:, 0]
    units_out = ug[
        [
            "unit_id",
            "district",
            "district_name",
            "population",
            "population_status",
            "area_km2",
            "lon",
            "lat",
            "geometry",
        ]
    ].copy()
    units_out["grid_id"] = unit_grid
    units_out["lead_facility_id"] = [grid_lead.get(g, "") for g in unit_grid]
    units_out["travel_min_to_lead"] = travel
    laea = equal_area_crs(ug.geometry)
    dissolved = units_out.dissolve(by="grid_id", aggfunc={"population": "sum", "area_km2": "sum"}).reset_index()
    dissolved["lead_facility_id"] = dissolved["grid_id"].map(grid_lead).fillna("")
    dissolved["lead_name"] = dissolved["lead_facility_id"].map(dict(zip(fid, f["name"], strict=True))).fillna("")
    dissolved["area_km2"] = dissolved.geometry.to_crs(laea).area / 1e6
    grids = gpd.GeoDataFrame(
        dissolved[["grid_id", "lead_facility_id", "lead_name", "population", "area_km2", "geometry"]], crs="EPSG:4326"
    )
    census = (
        int(city.districts.loc[city.districts["adcode"].isin(city.area["adcode"]), "population_2020"].sum())
        if record["population_status"] == "modelled"
        else None
    )
    compliance = compliance_table(
        ug,
        unit_grid,
        units.adjacency,
        grid_lead,
        groups.facilities,
        groups.groups,
        rules,
        allow_enterprise=scenario.plan.allow_enterprise_leads,
        census_population=census,
        pop_bounds=(scenario.grids.min_population, scenario.grids.max_population),
        min_beds_per_1000=scenario.grids.min_beds_per_1000,
    )
    indicators = compute_indicators(
        units_out,
        groups.facilities,
        groups.groups,
        groups.referrals,
        units.adjacency,
        rules,
        minutes,
        access_minutes=scenario.travel.access_minutes,
        primary_care_minutes=scenario.travel.primary_care_minutes,
        unit_geometry=units_out.geometry.to_numpy(),
    )
    record["compliance_passed"] = bool(compliance["passed"].all())
    record["failed_rules"] = compliance.loc[~compliance["passed"], ["rule_id", "scope"]].to_dict("records")
    record["bridges"] = [
        {"unit_a": ug["unit_id"].iat[int(a)], "unit_b": ug["unit_id"].iat[int(b)], "km": float(d)}
        for a, b, d in units.bridges
    ]
    record["notes"] = notes + city.notes
    record["versions"] = _versions()
    record["timings"] = dict(record.get("timings") or {}, total_s=time.perf_counter() - t0)
    return Plan(
        scenario=scenario,
        units=units_out,
        grids=grids,
        facilities=groups.facilities,
        groups=groups.groups,
        referrals=groups.referrals,
        compliance=compliance,
        record=record,
        adjacency=units.adjacency,
        bridges=units.bridges,
        moves=moves,
        notes=notes,
        indicators=indicators,
    )


FACILITY_COLUMNS = [
    "facility_id",
    "name",
    "level",
    "grade",
    "kind",
    "ownership",
    "beds",
    "beds_status",
    "outpatient_daily",
    "outpatient_status",
    "location_quality",
    "modelled",
    "in_city",
    "grid_id",
    "role",
    "reserved_outpatient_slots",
    "reserved_beds",
    "source",
    "geometry",
]


def write_plan(plan: Plan, out: str | Path, extras: tuple = ()) -> Path:
    """Write the run folder (atomically: a failed write leaves an existing folder as it was).

    ``extras`` are callables ``f(folder)`` run on the complete temporary folder before it replaces ``out``
    (the report and the maps), so they land together with the plan or not at all. Of an existing folder only
    ``units.gpkg`` (written by ``caregrid units``) is kept.
    """
    out = Path(out)
    with atomic_output_dir(out, preserve=("units.gpkg",)) as tmp:
        units = plan.units.drop(columns=["lon", "lat"])
        units.to_file(tmp / "plan.gpkg", layer="units", driver="GPKG")
        plan.grids.to_file(tmp / "plan.gpkg", layer="grids", driver="GPKG")
        fac = plan.facilities[[c for c in FACILITY_COLUMNS if c in plan.facilities.columns]].copy()
        fac["modelled"] = fac["modelled"].astype(bool)
        fac["in_city"] = fac["in_city"].astype(bool)
        gpd.GeoDataFrame(fac, geometry="geometry", crs="EPSG:4326").to_file(
            tmp / "plan.gpkg", layer="facilities", driver="GPKG"
        )
        plan.groups.to_csv(tmp / "groups.csv", index=False)
        plan.referrals.to_csv(tmp / "referrals.csv", index=False)
        plan.compliance.to_csv(tmp / "compliance.csv", index=False)
        if plan.indicators is not None:
            plan.indicators.to_csv(tmp / "indicators.csv", index=False)
            (tmp / "indicators.json").write_text(
                json.dumps(
                    {
                        "city": plan.indicators[plan.indicators.grid_id == "city"].iloc[0].to_dict(),
                        "grids": plan.indicators[plan.indicators.grid_id != "city"].to_dict("records"),
                    },
                    ensure_ascii=False,
                    indent=2,
                    default=_json_default,
                ),
                encoding="utf-8",
            )
        if plan.moves is not None:
            plan.moves.to_csv(tmp / "moves.csv", index=False)
        adj = plan.adjacency.tocoo()
        keep = adj.row < adj.col
        pd.DataFrame(
            {
                "unit_a": plan.units["unit_id"].to_numpy()[adj.row[keep]],
                "unit_b": plan.units["unit_id"].to_numpy()[adj.col[keep]],
            }
        ).to_csv(tmp / "adjacency.csv", index=False)
        (tmp / "run.json").write_text(
            json.dumps(plan.record, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
        )
        for extra in extras:
            extra(tmp)
    return out


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
