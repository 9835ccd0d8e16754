"""Medical groups from a unit → grid assignment: roles, collaborating units, referral reservations, compliance.

Roles (``role`` in the facilities layer / ``groups.csv``):

* ``lead`` 牵头医院 — the grid's lead hospital;
* ``member`` 成员单位 — a facility located inside the grid;
* ``cross_grid`` 跨网格 — maternal–child health, public-health, rehab/nursing/hospice institutions: a member of the
  grid they stand in and listed as ``cross_grid`` under each other grid they serve (``plan.cross_grid_reading``:
  ``reach`` — the grids with at least ``cross_grid.reach_share`` of their residents within
  ``travel.access_minutes`` — or ``every_group``; the planner's ``plan.cross_grid_service`` overrides per facility);
* ``collaborating`` 协作单位 — provincial hospitals / regional medical centres outside the group (rule 4): declared
  ties (``inputs.affiliations``) first, then the nearest; one unit may serve several groups. In the facilities
  layer a candidate that serves no group is ``unassigned``;
* ``unassigned`` — in-city facilities outside the planning area, and external units that serve no group.

``groups.csv`` says in ``basis`` why a cross-grid or collaborating row is there (reach, the planner's list, a
declared tie, distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.rules import (
    RuleSet,
    Switches,
    collaborating_candidates,
    cross_grid,
    eligible_leads,
    primary_care,
    required_members,
)
from ..errors import InputError
from ..load.validate import near_ids
from ..travel import haversine_km
from ..units.population import largest_remainder

GROUP_COLUMNS = ["grid_id", "facility_id", "name", "role", "basis"]


@dataclass(frozen=True)
class GroupOptions:
    """The scenario's choices that shape the groups (see the module docstring).

    Parameters
    ----------
    switches : the readings the scenario chose (:class:`simulator.config.rules.Switches`)
    access_minutes : ``travel.access_minutes``, the reach of a cross-grid institution
    cross_grid_service : ``plan.cross_grid_service``, facility id → grid ids (or lead facility ids) or ``"all"``
    affiliations : declared ties (``facility_id``, ``partner_facility_id``, ``relation``), or ``None``
    source : the scenario file, for messages
    """

    switches: Switches = field(default_factory=Switches)
    access_minutes: float = 30.0
    cross_grid_service: dict = field(default_factory=dict)
    affiliations: pd.DataFrame | None = None
    source: object = None

    @classmethod
    def of(cls, scenario, city=None) -> GroupOptions:
        """Options of a scenario; ``city`` (a :class:`~simulator.load.city.CityData`) brings its affiliations."""
        aff = getattr(city, "affiliations", None)
        return cls(
            Switches.of(scenario), float(scenario.travel.access_minutes),
            dict(getattr(scenario.plan, "cross_grid_service", {}) or {}),
            aff if aff is not None and len(aff) else None, scenario.path,
        )


def check_cross_grid_service(facilities: pd.DataFrame, rules: RuleSet, service: dict, source=None) -> None:
    """The planner's cross-grid list names known facilities of a cross-grid kind, else :class:`InputError`."""
    ids = facilities["facility_id"].astype(str).to_numpy()
    is_cross = cross_grid(facilities, rules)
    for fid in service:
        hit = np.flatnonzero(ids == str(fid))
        if len(hit) == 0:
            near = near_ids(fid, ids[is_cross] if is_cross.any() else ids)
            raise InputError(source, f"plan.cross_grid_service names unknown facility id {fid!r}{near}",
                             field=f"cross_grid_service.{fid}")
        if not is_cross[hit[0]]:
            raise InputError(
                source, f"plan.cross_grid_service names {fid} {facilities['name'].iat[hit[0]]} "
                f"({facilities['kind'].iat[hit[0]]}); only in-city {', '.join(rules['cross_grid']['kinds'])} "
                "institutions serve several grids", field=f"cross_grid_service.{fid}",
            )


@dataclass
class Groups:
    facilities: gpd.GeoDataFrame
    groups: pd.DataFrame
    referrals: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def facility_units(facilities: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> np.ndarray:
    """Index of the unit each facility stands in (−1 outside the planning area); nearest unit if it falls in a
    dropped sliver or on an edge."""
    out = np.full(len(facilities), -1, dtype=np.int64)
    inside = facilities["in_area"].to_numpy()
    if not inside.any():
        return out
    geoms = units.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    pts = facilities.geometry.to_numpy()[inside]
    fi, ui = tree.query(pts, predicate="intersects")
    first = pd.Series(ui).groupby(fi).min()
    idx = np.full(len(pts), -1, dtype=np.int64)
    idx[first.index.to_numpy()] = first.to_numpy()
    missing = idx < 0
    if missing.any():
        # query_nearest returns every unit tied at the nearest distance: keep the lowest index per facility
        qi, ui = tree.query_nearest(pts[missing], return_distance=False)
        nearest = pd.Series(ui).groupby(qi).min()
        idx[np.flatnonzero(missing)[nearest.index.to_numpy()]] = nearest.to_numpy()
    out[inside] = idx
    return out


def grid_sort_key(grid_id: str) -> tuple:
    """Order G1, G2, …, G10 numerically, then any planner-named grids alphabetically."""
    g = str(grid_id)
    return (0, int(g[1:]), g) if len(g) > 1 and g[0] == "G" and g[1:].isdigit() else (1, 0, g)


def grid_labels(lead_ids: list[str]) -> dict[str, str]:
    """Grid ids G1, G2, … in the order of the lead facility ids (deterministic)."""
    return {fid: f"G{k + 1}" for k, fid in enumerate(sorted(lead_ids))}


def form_groups(
    units: gpd.GeoDataFrame,
    unit_grid: np.ndarray,
    grid_lead: dict[str, str],
    facilities: gpd.GeoDataFrame,
    fac_unit: np.ndarray,
    rules: RuleSet,
    unit_minutes_to_facility,
    collaborating_ids: list[str] | None = None,
    options: GroupOptions | None = None,
) -> Groups:
    """Build the groups of a plan.

    Parameters
    ----------
    units : planning units (``population`` used for referral shares)
    unit_grid : (n,) grid id per unit (str)
    grid_lead : grid id → lead facility id
    facilities : all facilities (``in_area`` marks the planning area's)
    fac_unit : (f,) unit index of each facility (−1 outside the area)
    unit_minutes_to_facility : callable(unit_idx array, facility_idx array) → (len(units), len(facs)) minutes
    collaborating_ids : scenario-named collaborating units (every group gets all of them); default: declared ties,
        then the nearest
    options : the scenario's readings, reach and planner's lists (:class:`GroupOptions`; default: the defaults)
    """
    opts = options or GroupOptions()
    f = facilities.copy()
    # the planner's flag (blank: not flagged), also for facilities added after loading
    f["continuing_care"] = (f["continuing_care"].fillna(False) if "continuing_care" in f else False)
    f["continuing_care"] = f["continuing_care"].astype(bool)
    grid_of_fac = np.where(fac_unit >= 0, unit_grid[np.maximum(fac_unit, 0)], "")
    # a lead belongs to the grid it leads, also when it stands outside it (plan.lead_inside_grid = false)
    led = f["facility_id"].map({fid: g for g, fid in grid_lead.items()})
    grid_of_fac = np.where(led.notna().to_numpy(), led.fillna("").to_numpy(dtype=str), grid_of_fac)
    f["grid_id"] = grid_of_fac
    lead_ids = set(grid_lead.values())
    is_lead = f["facility_id"].isin(lead_ids).to_numpy()
    grids = sorted(grid_lead, key=grid_sort_key)
    rows = []
    for g in grids:
        here = np.flatnonzero(grid_of_fac == g)
        for i in here:
            r = "lead" if is_lead[i] else "member"
            rows.append((g, f["facility_id"].iat[i], f["name"].iat[i], r, ""))
    notes: list[str] = []
    rows += _cross_grid_rows(f, rules, grids, grid_lead, unit_grid, grid_of_fac, units, unit_minutes_to_facility,
                             opts, notes)
    lead_index = {fid: int(np.flatnonzero(f["facility_id"].to_numpy() == fid)[0]) for fid in lead_ids}
    rows += _collaborating_rows(f, rules, grids, grid_lead, lead_index, grid_of_fac, collaborating_ids, opts, notes)
    groups = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    f["role"] = _roles(f, rules, fac_unit, is_lead, groups)

    referrals, ref_notes = _referrals(f, units, unit_grid, grid_lead, grids, grid_of_fac, fac_unit, rules,
                                      unit_minutes_to_facility)
    notes += ref_notes
    return Groups(facilities=f, groups=groups, referrals=referrals, notes=notes)


#: columns of ``referrals.csv`` (one row per grid and primary-care member receiving its lead's reservation)
REFERRAL_COLUMNS = (
    "grid_id",
    "lead_facility_id",
    "facility_id",
    "residents_served",
    "reserved_outpatient_slots",
    "reserved_beds",
    "reserved_outpatient_basis",
    "reserved_beds_basis",
    "reservation_source",
    "reserved_outpatient_status",
    "reserved_beds_status",
    "reserved_slots_per_10000",
    "reserved_beds_per_10000",
)
#: the declared figure of each capacity column (``simulator.load.reservations.attach_reservations``)
DECLARED_OF = {"outpatient_daily": "declared_outpatient_daily", "beds": "declared_beds"}


def lead_reservation(lead: pd.Series, capacity_col: str, share: float) -> tuple[float, str]:
    """What a lead reserves of ``capacity_col`` for primary care, and on what basis.

    Returns
    -------
    (figure, basis)
        ``(declared, "declared")`` when the lead declared a figure; else ``(ceil(share × capacity), "planned")``,
        the reservation the rule requires as the plan's figure; ``(nan, "no_data")`` when the capacity is unknown
    """
    declared = pd.to_numeric(lead.get(DECLARED_OF[capacity_col], np.nan), errors="coerce")
    if np.isfinite(declared):
        return float(declared), "declared"
    cap = pd.to_numeric(lead.get(capacity_col, np.nan), errors="coerce")
    if np.isfinite(cap):
        return float(math.ceil(share * cap - 1e-9)), "planned"
    return np.nan, "no_data"


def _referrals(
    f: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    unit_grid: np.ndarray,
    grid_lead: dict[str, str],
    grids: list[str],
    grid_of_fac: np.ndarray,
    fac_unit: np.ndarray,
    rules: RuleSet,
    unit_minutes_to_facility,
) -> tuple[pd.DataFrame, list[str]]:
    """Rule 5's referrals: each lead reserves slots and beds for its grid's primary care — the figures it declared
    (``inputs.reservations``), else the shares the rule requires as the plan's figures — and the plan allocates them
    to the grid's primary-care members by the residents each serves (nearest in-grid facility).

    Sets ``reserved_outpatient_slots`` / ``reserved_beds`` of ``f`` (leads and primary-care members) in place;
    returns ``referrals.csv`` (columns :data:`REFERRAL_COLUMNS`) and notes.
    """
    notes: list[str] = []
    fids = f["facility_id"].to_numpy()
    lead_index = {fid: int(np.flatnonzero(fids == fid)[0]) for fid in set(grid_lead.values())}
    is_lead = np.isin(fids, list(grid_lead.values()))
    ref = rules["referral"]
    is_pc = primary_care(f, rules) & (fac_unit >= 0)
    pop = units["population"].to_numpy(dtype=float)
    f["reserved_outpatient_slots"] = np.nan
    f["reserved_beds"] = np.nan
    ref_rows = []
    basis: dict[str, tuple[str, str, str]] = {}
    for g in grids:
        li = lead_index[grid_lead[g]]
        lead = f.iloc[li]
        res_slots, slots_basis = lead_reservation(lead, "outpatient_daily", ref["outpatient_share"])
        res_beds, beds_basis = lead_reservation(lead, "beds", ref["bed_share"])
        declared = "declared" in (slots_basis, beds_basis)
        basis[g] = (slots_basis, beds_basis, str(lead.get("declared_source", "") or "") if declared else "")
        f.loc[f.index[li], ["reserved_outpatient_slots", "reserved_beds"]] = [res_slots, res_beds]
        in_grid = np.flatnonzero(unit_grid == g)
        pcs = np.flatnonzero(is_pc & (grid_of_fac == g))
        if len(pcs) == 0:
            ref_rows.append((g, grid_lead[g], "", 0, np.nan, np.nan, float(pop[in_grid].sum())))
            continue
        minutes = unit_minutes_to_facility(in_grid, pcs)
        nearest = np.argmin(minutes, axis=1)
        served = np.bincount(nearest, weights=pop[in_grid], minlength=len(pcs))
        tie = np.argsort(f["facility_id"].to_numpy()[pcs]).argsort()
        alloc_s = (
            largest_remainder(int(res_slots), served, tie) if np.isfinite(res_slots) else np.full(len(pcs), np.nan)
        )
        alloc_b = largest_remainder(int(res_beds), served, tie) if np.isfinite(res_beds) else np.full(len(pcs), np.nan)
        grid_pop = float(pop[in_grid].sum())
        ids = f["facility_id"].to_numpy()[pcs]
        ref_rows.extend(
            zip(
                [g] * len(pcs), [grid_lead[g]] * len(pcs), ids, served.astype(float), alloc_s, alloc_b,
                [grid_pop] * len(pcs), strict=True,
            )
        )  # fmt: skip
        # one assignment per grid, not per facility: a city may list 100,000 primary-care sites
        f.loc[f.index[pcs], "reserved_outpatient_slots"] = alloc_s
        f.loc[f.index[pcs], "reserved_beds"] = alloc_b
    # the first six columns of REFERRAL_COLUMNS, and the grid population the per-10,000 figures need
    referrals = pd.DataFrame(ref_rows, columns=[*REFERRAL_COLUMNS[:6], "grid_population"])
    declared_any = np.zeros(len(f), dtype=bool)
    for col in DECLARED_OF.values():
        declared_any |= pd.to_numeric(f[col], errors="coerce").notna().to_numpy() if col in f else False
    unused = f["facility_id"].to_numpy()[declared_any & ~is_lead]
    if len(unused):
        notes.append(
            f"declared referral reservations of {len(unused)} facilit(ies) not used, not a lead hospital in this plan: "
            + ", ".join(sorted(map(str, unused))[:8])
        )
    # whether each figure is the lead's declaration or the plan's, and who declared it
    for k, col in enumerate(("reserved_outpatient_basis", "reserved_beds_basis", "reservation_source")):
        referrals[col] = referrals["grid_id"].map({g: b[k] for g, b in basis.items()}).fillna("").astype(str)
    # the reservations are shares of the lead's capacity: say whether that capacity is a fact or an estimate
    lead_at = pd.Series(range(len(f)), index=f["facility_id"].to_numpy())
    for col, status in (("reserved_outpatient_status", "outpatient_status"), ("reserved_beds_status", "beds_status")):
        values = f[status].astype(str).to_numpy() if status in f else np.full(len(f), "")
        stated = values[lead_at.reindex(referrals["lead_facility_id"]).fillna(-1).astype(int).to_numpy()]
        referrals[col] = np.where(stated == "", "fact", stated)
    per10k = 1e4 / referrals["residents_served"].where(referrals["residents_served"] > 0)
    referrals["reserved_slots_per_10000"] = referrals["reserved_outpatient_slots"] * per10k
    referrals["reserved_beds_per_10000"] = referrals["reserved_beds"] * per10k
    referrals = referrals[list(REFERRAL_COLUMNS)]
    return referrals, notes


def _roles(f: pd.DataFrame, rules: RuleSet, fac_unit: np.ndarray, is_lead: np.ndarray, groups: pd.DataFrame):
    """Role of each facility in the facilities layer: lead, member, cross_grid (in the area, or serving a grid from
    outside it), collaborating (only a unit that serves some group) or unassigned."""
    # object dtype: a fixed-width numpy string array would cut "collaborating" to the longest initial value
    role = np.where(fac_unit >= 0, "member", "unassigned").astype(object)
    listed = {r: f["facility_id"].isin(groups.loc[groups["role"] == r, "facility_id"]).to_numpy()
              for r in ("cross_grid", "collaborating")}
    role[cross_grid(f, rules) & ((fac_unit >= 0) | listed["cross_grid"])] = "cross_grid"
    role[is_lead] = "lead"
    role[listed["collaborating"] & (fac_unit < 0)] = "collaborating"
    return role


def _served_grids(i: int, f: pd.DataFrame, rules: RuleSet, grids: list[str], grid_lead: dict[str, str],
                  unit_grid: np.ndarray, pop: np.ndarray, unit_district: np.ndarray, minutes, opts: GroupOptions,
                  notes: list[str]):
    """The grids cross-grid institution ``i`` serves, each with the basis of the tie."""
    fid = f["facility_id"].iat[i]
    listed = opts.cross_grid_service.get(fid)
    if listed is not None:
        if listed == "all":
            return {g: "planner's list 规划者指定 (all grids)" for g in grids}
        by_lead = {lead: g for g, lead in grid_lead.items()}
        out, unknown = {}, []
        for x in listed:
            g = x if x in grid_lead else by_lead.get(x)
            if g is None:
                unknown.append(x)
            else:
                out[g] = "planner's list 规划者指定"
        if unknown:
            notes.append(f"plan.cross_grid_service: {fid} names grid(s) {', '.join(unknown)} that this plan does not "
                         f"have (its grids: {', '.join(grids)}, or their leads' facility ids); ignored")
        return out
    if opts.switches.cross_grid_reading == "every_group":
        return {g: "every grid 服务所有网格 (cross_grid_reading)" for g in grids}
    cg = rules["cross_grid"]
    admin = f["kind"].iat[i] in cg["administrative_kinds"]
    if admin and f["ownership"].iat[i] in cg["city_wide_ownerships"]:
        return {g: f"administrative area 行政辖区: {f['ownership'].iat[i]}-level institution serves every grid"
                for g in grids}
    near = minutes(np.arange(len(unit_grid)), np.array([i]))[:, 0] <= opts.access_minutes
    in_district = unit_district == str(f["district"].iat[i]) if admin else np.zeros(len(unit_grid), dtype=bool)
    out = {}
    for g in grids:
        in_g = unit_grid == g
        total = pop[in_g].sum()
        reached = pop[in_g & near].sum() / total if total > 0 else 0.0
        if total > 0 and pop[in_g & in_district].sum() / total >= cg["reach_share"] - 1e-12:
            out[g] = "administrative area 行政辖区: most residents live in its district"
        elif reached >= cg["reach_share"] - 1e-12:
            out[g] = f"reach 可达: {reached:.0%} of residents within {opts.access_minutes:g} min"
    return out


def _cross_grid_rows(f, rules, grids, grid_lead, unit_grid, grid_of_fac, units, minutes, opts, notes) -> list[tuple]:
    """``cross_grid`` rows: each in-city cross-grid institution under every grid it serves but stands outside."""
    check_cross_grid_service(f, rules, opts.cross_grid_service, opts.source)
    pop = units["population"].to_numpy(dtype=float)
    unit_district = units["district"].astype(str).to_numpy() if "district" in units else np.full(len(units), "")
    rows = []
    for i in np.flatnonzero(cross_grid(f, rules)):
        served = _served_grids(i, f, rules, grids, grid_lead, unit_grid, pop, unit_district, minutes, opts, notes)
        for g in grids:
            if g in served and grid_of_fac[i] != g:
                rows.append((g, f["facility_id"].iat[i], f["name"].iat[i], "cross_grid", served[g]))
    return rows


def _declared_partners(f: pd.DataFrame, affiliations: pd.DataFrame | None, is_collab: np.ndarray) -> dict:
    """Facility id → [(partner index, basis)] of the declared ties whose partner may collaborate (rule 4)."""
    out: dict[str, list[tuple[int, str]]] = {}
    if affiliations is None:
        return out
    index = {fid: k for k, fid in enumerate(f["facility_id"].to_numpy())}
    for a, b, rel in affiliations[["facility_id", "partner_facility_id", "relation"]].to_numpy():
        for mine, other in ((a, b), (b, a)):
            k = index.get(other)
            if k is not None and mine in index and is_collab[k]:
                basis = f"declared tie 已有协作关系: {a} {rel} of {b} (inputs.affiliations)"
                out.setdefault(mine, []).append((k, basis))
    return out


def _collaborating_rows(f, rules, grids, grid_lead, lead_index, grid_of_fac, collaborating_ids, opts, notes):
    """Rule 4: scenario-named units serve every group; else declared ties of the group's lead and members first,
    then the nearest external units to the lead, up to ``collaborating.min_per_group``."""
    ids = f["facility_id"].to_numpy()
    if collaborating_ids:
        chosen = [int(np.flatnonzero(ids == c)[0]) for c in collaborating_ids]
        notes.append("collaborating units named by the scenario: " + ", ".join(collaborating_ids))
        return [(g, ids[i], f["name"].iat[i], "collaborating", "named by the scenario 方案指定") for g in grids
                for i in chosen]
    is_collab = collaborating_candidates(f, rules)
    collab_idx = np.flatnonzero(is_collab)
    declared = _declared_partners(f, opts.affiliations, is_collab)
    need = rules["collaborating"].get("min_per_group", 1)
    lon, lat = f["lon"].to_numpy(), f["lat"].to_numpy()
    rows = []
    for g in grids:
        li = lead_index[grid_lead[g]]
        mine: dict[int, str] = {}
        for fid in [grid_lead[g], *ids[(grid_of_fac == g) & (ids != grid_lead[g])]]:
            for k, basis in declared.get(fid, []):
                mine.setdefault(k, basis)
        if len(mine) < need and len(collab_idx):
            d = haversine_km(lon[li], lat[li], lon[collab_idx], lat[collab_idx])
            for pos in np.lexsort((ids[collab_idx], d)):
                if len(mine) >= need:
                    break
                mine.setdefault(int(collab_idx[pos]), f"nearest 距离最近: {d[pos]:,.0f} km from the lead")
        rows += [(g, ids[k], f["name"].iat[k], "collaborating", basis) for k, basis in mine.items()]
    notes.append("collaborating units: declared ties (inputs.affiliations) first, then the nearest external tertiary "
                 "hospital to each lead" if opts.affiliations is not None else
                 "collaborating units: the nearest external tertiary hospital to each lead (no affiliations file)")
    return rows


def eligible_lead_mask(facilities: gpd.GeoDataFrame, rules: RuleSet, allow_enterprise: bool) -> np.ndarray:
    return eligible_leads(facilities, rules, allow_enterprise) & facilities["in_area"].to_numpy()


def required_member_mask(facilities: gpd.GeoDataFrame, rules: RuleSet, reading: str = "at_least_secondary",
                         may_lead: np.ndarray | None = None) -> np.ndarray:
    """Facilities of the planning area the optimiser may count on as a grid's rule-3 member.

    The same reading as the compliance check (:func:`simulator.config.rules.required_members`); a facility in
    ``may_lead`` (the candidate leads) is left out, since it may lead a group itself, and a lead is not its own
    group's member. The optimiser's member units are therefore a sufficient condition: a grid holding one complies.
    """
    mask = required_members(facilities, rules, reading) & facilities["in_area"].to_numpy()
    return mask if may_lead is None else mask & ~may_lead
