"""Rule compliance of a plan: one row per rule per grid and per city (``compliance.csv``).

One small check per rule (GerryChain ``Validator`` style): each reads the :class:`~.partition.GridPartition` and a
:class:`RuleContext` and returns an :class:`Outcome` (what is required, what the plan has, passed or not), or
``None`` where the rule does not apply. :data:`CITY_CHECKS` and :data:`GRID_CHECKS` register them by rule id; the
rule texts come from the rule file's catalogue (:meth:`simulator.config.rules.RuleSet.text`), never from here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..config.labels import Text
from ..config.rules import SERVED_BY, STATUSES, RuleSet, Switches, eligible_leads, required_members
from ..plan.groups import DECLARED_OF
from .partition import GROUP_ROLES, GridPartition

COLUMNS = ["rule_id", "scope", "rule_en", "rule_zh", "required", "actual", "status", "passed", "reading"]



@dataclass(frozen=True)
class Outcome:
    """Result of one rule check for one scope: ``required`` and ``actual`` as the table shows them.

    Parameters
    ----------
    required, actual : what the rule asks and what the plan has, as the table shows them
    passed : the check passed (``False`` for ``failed``, ``planned`` and ``no_data``)
    status : one of :data:`STATUSES`; empty = ``passed`` or ``failed`` from ``passed``
    reading : which reading of the rule's wording the check used (a scenario switch), ``""`` when there is one
    """

    required: str
    actual: object
    passed: bool
    status: str = ""
    reading: str = ""

    def __post_init__(self) -> None:
        status = self.status or ("passed" if self.passed else "failed")
        if status not in STATUSES or (status == "passed") != bool(self.passed):
            raise ValueError(f"compliance outcome: status {status!r} with passed={self.passed!r}")
        object.__setattr__(self, "status", status)

    @classmethod
    def planned(cls, required: str, actual: object, reading: str = "") -> Outcome:
        """A figure the plan sets (nothing declared to check it against)."""
        return cls(required, actual, False, "planned", reading)

    @classmethod
    def no_data(cls, required: str, actual: object, reading: str = "") -> Outcome:
        """The data cannot judge the rule."""
        return cls(required, actual, False, "no_data", reading)



@dataclass
class RuleContext:
    """What the checks need besides the partition: the rule set and the scenario's switches and bounds.

    Parameters
    ----------
    rules : the rule set (thresholds and catalogue)
    allow_enterprise : the scenario lets enterprise-owned tertiary hospitals lead
    census_population : residents the grids must cover (census total when the population is modelled); ``None``:
        the units' own total
    pop_bounds : scenario bounds on grid population (residents), either may be ``None``
    min_beds_per_1000 : scenario minimum of group beds per 1,000 residents, or ``None``
    switches : the scenario's readings of the pilot plan's words (:class:`simulator.config.rules.Switches`);
        ``None``: the defaults. ``allow_enterprise`` wins over its ``allow_enterprise_leads``.
    """

    partition: GridPartition
    rules: RuleSet
    allow_enterprise: bool
    census_population: int | None = None
    pop_bounds: tuple[float | None, float | None] = (None, None)
    min_beds_per_1000: float | None = None
    switches: Switches | None = None
    #: ``shared_centres.csv`` (:mod:`simulator.plan.shared_centres`); ``None``: not planned, the check is left out
    shared_centres: pd.DataFrame | None = None

    @cached_property
    def readings(self) -> Switches:
        """The switches the checks read (``allow_enterprise`` included)."""
        return dataclasses.replace(self.switches or Switches(), allow_enterprise_leads=bool(self.allow_enterprise))

    @cached_property
    def eligible(self) -> np.ndarray:
        """Facilities allowed to lead under the scenario's enterprise switch."""
        return eligible_leads(self.partition.facilities, self.rules, self.allow_enterprise)

    @cached_property
    def strictly_eligible(self) -> np.ndarray:
        """Facilities allowed to lead without the enterprise switch."""
        return eligible_leads(self.partition.facilities, self.rules, False)

    @cached_property
    def required_member(self) -> np.ndarray:
        """Facilities that satisfy rule 3 when they do not lead (comprehensive/TCM hospital or continuing care)."""
        return required_members(self.partition.facilities, self.rules, self.readings.member_reading)


CityCheck = Callable[[RuleContext], Outcome]
GridCheck = Callable[[RuleContext, str], Outcome | None]


# ------------------------------------------------------------------------------------------------ city rules
def grid_count(ctx: RuleContext) -> Outcome:
    """R1.grids: the city has at least ``grids.min_count`` grids."""
    n, n_min = len(ctx.partition.grids), ctx.rules.min_grids
    return Outcome(f">= {n_min}", n, n >= n_min)


def coverage(ctx: RuleContext) -> Outcome:
    """R1.coverage: every resident lives in exactly one grid that has a medical group."""
    p = ctx.partition
    assigned = np.isin(p.unit_grid, p.led_grids)
    covered = float(p.population[assigned].sum())
    total = float(p.population.sum()) if ctx.census_population is None else float(ctx.census_population)
    return Outcome(
        f"{total:,.0f}", f"{covered:,.0f} in grids with a group", bool(assigned.all()) and abs(covered - total) < 0.5
    )


def one_group_per_grid(ctx: RuleContext) -> Outcome:
    """R2.one_group_per_grid: as many distinct leads as grids."""
    p = ctx.partition
    distinct = len(set(p.grid_lead.values()))
    return Outcome(
        f"{len(p.grids)} groups with distinct leads", f"{distinct} groups with distinct leads", distinct == len(p.grids)
    )


# ------------------------------------------------------------------------------------------------ grid rules
def lead_eligible(ctx: RuleContext, g: str) -> Outcome:
    """R2.lead: the grid's lead is eligible (an enterprise-owned lead allowed by the switch is flagged)."""
    p = ctx.partition
    reading = ctx.readings.lead_reading(ctx.rules)
    if g not in p.grid_lead:
        return Outcome("eligible lead", "none in the grid", False, reading=reading)
    li = p.lead_row(g)
    lead = p.facilities.iloc[li]
    desc = f"{lead['name']} ({lead['grade'] or lead['level']}, {lead['kind']}, {lead['ownership']})"
    if ctx.eligible[li] and not ctx.strictly_eligible[li]:
        desc += "; enterprise-owned lead, allowed by the scenario switch 企业办医院牵头（方案允许）"
    elif not ctx.eligible[li] and lead["ownership"] == "enterprise":
        desc += "; enterprise-owned, not eligible without plan.allow_enterprise_leads 企业办医院（未允许牵头）"
    return Outcome("eligible lead", desc, bool(ctx.eligible[li]), reading=reading)


def required_member(ctx: RuleContext, g: str) -> Outcome:
    """R3.member: at least ``members.min_required`` members (inside the grid, not the lead) that are comprehensive
    or TCM hospitals of the reading's levels, or continuing-care facilities."""
    p = ctx.partition
    # hash lookup (pandas), not numpy's sort of text arrays: a group may hold 100,000 primary-care sites
    in_group = p.facilities["facility_id"].isin(p.group_ids(g, ("member",))).to_numpy()
    hits = np.flatnonzero(ctx.required_member & in_group)
    need = ctx.rules["members"]["min_required"]
    names = "、".join(p.facilities["name"].iloc[hits[:3]])
    actual = f"{len(hits)}" + (f" ({names}{' …' if len(hits) > 3 else ''})" if len(hits) else "")
    return Outcome(f">= {need}", actual, len(hits) >= need, reading=ctx.readings.member_text(ctx.rules))


def _served_by(ctx: RuleContext, g: str, rule_id: str) -> Outcome:
    """R3.maternal_child / R3.public_health: the grid is served by at least one institution of the kind (one
    standing in it, or a cross-grid institution serving it); ``no_data`` when the city's data has none."""
    p, reading = ctx.partition, ctx.readings.cross_grid_text(ctx.rules)
    f = p.facilities
    of_kind = f["kind"].isin(ctx.rules["cross_grid"][SERVED_BY[rule_id]]).to_numpy() & f["in_city"].to_numpy()
    if not of_kind.any():
        return Outcome.no_data(">= 1", "the data has none 数据中无此类机构", reading)
    serving = f["facility_id"].isin(p.group_ids(g, ("member", "lead", "cross_grid"))).to_numpy() & of_kind
    hits = np.flatnonzero(serving)
    names = "、".join(f["name"].iloc[hits[:3]])
    actual = f"{len(hits)}" + (f" ({names}{' …' if len(hits) > 3 else ''})" if len(hits) else "")
    return Outcome(">= 1", actual, len(hits) >= 1, reading=reading)


def maternal_child_served(ctx: RuleContext, g: str) -> Outcome:
    """R3.maternal_child: a maternal–child health institution 妇幼保健机构 serves the grid."""
    return _served_by(ctx, g, "R3.maternal_child")


def public_health_served(ctx: RuleContext, g: str) -> Outcome:
    """R3.public_health: a professional public-health institution 专业公共卫生机构 serves the grid."""
    return _served_by(ctx, g, "R3.public_health")


def collaborating(ctx: RuleContext, g: str) -> Outcome:
    """R4.collaborating: at least ``collaborating.min_per_group`` collaborating units; the actual names each unit
    and why it is there (a declared tie, distance, or named by the scenario)."""
    p = ctx.partition
    gr = p.groups
    rows = gr.loc[(gr["grid_id"] == g) & (gr["role"] == "collaborating")]
    need = ctx.rules["collaborating"]["min_per_group"]
    basis = rows["basis"].astype(str) if "basis" in rows else pd.Series("", index=rows.index)
    named = len(rows) > 0 and bool(basis.str.startswith("named").all())
    names = [str(p.facilities["name"].iat[p.facility_row[fid]]) for fid in rows["facility_id"]]
    parts = [f"{n}" + (f" ({b})" if b else "") for n, b in zip(names, basis, strict=True)]
    actual = f"{len(rows)}" + (": " + "; ".join(parts) if parts else "")
    return Outcome(f">= {need}", actual, len(rows) >= need, reading=ctx.readings.collaborating_text(ctx.rules, named))


#: what rule 5 reserves of each capacity column, as the table names it
_RESERVED_UNIT = {"outpatient_daily": "slots/day", "beds": "beds"}


def _reservation(ctx: RuleContext, g: str, share: float, capacity_col: str) -> Outcome:
    """Rule 5: the lead's declared reservation reaches ``share`` of its ``capacity_col``.

    With a declaration (``declared_*`` of the facility table, from ``inputs.reservations``) the check passes or
    fails; without one the row is ``planned`` and states the reservation the rule requires as the plan's figure; with
    an unknown capacity it is ``no_data``. A capacity that is an estimate is marked in ``required`` (and a declared
    pass on it says so in ``actual``).
    """
    p = ctx.partition
    lead = p.facilities.iloc[p.lead_row(g)]
    cap = float(pd.to_numeric(lead.get(capacity_col, np.nan), errors="coerce"))
    declared = float(pd.to_numeric(lead.get(DECLARED_OF[capacity_col], np.nan), errors="coerce"))
    unit = _RESERVED_UNIT[capacity_col]
    said = f"{Text.declared} {declared:,.0f} {unit} ({lead.get('declared_source', '') or ''})"
    f = p.facilities
    pcs = f.facility_id.isin(p.group_ids(g, ("member",))) & f.kind.isin(ctx.rules["referral"]["primary_care_kinds"])
    if not pcs.any():
        return Outcome(f"{share:.3f} × capacity", "no primary-care member in the group receives it", False)
    if not np.isfinite(cap):
        actual = "no data (capacity unknown)" + (f"; {said}" if np.isfinite(declared) else "")
        return Outcome.no_data(f"{share:.3f} × capacity", actual)
    need = math.ceil(share * cap - 1e-9)
    note = capacity_note(lead, capacity_col)
    required = f">= {need} (of {cap:.0f}{note})"
    if not np.isfinite(declared):
        return Outcome.planned(required, f"plan: reserve {need:,} {unit}, {Text.not_declared}")
    passed = bool(declared >= need)
    if passed and note:
        said += f"; passed against an {Text.estimate} capacity"
    return Outcome(required, said, passed)


#: the status column of each capacity figure of a facility (``fact (…)``, ``estimate (…)``, ``modelled``, …)
CAPACITY_STATUS = {"beds": "beds_status", "outpatient_daily": "outpatient_status"}


def capacity_note(facility: pd.Series, capacity_col: str) -> str:
    """``", estimate 估算: <basis>"`` (or ``", modelled 模拟"``) when a facility's capacity figure is not a sourced
    fact, else ``""``: the figure is marked where it appears (compliance.csv's required text)."""
    status = str(facility.get(CAPACITY_STATUS.get(capacity_col, ""), "") or "").strip()
    if status.startswith("estimate"):
        basis = status.removeprefix("estimate").strip().strip("()").strip()
        basis = "grade rule" if basis.startswith("rule") else basis
        return f", estimate 估算: {basis[:60]}" if basis else ", estimate 估算"
    if status.startswith("modelled"):
        return ", modelled 模拟"
    return ""


def outpatient_reserved(ctx: RuleContext, g: str) -> Outcome:
    """R5.outpatient: ≥ ``referral.outpatient_share`` of the lead's daily outpatient slots go to primary care."""
    return _reservation(ctx, g, ctx.rules["referral"]["outpatient_share"], "outpatient_daily")


def beds_reserved(ctx: RuleContext, g: str) -> Outcome:
    """R5.beds: ≥ ``referral.bed_share`` of the lead's beds go to primary care."""
    return _reservation(ctx, g, ctx.rules["referral"]["bed_share"], "beds")


def contiguous(ctx: RuleContext, g: str) -> Outcome:
    """R6.contiguous: the grid is one connected piece of units."""
    pieces = ctx.partition.pieces[g]
    return Outcome("1 piece", f"{pieces} piece(s)", pieces == 1)


def population_bounds(ctx: RuleContext, g: str) -> Outcome | None:
    """S.population: grid residents within the scenario's bounds (only when the scenario sets one)."""
    lo, hi = ctx.pop_bounds
    if lo is None and hi is None:
        return None
    gpop = ctx.partition.population_of[g]
    ok = (lo is None or gpop >= lo - 0.5) and (hi is None or gpop <= hi + 0.5)
    return Outcome(f"{lo or 0:,.0f}–{hi or float('inf'):,.0f}", f"{gpop:,.0f}", ok)


def beds_per_1000(ctx: RuleContext, g: str) -> Outcome | None:
    """S.beds_per_1000: group beds per 1,000 residents reach the scenario's minimum (only when it sets one)."""
    if ctx.min_beds_per_1000 is None:
        return None
    p = ctx.partition
    beds = p.facilities.loc[p.facilities.facility_id.isin(p.group_ids(g, GROUP_ROLES)), "beds"].sum()
    gpop = p.population_of[g]
    rate = beds / gpop * 1000 if gpop else float("nan")
    return Outcome(f">= {ctx.min_beds_per_1000}", f"{rate:.2f}", bool(rate >= ctx.min_beds_per_1000 - 1e-9))


def centres_shared(ctx: RuleContext, g: str) -> Outcome | None:
    """P.shared_centres: the group hosts or shares every centre kind that applies to it; a kind no member may host
    fails where the members' capability flags say so, and is ``no_data`` where only the level/kind rule judged."""
    sc = ctx.shared_centres
    if sc is None:
        return None
    rows = sc[(sc["grid_id"].astype(str) == g) & (sc["status"] != "not_applicable")]
    kinds = rows["centre_kind"].astype(str).tolist()
    missing = rows["status"] == "no_host"
    required = f"{len(kinds)} centre kind(s): {', '.join(kinds)}"
    shared = rows.loc[rows["status"] == "shared", "centre_kind"].astype(str).tolist()
    actual = f"{len(kinds) - int(missing.sum())} hosted" + (f" ({len(shared)} shared: {', '.join(shared)})"
                                                             if shared else "")
    if missing.any():
        lacking = rows.loc[missing, "centre_kind"].astype(str).tolist()
        actual += f"; no host: {', '.join(lacking)}"
        declared = rows.loc[missing, "capability_declared"].astype(str).str.lower().isin(("true", "1"))
        return Outcome(required, actual, False) if declared.any() else Outcome.no_data(required, actual)
    return Outcome(required, actual, True)


#: city-wide checks, in the order of the table's first rows
CITY_CHECKS: dict[str, CityCheck] = {
    "R1.grids": grid_count,
    "R1.coverage": coverage,
    "R2.one_group_per_grid": one_group_per_grid,
}
#: per-grid checks, in the order of each grid's rows
GRID_CHECKS: dict[str, GridCheck] = {
    "R2.lead": lead_eligible,
    "R3.member": required_member,
    "R3.maternal_child": maternal_child_served,
    "R3.public_health": public_health_served,
    "R4.collaborating": collaborating,
    "R5.outpatient": outpatient_reserved,
    "R5.beds": beds_reserved,
    "R6.contiguous": contiguous,
    "S.population": population_bounds,
    "S.beds_per_1000": beds_per_1000,
    "P.shared_centres": centres_shared,
}
#: the only check a grid without a lead gets: it has no group, so the group rules have nothing to judge
LEADLESS_CHECKS = ("R2.lead",)


def check_rules(ctx: RuleContext) -> list[tuple[str, str, Outcome]]:
    """Run every check: ``(rule id, scope, outcome)`` for the city, each led grid, then each grid without a lead."""
    out = [(rid, "city", check(ctx)) for rid, check in CITY_CHECKS.items()]
    p = ctx.partition
    for g in p.led_grids:
        out += [(rid, g, o) for rid, check in GRID_CHECKS.items() if (o := check(ctx, g)) is not None]
    for g in (g for g in p.grids if g not in p.grid_lead):
        out += [(rid, g, GRID_CHECKS[rid](ctx, g)) for rid in LEADLESS_CHECKS]
    return out


def compliance_table(
    units: gpd.GeoDataFrame,
    unit_grid: np.ndarray,
    adjacency: sp.csr_matrix,
    grid_lead: dict[str, str],
    facilities: gpd.GeoDataFrame,
    groups: pd.DataFrame,
    rules: RuleSet,
    *,
    allow_enterprise: bool,
    census_population: int | None = None,
    pop_bounds: tuple[float | None, float | None] = (None, None),
    min_beds_per_1000: float | None = None,
    switches: Switches | None = None,
    shared_centres: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Check every rule of ``rules`` on a plan; returns the table with columns :data:`COLUMNS`.

    Parameters
    ----------
    units : planning units (``population``, residents)
    unit_grid : (n,) grid id per unit
    adjacency : (n, n) unit adjacency incl. exclave bridges
    grid_lead : grid id → lead facility id (grids of a layout without an eligible lead are absent)
    facilities, groups : the plan's facilities (with ``reserved_*`` columns) and ``groups.csv`` table
    rules : rule set; its catalogue gives ``rule_en`` / ``rule_zh``
    allow_enterprise, census_population, pop_bounds, min_beds_per_1000, switches, shared_centres : see
        :class:`RuleContext`
    """
    partition = GridPartition(
        np.asarray(unit_grid).astype(str), adjacency, units["population"].to_numpy(dtype=float), dict(grid_lead),
        facilities, groups,
    )
    ctx = RuleContext(partition, rules, allow_enterprise, census_population, pop_bounds, min_beds_per_1000, switches,
                      shared_centres)
    rows = []
    for rid, scope, o in check_rules(ctx):
        text = rules.text(rid)
        rows.append((rid, scope, text.text_en, text.text_zh, o.required, o.actual, o.status, o.passed, o.reading))
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["actual"] = df["actual"].astype(str)
    return df
