"""What-if changes (a scenario's ``[[changes]]``) applied to the loaded facilities.

Planners test ideas such as "upgrade 大洼区人民医院 to 三级", "open a community health centre in 辽河新城", "close the
old campus" or "link the two campuses of one hospital". :func:`apply_changes` applies them, in the scenario file's
order, to the validated facility table, before planning units and facility units are computed:

* ``add`` appends a facility; its ``source`` says ``scenario change: <file>`` and its ``change`` column "added by
  scenario change", so it never looks like sourced data; its beds and outpatient figures are ``planned (scenario
  change)``, not facts or estimates;
* ``change`` sets level, grade, kind, ownership, beds or outpatient figures; a changed capacity gets the status
  ``planned (scenario change)``; a new level without a new grade clears the old grade (二级甲等 would lie about a
  hospital now 三级);
* ``close`` removes the facility (the record lists it as closed);
* ``link`` makes several campuses one institution: the first id is the main campus (the one candidate lead or
  member), the others get ``campus_of`` = the main campus and take no role of their own; residents' travel to the
  institution is the minutes to its nearest campus (:func:`nearest_campus_minutes`). The main campus keeps its own
  bed and outpatient figures: set the institution's totals with a ``change`` if the data holds per-campus figures.

A change naming an unknown facility id is an :class:`~simulator.errors.InputError` listing the closest known ids.
Each applied change is recorded (``run.json`` key ``changes``; the report lists them on its first page).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config import vocabulary
from ..config.labels import CHANGE_ACTIONS, Text
from ..config.scenario import Change
from ..errors import InputError
from .coords import bd09_to_wgs84, gcj02_to_wgs84
from .readers import _parse_crs
from .validate import PLAUSIBLE_MAX, InputWarning

#: status of a bed or outpatient figure a scenario change sets (a plan figure, neither a fact nor an estimate)
CHANGE_STATUS = "planned (scenario change)"
#: columns the changes add to the facility table
CHANGE_COLUMN, CAMPUS_COLUMN = "change", "campus_of"
_STATUS_OF = {"beds": "beds_status", "outpatient_daily": "outpatient_status"}
#: what a change may set, in the order records and popups list it
_FIELDS = ("level", "grade", "kind", "ownership", "beds", "outpatient_daily", "continuing_care")
_TERMS = {"level": vocabulary.LEVELS, "kind": vocabulary.KINDS, "ownership": vocabulary.OWNERSHIPS}


def _shown(field: str, value: Any) -> str:
    """A value as the record and the popups show it: Chinese terms for level/kind/ownership, "—" when blank."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or str(value).strip() == "":
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if field in _TERMS:
        return _TERMS[field].get(str(value), str(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):,.0f}"
    return str(value)


def _plain(value: Any) -> Any:
    """JSON-safe value for the record (NaN → None, numpy scalars → Python)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def unknown_id_error(path: Path | None, change: Change, fid: str, facilities: pd.DataFrame, field: str) -> InputError:
    """The error for a change naming an id the facilities lack: the closest known ids (and names) beside it."""
    ids = facilities["facility_id"].astype(str).tolist()
    names = dict(zip(facilities["name"].astype(str), ids, strict=False))
    near = difflib.get_close_matches(fid, ids, n=5, cutoff=0.5)
    near += [names[n] for n in difflib.get_close_matches(fid, list(names), n=3, cutoff=0.5) if names[n] not in near]
    if not near:
        near = sorted(ids)[:8]
    name_of = dict(zip(ids, facilities["name"].astype(str), strict=False))
    return InputError(
        path,
        f"{change.action} names unknown facility id {fid!r} (closed by an earlier change, or a typo?); "
        "closest known ids: " + ", ".join(f"{i} {name_of[i]}" for i in near),
        row=f"changes[{change.index}]",
        field=field,
    )


def _position(path: Path | None, change: Change, fid: str, f: pd.DataFrame, field: str = "id") -> int:
    hit = np.flatnonzero(f["facility_id"].astype(str).to_numpy() == fid)
    if not len(hit):
        raise unknown_id_error(path, change, fid, f, field)
    return int(hit[0])


def _check_plausible(path: Path | None, change: Change) -> None:
    for key in ("beds", "outpatient_daily"):
        value = getattr(change, key)
        limit, what = PLAUSIBLE_MAX[key]
        if value is not None and value > limit:
            raise InputError(path, f"{key} = {value:,.0f} is implausible; expected at most {limit:,} {what}",
                             row=f"changes[{change.index}]", field=key)


def _to_wgs84(path: Path | None, change: Change, default_crs: str | None) -> tuple[float, float]:
    """The added facility's lon/lat in WGS-84 (its ``crs``, else the facilities' CRS; never a guess)."""
    crs = change.crs or default_crs
    if crs is None:
        raise InputError(path, "no CRS for lon/lat: set crs = 'EPSG:4326' (WGS-84), 'gcj02' (AMap) or 'bd09' "
                         "(Baidu) in the change, or inputs.facilities_crs", row=f"changes[{change.index}]", field="crs")
    parsed = _parse_crs(path, crs, f"changes[{change.index}].crs")
    x, y = np.array([change.lon]), np.array([change.lat])
    if isinstance(parsed, str):
        lon, lat = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}[parsed](x, y)
    else:
        lon, lat = pyproj.Transformer.from_crs(parsed, "EPSG:4326", always_xy=True).transform(x, y)
    return float(np.asarray(lon)[0]), float(np.asarray(lat)[0])


def _add(f: gpd.GeoDataFrame, c: Change, path: Path | None, boundaries: gpd.GeoDataFrame, default_crs: str | None):
    where = f"changes[{c.index}]"
    if (f["facility_id"].astype(str) == c.id).any():
        other = f.loc[f["facility_id"].astype(str) == c.id, "name"].iat[0]
        raise InputError(path, f"add: id {c.id!r} already names {other}; expected a new facility id", row=where,
                         field="id")
    _check_plausible(path, c)
    lon, lat = _to_wgs84(path, c, default_crs)
    point = shapely.Point(lon, lat)
    inside = np.flatnonzero(shapely.intersects(boundaries.geometry.to_numpy(), point))
    if not len(inside):
        raise InputError(
            path,
            f"add: {c.name} at lon {lon:.5f}, lat {lat:.5f} (WGS-84) lies outside the city boundary; expected a "
            "location inside the city (check lon/lat and their crs: gcj02/bd09?)",
            row=where, field="lon/lat",
        )
    source = f"scenario change: {path.name if path else 'scenario'}" + (f" ({c.note})" if c.note else "")
    row = {
        "facility_id": c.id, "name": c.name, "district": str(boundaries["adcode"].iat[int(inside[0])]),
        "level": c.level, "grade": c.grade or "", "kind": c.kind, "ownership": c.ownership or "",
        "beds": np.nan if c.beds is None else c.beds,
        "beds_status": CHANGE_STATUS if c.beds is not None else "",
        "outpatient_daily": np.nan if c.outpatient_daily is None else c.outpatient_daily,
        "outpatient_status": CHANGE_STATUS if c.outpatient_daily is not None else "",
        "location_quality": c.location_quality or "exact", "in_city": True, "modelled": False,
        "continuing_care": bool(c.continuing_care), "source": source,
        "lon": lon, "lat": lat, "source_file": path.name if path else "", "source_path": str(path or ""),
        "source_row": c.index, CHANGE_COLUMN: str(Text.added_by_change), CAMPUS_COLUMN: "",
    }
    new = gpd.GeoDataFrame([row], geometry=[point], crs="EPSG:4326")
    if "continuing_care" not in f:
        f = f.assign(continuing_care=False)
    flags = [col for col in f.columns if f[col].dtype == bool and col not in row]
    f = gpd.GeoDataFrame(pd.concat([f, new], ignore_index=True), crs="EPSG:4326")
    for col in flags:  # yes/no columns of the facility files (e.g. a planner's flags) are "no" for an added facility
        f[col] = f[col].fillna(False).astype(bool)
    return f, {"facility_id": c.id, "name": c.name, "lon": lon, "lat": lat,
               "fields": {k: [None, _plain(row[k])] for k in _FIELDS if _plain(row[k]) not in ("", None, False)}}


def _change(f: gpd.GeoDataFrame, c: Change, path: Path | None):
    i = _position(path, c, c.id, f)
    _check_plausible(path, c)
    wanted = {k: getattr(c, k) for k in _FIELDS}
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if "level" in wanted and "grade" not in wanted and str(f["grade"].iat[i]).strip():
        wanted["grade"] = ""  # the old grade belongs to the old level
    wanted = {k: wanted[k] for k in _FIELDS if k in wanted}
    fields, parts = {}, []
    for key, value in wanted.items():
        old = f[key].iat[i] if key in f else None
        fields[key] = [_plain(old), _plain(value)]
        parts.append(f"{key} {_shown(key, old)} → {_shown(key, value)}")
        f.loc[f.index[i], key] = value
        if key in _STATUS_OF:
            f.loc[f.index[i], _STATUS_OF[key]] = CHANGE_STATUS
    text = f"{Text.changed_by_change}: " + "; ".join(parts)
    previous = str(f[CHANGE_COLUMN].iat[i])
    f.loc[f.index[i], CHANGE_COLUMN] = f"{previous}; {text}" if previous else text
    return f, {"facility_id": c.id, "name": str(f["name"].iat[i]), "fields": fields}


def _close(f: gpd.GeoDataFrame, c: Change, path: Path | None, named: dict[str, str]):
    i = _position(path, c, c.id, f)
    name = str(f["name"].iat[i])
    if c.id in named:
        raise InputError(path, f"close: {c.id} {name} is named in {named[c.id]}; remove it there or keep it open",
                         row=f"changes[{c.index}]", field="id")
    if (f[CAMPUS_COLUMN] == c.id).any():
        raise InputError(path, f"close: {c.id} {name} is the main campus of linked campuses; close the campuses or "
                         "link them to another main campus first", row=f"changes[{c.index}]", field="id")
    f = gpd.GeoDataFrame(f.drop(index=f.index[i]).reset_index(drop=True), crs="EPSG:4326")
    return f, {"facility_id": c.id, "name": name}


def _link(f: gpd.GeoDataFrame, c: Change, path: Path | None, named: dict[str, str]):
    pos = [_position(path, c, fid, f, "ids") for fid in c.ids]
    main = c.ids[0]
    for fid in c.ids[1:]:
        if fid in named:
            raise InputError(path, f"link: {fid} is named in {named[fid]}; only the main campus (listed first) "
                             "can be named there", row=f"changes[{c.index}]", field="ids")
    for fid, i in zip(c.ids, pos, strict=True):
        if f[CAMPUS_COLUMN].iat[i]:
            raise InputError(path, f"link: {fid} is already a campus of {f[CAMPUS_COLUMN].iat[i]}; expected ids "
                             "not yet linked", row=f"changes[{c.index}]", field="ids")
    for fid, i in zip(c.ids[1:], pos[1:], strict=True):
        if (f[CAMPUS_COLUMN] == fid).any():
            raise InputError(path, f"link: {fid} is itself the main campus of linked campuses; list it first or "
                             "list its campuses here", row=f"changes[{c.index}]", field="ids")
        f.loc[f.index[i], CAMPUS_COLUMN] = main
        note = f"{Text.campus_of} {main} {f['name'].iat[pos[0]]}"
        previous = str(f[CHANGE_COLUMN].iat[i])
        f.loc[f.index[i], CHANGE_COLUMN] = f"{previous}; {note}" if previous else note
    main_note = f"{Text.linked_by_change}: " + ", ".join(c.ids[1:])
    previous = str(f[CHANGE_COLUMN].iat[pos[0]])
    f.loc[f.index[pos[0]], CHANGE_COLUMN] = f"{previous}; {main_note}" if previous else main_note
    return f, {"facility_id": main, "name": str(f["name"].iat[pos[0]]), "campuses": list(c.ids[1:]),
               "campus_names": [str(f["name"].iat[i]) for i in pos[1:]]}


def _move(f: gpd.GeoDataFrame, c: Change, path: Path | None, boundaries: gpd.GeoDataFrame, default_crs: str | None):
    """The facility's real location (a planner's correction): lon/lat, district from the boundaries, quality."""
    i = _position(path, c, c.id, f)
    lon, lat = _to_wgs84(path, c, default_crs)
    point = shapely.Point(lon, lat)
    inside = np.flatnonzero(shapely.intersects(boundaries.geometry.to_numpy(), point))
    if not len(inside) and bool(f["in_city"].iat[i]):
        raise InputError(
            path,
            f"move: {f['name'].iat[i]} to lon {lon:.5f}, lat {lat:.5f} (WGS-84) lies outside the city boundary; "
            "expected a location inside the city (check lon/lat and their crs: gcj02/bd09?)",
            row=f"changes[{c.index}]", field="lon/lat",
        )
    quality = c.location_quality or "exact"
    old = (float(f["lon"].iat[i]), float(f["lat"].iat[i]), str(f["location_quality"].iat[i]))
    row = f.index[i]
    f.loc[row, ["lon", "lat", "location_quality"]] = [lon, lat, quality]
    f.loc[row, "geometry"] = point
    if len(inside):
        f.loc[row, "district"] = str(boundaries["adcode"].iat[int(inside[0])])
    text = f"{Text.moved_by_change}: {old[0]:.5f}, {old[1]:.5f} ({old[2]}) → {lon:.5f}, {lat:.5f} ({quality})"
    previous = str(f[CHANGE_COLUMN].iat[i])
    f.loc[row, CHANGE_COLUMN] = f"{previous}; {text}" if previous else text
    return f, {"facility_id": c.id, "name": str(f["name"].iat[i]), "lon": lon, "lat": lat,
               "fields": {"location_quality": [old[2], quality]}}


def change_text(record: dict[str, Any]) -> str:
    """One line describing an applied change, for the report.

    Example: "Change 变更 PJ-H05 盘锦市大洼区人民医院: level 二级 → 三级; grade 二级甲等 → —".
    """
    head = f"{CHANGE_ACTIONS[record['action']]} {record['facility_id']} {record['name']}"
    if record["action"] == "link":
        body = ": " + ", ".join(f"{i} {n}" for i, n in zip(record["campuses"], record["campus_names"], strict=True))
        return head + body + f" ({Text.campuses_of_one_institution})"
    fields = record.get("fields") or {}
    if record["action"] == "move":
        return head + f": lon {record['lon']:.5f}, lat {record['lat']:.5f} ({fields['location_quality'][1]})"
    body = "; ".join(
        f"{k} {_shown(k, old)} → {_shown(k, new)}" if record["action"] == "change" else f"{k} {_shown(k, new)}"
        for k, (old, new) in fields.items()
    )
    return head + (f": {body}" if body else "")


def apply_changes(
    facilities: gpd.GeoDataFrame,
    changes: list[Change],
    *,
    path: Path | None = None,
    boundaries: gpd.GeoDataFrame,
    default_crs: str | None = None,
    named: dict[str, str] | None = None,
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Apply a scenario's what-if changes to the validated facility table, in order.

    Parameters
    ----------
    facilities : the facility table as read (validated, EPSG:4326, RangeIndex)
    changes : the scenario's ``[[changes]]`` (:class:`~simulator.config.scenario.Change`), already selected by
        ``--set changes=…``
    path : the scenario file (named in errors and in the ``source`` of added facilities)
    boundaries : the city's district polygons (an added facility must lie inside; it takes its district's adcode)
    default_crs : CRS of an added facility's lon/lat when the change names none (``inputs.facilities_crs``)
    named : facility id → where the scenario names it (``plan.leads``…): such a facility cannot be closed or
        become another facility's campus

    Returns
    -------
    (facilities, records)
        the changed table (with columns ``change`` and ``campus_of`` when there are changes) and one record per
        applied change: ``label``, ``action``, ``facility_id``, ``name``, ``fields`` ({field: [before, after]}),
        ``note``, ``text`` (one line for people)

    Raises
    ------
    InputError
        an unknown facility id (with the closest known ids), an add whose id exists or whose location lies
        outside the city, an implausible capacity, coordinates without a CRS, closing a facility the scenario
        names elsewhere
    """
    reserved = [c for c in (CHANGE_COLUMN, CAMPUS_COLUMN) if c in facilities]
    if reserved:
        # the columns are the changes' own: a facility file's column of that name must not link or mark anything
        warnings.warn(f"facility column(s) {', '.join(reserved)} are reserved for scenario changes and were ignored",
                      InputWarning, stacklevel=2)
        facilities = facilities.drop(columns=reserved)
    if not changes:
        return facilities, []
    f = facilities.copy()
    for col in (CHANGE_COLUMN, CAMPUS_COLUMN):
        f[col] = ""
    records = []
    for c in changes:
        if c.action == "add":
            f, rec = _add(f, c, path, boundaries, default_crs)
        elif c.action == "change":
            f, rec = _change(f, c, path)
        elif c.action == "close":
            f, rec = _close(f, c, path, named or {})
        elif c.action == "move":
            f, rec = _move(f, c, path, boundaries, default_crs)
        else:
            f, rec = _link(f, c, path, named or {})
        rec = {"label": c.label, "action": c.action, **rec, "note": c.note}
        rec["text"] = change_text(rec)
        records.append(rec)
    return f.reset_index(drop=True), records


def campuses(facilities: pd.DataFrame) -> dict[int, np.ndarray]:
    """Position of each main campus → positions of its other campuses (empty when nothing is linked)."""
    if CAMPUS_COLUMN not in facilities:
        return {}
    main = facilities[CAMPUS_COLUMN].astype(str).to_numpy()
    if not (main != "").any():
        return {}
    pos = {fid: k for k, fid in enumerate(facilities["facility_id"].astype(str))}
    out: dict[int, list[int]] = {}
    for k in np.flatnonzero(main != ""):
        out.setdefault(pos[main[k]], []).append(int(k))
    return {m: np.array(v, dtype=np.int64) for m, v in out.items()}


def nearest_campus_minutes(
    minutes: Callable[[np.ndarray, np.ndarray], np.ndarray], facilities: pd.DataFrame
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Travel minutes where a linked institution counts as near as its nearest campus.

    Parameters
    ----------
    minutes : (unit indices, facility indices) → (units, facilities) minutes, per site
    facilities : the facility table (``campus_of`` names each campus's main campus)

    Returns
    -------
    the same callable when nothing is linked; otherwise one whose column of a main campus is the minimum over the
    main campus and its campuses
    """
    sites = campuses(facilities)
    if not sites:
        return minutes

    def to_nearest_campus(unit_idx, fac_idx) -> np.ndarray:
        fac_idx = np.atleast_1d(np.asarray(fac_idx, dtype=np.int64))
        out = np.array(minutes(unit_idx, fac_idx), dtype=float, copy=True)
        for k, fi in enumerate(fac_idx.tolist()):
            extra = sites.get(int(fi))
            if extra is not None:
                out[:, k] = np.minimum(out[:, k], minutes(unit_idx, extra).min(axis=1))
        return out

    return to_nearest_campus
