"""Schema checks for the input tables.

Every check raises :class:`~simulator.errors.InputError` naming the file, the row (1-based data row of a CSV,
or the feature index of a vector file), the field and what was expected. Repairs that are safe (an invalid
polygon that ``shapely.make_valid`` can mend) are made and reported as :class:`InputWarning`.
"""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config import vocabulary
from ..errors import InputError

LEVELS = tuple(vocabulary.LEVELS)
KINDS = tuple(vocabulary.KINDS)
OWNERSHIPS = tuple(vocabulary.OWNERSHIPS)
LOCATION_QUALITIES = ("exact", "street", "district_seat", "district_centroid", "modelled")
STATUSES = ("fact", "estimate", "modelled", "gap", "input")
PRIMARY_CARE_KINDS = ("community_health_centre", "township_hospital")
READINESS_FIELDS = ("doctors", "nurses", "ambulances", "ambulances_negative_pressure", "aeds")
#: optional capability flags a planner declares per facility (五大中心, infectious-disease ward, fever clinic); an
#: absent column or a blank cell is no data (NaN), never "no": 1.0 / 0.0 / NaN after loading
CAPABILITY_FLAGS = ("chest_pain", "stroke", "trauma", "maternal_critical", "neonatal_critical", "infectious_ward",
                    "fever_clinic")
_TRUE, _FALSE = ("true", "1", "1.0", "yes", "是"), ("false", "0", "0.0", "no", "否")
#: optional primary-care staffing (simulator.plan.family_doctors): whole numbers ≥ 0, blank = no data
TEAM_FIELDS = ("general_practitioners", "family_doctor_teams")
#: optional capability columns of the shared centres (simulator/config/centres/*.toml ``flag``): true/false/blank
CAPABILITY_PREFIX = "hosts_"

FACILITY_REQUIRED = ("facility_id", "name", "level", "kind")
#: optional true/false columns of a facility table and their value when the column is absent
FACILITY_FLAGS = (("in_city", True), ("modelled", False), ("continuing_care", False))
#: optional flags whose blank cells mean "not flagged" (in_city and modelled must be stated on every row)
BLANK_IS_FALSE = ("continuing_care",)
AFFILIATION_REQUIRED = ("facility_id", "partner_facility_id", "relation", "source")
DISTRICT_REQUIRED = ("adcode", "name", "type", "population_2020")


class InputWarning(UserWarning):
    """Something in the input was repaired or dropped; the message says what."""


def row_label(path: str | Path | None, index: int) -> str:
    """How a row is named in messages: 'row N' (1-based data row) for CSV, 'feature N' otherwise."""
    if path is not None and str(path).lower().endswith(".csv"):
        return f"row {index + 1}"
    return f"feature {index}"


def require_columns(df: pd.DataFrame, required: tuple[str, ...] | list[str], path, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)} in the {what} table; "
            f"expected at least {', '.join(required)}; found {', '.join(map(str, df.columns))}",
            field=missing[0],
        )


def check_unique(df: pd.DataFrame, column: str, path) -> None:
    dup = df[column].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        first = int(np.flatnonzero((df[column] == df[column].iloc[i]).to_numpy())[0])
        raise InputError(
            path,
            f"duplicate id {df[column].iloc[i]!r} (first seen at {row_label(path, first)}); ids must be unique",
            row=row_label(path, i),
            field=column,
        )


def check_choice(
    df: pd.DataFrame, column: str, allowed: tuple[str, ...], path, *, optional=False, zh: dict[str, str] | None = None
) -> None:
    """Values of ``column`` must be in ``allowed``; ``zh`` adds the Chinese terms to the message."""
    values = df[column]
    blank = _blank(values)
    expected = vocabulary.allowed_text(zh) if zh else ", ".join(allowed)
    if not optional and blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise InputError(path, f"missing value; expected one of {expected}", row=row_label(path, i), field=column)
    bad = ~values.astype(str).isin(allowed)
    if optional:
        bad &= ~blank
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path,
            f"unknown value {values.iloc[i]!r}; expected one of {expected}",
            row=row_label(path, i),
            field=column,
        )


#: the largest value that is still plausible, and why (a typo of a few zeros must not pass silently)
PLAUSIBLE_MAX = {
    "beds": (30_000, "beds in one facility (the largest hospitals in China have about 10,000)"),
    "outpatient_daily": (60_000, "outpatient visits a day in one facility (the busiest hospitals see about 30,000)"),
    "doctors": (20_000, "doctors in one facility"),
    "nurses": (30_000, "nurses in one facility"),
    "ambulances": (2_000, "ambulances of one facility"),
    "ambulances_negative_pressure": (2_000, "ambulances of one facility"),
    "aeds": (50_000, "AEDs of one facility"),
    "general_practitioners": (5_000, "general practitioners of one facility"),
    "family_doctor_teams": (2_000, "family-doctor teams of one facility"),
    "population_2020": (40_000_000, "residents of one district (China's largest districts have about 5 million)"),
}


def check_non_negative(df: pd.DataFrame, column: str, path, *, required: bool) -> None:
    """Numbers ≥ 0, finite, and not above :data:`PLAUSIBLE_MAX` for the column; blank allowed unless required."""
    values = pd.to_numeric(df[column], errors="coerce")
    text = df[column].astype(str).str.strip()
    not_number = values.isna() & df[column].notna() & (text != "") & (text.str.lower() != "nan")
    if not_number.any():
        i = int(np.flatnonzero(not_number.to_numpy())[0])
        raise InputError(path, f"expected a number, found {df[column].iloc[i]!r}", row=row_label(path, i), field=column)
    if required and values.isna().any():
        i = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(path, "missing value; expected a number ≥ 0", row=row_label(path, i), field=column)
    if (values < 0).any():
        i = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise InputError(
            path, f"negative value {values.iloc[i]}; expected a number ≥ 0", row=row_label(path, i), field=column
        )
    infinite = np.isinf(values.to_numpy(dtype=float))
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise InputError(path, "infinite value; expected a finite number ≥ 0", row=row_label(path, i), field=column)
    limit = PLAUSIBLE_MAX.get(column)
    if limit is not None and (values > limit[0]).any():
        i = int(np.flatnonzero((values > limit[0]).to_numpy())[0])
        raise InputError(
            path,
            f"implausible value {values.iloc[i]:,.0f}; expected at most {limit[0]:,} {limit[1]}",
            row=row_label(path, i),
            field=column,
        )


def check_geometries(gdf: gpd.GeoDataFrame, path, what: str, *, polygons: bool) -> gpd.GeoDataFrame:
    """Reject missing/empty geometries, repair invalid ones with ``shapely.make_valid`` (and say so)."""
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError(path, f"empty or missing geometry in the {what}", row=row_label(path, i), field="geometry")
    if polygons:
        kinds = shapely.get_type_id(geoms)
        not_poly = ~np.isin(kinds, (3, 6, 7))
        if not_poly.any():
            i = int(np.flatnonzero(not_poly)[0])
            raise InputError(
                path,
                f"expected a Polygon or MultiPolygon in the {what}, found {geoms[i].geom_type}",
                row=row_label(path, i),
                field="geometry",
            )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid])
        if polygons:
            fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
        idx = np.flatnonzero(invalid)
        for i, reason, geom in zip(idx, reasons, fixed, strict=True):
            if geom is None or geom.is_empty or not geom.is_valid:
                raise InputError(
                    path,
                    f"invalid geometry ({reason}) that shapely.make_valid could not repair in the {what}",
                    row=row_label(path, int(i)),
                    field="geometry",
                )
            warnings.warn(
                f"{path}: {row_label(path, int(i))}: repaired invalid geometry ({reason}) with shapely.make_valid",
                InputWarning,
                stacklevel=2,
            )
        geoms = geoms.copy()
        geoms[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return gdf


def _polygonal_part(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip().isin(("", "nan", "None")))


def _read_chinese_terms(gdf: gpd.GeoDataFrame) -> None:
    """Map Chinese terms (三级, 三级甲等, 综合, 市属…) and any letter case to the English values, in place."""
    level = gdf["level"].astype(str).str.strip()
    graded = level.map(vocabulary.level_of_grade)
    if graded.notna().any():
        if "grade" not in gdf:
            gdf["grade"] = ""
        blank_grade = _blank(gdf["grade"])
        gdf.loc[graded.notna() & blank_grade, "grade"] = level[graded.notna() & blank_grade]
        level = level.where(graded.isna(), graded)
    for col, synonyms, text in (
        ("level", vocabulary.LEVEL_SYNONYMS, level),
        ("kind", vocabulary.KIND_SYNONYMS, gdf["kind"].astype(str).str.strip()),
        ("ownership", vocabulary.OWNERSHIP_SYNONYMS, gdf["ownership"].astype(str).str.strip() if "ownership" in gdf
         else None),
    ):
        if text is None:
            continue
        lowered = text.str.lower()
        mapped = lowered.map(synonyms)
        # unknown values stay as written so the error can quote them
        gdf[col] = mapped.where(mapped.notna(), text.where(~_blank(text), gdf[col]))


def validate_facilities(gdf: gpd.GeoDataFrame, path) -> gpd.GeoDataFrame:
    """Check and normalise a facility table (columns in ``docs/DESIGN.md``)."""
    require_columns(gdf, FACILITY_REQUIRED, path, "facilities")
    gdf = gdf.copy()
    for col in ("facility_id", "name"):
        blank = _blank(gdf[col])
        if blank.any():
            i = int(np.flatnonzero(blank.to_numpy())[0])
            raise InputError(path, "missing value; expected text", row=row_label(path, i), field=col)
        gdf[col] = gdf[col].astype(str).str.strip()
    check_unique(gdf, "facility_id", path)
    _read_chinese_terms(gdf)
    check_choice(gdf, "level", LEVELS, path, zh=vocabulary.LEVELS)
    check_choice(gdf, "kind", KINDS, path, zh=vocabulary.KINDS)
    if "ownership" in gdf:
        check_choice(gdf, "ownership", OWNERSHIPS, path, optional=True, zh=vocabulary.OWNERSHIPS)
    if "location_quality" in gdf:
        check_choice(gdf, "location_quality", LOCATION_QUALITIES, path, optional=True)
    for col in ("beds", "outpatient_daily", *READINESS_FIELDS):
        if col in gdf:
            check_non_negative(gdf, col, path, required=False)
            gdf[col] = pd.to_numeric(gdf[col], errors="coerce")
        else:
            gdf[col] = np.nan
    for col in READINESS_FIELDS:
        _check_whole(gdf, col, path)
    for col in CAPABILITY_FLAGS:
        gdf[col] = _capability(gdf, col, path) if col in gdf else np.nan
    for col in TEAM_FIELDS:
        if col in gdf:
            check_non_negative(gdf, col, path, required=False)
            gdf[col] = pd.to_numeric(gdf[col], errors="coerce")
            _check_whole(gdf, col, path)
    for col in [c for c in gdf.columns if str(c).startswith(CAPABILITY_PREFIX)]:
        gdf[col] = _capability(gdf, col, path)  # shared-centre capability: 1.0 / 0.0 / NaN (the host rule decides)
    for col, default in FACILITY_FLAGS:
        if col in gdf:
            text = gdf[col].astype(str).str.strip().str.lower()
            if col in BLANK_IS_FALSE:
                text = text.where(~_blank(gdf[col]), "false")
            ok = text.isin(("true", "false", "1", "0", "yes", "no"))
            if not ok.all():
                i = int(np.flatnonzero(~ok.to_numpy())[0])
                raise InputError(
                    path, f"expected true or false, found {gdf[col].iloc[i]!r}", row=row_label(path, i), field=col
                )
            gdf[col] = text.isin(("true", "1", "yes"))
        else:
            gdf[col] = default
    if "location_quality" not in gdf:
        # a planner's file without the column gives real coordinates: exact, unless the row is a modelled facility
        gdf["location_quality"] = np.where(gdf["modelled"], "modelled", "exact")
    for col in ("district", "grade", "ownership", "location_quality", "beds_status", "outpatient_status", "source"):
        if col not in gdf:
            gdf[col] = ""
        gdf[col] = gdf[col].where(~_blank(gdf[col]), "").astype(str)
    gdf["district"] = gdf["district"].str.replace(r"\.0$", "", regex=True)
    return gdf


def _check_whole(gdf: pd.DataFrame, col: str, path) -> None:
    """Counts (doctors, ambulances, AEDs …) are whole numbers; blank stays no data."""
    values = gdf[col].to_numpy(dtype=float)
    frac = np.isfinite(values) & (values != np.round(values))
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise InputError(path, f"{values[i]:g} is not a whole number; expected a count ≥ 0 (blank = no data)",
                         row=row_label(path, i), field=col)


def _capability(gdf: pd.DataFrame, col: str, path) -> np.ndarray:
    """A capability flag column as 1.0 (true) / 0.0 (false) / NaN (blank: no data)."""
    text = gdf[col].astype(str).str.strip().str.lower()
    blank = _blank(gdf[col]).to_numpy()
    ok = text.isin(_TRUE + _FALSE).to_numpy() | blank
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(path, f"expected true or false (blank = no data), found {gdf[col].iloc[i]!r}",
                         row=row_label(path, i), field=col)
    return np.where(blank, np.nan, text.isin(_TRUE).to_numpy().astype(float))


def validate_districts(df: pd.DataFrame, path) -> pd.DataFrame:
    """Check the district table: adcode, name, type, census population (non-negative, present)."""
    require_columns(df, DISTRICT_REQUIRED, path, "districts")
    df = df.copy()
    df["adcode"] = df["adcode"].astype(str).str.strip()
    check_unique(df, "adcode", path)
    check_choice(df, "type", ("district", "county"), path)
    check_non_negative(df, "population_2020", path, required=True)
    df["population_2020"] = pd.to_numeric(df["population_2020"]).round().astype("int64")
    if "urban_share" in df:
        check_non_negative(df, "urban_share", path, required=False)
        df["urban_share"] = pd.to_numeric(df["urban_share"], errors="coerce")
        too_big = df["urban_share"] > 1
        if too_big.any():
            i = int(np.flatnonzero(too_big.to_numpy())[0])
            raise InputError(path, "expected a share between 0 and 1", row=row_label(path, i), field="urban_share")
    else:
        df["urban_share"] = np.nan
    if "urban" in df:
        df["urban"] = df["urban"].astype(str).str.strip().str.lower().isin(("true", "1", "yes"))
    else:
        df["urban"] = df["type"] == "district"
    for col in ("seat_lon", "seat_lat"):
        if col in df:
            check_non_negative(df, col, path, required=False)
            df[col] = pd.to_numeric(df[col], errors="coerce")
        else:
            df[col] = np.nan
    return df


def near_ids(wanted: str, known, n: int = 5) -> str:
    """``"; near ids: A, B"`` — the known ids closest to a mistyped one, for messages (``""`` when none is close)."""
    close = difflib.get_close_matches(str(wanted), [str(k) for k in known], n=n, cutoff=0.5)
    return f"; near ids: {', '.join(close)}" if close else ""


def validate_affiliations(df: pd.DataFrame, path, facility_ids, city: str | None = None) -> pd.DataFrame:
    """Check a table of declared ties between facilities (``inputs.affiliations``).

    Columns ``facility_id`` (a facility of the city), ``partner_facility_id`` (e.g. the provincial hospital it is a
    branch of), ``relation`` (text, e.g. ``managed_branch``) and ``source`` (where the tie is documented: a declared
    tie without a source is refused); optional ``city``: a province-wide file names the scenario ``city`` of each
    row, and rows of other cities are left out (blank: every city). Both ids of a kept row must be facilities of
    the scenario.
    """
    require_columns(df, AFFILIATION_REQUIRED, path, "affiliations")
    df = df.copy()
    if "city" in df and city is not None:
        mine = _blank(df["city"]) | (df["city"].astype(str).str.strip().str.lower() == str(city).strip().lower())
        df = df[mine.to_numpy()]
    for col in AFFILIATION_REQUIRED:
        blank = _blank(df[col])
        if blank.any():
            i = int(df.index[np.flatnonzero(blank.to_numpy())[0]])
            what = "the document that states the tie" if col == "source" else "text"
            raise InputError(path, f"missing value; expected {what}", row=row_label(path, i), field=col)
        df[col] = df[col].astype(str).str.strip()
    known = set(map(str, facility_ids))
    for col in ("facility_id", "partner_facility_id"):
        bad = ~df[col].isin(known)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            fid = df[col].iloc[i]
            raise InputError(path, f"unknown facility id {fid!r}; expected an id of the scenario's facility files"
                             + near_ids(fid, sorted(known)), row=row_label(path, int(df.index[i])), field=col)
    same = df["facility_id"] == df["partner_facility_id"]
    if same.any():
        i = int(df.index[np.flatnonzero(same.to_numpy())[0]])
        raise InputError(path, "a facility is tied to itself; expected two different facility ids",
                         row=row_label(path, i), field="partner_facility_id")
    return df.reset_index(drop=True)
