"""Build a plan: the scenario's mode (optimise / fixed leads / given layout, with or without repair) → grids, leads,
groups and referrals.

Each mode is a small function (:data:`MODES`); they share the pre-checks (:mod:`.precheck`), one call of the
optimiser (:func:`_solve`) and the groups (:func:`_finish`). The evaluate stage checks the rules and computes the
indicators; :func:`simulator.workflow.make_plan` runs both.

Output contract of ``caregrid run SCENARIO --out DIR``:

* ``plan.gpkg`` — layers ``units``, ``grids``, ``facilities``;
* ``groups.csv``, ``referrals.csv``, ``compliance.csv``;
* ``run.json`` — scenario echo, mode, solver, status, objective, bound, gap, contiguity, model size, timings,
  versions, notes; ``moves.csv`` with ``--repair``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.rules import RuleSet, failed_checks, load_rules
from ..config.scenario import Scenario
from ..errors import CaregridError, InputError, PlanningError, RuleFailure, SolverError, SolverTimeLimit
from ..load.changes import nearest_campus_minutes
from ..load.city import CityData
from ..load.readers import read_table, read_vector
from ..load.validate import InputWarning
from ..optimise import AssignmentResult, ModelSpec, Relaxation, assign_units_to_grids, diagnose_infeasibility
from ..travel import RoadNetwork, TravelTimes, adjacency_minutes
from ..units.planning_units import PlanningUnits, equal_area_crs
from .campuses import add_campuses
from .groups import GroupOptions, Groups, eligible_lead_mask, facility_units, form_groups, grid_labels
from .locks import locks_path, read_locks
from .precheck import (
    check_grid_count,
    check_named_leads_apart,
    check_population_bounds,
    check_rule_fields,
    check_solver_names,
    grid_range,
    member_grid_bound,
    precheck,
)
from .shared_centres import centres_of_scenario

#: columns of the planning units carried into the plan's units layer (grid, lead and travel time are added)
UNIT_COLUMNS = ["unit_id", "district", "district_name", "population", "population_status", "area_km2", "lon", "lat",
                "geometry"]


@dataclass
class Plan:
    """A plan: grids, leads, groups and referrals (plan stage), and once evaluated its compliance and indicators.

    :func:`simulator.make_plan` returns it evaluated; :func:`build_plan` (this stage alone) leaves ``compliance``
    and ``indicators`` ``None`` for :func:`simulator.evaluate.evaluate_plan` to fill in.
    """

    scenario: Scenario
    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    record: dict[str, Any]
    rules: RuleSet | None = None
    adjacency: Any = None
    bridges: np.ndarray | None = None
    moves: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: (unit indices, facility indices) → minutes, the travel times the plan was made with
    travel_minutes: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    compliance: pd.DataFrame | None = None
    indicators: pd.DataFrame | None = None
    #: emergency figures per grid/district/city (emergency.csv), the targets table (targets.csv) and the ambulance
    #: stations layer when the scenario's [ems] asks for siting (simulator.evaluate.emergency)
    emergency: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    ems_stations: gpd.GeoDataFrame | None = None
    #: shared_centres.csv: the host of each centre kind per grid (simulator.plan.shared_centres)
    shared_centres: pd.DataFrame | None = None
    #: indicators per district/county and urban/rural part, and each group's service lines (evaluate stage)
    indicators_district: pd.DataFrame | None = None
    service_lines: pd.DataFrame | None = None
    #: family-doctor teams per grid and who receives the lead's reserved slots and beds (simulator.plan.family_doctors)
    family_doctors: pd.DataFrame | None = None
    referral_allocations: pd.DataFrame | None = None

    @property
    def grid_lead(self) -> dict[str, str]:
        """Grid id → lead facility id (grids of a planner's layout without an eligible lead are absent)."""
        return {g: lead for g, lead in zip(self.grids["grid_id"], self.grids["lead_facility_id"], strict=True) if lead}

    @property
    def passed(self) -> bool:
        """No rule check fails (needs the evaluation); ``planned`` and ``no_data`` rows do not fail."""
        if self.compliance is None:
            raise ValueError("the plan is not evaluated yet; see simulator.evaluate.evaluate_plan")
        return not failed_checks(self.compliance).any()


@dataclass
class _Job:
    """Inputs every mode shares, and the run record and notes it fills in."""

    scenario: Scenario
    city: CityData
    units: PlanningUnits
    rules: RuleSet
    fac_unit: np.ndarray  # (f,) unit index of each facility, −1 outside the planning area
    minutes: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (unit indices, facility indices) → minutes
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: unit index → lead facility id whose grid the unit must join (units a planner locked in ``caregrid app``)
    locks: dict[int, str] = field(default_factory=dict)
    #: the file the locks come from (``plan.locked_units``), ``None`` when given by the caller or absent
    locks_file: Any = None

    @property
    def f(self) -> gpd.GeoDataFrame:
        """The city's facilities, positional (RangeIndex, guaranteed by load_city): fac_unit and indices use it."""
        return self.city.facilities


@dataclass
class _Candidates:
    """Leads the optimiser may open, the grid count it must reach and what it must keep."""

    cand: np.ndarray  # facility indices
    member_units: np.ndarray  # (2, n): units holding a rule-3 member / primary care
    member_cand: np.ndarray  # (len(cand),) candidates that are rule-3 members when they do not lead
    lo: int
    hi: int
    must_open: np.ndarray | None = None  # (len(cand),) candidates that must lead
    reference: np.ndarray | None = None  # (n,) candidate per unit of a layout to repair (−1: none)
    fixed: np.ndarray | None = None  # (n,) candidate a locked unit must join (−1: free)


def _read_layout(scenario: Scenario, units: gpd.GeoDataFrame, notes: list[str] | None = None
                 ) -> tuple[np.ndarray, dict[str, str]]:
    """Grid id per unit from the planner's layout (polygons with a grid field, or a unit_id → grid_id table), and
    the lead the layout names for each grid (optional ``lead_id`` column; ``{}`` without it).

    Overlapping polygons are reported (``notes`` and an :class:`InputWarning`) with the overlap area; a unit
    inside several polygons goes to the first in the file.
    """
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
        return grid.to_numpy(dtype=object).astype(str), _named_leads(table, field_, path)
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
    for text in _layout_overlaps(polys, field_, ui, pi):
        warnings.warn(f"{path}: {text}", InputWarning, stacklevel=2)
        if notes is not None:
            notes.append(text)
    return grid.astype(str), _named_leads(pd.DataFrame(polys.drop(columns="geometry")), field_, path)


#: optional layout column naming each grid's lead (a lead may stand outside its grid under the pilot plan's reading)
LAYOUT_LEAD_FIELD = "lead_id"


def _named_leads(table: pd.DataFrame, field_: str, path: object) -> dict[str, str]:
    """Grid → lead facility id from the layout's ``lead_id`` column (blank: the lead standing in the grid)."""
    if LAYOUT_LEAD_FIELD not in table.columns:
        return {}
    t = table[[field_, LAYOUT_LEAD_FIELD]].fillna("").astype(str)  # a blank cell of a text column reads as NaN
    t = t[~t[LAYOUT_LEAD_FIELD].str.strip().isin(("", "nan", "None"))]
    per = t.groupby(field_)[LAYOUT_LEAD_FIELD].unique()
    for g, ids in per.items():
        if len(ids) > 1:
            raise InputError(path, f"grid {g} names {len(ids)} leads ({', '.join(sorted(ids))}); expected one lead "
                             "per grid", field=LAYOUT_LEAD_FIELD)
    named = {str(g): str(ids[0]).strip() for g, ids in per.items()}
    twice = pd.Series(list(named.values())).value_counts()
    if (twice > 1).any():
        fid = twice.index[twice > 1][0]
        raise InputError(path, f"{fid} is named as the lead of {int(twice[fid])} grids; a hospital leads one group",
                         field=LAYOUT_LEAD_FIELD)
    return named


def _layout_overlaps(polys: gpd.GeoDataFrame, field_: str, ui: np.ndarray, pi: np.ndarray) -> list[str]:
    """One sentence per pair of overlapping layout polygons: overlap area (km²), units inside both, the winner."""
    geoms = polys.to_crs(equal_area_crs(polys.geometry)).geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    names = polys[field_].astype(str).to_numpy()
    inside = pd.DataFrame({"unit": ui, "poly": pi})
    out = []
    for i, j in zip(a, b, strict=True):
        if i >= j:
            continue
        km2 = float(shapely.area(shapely.intersection(geoms[i], geoms[j]))) / 1e6
        if km2 < 1e-4:  # shared edges, not overlaps (< 100 m²)
            continue
        both = len(set(inside.loc[inside.poly == i, "unit"]) & set(inside.loc[inside.poly == j, "unit"]))
        out.append(
            f"layout polygons overlap 网格重叠: grid {names[i]} (feature {i}) and grid {names[j]} (feature {j}) "
            f"share {km2:,.2f} km²; the {both} planning unit(s) inside both go to grid {names[i]}, the first in "
            "the file"
        )
    return out


def _job(scenario: Scenario, city: CityData, units: PlanningUnits, repair: bool) -> _Job:
    """Rules, travel times and the run record every mode starts from."""
    rules = load_rules(scenario.rules)
    check_rule_fields(city, rules)
    ug = units.gdf
    f = city.facilities
    tr = scenario.travel
    network = (
        RoadNetwork.load(scenario.input_path(tr.network), tr.network_speed_field, default_speed_kmh=tr.speed_kmh)
        if tr.network
        else None
    )
    lon, lat = ug["lon"].to_numpy(), ug["lat"].to_numpy()
    # with a road network, every facility of the planning area in one Dijkstra pass (leads, members, indicators ask)
    times = TravelTimes(lon, lat, f["lon"].to_numpy(), f["lat"].to_numpy(), tr.speed_kmh, tr.circuity, network,
                        prefetch=np.flatnonzero(f["in_area"].to_numpy()))
    record: dict[str, Any] = {
        "scenario": scenario.to_dict(),
        "mode": scenario.plan.mode + (" + repair" if repair else ""),
        "rules": rules.id,
        "units": len(ug),
        "unit_notes": units.notes,
        "population_status": str(ug["population_status"].iloc[0]),
    }
    # linked campuses (scenario change "link"): an institution is as near as its nearest campus
    minutes = nearest_campus_minutes(times.minutes, f)
    return _Job(scenario, city, units, rules, facility_units(f, ug), minutes, record)


def build_plan(scenario: Scenario, city: CityData, units: PlanningUnits, *, repair: bool = False,
               locks: dict[int, str] | None = None) -> Plan:
    """Run the scenario's mode: the grids, their leads and groups, not yet evaluated (see :class:`Plan`).

    ``locks`` (unit index → lead facility id) fixes units to the grid of that lead in the optimising modes and in
    repair (``ModelSpec.fixed_assignment``); the given layout without repair ignores it. ``None`` (default): the
    locks of the scenario's ``plan.locked_units`` file (:mod:`.locks`), none without one; ``run.json`` records them.

    Raises
    ------
    PlanningError
        no plan satisfies the rules (``exc.rule_ids`` names the failing rules)
    InputError
        the scenario names unknown leads or an unreadable layout
    """
    check_solver_names(scenario)
    job = _job(scenario, city, units, repair)
    job.locks = dict(locks) if locks is not None else _scenario_locks(job)
    mode = scenario.plan.mode
    if job.locks:
        applied = mode != "given_layout" or repair
        job.record["locked_units"] = {"file": str(job.locks_file) if job.locks_file else None,
                                      "units": len(job.locks), "leads": sorted(set(job.locks.values())),
                                      "applied": applied}
        if not applied:
            job.notes.append(f"{len(job.locks)} locked unit(s) 锁定单元 not applied: the given layout is evaluated as "
                             "painted; locks bind optimise, fixed_leads and --repair")
    if mode == "given_layout":
        layout_grid, named = _read_layout(scenario, units.gdf, job.notes)
        return _repair_layout(job, layout_grid, named) if repair else _check_layout(job, layout_grid, named)
    return MODES[mode](job)


def _scenario_locks(job: _Job) -> dict[int, str]:
    """The locks of the file ``plan.locked_units`` names (:mod:`.locks`; ``{}`` without one)."""
    job.locks_file = locks_path(job.scenario)
    if job.locks_file is None:
        return {}
    return read_locks(job.locks_file, job.units.gdf["unit_id"].to_numpy(), job.f, job.rules,
                      job.scenario.plan.allow_enterprise_leads)


# ---------------------------------------------------------------------------------------------------- modes
def _optimise(job: _Job) -> Plan:
    """Mode ``optimise``: the optimiser picks the leads and the grids."""
    c = _candidates(job)
    result = _solve(job, c)
    lead_ids = [job.f["facility_id"].iat[c.cand[j]] for j in result.open_leads]
    return _assemble(job, c, result, grid_labels(lead_ids))


def _fixed_leads(job: _Job) -> Plan:
    """Mode ``fixed_leads``: the scenario names the leads; the optimiser draws their grids."""
    f, leads = job.f, job.scenario.plan.leads
    wanted = np.flatnonzero(f["facility_id"].isin(leads).to_numpy())
    c = _candidates(job, wanted)
    c.must_open = np.isin(c.cand, wanted)
    c.lo = c.hi = len(leads)
    result = _solve(job, c)
    lead_ids = [f["facility_id"].iat[c.cand[j]] for j in result.open_leads]
    return _assemble(job, c, result, grid_labels(lead_ids))


def _check_layout(job: _Job, layout_grid: np.ndarray, named: dict[str, str] | None = None) -> Plan:
    """Mode ``given_layout``: evaluate the planner's grids as they are; every failing rule goes to compliance.csv."""
    f = job.f
    elig = np.flatnonzero(eligible_lead_mask(f, job.rules, job.scenario.plan.allow_enterprise_leads))
    ref_cand = _layout_leads(layout_grid, elig, f, job.fac_unit, named, job)
    grid_lead = {}
    for g in sorted(set(layout_grid)):
        if g in ref_cand:
            grid_lead[g] = f["facility_id"].iat[elig[ref_cand[g]]]
        else:
            label = job.rules.text("R2.lead").label
            job.notes.append(f"layout grid {g} contains no hospital eligible to lead ({label} fails there)")
    # a grid without a lead cannot form a group; it stays in the units layer and fails coverage/lead rules
    job.record.update({"solver": "none (given layout)", "status": "evaluated", "contiguity": "checked"})
    return _finish(job, np.asarray(layout_grid), grid_lead)


def _repair_layout(job: _Job, layout_grid: np.ndarray, named: dict[str, str] | None = None) -> Plan:
    """Mode ``given_layout`` with ``--repair``: the compliant plan that moves the fewest residents, then travels least.

    Each layout grid holding an eligible lead keeps its name and lead; a layout grid without one is dissolved: its
    residents move to grids with a lead and count as moved. A grid the optimiser must add gets a new name (never one
    of the layout's), so ``moves.csv`` never shows a move from a grid to a grid of the same name.
    """
    f, rules = job.f, job.rules
    _exact_for_repair(job)
    c = _candidates(job)
    grids_given = sorted(set(layout_grid))
    ref_cand = _layout_leads(layout_grid, c.cand, f, job.fac_unit, named, job)
    missing = [g for g in grids_given if g not in ref_cand]
    if missing:
        pop = job.units.gdf["population"].to_numpy(dtype=float)
        lost = pop[np.isin(layout_grid, missing)].sum()
        job.notes.append(
            f"layout grid(s) {', '.join(missing)} contain no hospital eligible to lead "
            f"({rules.text('R2.lead').label}); "
            f"repair moves their {lost:,.0f} residents to grids with a lead, and they count as moved"
        )
    c.reference = np.array([ref_cand.get(g, -1) for g in layout_grid])
    c.lo = max(len(ref_cand), rules.min_grids)
    c.hi = max(len(grids_given), c.lo)
    check_grid_count(rules, c.lo, len(c.cand), c.member_units, asked=_asked(len(grids_given), len(ref_cand), rules),
                     distinct_units=job.scenario.plan.lead_inside_grid, member_bound=_bound(job, c))
    c.must_open = np.zeros(len(c.cand), dtype=bool)
    c.must_open[list(ref_cand.values())] = True
    result = _solve(job, c)
    lead_ids = [f["facility_id"].iat[c.cand[j]] for j in result.open_leads]
    named = {f["facility_id"].iat[c.cand[j]]: g for g, j in ref_cand.items()}
    taken = set(grids_given)
    for fid in sorted(lead_ids):
        if fid not in named:
            named[fid] = _fresh_name(taken)
            taken.add(named[fid])
    plan = _assemble(job, c, result, {fid: named[fid] for fid in lead_ids}, layout_grid)
    plan.notes.extend(_extreme_grid_notes(job.scenario, plan.grids, set(grids_given)))
    return plan


def _exact_for_repair(job: _Job) -> None:
    """Repair with the ``exact`` contiguity family when the scenario asks for ``fast``.

    ``fast`` admits only grids star-shaped along shortest paths, which a planner's grids need not be: on Panjin at
    resolution 8 it moved 1,769 residents out of a compliant one-grid-per-district layout that needs no move, and
    2,748 where 478 suffice (benchmarks/repair.py). Repair promises the fewest residents moved among contiguous
    plans, which only a family admitting every contiguous grid can keep.
    """
    sv = job.scenario.solver
    if sv.contiguity != "fast":
        return
    job.scenario = dataclasses.replace(job.scenario, solver=dataclasses.replace(sv, contiguity="exact"))
    job.notes.append(
        "repair uses contiguity \"exact\" instead of the scenario's \"fast\": fast admits only grids star-shaped "
        "around their first unit, which a planner's grids need not be, so it would move residents that need not move"
    )


def _asked(n_layout: int, n_led: int, rules: RuleSet) -> str:
    """Where repair's grid count comes from, for messages ("the layout has 3 grid(s), 2 with an eligible lead")."""
    text = f"the layout has {n_layout} grid(s)" + (f", {n_led} with an eligible lead" if n_led < n_layout else "")
    if n_led < rules.min_grids:
        text += f"; {rules.id} requires at least {rules.min_grids}"
    return text


def _fresh_name(taken: set[str]) -> str:
    """The first grid id G1, G2, … not in ``taken``."""
    k = 1
    while f"G{k}" in taken:
        k += 1
    return f"G{k}"


#: a repaired grid below this share of the average grid's residents is reported as extreme
EXTREME_SHARE = 0.1


def _extreme_grid_notes(scenario: Scenario, grids: gpd.GeoDataFrame, layout_names: set[str]) -> list[str]:
    """Say why a repaired plan has a tiny grid and which option avoids it (none when the scenario bounds grids)."""
    pop = grids["population"].to_numpy(dtype=float)
    if len(pop) < 2 or scenario.grids.min_population is not None or pop.sum() <= 0:
        return []
    mean = pop.sum() / len(pop)
    notes = []
    for g, p_, km2 in zip(grids["grid_id"], pop, grids["area_km2"], strict=True):
        if p_ >= EXTREME_SHARE * mean:
            continue
        if g in layout_names:
            why = (f"repair keeps layout grid {g} only as far as the rules allow it to hold its residents and moves "
                   "the rest; it minimises residents moved and does not balance grid sizes")
        else:
            why = (f"grid {g} is not in the layout: the rules need more grids than the layout has with an eligible "
                   "lead, and every resident of a new grid counts as moved, so repair gives it as few as the rules "
                   "allow")
        notes.append(
            f"repaired grid {g} holds {p_:,.0f} residents ({p_ / pop.sum():.1%} of the city) on {km2:,.1f} km²: "
            f"{why}. Set grids.min_population (e.g. {0.5 * mean:,.0f}, half the average grid) to make repair keep "
            "every grid populous, or plan with plan.mode = \"optimise\""
        )
    return notes


#: plan modes that optimise, by ``plan.mode`` (``given_layout`` is dispatched on ``--repair`` in build_plan)
MODES: dict[str, Callable[[_Job], Plan]] = {"optimise": _optimise, "fixed_leads": _fixed_leads}


# ------------------------------------------------------------------------------------------- shared steps
def _candidates(job: _Job, wanted: np.ndarray | None = None) -> _Candidates:
    """The candidates (:func:`_candidate_leads`) and the candidate each locked unit must join."""
    c = _candidate_leads(job, wanted)
    if job.locks:
        fid = job.f["facility_id"].to_numpy()[c.cand]
        pos = {f: k for k, f in enumerate(fid)}
        unknown = sorted({lead for lead in job.locks.values() if lead not in pos})
        if unknown:
            raise InputError(job.locks_file, f"locked units name lead(s) {', '.join(unknown)} that cannot lead here; "
                             "expected candidate leads", field="lead_id" if job.locks_file else "locks")
        c.fixed = np.full(len(job.units.gdf), -1, dtype=np.int64)
        for unit, lead in job.locks.items():
            c.fixed[unit] = pos[lead]
    return c


def _candidate_leads(job: _Job, wanted: np.ndarray | None = None) -> _Candidates:
    """Pre-check, then the candidate leads.

    With ``plan.lead_inside_grid = false`` (default) every eligible hospital is a candidate, several in one planning
    unit included (a lead may stand outside its grid). With ``true`` one per planning unit (the largest; named
    leads replace their unit's), since a unit belongs to one grid.
    """
    f, fac_unit = job.f, job.fac_unit
    cand, member_units, member_cand = precheck(job.city, job.units, job.rules, job.scenario, fac_unit)
    if not job.scenario.plan.lead_inside_grid:
        c = _Candidates(cand, member_units, member_cand, *grid_range(job.scenario, job.rules, len(cand)))
        check_grid_count(job.rules, c.lo, len(cand), member_units, distinct_units=False, member_bound=_bound(job, c))
        return c
    # two candidates in one unit cannot both lead; keep the larger (beds, then id) as the unit's candidate
    order = np.lexsort((f["facility_id"].to_numpy()[cand], -np.nan_to_num(f["beds"].to_numpy()[cand])))
    _, first = np.unique(fac_unit[cand][order], return_index=True)
    kept = np.sort(cand[order][first])
    if len(kept) < len(cand):
        dropped = sorted(set(cand) - set(kept))
        job.notes.append(
            "co-located candidate leads (same planning unit), only the largest kept: "
            + ", ".join(f["name"].iat[i] for i in dropped)
        )
    if wanted is not None:
        check_named_leads_apart(job.rules, fac_unit, wanted)
        kept = np.union1d(kept[~np.isin(fac_unit[kept], fac_unit[wanted])], wanted)
    # a dropped candidate never leads: when it counts as a member, it is a plain member of its unit
    is_member = dict(zip(cand.tolist(), member_cand.tolist(), strict=True))
    member_units = member_units.copy()
    member_units[0, [fac_unit[i] for i in cand if i not in set(kept.tolist()) and is_member[i]]] = True
    c = _Candidates(kept, member_units, np.array([is_member[i] for i in kept], bool),
                    *grid_range(job.scenario, job.rules, len(kept)))
    check_grid_count(job.rules, c.lo, len(kept), member_units, member_bound=_bound(job, c))
    return c


def _bound(job: _Job, c: _Candidates) -> int:
    """Most grids rule 3 lets comply with these candidates (see :func:`member_grid_bound`)."""
    return member_grid_bound(c.member_units[0], job.fac_unit[c.cand], c.member_cand)


def _solve(job: _Job, c: _Candidates) -> AssignmentResult:
    """One optimiser call for the candidates; raises when it finds no plan (diagnosed when none exists)."""
    scenario, f, fac_unit, ug, tr = job.scenario, job.f, job.fac_unit, job.units.gdf, job.scenario.travel
    cand = c.cand
    check_population_bounds(job.rules, scenario, c.lo, c.hi, float(ug["population"].sum()))
    cost = job.minutes(np.arange(len(ug)), cand)
    adj_min = adjacency_minutes(job.units.adjacency, ug["lon"].to_numpy(), ug["lat"].to_numpy(), tr.speed_kmh,
                                tr.circuity)
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
    spec = ModelSpec(
        ug["population"].to_numpy(dtype=float),
        cost,
        adj_min,
        fac_unit[cand],
        (c.lo, c.hi),
        must_open=c.must_open,
        member_units=c.member_units,
        member_candidates=c.member_cand if c.member_cand.any() else None,
        pop_bounds=(scenario.grids.min_population, scenario.grids.max_population)
        if (scenario.grids.min_population or scenario.grids.max_population)
        else None,
        candidate_k=scenario.solver.candidate_k,
        reference_assignment=c.reference,
        fixed_assignment=c.fixed,
        coverage_minutes=tr.access_minutes,
        lead_inside=scenario.plan.lead_inside_grid,
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
        raise _no_plan_error(result, spec, how, f, cand, job.rules, ug["unit_id"].to_numpy())
    return _prefer_larger(job, c, result, cost)


def _prefer_larger(job: _Job, c: _Candidates, result: AssignmentResult, cost: np.ndarray) -> AssignmentResult:
    """Among interchangeable candidates the larger (beds, then id) leads, as in the inside reading.

    With ``plan.lead_inside_grid = false`` hospitals at one location are all candidates; when the plan opens one of
    them, any other with the same planning unit and the same minutes to every unit gives a plan of the same value
    (same grids, no fewer lead beds, the same members when both count as rule-3 members), so the solver's choice
    between them is arbitrary. The preferred one is taken instead (never in repair, where candidates are compared
    with the layout, nor with locked units, nor for a must-open candidate).
    """
    if c.reference is not None or c.fixed is not None:
        return result
    f, fac_unit = job.f, job.fac_unit
    beds = np.nan_to_num(f["beds"].to_numpy(dtype=float)[c.cand])
    rank = np.argsort(np.lexsort((f["facility_id"].to_numpy()[c.cand], -beds)))
    must = np.zeros(len(c.cand), bool) if c.must_open is None else c.must_open
    lab, opened = result.unit_lead.copy(), set(result.open_leads.tolist())
    swaps = []
    for j in sorted(opened, key=lambda j: rank[j]):
        same = [k for k in np.argsort(rank) if k not in opened and rank[k] < rank[j]
                and fac_unit[c.cand[k]] == fac_unit[c.cand[j]] and np.array_equal(cost[:, k], cost[:, j])
                and c.member_cand[k] == c.member_cand[j]]  # the idle one must count as a member as before
        if must[j] or not same:
            continue
        k = int(same[0])
        lab[lab == j] = k
        opened = (opened - {j}) | {k}
        swaps.append(f"{f['name'].iat[c.cand[k]]} instead of {f['name'].iat[c.cand[j]]}")
    if not swaps:
        return result
    job.notes.append("hospitals at one location with the same travel times: the larger leads, " + "; ".join(swaps))
    return dataclasses.replace(result, unit_lead=lab, open_leads=np.array(sorted(opened), dtype=np.int64))


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
        "{grid} has no unit with a secondary general hospital or continuing-care facility: {label} needs "
        "{r.amount:.0f} more member",
        "locate a {short} in the grid, or plan fewer grids",
    ),
    (
        "R5.primary_care",
        "{grid} has no primary-care facility to receive the lead's referrals ({label})",
        "locate a {short} in the grid, or plan fewer grids",
    ),
)
# what the diagnosis asks of one grid, in the planner's words ({grid}: "the grid led by 某医院 (ID, 5 units)")
_GRID_TEXT = {
    "pop_lower": "{grid} cannot reach grids.min_population: it must fall by {r.amount:,.0f} residents",
    "pop_upper": "{grid} cannot stay within grids.max_population: it must rise by {r.amount:,.0f} residents",
    "beds": "{grid} needs {r.amount:,.0f} more beds to reach grids.min_beds_per_1000 = {rate:g}",
    "must_open": "{lead} cannot be kept as a lead of its own grid",
}


def _rule_failure(
    r: Relaxation, f: gpd.GeoDataFrame, cand: np.ndarray, rules: RuleSet, unit_ids: np.ndarray, rate: float | None
) -> RuleFailure:
    """The relaxation the optimiser's diagnosis asks for, as a failing rule in the planner's words.

    Grids are named by their lead hospital and units by their unit id, never by the solver's candidate index.
    """
    lead = grid = ""
    if r.candidate is not None:
        i = cand[r.candidate]
        lead = f"{f['name'].iat[i]} ({f['facility_id'].iat[i]})"
        size = "" if r.grid_units is None else f", {r.grid_units} planning unit(s)"
        grid = f"the grid led by {f['name'].iat[i]} ({f['facility_id'].iat[i]}{size})"
    if r.family == "member_units":
        rule_id, text, fix = _MEMBER_RULES[r.kind]
        entry = rules.text(rule_id)
        return RuleFailure(rule_id, text.format(r=r, label=entry.label, grid=grid or "a grid"),
                           fix.format(short=entry.short_en))
    rule_id, fix = _FAMILY_RULES[r.family]
    if r.family == "reachability" and r.unit is not None:
        text = (f"planning unit {unit_ids[r.unit]} cannot join any grid through shared edges (not connected to an "
                "open lead, or every such grid is blocked)")
    elif r.family in _GRID_TEXT and lead:
        text = _GRID_TEXT[r.family].format(r=r, grid=grid, lead=lead, rate=rate or 0.0)
    else:
        text = r.message
    return RuleFailure(rule_id, text, fix)


def _no_plan_error(
    result: AssignmentResult,
    spec: ModelSpec,
    how: dict,
    f: gpd.GeoDataFrame,
    cand: np.ndarray,
    rules: RuleSet,
    unit_ids: np.ndarray,
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
    failures = [_rule_failure(r, f, cand, rules, unit_ids, spec.min_beds_per_1000) for r in diag.relaxations]
    msgs = [x.message for x in failures] or [diag.status]
    return PlanningError("no plan satisfies the rules; to make one possible: " + "; ".join(msgs), failures=failures)


def _assemble(
    job: _Job, c: _Candidates, result: AssignmentResult, labels: dict[str, str], layout_grid: np.ndarray | None = None
) -> Plan:
    """Grids from the optimiser's assignment (``labels``: lead id → grid id), the run record, and the evaluation."""
    f, ug = job.f, job.units.gdf
    grid_of_cand = np.array([labels.get(fid, "") for fid in f["facility_id"].to_numpy()[c.cand]], dtype=object)
    unit_grid = grid_of_cand[result.unit_lead].astype(str)
    grid_lead = {g: fid for fid, g in labels.items()}
    moves = None
    if layout_grid is not None:
        old = np.asarray(layout_grid)
        pop = ug["population"].to_numpy(dtype=float)
        moved = np.flatnonzero(c.reference != result.unit_lead)
        moves = pd.DataFrame(
            {
                "unit_id": ug["unit_id"].to_numpy()[moved],
                "from_grid": old[moved],
                "to_grid": unit_grid[moved],
                "residents": pop[moved],
            }
        )
        job.notes.append(
            f"repair moved {len(moved)} unit(s), {pop[moved].sum():,.0f} residents (the objective residents_moved)"
        )
    job.record.update(
        {
            "solver": result.solver,
            "status": result.status,
            "objective_name": result.objective_name,
            "objective": result.objective,
            "best_bound": result.bound,
            "gap": result.gap,
            "contiguity": result.contiguity,
            "model_size": result.model_size,
            "timings": result.timings,
            "candidate_leads": [f["facility_id"].iat[i] for i in c.cand],
            "solver_notes": result.notes,
            "grid_count_range": [c.lo, c.hi],
        }
    )
    return _finish(job, unit_grid, grid_lead, moves=moves)


def _layout_leads(layout_grid: np.ndarray, cand: np.ndarray, f: gpd.GeoDataFrame, fac_unit: np.ndarray,
                  named: dict[str, str] | None = None, job: _Job | None = None) -> dict:
    """Lead of each layout grid (position in ``cand``): the one the layout names (``lead_id``), else the eligible
    hospital inside the grid with the most beds (then smallest id)."""
    out = {}
    beds = np.nan_to_num(f["beds"].to_numpy()[cand])
    ids = f["facility_id"].to_numpy()[cand]
    named = named or {}
    _check_named_layout_leads(named, set(layout_grid), ids, f, job)
    pos = {fid: k for k, fid in enumerate(ids)}
    for g in sorted(set(layout_grid)):
        if g in named:
            out[g] = pos[named[g]]
            continue
        inside = np.flatnonzero(np.isin(fac_unit[cand], np.flatnonzero(layout_grid == g)))
        inside = inside[~np.isin(ids[inside], list(named.values()))]  # a named lead leads its own grid only
        if len(inside):
            out[g] = int(inside[np.lexsort((ids[inside], -beds[inside]))][0])
    return out


def _check_named_layout_leads(named: dict[str, str], grids: set[str], ids: np.ndarray, f: gpd.GeoDataFrame,
                              job: _Job | None) -> None:
    """Every lead a layout names is a grid of the layout and a hospital that may lead (else an input error)."""
    if not named:
        return
    path = job.scenario.input_path(job.scenario.plan.layout) if job is not None else None
    for g, fid in named.items():
        if g not in grids:
            raise InputError(path, f"grid {g} names lead {fid} but has no planning unit in the layout",
                             field=LAYOUT_LEAD_FIELD)
        if fid in set(ids):
            continue
        known = fid in set(f["facility_id"])
        why = ("is not a hospital that may lead under the rule set" + (f" ({job.rules.text('R2.lead').label})"
                                                                         if job is not None else "")
               if known else "is not a facility id of the scenario's facility files")
        raise InputError(path, f"grid {g}: lead {fid} {why}", row=f"grid {g}", field=LAYOUT_LEAD_FIELD)


def _finish(job: _Job, unit_grid: np.ndarray, grid_lead: dict[str, str], moves: pd.DataFrame | None = None) -> Plan:
    """Form the groups of the grids and lay out the plan's tables (the evaluate stage checks and measures it)."""
    scenario, units, f, minutes = job.scenario, job.units, job.f, job.minutes
    ug = units.gdf
    groups: Groups = form_groups(
        ug, unit_grid, grid_lead, f, job.fac_unit, job.rules, minutes, scenario.plan.collaborating_units or None,
        options=GroupOptions.of(scenario, job.city),
    )
    job.notes += groups.notes
    fac_out, groups_out = add_campuses(groups.facilities, groups.groups)
    fid = f["facility_id"].to_numpy()
    lead_idx = {g: int(np.flatnonzero(fid == x)[0]) for g, x in grid_lead.items()}
    travel = np.full(len(ug), np.nan)
    for g, li in lead_idx.items():
        sel = np.flatnonzero(unit_grid == g)
        travel[sel] = minutes(sel, np.array([li]))[:, 0]
    units_out = ug[UNIT_COLUMNS].copy()
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
    return Plan(
        scenario=scenario,
        units=units_out,
        grids=grids,
        facilities=fac_out,
        groups=groups_out,
        referrals=groups.referrals,
        record=job.record,
        rules=job.rules,
        adjacency=units.adjacency,
        bridges=units.bridges,
        moves=moves,
        notes=job.notes,
        travel_minutes=minutes,
        shared_centres=centres_of_scenario(scenario, groups_out, fac_out, job.fac_unit, minutes, unit_grid,
                                           units.adjacency),
    )
