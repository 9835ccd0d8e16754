"""Family-doctor teams 家庭医生签约服务团队: what each grid needs, what its primary care declares, and who receives
the lead's reserved slots and beds.

The Liaoning 2023 pilot plan: "积极引导符合条件的二、三级医院医师下沉,与基层全科医生组建家庭医生签约服务团队", and the
1/3 slots and 1/4 beds go "向家庭医生签约服务团队或基层医疗卫生机构".

Inputs: primary-care facilities may declare ``general_practitioners`` and ``family_doctor_teams`` (whole numbers
≥ 0; blank = no data, never zero).

Norms (:class:`FamilyDoctorNorm`), read from the scenario's targets file (``simulator/config/targets/*.toml``,
the target whose quantity is ``general_practitioners_per_10000``; no such target: the GPs needed are ``no_data``):

* general practitioners 全科医生: liaoning-2023 holds 2 per 10,000 residents, the lower end of
  "基本实现城乡每万名居民有2—3名合格的全科医生" (国务院关于建立全科医生制度的指导意见, 国发〔2011〕23号, due
  2020);
  ``targets.csv`` judges it per grid, district and city from :func:`family_doctor_figures`;
* teams: residents per team is a **planner setting** (``plan.residents_per_family_doctor_team``) with **no sourced
  default** — no national norm of residents per team was found; without it the teams needed are ``no_data``.

Allocation rule (``referral_allocations.csv``): rule 5's referrals (``referrals.csv``) already split each lead's
reservation over its grid's primary-care facilities by the residents each serves (nearest facility); a facility
that declares ``n > 0`` teams passes its share on to its teams in equal parts (largest remainder, so the parts sum
exactly to the facility's figure, earlier teams first on ties); a facility without declared teams receives it
itself (``recipient = facility``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..units.population import largest_remainder

#: columns of ``family_doctors.csv`` (one row per grid with a group)
FAMILY_DOCTOR_COLUMNS = (
    "grid_id",
    "residents",
    "primary_care_facilities",
    "general_practitioners",
    "gp_facilities_reporting",
    "general_practitioners_needed",
    "general_practitioners_shortfall",
    "gp_norm_source",
    "family_doctor_teams",
    "team_facilities_reporting",
    "family_doctor_teams_needed",
    "family_doctor_teams_shortfall",
    "team_norm_source",
)
#: columns of ``referral_allocations.csv`` (one row per receiving team, or per facility without declared teams)
ALLOCATION_COLUMNS = (
    "grid_id",
    "lead_facility_id",
    "facility_id",
    "recipient",
    "team",
    "reserved_outpatient_slots",
    "reserved_beds",
)


#: the targets-file quantity of the general-practitioner norm (per 10,000 residents)
GP_QUANTITY = "general_practitioners_per_10000"
#: the figure of declared family-doctor teams per 10,000 residents (a planner's targets file may judge it)
TEAM_QUANTITY = "family_doctor_teams_per_10000"


@dataclass(frozen=True)
class FamilyDoctorNorm:
    """The norms the family-doctor figures are held against.

    Parameters
    ----------
    gps_per_10000 : general practitioners needed per 10,000 residents (``None``: no norm, needs are no data)
    gp_source : the document and its words
    residents_per_team : residents one team serves (a planner setting; ``None``: not set, teams needed = no data)
    team_source : where ``residents_per_team`` comes from
    """

    gps_per_10000: float | None = None
    gp_source: str = "no general_practitioners_per_10000 target in the targets file"
    residents_per_team: float | None = None
    team_source: str = "planner setting plan.residents_per_family_doctor_team (no sourced default)"

    @classmethod
    def of(cls, scenario, targets=None) -> FamilyDoctorNorm:
        """The scenario's norms: the GP target of its targets file (``targets``: a loaded
        :class:`~simulator.config.targets.TargetSet`, default the one the scenario names) and its residents per team
        (``plan.residents_per_family_doctor_team``)."""
        from ..config.targets import load_targets

        if targets is None:  # (an empty TargetSet is falsy)
            targets = load_targets(getattr(scenario, "targets", "liaoning-2023"))
        per_team = getattr(scenario.plan, "residents_per_family_doctor_team", None)
        base = cls(residents_per_team=None if per_team is None else float(per_team))
        gp = next((t for t in targets.targets if t.quantity == GP_QUANTITY), None)
        if gp is None:
            return base
        per = gp.per or 10_000.0
        return dataclasses.replace(base, gps_per_10000=gp.norm * 10_000.0 / per,
                                   gp_source=f"{gp.source.quote} ({gp.source.document}; targets {targets.id}: {gp.id})")


def _declared(facilities: pd.DataFrame, column: str) -> np.ndarray:
    """(f,) the column as numbers, NaN where blank or absent (no data, never zero)."""
    if column not in facilities:
        return np.full(len(facilities), np.nan)
    return pd.to_numeric(facilities[column], errors="coerce").to_numpy(dtype=float)


def family_doctor_needs(units: pd.DataFrame, facilities: pd.DataFrame, groups: pd.DataFrame,
                        primary_care_kinds: list[str], norm: FamilyDoctorNorm | None = None) -> pd.DataFrame:
    """GPs and teams per grid: declared, needed by the norm, and the shortfall (``family_doctors.csv``).

    Parameters
    ----------
    units : plan units (``grid_id``, ``population``)
    facilities : plan facilities (``facility_id``, ``kind``, optional ``general_practitioners`` /
        ``family_doctor_teams``)
    groups : ``groups.csv`` table; a grid's primary care = its ``member`` rows of ``primary_care_kinds``
    norm : :class:`FamilyDoctorNorm` (default: sourced GP norm, teams not set)

    Returns
    -------
    pd.DataFrame
        columns :data:`FAMILY_DOCTOR_COLUMNS`; declared totals are NaN when no facility of the grid reports the
        field, shortfalls NaN when either side is unknown (a shortfall is ``max(needed − declared, 0)``)
    """
    norm = norm or FamilyDoctorNorm()
    gps, teams = _declared(facilities, "general_practitioners"), _declared(facilities, "family_doctor_teams")
    row_of = {fid: k for k, fid in enumerate(facilities["facility_id"].astype(str))}
    kind = facilities["kind"].astype(str).to_numpy()
    pop = units.groupby(units["grid_id"].astype(str))["population"].sum()
    rows = []
    for g in groups.loc[groups["role"] == "lead", "grid_id"].astype(str).drop_duplicates():
        ids = groups.loc[(groups["grid_id"].astype(str) == g) & (groups["role"] == "member"), "facility_id"]
        idx = np.array([row_of[f] for f in ids.astype(str) if f in row_of], dtype=np.int64)
        idx = idx[np.isin(kind[idx], primary_care_kinds)] if len(idx) else idx
        residents = float(pop.get(g, 0.0))
        gp_have = float(np.nansum(gps[idx])) if np.isfinite(gps[idx]).any() else np.nan
        team_have = float(np.nansum(teams[idx])) if np.isfinite(teams[idx]).any() else np.nan
        gp_need = (float(math.ceil(residents * norm.gps_per_10000 / 1e4 - 1e-9)) if norm.gps_per_10000 is not None
                   else np.nan)
        team_need = (float(math.ceil(residents / norm.residents_per_team - 1e-9))
                     if norm.residents_per_team else np.nan)
        rows.append((g, residents, len(idx), gp_have, int(np.isfinite(gps[idx]).sum()), gp_need,
                     max(gp_need - gp_have, 0.0) if np.isfinite(gp_have) and np.isfinite(gp_need) else np.nan,
                     norm.gp_source if norm.gps_per_10000 is not None else "no_data: " + norm.gp_source,
                     team_have, int(np.isfinite(teams[idx]).sum()), team_need,
                     max(team_need - team_have, 0.0) if np.isfinite(team_have) and np.isfinite(team_need) else np.nan,
                     norm.team_source if norm.residents_per_team else "no_data: " + norm.team_source))
    return pd.DataFrame(rows, columns=list(FAMILY_DOCTOR_COLUMNS))


def allocate_to_teams(referrals: pd.DataFrame, facilities: pd.DataFrame) -> pd.DataFrame:
    """Who receives the lead's reserved slots and beds: teams where declared, else the facility
    (``referral_allocations.csv``; see the module docstring for the rule).

    Parameters
    ----------
    referrals : ``referrals.csv`` (``grid_id``, ``lead_facility_id``, ``facility_id``, ``reserved_outpatient_slots``,
        ``reserved_beds``); rows without a receiving facility are left out
    facilities : plan facilities (``facility_id``, optional ``family_doctor_teams``)

    Returns
    -------
    pd.DataFrame
        columns :data:`ALLOCATION_COLUMNS`; per facility the parts sum to its referrals figure (NaN stays NaN)
    """
    teams = dict(zip(facilities["facility_id"].astype(str), _declared(facilities, "family_doctor_teams"),
                     strict=True))
    rows = []
    for r in referrals[referrals["facility_id"].astype(str) != ""].itertuples(index=False):
        fid = str(r.facility_id)
        n = teams.get(fid, np.nan)
        if not (np.isfinite(n) and n >= 1):
            rows.append((r.grid_id, r.lead_facility_id, fid, "facility", "", r.reserved_outpatient_slots,
                         r.reserved_beds))
            continue
        n = int(n)
        split = [largest_remainder(int(round(t)), np.ones(n)).astype(float) if np.isfinite(t) else np.full(n, np.nan)
                 for t in (r.reserved_outpatient_slots, r.reserved_beds)]
        rows += [(r.grid_id, r.lead_facility_id, fid, "team", f"{k + 1}/{n}", split[0][k], split[1][k])
                 for k in range(n)]
    return pd.DataFrame(rows, columns=list(ALLOCATION_COLUMNS))


def family_doctor_figures(units: pd.DataFrame, facilities: pd.DataFrame, groups: pd.DataFrame,
                          primary_care_kinds: list[str]) -> pd.DataFrame:
    """Declared GPs and teams per 10,000 residents per grid, district and city, the figures the targets file judges
    (``scope``, ``scope_id``, ``scope_name``, :data:`GP_QUANTITY`, :data:`TEAM_QUANTITY`; NaN where no primary-care
    facility of the scope declares the field).

    A grid counts the primary-care members of its group, a district the primary-care facilities of the planning area
    standing in it (``district``), the city all of them; residents are the units' (``population``).
    """
    gps, teams = _declared(facilities, "general_practitioners"), _declared(facilities, "family_doctor_teams")
    in_area = facilities["in_area"].to_numpy(dtype=bool) if "in_area" in facilities else np.ones(len(facilities), bool)
    pc = facilities["kind"].isin(primary_care_kinds).to_numpy() & in_area
    fid = facilities["facility_id"].astype(str).to_numpy()
    fdist = facilities["district"].fillna("").astype(str).to_numpy() if "district" in facilities else \
        np.full(len(facilities), "")
    pop = units["population"].to_numpy(dtype=float)
    udist = units["district"].astype(str).to_numpy()
    names = units.groupby(udist)["district_name"].first().to_dict() if "district_name" in units else {}

    def per10k(mask: np.ndarray, residents: float) -> tuple[float, float]:
        return tuple(float(np.nansum(v[mask]) / residents * 1e4) if residents and np.isfinite(v[mask]).any()
                     else np.nan for v in (gps, teams))

    rows = []
    for g in groups.loc[groups["role"] == "lead", "grid_id"].astype(str).drop_duplicates():
        ids = groups.loc[(groups["grid_id"].astype(str) == g) & (groups["role"] == "member"), "facility_id"]
        rows.append(("grid", g, g, *per10k(pc & np.isin(fid, ids.astype(str)), pop[units["grid_id"].astype(str)
                                                                                  .to_numpy() == g].sum())))
    for d in sorted(set(udist)):
        rows.append(("district", d, str(names.get(d, d)), *per10k(pc & (fdist == d), pop[udist == d].sum())))
    rows.append(("city", "city", "city", *per10k(pc, pop.sum())))
    return pd.DataFrame(rows, columns=["scope", "scope_id", "scope_name", GP_QUANTITY, TEAM_QUANTITY])
