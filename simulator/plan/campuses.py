"""Campuses of one institution (a scenario's ``link`` change) in the plan's groups.

A linked institution is one candidate lead or member: its main campus. The other campuses (``campus_of`` = the main
campus's id, see :mod:`simulator.load.changes`) take no unit, candidacy or membership of their own; they are listed
with role ``campus`` 院区 in every group that lists their main campus (``groups.csv``), and the facilities layer gives
them role ``campus`` and the main campus's grid. Residents' travel to the institution is the minutes to its nearest
campus (:func:`simulator.load.changes.nearest_campus_minutes`, used for the plan's travel times).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..load.changes import CAMPUS_COLUMN

#: role of a linked campus in groups.csv and the facilities layer
CAMPUS_ROLE = "campus"
#: roles of the main campus whose groups list its campuses
_HOLDING_ROLES = ("lead", "member", "cross_grid")


def add_campuses(facilities: pd.DataFrame, groups: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give linked campuses role ``campus`` beside their main campus (no change when nothing is linked).

    Parameters
    ----------
    facilities : the plan's facilities (``facility_id``, ``name``, ``grid_id``, ``role``, ``campus_of``)
    groups : ``groups.csv`` rows (``grid_id``, ``facility_id``, ``name``, ``role``)

    Returns
    -------
    (facilities, groups) with the campuses' roles and group rows added
    """
    if CAMPUS_COLUMN not in facilities or not (facilities[CAMPUS_COLUMN].astype(str) != "").any():
        return facilities, groups
    f = facilities.copy()
    main_of = f[CAMPUS_COLUMN].astype(str).to_numpy()
    grid_of = dict(zip(f["facility_id"].astype(str), f["grid_id"].astype(str), strict=True))
    rows = []
    held = groups[groups["role"].isin(_HOLDING_ROLES)]
    for k in np.flatnonzero(main_of != ""):
        fid, name, main = str(f["facility_id"].iat[k]), str(f["name"].iat[k]), main_of[k]
        for g in held.loc[held["facility_id"] == main, "grid_id"]:
            rows.append((g, fid, name, CAMPUS_ROLE))
        f.loc[f.index[k], ["role", "grid_id"]] = [CAMPUS_ROLE, grid_of.get(main, "")]
    if rows:
        groups = pd.concat([groups, pd.DataFrame(rows, columns=list(groups.columns[:4]))], ignore_index=True)
    return f, groups
