"""Locked planning units 锁定单元: the file ``[plan] locked_units`` names (``caregrid app`` writes it on save).

A lock keeps a planning unit in the grid of a named lead hospital whatever the optimiser would prefer. One CSV row
per locked unit::

    unit_id,lead_id
    882d1a2b3bfffff,PJ-H01

* ``unit_id`` — a planning unit of the scenario (as ``plan.gpkg``'s units layer and a layout table name it; one row
  per unit);
* ``lead_id`` — the facility id of the hospital whose grid the unit must belong to (a hospital that may lead).

Locks bind the modes that choose grids: ``optimise``, ``fixed_leads`` and a given layout with ``--repair``
(``ModelSpec.fixed_assignment``: the unit is assigned to that lead's grid, which therefore opens). A given layout
without ``--repair`` is evaluated as painted; its locks are read and checked but move nothing (``run.json`` says so).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config.rules import RuleSet
from ..config.scenario import Scenario
from ..errors import InputError
from ..load.readers import read_table
from ..load.validate import _blank, check_unique, near_ids, require_columns, row_label
from .groups import eligible_lead_mask

#: columns of a locked-units file
LOCK_COLUMNS = ("unit_id", "lead_id")


def locks_path(scenario: Scenario) -> Path | None:
    """The locked-units file the scenario names (resolved like the other inputs), ``None`` without one."""
    name = scenario.plan.locked_units
    return scenario.input_path(name) if name else None


def read_locks(path: str | Path, unit_ids, facilities: gpd.GeoDataFrame, rules: RuleSet,
               allow_enterprise: bool) -> dict[int, str]:
    """Read and check a locked-units file.

    Parameters
    ----------
    path : the CSV file (UTF-8 or GBK)
    unit_ids : (n,) the scenario's planning unit ids, in their order
    facilities : the city's facilities (after the scenario's changes)
    rules, allow_enterprise : who may lead (rule 2 and ``plan.allow_enterprise_leads``)

    Returns
    -------
    dict
        unit position (in ``unit_ids``) → lead facility id

    Raises
    ------
    InputError
        naming the file, the row and the field: a missing column, a blank cell, a unit id that is not a planning
        unit, a unit listed twice, a lead id that is not a facility (with the ids near it) or a facility that may
        not lead
    """
    path = Path(path)
    df = read_table(path)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, LOCK_COLUMNS, path, "locked units")
    expected = {"unit_id": "a planning unit id", "lead_id": "the facility id of the lead whose grid the unit keeps"}
    for col in LOCK_COLUMNS:
        blank = _blank(df[col])
        if blank.any():
            i = int(np.flatnonzero(blank.to_numpy())[0])
            raise InputError(path, f"missing value; expected {expected[col]}", row=row_label(path, i), field=col)
        df[col] = df[col].astype(str).str.strip()
    pos = {str(u): k for k, u in enumerate(unit_ids)}
    _first_bad(df["unit_id"], ~df["unit_id"].isin(set(pos)), path, "unit_id",
               lambda u: f"unknown planning unit id {u!r}; expected a unit of the scenario's planning units (the "
               f"unit_id of plan.gpkg's units layer or of a layout table){near_ids(u, list(pos))}")
    check_unique(df, "unit_id", path)
    fid = facilities["facility_id"].astype(str).to_numpy()
    _first_bad(df["lead_id"], ~df["lead_id"].isin(set(fid)), path, "lead_id",
               lambda f: f"unknown facility id {f!r}; expected the id of a hospital that may lead, from the "
               f"scenario's facility files{near_ids(f, fid)}")
    may_lead = set(fid[eligible_lead_mask(facilities, rules, allow_enterprise)])
    _first_bad(df["lead_id"], ~df["lead_id"].isin(may_lead), path, "lead_id",
               lambda f: f"facility {f} may not lead a grid ({rules.text('R2.lead').label}); expected a hospital "
               "that may lead")
    return {pos[u]: lead for u, lead in zip(df["unit_id"], df["lead_id"], strict=True)}


def _first_bad(values: pd.Series, bad: pd.Series, path: Path, field: str, message) -> None:
    """An :class:`InputError` at the first row where ``bad`` holds, with ``message(value)``."""
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, message(values.iloc[i]), row=row_label(path, i), field=field)


def locks_csv(unit_ids, leads) -> str:
    """A locked-units file's text (``unit_id,lead_id``) for the units ``unit_ids`` and their ``leads``."""
    frame = pd.DataFrame({"unit_id": list(map(str, unit_ids)), "lead_id": list(map(str, leads))})
    return frame.to_csv(index=False, lineterminator="\n")
