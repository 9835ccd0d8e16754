"""Family-doctor teams 家庭医生签约服务团队: what each grid needs, what its primary care declares, and who receives
the lead's reserved slots and beds.

The Liaoning 2023 pilot plan: "积极引导符合条件的二、三级医院医师下沉,与基层全科医生组建家庭医生签约服务团队", and the
1/3 slots and 1/4 beds go "向家庭医生签约服务团队或基层医疗卫生机构".

Inputs: primary-care facilities may declare ``general_practitioners`` and ``family_doctor_teams`` (whole numbers
≥ 0; blank = no data, never zero).

Norms (:class:`FamilyDoctorNorm`):

* general practitioners 全科医生: ``gps_per_10000`` = 2, the lower end of "基本实现城乡每万名居民有2—3名合格的全科医生"
  (国务院关于建立全科医生制度的指导意见, 国发〔2011〕23号, target year 2020);
* teams: residents per team is a **planner setting** (``plan.residents_per_family_doctor_team``) with **no sourced
  default** — no national norm of residents per team was found; without it the teams needed are ``no_data``.

Allocation rule (``referral_allocations.csv``): rule 5's referrals (``referrals.csv``) already split each lead's
reservation over its grid's primary-care facilities by the residents each serves (nearest facility); a facility
that declares ``n > 0`` teams passes its share on to its teams in equal parts (largest remainder, so the parts sum
exactly to the facility's figure, earlier teams first on ties); a facility without declared teams receives it
itself (``recipient = facility``).
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class FamilyDoctorNorm:
    """The norms the family-doctor figures are held against.

    Parameters
    ----------
    gps_per_10000 : general practitioners needed per 10,000 residents
    gp_source : the document and its words
    residents_per_team : residents one team serves (a planner setting; ``None``: not set, teams needed = no data)
    team_source : where ``residents_per_team`` comes from
    """

    gps_per_10000: float = 2.0
    gp_source: str = ("国务院关于建立全科医生制度的指导意见 (国发〔2011〕23号): "
                      "到2020年…基本实现城乡每万名居民有2—3名合格的全科医生 (lower end, 2 per 10,000)")
    residents_per_team: float | None = None
    team_source: str = "planner setting plan.residents_per_family_doctor_team (no sourced default)"

    @classmethod
    def of(cls, scenario) -> FamilyDoctorNorm:
        """The default norm with the scenario's residents per team (``plan.residents_per_family_doctor_team``)."""
        per_team = getattr(scenario.plan, "residents_per_family_doctor_team", None)
        return cls(residents_per_team=None if per_team is None else float(per_team))


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
        gp_need = float(math.ceil(residents * norm.gps_per_10000 / 1e4 - 1e-9))
        team_need = (float(math.ceil(residents / norm.residents_per_team - 1e-9))
                     if norm.residents_per_team else np.nan)
        rows.append((g, residents, len(idx), gp_have, int(np.isfinite(gps[idx]).sum()), gp_need,
                     max(gp_need - gp_have, 0.0) if np.isfinite(gp_have) else np.nan, norm.gp_source,
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
