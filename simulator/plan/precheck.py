"""Checks before any model is built: when the facilities cannot satisfy a rule, say which and why, with the facts.

Every failure is a :class:`~simulator.errors.RuleFailure` whose rule id and label (``"rule 3"``) and requirement
wording come from the rule file's catalogue; :class:`~simulator.errors.PlanningError` carries them as
``failures`` so callers read ``exc.rule_ids`` instead of the message.
"""

from __future__ import annotations

import numpy as np

from ..config.rules import RuleSet, primary_care
from ..config.scenario import Scenario
from ..errors import InputError, PlanningError, RuleFailure
from ..load.city import CityData
from ..load.validate import row_label
from ..optimise import CONTIGUITY, OBJECTIVES, SOLVERS
from ..units.planning_units import PlanningUnits
from .groups import check_cross_grid_service, eligible_lead_mask, required_member_mask


def check_solver_names(scenario: Scenario) -> None:
    """``solver.name``, ``solver.contiguity`` and ``solver.objective`` must be names the optimiser registered."""
    s = scenario.solver
    # repair's objective (residents moved) is chosen by the mode, not by the scenario
    choices = {
        "name": (s.name, tuple(SOLVERS)),
        "contiguity": (s.contiguity, tuple(CONTIGUITY)),
        "objective": (s.objective, tuple(k for k in OBJECTIVES if k != "residents_moved")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise InputError(
                scenario.path, f"solver.{key} = {value!r}; expected one of {', '.join(allowed)}", field=f"solver.{key}"
            )
    if not scenario.plan.lead_inside_grid and not CONTIGUITY[s.contiguity].lead_outside:
        allowed = ", ".join(k for k, fam in CONTIGUITY.items() if fam.lead_outside)
        raise InputError(
            scenario.path,
            f"solver.contiguity = {s.contiguity!r} needs plan.lead_inside_grid = true (the lead's unit is its "
            f"source); with leads outside their grid (the default) expected one of {allowed}",
            field="solver.contiguity",
        )


def check_rule_fields(city: CityData, rules: RuleSet) -> None:
    """Facilities a rule must judge carry the fields it reads, else an :class:`InputError` naming the rule.

    Lead eligibility (rule 2) reads ``ownership`` (city or district level 市属/区属): a tertiary comprehensive
    hospital in the city without it would silently drop out of the candidates ("0 hospitals eligible to lead").
    """
    f = city.facilities
    lead = rules["lead"]
    judged = (
        f["level"].isin(lead["levels"]).to_numpy()
        & f["kind"].isin(lead["kinds"]).to_numpy()
        & f["in_city"].to_numpy()
        & ~f["modelled"].to_numpy()
    )
    blank = judged & (f["ownership"].astype(str).str.strip() == "").to_numpy()
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        row = f.iloc[i]
        entry = rules.text("R2.lead")
        src = row.get("source_path") or None
        raise InputError(
            src,
            f"{row['facility_id']} {row['name']} has no ownership, which {entry.label} ({entry.short_en}) needs; "
            f"expected one of {', '.join(lead['ownerships'])}, enterprise, … (市属, 区属, 企业 …); "
            f"{int(blank.sum())} such facilit{'y' if blank.sum() == 1 else 'ies'} in all",
            row=row_label(src, int(row["source_row"])) if src else None,
            field="ownership",
        )


def _facts(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (" …" if len(names) > limit else "")


def _raise(failures: list[RuleFailure]) -> None:
    if failures:
        raise PlanningError(failures=failures)


def check_named_leads(city: CityData, rules: RuleSet, scenario: Scenario) -> None:
    """``fixed_leads`` mode: every named lead exists (else :class:`InputError`) and may lead (rule 2)."""
    f = city.facilities
    ids = scenario.plan.leads
    unknown = [x for x in ids if x not in set(f["facility_id"])]
    if unknown:
        raise InputError(scenario.path, f"unknown lead facility id(s) {', '.join(unknown)}", field="plan.leads")
    elig = eligible_lead_mask(f, rules, scenario.plan.allow_enterprise_leads)
    bad = [x for x in ids if not elig[int(np.flatnonzero(f["facility_id"].to_numpy() == x)[0])]]
    if bad:
        names = [f.loc[f.facility_id == x, "name"].iat[0] for x in bad]
        who = ", ".join(f"{a} {b}" for a, b in zip(bad, names, strict=True))
        must = rules.text("R2.lead").short_en
        _raise([rules.failure("R2.lead", f"{who} cannot lead under {rules.id} (must be {must})")])


def _lead_failure(
    city: CityData, rules: RuleSet, cand: np.ndarray, fac_unit: np.ndarray, inside: bool = True
) -> RuleFailure | None:
    """Rules 2 and 1: enough eligible leads, standing in enough distinct units to lead separate grids.

    With ``inside`` false (``plan.lead_inside_grid = false``) leads may share a unit, so only their number counts.
    """
    f = city.facilities
    names = [f"{f['name'].iat[i]} ({f['facility_id'].iat[i]})" for i in cand]
    area = "、".join(city.area["name"])
    distinct = np.unique(fac_unit[cand])
    if len(cand) < rules.min_grids:
        return rules.failure(
            "R2.lead",
            f"the planning area ({area}) has {len(cand)} hospital(s) eligible to lead"
            + (f" ({_facts(names)})" if names else "")
            + f"; {rules.id} requires at least {rules.min_grids} grids, each led by its own tertiary hospital",
        )
    if inside and len(distinct) < rules.min_grids:
        quality = ", ".join(sorted(set(f["location_quality"].iloc[cand])))
        return rules.failure(
            "R1.grids",
            f"the {len(cand)} hospitals eligible to lead ({_facts(names)}) all stand in "
            f"{len(distinct)} planning unit(s) (their recorded locations coincide: location quality {quality}); "
            f"{rules.text('R1.coverage').short_en}, so at most {len(distinct)} grid(s) can be led, and {rules.id} "
            f"requires at least {rules.min_grids}. Give the hospitals' real coordinates (facilities file) to plan "
            "this area",
        )
    return None


def precheck(
    city: CityData, units: PlanningUnits, rules: RuleSet, scenario: Scenario, fac_unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the rules before any model is built; raise :class:`PlanningError` with every failing rule at once.

    Parameters
    ----------
    fac_unit : (f,) unit index of each facility (−1 outside the planning area)

    Returns
    -------
    candidates : indices of the facilities eligible to lead
    member_units : (2, n) boolean; row 0 marks units holding a rule-3 member that is not a candidate lead, row 1
        units holding primary care
    member_cand : (len(candidates),) boolean; candidates that count as a rule-3 member of the grid holding them
        when they do not lead (a tertiary comprehensive hospital under the ``at_least_secondary`` reading)
    """
    f = city.facilities
    if scenario.plan.mode == "fixed_leads":
        check_named_leads(city, rules, scenario)
    cand = np.flatnonzero(eligible_lead_mask(f, rules, scenario.plan.allow_enterprise_leads))
    area = "、".join(city.area["name"])
    # every failing rule is reported at once, so a planner can fix the data in one pass
    inside = scenario.plan.lead_inside_grid
    failures = [x for x in [_lead_failure(city, rules, cand, fac_unit, inside)] if x is not None]
    check_cross_grid_service(f, rules, getattr(scenario.plan, "cross_grid_service", {}) or {}, scenario.path)
    # the compliance check's reading: a candidate lead that does not lead counts as a member of the grid holding
    # it (member_cand); a lead is not its own group's member
    may_lead = np.zeros(len(f), dtype=bool)
    may_lead[cand] = True
    req = required_member_mask(f, rules, getattr(scenario.plan, "member_reading", "at_least_secondary"))
    pure = req & ~may_lead & (fac_unit >= 0)
    member_units = np.zeros(len(units), dtype=bool)
    member_units[fac_unit[pure]] = True
    member_cand = req[cand]
    bound = member_grid_bound(member_units, fac_unit[cand], member_cand)
    if bound < rules.min_grids:
        failures.append(rules.failure("R3.member", _member_shortage(city, rules, req, may_lead, fac_unit, bound,
                                                                        scenario.path)))
    pc = primary_care(f, rules) & (fac_unit >= 0)
    pc_units = np.zeros(len(units), dtype=bool)
    pc_units[fac_unit[pc]] = True
    if pc_units.sum() < rules.min_grids:
        failures.append(rules.failure(
            "R5.primary_care",
            f"each lead refers slots and beds to primary care in its grid, but the planning area ({area}) has "
            f"primary-care facilities in {int(pc_units.sum())} unit(s); {rules.id} requires at least "
            f"{rules.min_grids} grids",
        ))
    _raise(failures)
    return cand, np.vstack([member_units, pc_units]), member_cand


def member_grid_bound(pure_units: np.ndarray, cand_unit: np.ndarray, member_cand: np.ndarray) -> int:
    """Most grids rule 3 can let comply: each needs a member in a unit of its own, and a lead is not a member.

    Parameters
    ----------
    pure_units : (n,) bool, units holding a member that may not lead (members in one unit serve one grid)
    cand_unit : (c,) unit of each candidate lead
    member_cand : (c,) bool, candidates that count as a member when they do not lead
    """
    units = np.union1d(np.flatnonzero(pure_units), cand_unit[member_cand]).size
    n_mc = int(member_cand.sum())
    n_other = member_cand.size - n_mc
    pure_count = int(pure_units.sum())
    best = 0
    for k in range(1, units + 1):
        # k grids: k leads, taken from the other candidates first; the idle member candidates and the pure members
        # must give every grid one
        if pure_count + n_mc - max(0, k - n_other) >= k:
            best = k
    return best


def _member_shortage(city: CityData, rules: RuleSet, req: np.ndarray, may_lead: np.ndarray, fac_unit: np.ndarray,
                     bound: int, scenario_path: object = None) -> str:
    """Rule 3's precheck message: the member facilities, the units they stand in, and what is unknown about them."""
    f = city.facilities
    area = "、".join(city.area["name"])
    idx = np.flatnonzero(req & (fac_unit >= 0))
    n_req, n_units = idx.size, np.unique(fac_unit[idx]).size
    names = [f["name"].iat[i] for i in idx]
    n_lead = int(may_lead[idx].sum())
    text = (
        f"every group needs at least one {rules.text('R3.member').short_en} inside its grid, but the planning area "
        f"({area}) has {n_req} such facilit{'y' if n_req == 1 else 'ies'}" + (f" ({_facts(names)})" if names else "")
        + (f", {n_lead} of them hospitals that may lead (a lead is not its own group's member)" if n_lead else "")
        + f", in {n_units} planning unit(s), so at most {bound} grid(s) can comply; {rules.id} requires at least "
        f"{rules.min_grids} grids"
    )
    quality = f["location_quality"].astype(str).to_numpy() if "location_quality" in f else np.array([""] * len(f))
    vague = idx[np.isin(quality[idx], ("district_seat", "district_centroid"))]
    if vague.size and n_units < n_req:
        text += (
            f". {vague.size} of them are placed only at their district's seat or centre (location_quality "
            "district_seat/district_centroid 位置待确认): their real locations are unknown, so they share planning "
            f"units. Plan through the unknown locations with `caregrid ensemble {scenario_path or 'SCENARIO'} "
            "--samples 30 --out DIR` (plans over draws of their locations), or give their real coordinates in a "
            "facilities file (location_quality exact)"
        )
    return text


def grid_range(scenario: Scenario, rules: RuleSet, n_candidates: int) -> tuple[int, int]:
    """Fewest and most grids the plan may have: the scenario's count or range, within the rule's minimum."""
    g = scenario.grids
    if g.count is not None:
        lo = hi = int(g.count)
    else:
        lo = int(g.min) if g.min is not None else rules.min_grids
        hi = int(g.max) if g.max is not None else max(lo, n_candidates)
    if lo < rules.min_grids:
        # worded without the "rule 1 fails" label: the scenario, not the city's facilities, is at fault
        _raise([RuleFailure("R1.grids", f"the scenario asks for {lo} grid(s); {rules.id} requires "
                                        f"{rules.text('R1.grids').short_en}")])
    return lo, hi


def check_grid_count(
    rules: RuleSet,
    lo: int,
    n_candidates: int,
    member_units: np.ndarray,
    asked: str | None = None,
    distinct_units: bool = True,
    member_bound: int | None = None,
) -> None:
    """Enough distinct units with primary care (rule 5), a rule-3 member and an eligible lead for ``lo`` grids.

    ``asked`` says where the count comes from (repair: "the layout's 3 grid(s)"), for the message;
    ``distinct_units``: the candidates stand in distinct units (``plan.lead_inside_grid``), for the message;
    ``member_bound``: the most grids rule 3 lets comply (:func:`member_grid_bound`; default: the member units).
    """
    how = f"{lo} grids are asked for" + (f" ({asked})" if asked else "")
    if member_units[1].sum() < lo:
        _raise([rules.failure(
            "R5.primary_care",
            f"{how}, but only {int(member_units[1].sum())} planning unit(s) hold a "
            f"{rules.text('R5.primary_care').short_en}, and each grid needs one",
        )])
    bound = int(member_units[0].sum()) if member_bound is None else member_bound
    if bound < lo:
        _raise([rules.failure(
            "R3.member",
            f"{how}, but the planning area can give at most {bound} grid(s) a {rules.text('R3.member').short_en} "
            "inside it (a hospital that may lead counts only where it does not lead), and each grid needs one",
        )])
    if n_candidates < lo:
        _raise([rules.failure(
            "R2.lead",
            f"{how}, but only {n_candidates} eligible lead hospital(s)"
            + (" stand in distinct planning units" if distinct_units else " stand in the planning area"),
        )])


def check_population_bounds(rules: RuleSet, scenario: Scenario, lo: int, hi: int, residents: float) -> None:
    """``grids.min_population`` / ``max_population`` against the residents and the grid count, before any model.

    ``hi`` grids of at most ``max_population`` must hold every resident, and ``lo`` grids of at least
    ``min_population`` must not need more residents than there are: arithmetic the solver would take minutes to
    prove infeasible.
    """
    g = scenario.grids
    if g.max_population is not None and hi * g.max_population < residents:
        _raise([rules.failure(
            "S.population",
            f"at most {hi} grid(s) of at most grids.max_population = {g.max_population:,.0f} residents hold "
            f"{hi * g.max_population:,.0f}, but the planning area has {residents:,.0f} residents; raise "
            f"grids.max_population to at least {int(-(-residents // hi)):,} or plan more grids",
            fix=f"raise grids.max_population to at least {int(-(-residents // hi)):,} or plan more grids",
        )])
    if g.min_population is not None and lo * g.min_population > residents:
        _raise([rules.failure(
            "S.population",
            f"{lo} grid(s) of at least grids.min_population = {g.min_population:,.0f} residents need "
            f"{lo * g.min_population:,.0f}, but the planning area has {residents:,.0f} residents; lower "
            f"grids.min_population to at most {int(residents // lo):,} or plan fewer grids",
            fix=f"lower grids.min_population to at most {int(residents // lo):,} or plan fewer grids",
        )])


def check_named_leads_apart(rules: RuleSet, fac_unit: np.ndarray, wanted: np.ndarray) -> None:
    """``fixed_leads`` mode: no two named leads stand in the same planning unit (rule 1)."""
    if len(np.unique(fac_unit[wanted])) < len(wanted):
        _raise([rules.failure(
            "R1.coverage",
            f"two of the named leads stand in the same planning unit; {rules.text('R1.coverage').short_en}",
        )])
