"""Load and validate everything a scenario names: boundaries, district table, facilities, planning area."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.scenario import Scenario
from ..errors import InputError
from .changes import CAMPUS_COLUMN, apply_changes
from .readers import check_facilities_in_area, read_boundaries, read_districts, read_facility_files, read_table
from .reservations import attach_reservations
from .validate import AFFILIATION_REQUIRED, row_label, validate_affiliations


@dataclass
class CityData:
    """Validated inputs of one scenario.

    Attributes
    ----------
    boundaries : every district/county of the city (EPSG:4326) with ``adcode``, ``name``, ``type``
    districts : the district table (census population, urban share, seat), one row per district
    area : the planning area's districts (a subset of ``boundaries``)
    facilities : all facilities (in-city and external collaborating units), ``in_area`` marks those inside
        the planning area
    notes : what loading did (repairs, facilities outside the planning area…)
    affiliations : declared ties between facilities (``inputs.affiliations``; empty when the scenario names none)
    changes : the scenario's what-if changes as applied (:func:`simulator.load.changes.apply_changes` records)
    """

    boundaries: gpd.GeoDataFrame
    districts: pd.DataFrame
    area: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)
    affiliations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(AFFILIATION_REQUIRED)))
    changes: list[dict] = field(default_factory=list)


def planning_area_codes(scenario: Scenario, districts: pd.DataFrame) -> list[str]:
    """Adcodes of the planning area: ``urban`` (市辖区), ``all`` or an explicit list."""
    if scenario.districts == "urban":
        return districts.loc[districts["urban"], "adcode"].tolist()
    if scenario.districts == "all":
        return districts["adcode"].tolist()
    unknown = [d for d in scenario.districts if d not in set(districts["adcode"])]
    if unknown:
        raise InputError(
            scenario.path,
            f"unknown district adcode(s) {', '.join(unknown)}; the data folder has "
            + ", ".join(f"{a} {n}" for a, n in zip(districts["adcode"], districts["name"], strict=True)),
            field="districts",
        )
    return list(scenario.districts)


def _check_seats(districts: pd.DataFrame, boundaries: gpd.GeoDataFrame, path, tolerance_m: float = 500.0) -> None:
    """A district's government seat (``seat_lon``/``seat_lat``, WGS-84) must lie in its own district."""
    has = districts[["seat_lon", "seat_lat"]].notna().all(axis=1).to_numpy()
    if not has.any():
        return
    d = districts[has]
    polys = boundaries.set_index("adcode").loc[d["adcode"]].geometry
    local = boundaries.estimate_utm_crs()
    pts = gpd.GeoSeries(gpd.points_from_xy(d["seat_lon"], d["seat_lat"]), crs="EPSG:4326").to_crs(local)
    dist = polys.to_crs(local).reset_index(drop=True).distance(pts.reset_index(drop=True)).to_numpy()
    far = dist > tolerance_m
    if far.any():
        i = int(np.flatnonzero(far)[0])
        row = d.iloc[i]
        raise InputError(
            path,
            f"the seat of {row['name']} ({row['adcode']}) at lon {row['seat_lon']:.5f}, lat {row['seat_lat']:.5f} "
            f"lies {dist[i] / 1000:.1f} km outside its district; expected a point inside it (WGS-84 degrees; "
            "swapped lon/lat, or GCJ-02 coordinates?)",
            row=row_label(path, int(np.flatnonzero(has)[i])),
            field="seat_lon/seat_lat",
        )


def load_city(scenario: Scenario) -> CityData:
    """Read and cross-check the scenario's boundaries, district table and facilities."""
    notes: list[str] = []
    inp = scenario.inputs
    bpath = scenario.input_path(inp.boundaries)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boundaries = read_boundaries(bpath, inp.boundaries_crs)
        dpath = scenario.input_path(inp.districts)
        districts = read_districts(dpath)
        files = scenario.facility_files()
        fpaths = [p for p, _ in files]
        facilities = read_facility_files(fpaths, inp.facilities_crs, crs_per_file=[c for _, c in files])
    notes += [str(w.message) for w in caught]

    missing = sorted(set(districts["adcode"]) - set(boundaries["adcode"]))
    if missing:
        raise InputError(dpath, f"district(s) {', '.join(missing)} have no polygon in {bpath.name}", field="adcode")
    boundaries = boundaries.drop(columns=[c for c in ("type", "urban") if c in boundaries]).merge(
        districts[["adcode", "type", "urban"]], on="adcode", how="inner"
    )
    _check_seats(districts, boundaries, dpath)
    # what-if changes: after validation, before facility units, the planning area and anything computed from them
    ids_as_read = facilities["facility_id"].copy()
    facilities, applied = apply_changes(
        facilities, scenario.changes, path=scenario.path, boundaries=boundaries, default_crs=inp.facilities_crs,
        named={fid: f"plan.{key}" for key in ("collaborating_units", "leads") for fid in getattr(scenario.plan, key)},
    )
    codes = planning_area_codes(scenario, districts)
    area = boundaries[boundaries["adcode"].isin(codes)].sort_values("adcode").reset_index(drop=True)
    if area.empty:
        raise InputError(scenario.path, "the planning area is empty", field="districts")

    # each row carries its own source file and row, which the error names
    check_facilities_in_area(facilities, boundaries, fpaths[0])
    outline = shapely.union_all(area.geometry.to_numpy())
    shapely.prepare(outline)
    in_area = facilities["in_city"].to_numpy() & shapely.intersects(outline, facilities.geometry.to_numpy())
    # a facility placed within metres of the area's edge belongs to the district it names
    named = facilities["district"].isin(codes).to_numpy()
    in_area |= named & facilities["in_city"].to_numpy()
    campus = (
        (facilities[CAMPUS_COLUMN] != "").to_numpy() if CAMPUS_COLUMN in facilities else np.zeros(len(in_area), bool)
    )
    # a linked campus is part of its main campus's institution: no unit, role or candidacy of its own
    facilities = facilities.assign(in_area=in_area & ~campus).reset_index(drop=True)
    # rule 5: the lead hospitals' declared reservations (declared_* columns, NaN where nothing is declared)
    facilities = attach_reservations(facilities, scenario.input_path(inp.reservations) if inp.reservations else None)
    outside = facilities[facilities["in_city"] & ~in_area]
    if len(outside):
        notes.append(
            f"{len(outside)} in-city facilities lie outside the planning area and take no part: "
            + ", ".join(outside["name"].head(8))
            + (" …" if len(outside) > 8 else "")
        )
    affiliations = pd.DataFrame(columns=list(AFFILIATION_REQUIRED))
    if inp.affiliations:
        apath = scenario.input_path(inp.affiliations)
        affiliations = validate_affiliations(read_table(apath), apath, ids_as_read, scenario.city)
        # a tie of a facility a what-if change closed no longer holds
        kept = affiliations["facility_id"].isin(facilities["facility_id"]) & affiliations["partner_facility_id"].isin(
            facilities["facility_id"]
        )
        if not kept.all():
            notes.append("declared ties of closed facilities left out: " + ", ".join(
                f"{a}–{b}" for a, b in affiliations.loc[~kept, ["facility_id", "partner_facility_id"]].to_numpy()))
            affiliations = affiliations[kept].reset_index(drop=True)
    return CityData(boundaries=boundaries, districts=districts, area=area, facilities=facilities, notes=notes,
                    affiliations=affiliations, changes=applied)
