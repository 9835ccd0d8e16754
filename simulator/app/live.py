"""The live panel of ``caregrid app``: a fast evaluation of the painted layout after every edit.

The panel must say what ``caregrid run`` would say for the same layout (mode ``given_layout``) and answer within
300 ms on Panjin at H3 resolution 8 (5,630 units). It therefore runs the same steps as the plan and evaluate stages
— the leads of a layout's grids (the eligible hospital inside with the most beds), the medical groups
(:func:`simulator.plan.groups.form_groups`), the rule checks (:func:`simulator.evaluate.compliance.compliance_table`)
and the indicators (:func:`simulator.evaluate.indicators.compute_indicators`) — on the same travel times, prepared
once per facility state (:class:`LiveEvaluator`). It skips only what draws the plan and costs most, the dissolved
grid polygons: the grid area is the sum of its units' areas (km²), and the grids' compactness (Polsby–Popper) comes
from the units' areas, perimeters and shared edges, measured once (:class:`simulator.app.shapes.GridShapes`).
``tests/app/test_live.py`` checks after random edits that every rule status per grid, the indicators and the
compactness equal the full evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config.labels import ROLES
from ..config.rules import failed_checks
from ..config.scenario import Scenario
from ..config.targets import load_targets
from ..evaluate.compliance import compliance_table
from ..evaluate.evaluation import census_population
from ..evaluate.indicators import CITY, compute_indicators
from ..load.city import CityData
from ..plan.campuses import add_campuses
from ..plan.groups import GroupOptions, eligible_lead_mask, form_groups, grid_sort_key
from ..plan.make import _job, _layout_leads  # the plan stage's own steps: the panel must not differ from it
from ..plan.shared_centres import centres_of_scenario
from ..units.planning_units import PlanningUnits
from .shapes import GridShapes
from .texts import failure_reason

#: indicators the panel shows per grid and for the city (names of ``indicators.csv`` columns)
PANEL_INDICATORS = ("population", "area_km2", "units", "travel_mean_min", "travel_p90_min", "share_within_access",
                    "share_within_primary_care", "beds_per_1000", "unserved_residents", "polsby_popper")
#: indicators only the city row has
CITY_INDICATORS = ("population_cv", "population_max_min_ratio")


@dataclass
class LiveResult:
    """One evaluation of a layout: the rule checks, the indicators and each grid's lead and group."""

    compliance: pd.DataFrame
    indicators: pd.DataFrame
    grid_lead: dict[str, str]
    groups: pd.DataFrame
    facilities: pd.DataFrame
    unit_travel: np.ndarray  # (n,) minutes to the unit's lead, NaN without one
    notes: list[str]


def _plain(v: Any) -> Any:
    """JSON-safe scalar: numpy → Python, NaN/inf → None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class LiveEvaluator:
    """Rules, travel times and facility units of one facility state, prepared once; :meth:`evaluate` per edit.

    Parameters
    ----------
    scenario, city, units : the workspace's scenario (with its changes applied to ``city``) and planning units
    shapes : the units' measured shapes when already known (the units stay the same when facilities change)
    """

    def __init__(self, scenario: Scenario, city: CityData, units: PlanningUnits,
                 shapes: GridShapes | None = None) -> None:
        self.scenario, self.city, self.units = scenario, city, units
        self.shapes = shapes if shapes is not None else GridShapes(units.gdf.geometry.to_numpy())
        self.job = _job(scenario, city, units, False)
        f = city.facilities
        self.eligible = np.flatnonzero(eligible_lead_mask(f, self.job.rules, scenario.plan.allow_enterprise_leads))
        ug = units.gdf
        self.population = ug["population"].to_numpy(dtype=float)
        self.area = ug["area_km2"].to_numpy(dtype=float)
        self.base_units = pd.DataFrame(ug[["unit_id", "district", "population", "area_km2"]])
        self.census = census_population(city, str(ug["population_status"].iloc[0]))
        self.targets = load_targets(scenario.targets)  # the full evaluation's readiness norms, read once

    def eligible_ids(self) -> list[str]:
        """Facility ids of the hospitals that may lead (the choices of a grid's lead)."""
        return self.job.f["facility_id"].to_numpy()[self.eligible].astype(str).tolist()

    @property
    def rules(self):
        """The rule set (thresholds and catalogue)."""
        return self.job.rules

    def leads(self, labels: np.ndarray, named: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
        """Grid id → lead facility id, as the plan stage picks them for a given layout (``named``: the leads the
        planner chose, grid → facility id, the layout's ``lead_id``), and the notes it writes."""
        f, rules = self.job.f, self.job.rules
        ref = _layout_leads(labels, self.eligible, f, self.job.fac_unit, named or {})
        grid_lead, notes = {}, []
        for g in sorted(set(labels), key=grid_sort_key):
            if g in ref:
                grid_lead[g] = str(f["facility_id"].iat[self.eligible[ref[g]]])
            else:
                notes.append(f"layout grid {g} contains no hospital eligible to lead "
                             f"({rules.text('R2.lead').label} fails there)")
        return grid_lead, notes

    def evaluate(self, labels: np.ndarray, named: dict[str, str] | None = None) -> LiveResult:
        """Rule checks and indicators of the layout ``labels`` ((n,) grid id per unit; ``named``: chosen leads)."""
        labels = np.asarray(labels).astype(str)
        job, scenario = self.job, self.scenario
        grid_lead, notes = self.leads(labels, named)
        groups = form_groups(
            self.units.gdf, labels, grid_lead, job.f, job.fac_unit, job.rules, job.minutes,
            scenario.plan.collaborating_units or None, options=GroupOptions.of(scenario, self.city),
        )
        facilities, groups_out = add_campuses(groups.facilities, groups.groups)
        fid = job.f["facility_id"].to_numpy()
        travel = np.full(len(labels), np.nan)
        for g, lead in grid_lead.items():
            sel = np.flatnonzero(labels == g)
            travel[sel] = job.minutes(sel, np.flatnonzero(fid == lead)[:1])[:, 0]
        units = self.base_units.assign(grid_id=labels, travel_min_to_lead=travel)
        compliance = compliance_table(
            units, labels, self.units.adjacency, grid_lead, facilities, groups_out, job.rules,
            allow_enterprise=scenario.plan.allow_enterprise_leads, census_population=self.census,
            pop_bounds=(scenario.grids.min_population, scenario.grids.max_population),
            min_beds_per_1000=scenario.grids.min_beds_per_1000, switches=_switches(scenario),
            shared_centres=centres_of_scenario(scenario, groups_out, facilities, job.fac_unit, job.minutes, labels,
                                               self.units.adjacency),
        )
        indicators = compute_indicators(
            units, facilities, groups_out, groups.referrals, self.units.adjacency, job.rules, job.minutes,
            access_minutes=scenario.travel.access_minutes, primary_care_minutes=scenario.travel.primary_care_minutes,
            targets=self.targets,
        )
        pp = self.shapes.polsby_popper(labels)  # as the full evaluation's dissolved polygons give it
        indicators = indicators.assign(polsby_popper=indicators["grid_id"].map(pp).astype(float))
        indicators.loc[indicators["grid_id"] == CITY, "polsby_popper"] = float(np.mean(list(pp.values())))
        return LiveResult(compliance, indicators, grid_lead, groups_out, facilities, travel, notes + groups.notes)

    def panel(self, labels: np.ndarray, named: dict[str, str] | None = None) -> dict[str, Any]:
        """The live panel as JSON-ready data: ``compliance`` rows (with the reason of each failure, EN/ZH),
        ``grids`` (residents, area km², lead, members, indicators), ``summary`` (city) and ``facilities``."""
        r = self.evaluate(labels, named)
        return {
            "compliance": compliance_rows(r.compliance, self.rules),
            "grids": self._grids(r, named or {}),
            "summary": self._summary(r),
            "facilities": facility_rows(r.facilities),
            "notes": r.notes,
        }

    def _grids(self, r: LiveResult, named: dict[str, str]) -> list[dict[str, Any]]:
        ind = r.indicators.set_index("grid_id")
        f = r.facilities
        names = dict(zip(f["facility_id"], f["name"], strict=False))
        failed = r.compliance.loc[failed_checks(r.compliance)]
        out = []
        for g in ind.index:
            if g == "city":
                continue
            members = r.groups.loc[(r.groups["grid_id"] == g) & (r.groups["role"] == "member"), "facility_id"]
            lead = r.grid_lead.get(g, "")
            row = {"grid_id": g, "lead_facility_id": lead, "lead_name": names.get(lead, ""),
                   "lead_named": g in named,
                   "members": [{"facility_id": m, "name": names.get(m, "")} for m in members],
                   "failed_rules": failed.loc[failed["scope"] == g, "rule_id"].tolist()}
            row.update({k: _plain(ind.at[g, k]) for k in PANEL_INDICATORS if k in ind.columns})
            out.append(row)
        return out

    def _summary(self, r: LiveResult) -> dict[str, Any]:
        ind = r.indicators.set_index("grid_id")
        city = {k: _plain(ind.at["city", k]) for k in (*PANEL_INDICATORS, *CITY_INDICATORS) if k in ind.columns}
        c = r.compliance
        failed = failed_checks(c)
        return {
            **city,
            "grids": int((ind.index != "city").sum()),
            "passed": bool(not failed.any()),
            "failed_checks": int(failed.sum()),
            "status_counts": {str(k): int(v) for k, v in c["status"].value_counts().items()},
            "rules": self.rules.id,
        }


def _switches(scenario: Scenario):
    from ..config.rules import Switches

    return Switches.of(scenario)


def compliance_rows(compliance: pd.DataFrame, rules) -> list[dict[str, Any]]:
    """``compliance.csv`` rows as JSON, each with ``label`` and, where it fails, the reason in EN and ZH."""
    out = []
    for row in compliance.to_dict("records"):
        row = {k: _plain(v) for k, v in row.items()}
        row["grid_id"] = row["scope"]
        row["label"] = rules.text(row["rule_id"]).label
        reason = failure_reason(row) if row["status"] != "passed" else None
        row["reason_en"], row["reason_zh"] = reason if reason else ("", "")
        out.append(row)
    return out


#: facility columns the page shows
FACILITY_COLUMNS = ("facility_id", "name", "level", "grade", "kind", "ownership", "beds", "lon", "lat",
                    "location_quality", "modelled", "in_area", "in_city", "grid_id", "role", "change", "campus_of")


def facility_rows(facilities: pd.DataFrame) -> list[dict[str, Any]]:
    """Facilities with role and grid (JSON), ``approximate`` where the location is not exact or street level (the
    page marks them "位置待确认 place me") and the role's bilingual label."""
    cols = [c for c in FACILITY_COLUMNS if c in facilities.columns]
    out = []
    for row in facilities[cols].to_dict("records"):
        row = {k: _plain(v) for k, v in row.items()}
        role = row.get("role") or "other"
        row["role"] = role
        row["role_label"] = str(ROLES.get(role, ROLES["other"]))
        row["approximate"] = bool(row.get("modelled")) or row.get("location_quality") not in ("exact", "street")
        out.append(row)
    return out
