"""Declared referral reservations of lead hospitals (rule 5, 下沉号源和床位): the file ``[inputs] reservations`` names.

The pilot plan asks each lead hospital to reserve at least 1/3 of its outpatient slots 门诊号源 and 1/4 of its beds
住院床位 for family-doctor teams 家庭医生签约服务团队 and primary care 基层医疗卫生机构. What a hospital has reserved is
a declaration, not something the tool can compute: a planner collects it and writes one CSV row per hospital::

    facility_id,reserved_outpatient_daily,reserved_beds,source
    PJ-H001,520,180,"盘锦市卫健委 2024-03 下沉号源统计表"

* ``facility_id`` — a facility of the scenario's facility files (one row per id);
* ``reserved_outpatient_daily`` — outpatient slots per day reserved for primary care (a whole number ≥ 0; blank:
  not declared, rule 5's outpatient check stays ``planned``);
* ``reserved_beds`` — beds reserved (whole number ≥ 0; blank: not declared);
* ``source`` — who declared it: the document or the date (required; a figure without a source is not a fact).

:func:`attach_reservations` adds ``declared_outpatient_daily``, ``declared_beds`` (NaN: not declared) and
``declared_source`` to the facility table; the plan allocates the declared figures and rule 5 checks them.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .readers import read_table
from .validate import PLAUSIBLE_MAX, _blank, check_non_negative, check_unique, require_columns, row_label

#: columns of a reservations file
RESERVATION_COLUMNS = ("facility_id", "reserved_outpatient_daily", "reserved_beds", "source")
#: reservations file column → facility table column it is attached as
DECLARED_COLUMNS = {
    "reserved_outpatient_daily": "declared_outpatient_daily",
    "reserved_beds": "declared_beds",
    "source": "declared_source",
}
#: the capacity column each declared figure is a share of (its plausibility limit)
_CAPACITY_OF = {"reserved_outpatient_daily": "outpatient_daily", "reserved_beds": "beds"}


def near_ids(fid: str, known: list[str], n: int = 5) -> str:
    """Known ids that look like ``fid`` ("near: A, B"), else a few known ids, for an error message."""
    close = difflib.get_close_matches(fid, known, n=n, cutoff=0.6)
    if close:
        return "known ids near it: " + ", ".join(close)
    return f"no known id is near it; the facility files hold {len(known)} ids, e.g. " + ", ".join(sorted(known)[:n])


def _check_whole_numbers(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Blank or a whole number ≥ 0, not above the plausible capacity of one facility; returns the numbers."""
    check_non_negative(df, column, path, required=False)
    values = pd.to_numeric(df[column], errors="coerce")
    frac = values.notna() & (values != np.round(values))
    if frac.any():
        i = int(np.flatnonzero(frac.to_numpy())[0])
        raise InputError(
            path, f"fractional value {values.iloc[i]}; expected a whole number ≥ 0 (slots per day, or beds)",
            row=row_label(path, i), field=column,
        )
    limit, what = PLAUSIBLE_MAX[_CAPACITY_OF[column]]
    big = values > limit
    if big.any():
        i = int(np.flatnonzero(big.to_numpy())[0])
        raise InputError(
            path, f"implausible value {values.iloc[i]:,.0f}; expected at most {limit:,} {what}",
            row=row_label(path, i), field=column,
        )
    return values.astype(float)


def read_reservations(path: str | Path, facility_ids) -> pd.DataFrame:
    """Read and validate a reservations file against the scenario's facility ids.

    Parameters
    ----------
    path : the CSV file (UTF-8 or GBK)
    facility_ids : every facility id the scenario's facility files hold

    Returns
    -------
    pandas.DataFrame
        columns :data:`RESERVATION_COLUMNS`, the figures as floats (NaN: not declared)

    Raises
    ------
    InputError
        naming the file, the row and the field: a missing column, a blank id or source, an id that is not a
        facility (with the known ids near it), a duplicate id, a figure that is not a whole number ≥ 0, or a row
        that declares neither figure
    """
    path = Path(path)
    df = read_table(path)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, RESERVATION_COLUMNS, path, "reservations")
    for col in ("facility_id", "source"):
        blank = _blank(df[col])
        if blank.any():
            i = int(np.flatnonzero(blank.to_numpy())[0])
            expected = "a facility id" if col == "facility_id" else "who declared it (a document or a date)"
            raise InputError(path, f"missing value; expected {expected}", row=row_label(path, i), field=col)
        df[col] = df[col].astype(str).str.strip()
    known = [str(x) for x in facility_ids]
    unknown = ~df["facility_id"].isin(set(known))
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        fid = df["facility_id"].iloc[i]
        raise InputError(
            path,
            f"unknown facility id {fid!r}; expected an id of the scenario's facility files ({near_ids(fid, known)})",
            row=row_label(path, i), field="facility_id",
        )
    check_unique(df, "facility_id", path)
    for col in _CAPACITY_OF:
        df[col] = _check_whole_numbers(df, col, path)
    neither = df[list(_CAPACITY_OF)].isna().all(axis=1)
    if neither.any():
        i = int(np.flatnonzero(neither.to_numpy())[0])
        raise InputError(
            path,
            "declares neither figure; expected reserved_outpatient_daily and/or reserved_beds (whole numbers ≥ 0)",
            row=row_label(path, i), field="reserved_outpatient_daily",
        )
    return df[list(RESERVATION_COLUMNS)].reset_index(drop=True)


def attach_reservations(facilities: pd.DataFrame, path: str | Path | None) -> pd.DataFrame:
    """The facility table with ``declared_outpatient_daily``, ``declared_beds`` (NaN: not declared) and
    ``declared_source`` ("" without a declaration) from the reservations file at ``path`` (``None``: no file)."""
    out = facilities.copy()
    if path is None:
        declared = pd.DataFrame(columns=list(RESERVATION_COLUMNS))
    else:
        declared = read_reservations(path, out["facility_id"].tolist())
    by_id = declared.set_index("facility_id")
    for col, target in DECLARED_COLUMNS.items():
        values = out["facility_id"].map(by_id[col]) if len(by_id) else pd.Series(np.nan, index=out.index)
        if col == "source":
            out[target] = values.astype(object).where(values.notna(), "").astype(str)
        else:
            out[target] = pd.to_numeric(values, errors="coerce").astype(float)
    return out
