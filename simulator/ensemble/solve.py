"""One draw, solved: the function an executor runs on a worker (:func:`solve_draw`), and its small result.

A worker loads the scenario, city and planning units once per process (they are the same for every draw) and keeps
them; each task carries only the draw (a few facility → unit pairs and seeds). The result holds per unit the lead
of its grid as a code into the draw's lead list, so labels align across draws by lead hospital, not by grid name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.rules import failed_checks
from ..config.scenario import Scenario, load_scenario
from ..errors import CaregridError, ErrorRecord, PlanningError
from ..load.city import CityData, load_city
from ..units.pipeline import planning_units
from ..units.planning_units import PlanningUnits
from ..workflow import make_plan
from .draws import Draw, apply_draw

#: indicators of the city row kept per draw (draws.csv, summary.json quantiles)
KEY_INDICATORS = ("travel_mean_min", "travel_p90_min", "share_within_access", "share_within_primary_care",
                  "beds_per_1000", "population_cv", "unserved_share")


@dataclass(frozen=True)
class DrawTask:
    """What a worker needs for one draw: the scenario file, its overrides, the draw, and optionally a layout to check
    (``layout``: grid id per unit and the lead each grid names) instead of optimising."""

    scenario_path: str
    overrides: dict[str, Any]
    draw: Draw
    single_thread: bool = True
    layout: tuple[tuple[str, ...], dict[str, str]] | None = None


@dataclass
class DrawResult:
    """One draw's outcome.

    Attributes
    ----------
    index : the draw
    status : ``plan`` (a plan was made), ``no plan`` (the rules cannot be met), ``time limit`` or ``error``
    leads : lead facility ids of the plan's grids
    unit_lead : (n,) int16 code of each unit's lead in ``leads`` (−1: no plan)
    unit_failed : (n,) bool, the unit's grid failed a rule (or there is no plan)
    failed_rules : rule ids that failed (in any grid, or that made the plan impossible)
    indicators : the city's key indicators (:data:`KEY_INDICATORS`)
    units_digest : digest of the unit ids, so a worker with other data is caught
    """

    index: int
    status: str
    exit_code: int = 0
    objective: float = float("nan")
    leads: list[str] = field(default_factory=list)
    unit_lead: np.ndarray | None = None
    unit_failed: np.ndarray | None = None
    failed_rules: list[str] = field(default_factory=list)
    indicators: dict[str, float] = field(default_factory=dict)
    error: str = ""
    solve_s: float = float("nan")
    units_digest: str = ""


_BASE: dict[tuple, tuple[Scenario, CityData, PlanningUnits]] = {}


def load_base(scenario_path: str, overrides: dict[str, Any]) -> tuple[Scenario, CityData, PlanningUnits]:
    """Scenario, city and units of a scenario file, loaded once per process."""
    key = (str(scenario_path), tuple(sorted((k, repr(v)) for k, v in overrides.items())))
    if key not in _BASE:
        scenario = load_scenario(scenario_path, overrides)
        city = load_city(scenario)
        _BASE.clear()  # one scenario at a time per worker: keeps memory flat in a sweep of cities
        _BASE[key] = (scenario, city, planning_units(scenario, city))
    return _BASE[key]


def units_digest(units: PlanningUnits) -> str:
    """Short digest of the unit ids in order (the alignment every result must share)."""
    return hashlib.sha1("\n".join(units.gdf["unit_id"].astype(str)).encode()).hexdigest()[:16]


def solve_draw(task: DrawTask) -> DrawResult:
    """Make (or, with ``task.layout``, check) the plan of one draw; any failure becomes the result's status."""
    t0 = time.perf_counter()
    scenario, city, units = load_base(task.scenario_path, task.overrides)
    digest = units_digest(units)
    if task.single_thread:
        # worker processes solve with one HiGHS thread each (HiGHS fixes its pool at a process's first solve)
        scenario = dataclasses.replace(scenario, solver=dataclasses.replace(scenario.solver, threads=1))
    scenario, city, units = apply_draw(task.draw, scenario, city, units)
    try:
        if task.layout is not None:
            plan = _check_layout(scenario, city, units, task.layout)
        else:
            plan = make_plan(scenario, city, units)
    except Exception as exc:  # one draw's failure, even a bug, is recorded and the ensemble goes on
        rec = ErrorRecord.of(exc)
        status = "no plan" if isinstance(exc, PlanningError) else (
            "time limit" if rec.exit_code == 4 else "error")
        n = len(units.gdf)
        return DrawResult(task.draw.index, status, rec.exit_code, leads=[], unit_lead=np.full(n, -1, np.int16),
                          unit_failed=np.ones(n, bool), failed_rules=rec.rule_ids,
                          error=(f"{rec.kind}: {rec.message}" if not isinstance(exc, CaregridError) else rec.message),
                          solve_s=time.perf_counter() - t0, units_digest=digest)
    return _result(task.draw.index, plan, digest, time.perf_counter() - t0)


def _check_layout(scenario: Scenario, city: CityData, units: PlanningUnits,
                  layout: tuple[tuple[str, ...], dict[str, str]]):
    """The plan of a given layout (grid per unit, named leads), checked as it is."""
    grid, leads = layout
    with tempfile.TemporaryDirectory(prefix="caregrid-layout-") as tmp:
        path = Path(tmp) / "layout.csv"
        table = pd.DataFrame({"unit_id": units.gdf["unit_id"].astype(str), "grid_id": list(grid)})
        table["lead_id"] = table["grid_id"].map(leads).fillna("")
        table.to_csv(path, index=False)
        plan_settings = dataclasses.replace(scenario.plan, mode="given_layout", layout=str(path), layout_crs=None,
                                            layout_grid_field="grid_id")
        return make_plan(dataclasses.replace(scenario, plan=plan_settings), city, units)


def _result(index: int, plan, digest: str, seconds: float) -> DrawResult:
    u = plan.units
    lead = u["lead_facility_id"].astype(object).where(u["lead_facility_id"].notna(), "").astype(str).to_numpy()
    leads = sorted(set(lead) - {""})
    code = {fid: k for k, fid in enumerate(leads)}
    unit_lead = pd.Series(lead).map(code).fillna(-1).to_numpy(np.int16)
    comp = plan.compliance
    failed = comp.loc[failed_checks(comp)]
    bad_grids = set(failed["scope"].astype(str))
    city_failed = "city" in bad_grids
    unit_failed = u["grid_id"].astype(str).isin(bad_grids).to_numpy() | city_failed | (unit_lead < 0)
    city_row = plan.indicators[plan.indicators.grid_id == "city"].iloc[0]
    return DrawResult(
        index, "plan", 0, float(plan.record.get("objective") or np.nan), leads, unit_lead, unit_failed,
        sorted(set(failed["rule_id"].astype(str))),
        {k: float(city_row[k]) for k in KEY_INDICATORS if k in city_row and pd.notna(city_row[k])},
        "", seconds, digest,
    )
