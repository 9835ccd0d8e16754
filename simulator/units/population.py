"""Residents per planning unit: the modelled default, or the planner's own data.

Modelled disaggregation (the default; no sub-district data is available offline)
---------------------------------------------------------------------------------
For each district ``d`` with 2020 census population ``P_d`` and urban share ``u_d`` (the census share where the
district table has one, else ``urban_share_district`` = 0.90 for urban districts 市辖区 and
``urban_share_county`` = 0.30 for counties):

* the **urban** part ``u_d · P_d`` is spread over the district's units in proportion to
  ``area_i · (exp(-r_seat / h_seat) + w_f · Σ_k exp(-r_k / h_f))``, where ``r_seat`` is the distance (km) from the
  unit's point to the district government seat, ``r_k`` to each hospital of the district that is placed at a known
  address (location quality exact or street), ``h_seat`` = 2.5 km, ``h_f`` = 1.5 km and ``w_f`` = 0.25 (scenario
  ``[population_model]``);
* the **rural** part ``(1 − u_d) · P_d`` is spread in proportion to unit area;
* the expected counts are rounded with the largest-remainder method (ties by unit id), so the units of each
  district sum **exactly** to its census figure.

The result is deterministic and labelled ``population_status = "modelled"`` everywhere it appears. A planner's
population (polygons or points with a population field, or a GeoTIFF grid such as WorldPop 100 m) replaces it:
see :func:`aggregate_population`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from ..load.validate import check_non_negative, row_label
from .planning_units import PlanningUnits, equal_area_crs


def largest_remainder(total: int, weights: np.ndarray, tie_order: np.ndarray | None = None) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` so that the parts sum exactly to ``total``.

    Parameters
    ----------
    total : integer to split (residents)
    weights : (n,) non-negative weights; if all are zero the split is even
    tie_order : (n,) ranks used to break equal remainders (default: position)
    """
    weights = np.asarray(weights, dtype=float)
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("cannot split a positive total over zero units")
        return np.zeros(0, dtype=np.int64)
    s = weights.sum()
    share = weights / s if s > 0 else np.full(n, 1.0 / n)
    exact = total * share
    base = np.floor(exact).astype(np.int64)
    left = int(total - base.sum())
    if left:
        tie = np.arange(n) if tie_order is None else np.asarray(tie_order)
        order = np.lexsort((tie, -(exact - base)))
        base[order[:left]] += 1
    return base


def _km_between(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Equirectangular distance (km) with WGS-84 degree lengths at the mean latitude (< 0.01 % within a city)."""
    phi = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2)
    km_lat = 111.132954 - 0.559822 * np.cos(2 * phi) + 0.001175 * np.cos(4 * phi)
    km_lon = 111.412840 * np.cos(phi) - 0.09350 * np.cos(3 * phi)
    dx = (np.asarray(lon2) - np.asarray(lon1)) * km_lon
    dy = (np.asarray(lat2) - np.asarray(lat1)) * km_lat
    return np.hypot(dx, dy)


def model_population(
    units: PlanningUnits,
    districts: pd.DataFrame,
    boundaries: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    urban_share_district: float = 0.90,
    urban_share_county: float = 0.30,
    seat_bandwidth_km: float = 2.5,
    facility_bandwidth_km: float = 1.5,
    facility_weight: float = 0.25,
) -> tuple[np.ndarray, list[str]]:
    """Modelled residents per unit (int64), summing exactly to each district's census figure.

    Returns the counts and notes (which parameters and fallbacks were used).
    """
    gdf = units.gdf
    pop = np.zeros(len(gdf), dtype=np.int64)
    notes = []
    table = districts.set_index("adcode")
    located = None
    if facilities is not None and len(facilities):
        good = facilities["location_quality"].isin(("exact", "street")) & facilities["in_city"]
        good &= ~facilities["modelled"] & ~facilities["kind"].isin(("community_health_centre", "township_hospital"))
        located = facilities[good]
    for adcode, idx in gdf.groupby("district").indices.items():
        if adcode not in table.index:
            raise InputError(
                None, f"district {adcode} has planning units but no row in the district table", field="adcode"
            )
        row = table.loc[adcode]
        share = row["urban_share"]
        if not np.isfinite(share):
            share = urban_share_district if row["type"] == "district" else urban_share_county
            notes.append(f"{row['name']}: urban share {share:.2f} (default for a {row['type']}; no census share)")
        seat_lon, seat_lat = row["seat_lon"], row["seat_lat"]
        if not (np.isfinite(seat_lon) and np.isfinite(seat_lat)):
            poly = boundaries.loc[boundaries["adcode"] == adcode].geometry.iloc[0]
            pt = poly.representative_point()
            seat_lon, seat_lat = pt.x, pt.y
            notes.append(f"{row['name']}: no seat coordinates; the polygon's representative point is used")
        lon, lat = gdf["lon"].to_numpy()[idx], gdf["lat"].to_numpy()[idx]
        area = gdf["area_km2"].to_numpy()[idx]
        kernel = np.exp(-_km_between(lon, lat, seat_lon, seat_lat) / seat_bandwidth_km)
        if located is not None:
            here = located[located["district"] == adcode]
            if len(here):
                r = _km_between(
                    lon[:, None], lat[:, None], here["lon"].to_numpy()[None, :], here["lat"].to_numpy()[None, :]
                )
                kernel = kernel + facility_weight * np.exp(-r / facility_bandwidth_km).sum(axis=1)
        urban_w = area * kernel
        urban_w = urban_w / urban_w.sum() if urban_w.sum() > 0 else area / area.sum()
        expected = share * urban_w + (1 - share) * area / area.sum()
        tie = gdf["unit_id"].to_numpy()[idx].argsort().argsort()
        pop[idx] = largest_remainder(int(row["population_2020"]), expected, tie)
    return pop, notes


def aggregate_population(
    units: PlanningUnits, path: str | Path, crs: str | None, field: str = "population"
) -> tuple[np.ndarray, list[str]]:
    """Sum the planner's population onto the units (float residents per unit).

    * polygons: areal weighting (a polygon's residents split by the share of its area in each unit);
    * points: each point's residents go to the unit that contains it;
    * GeoTIFF: each raster cell's count goes to the unit containing the cell centre (``rasterio.features``).

    Residents falling outside every unit are reported in the notes, never silently dropped.
    """
    path = Path(path)
    gdf = units.gdf
    if path.suffix.lower() in (".tif", ".tiff"):
        return _aggregate_raster(units, path, crs)
    from ..load.readers import read_vector

    src = read_vector(path, crs)
    if field not in src.columns:
        raise InputError(
            path, f"missing column '{field}' (residents); found {', '.join(map(str, src.columns))}", field=field
        )
    check_non_negative(src, field, path, required=True)
    values = pd.to_numeric(src[field]).to_numpy(dtype=float)
    geoms = src.geometry.to_numpy()
    empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(path, "empty geometry", row=row_label(path, i), field="geometry")
    out = np.zeros(len(gdf))
    ugeoms = gdf.geometry.to_numpy()
    tree = shapely.STRtree(ugeoms)
    is_point = shapely.get_type_id(geoms) == 0
    if is_point.any():
        pi, ui = tree.query(geoms[is_point], predicate="intersects")
        first = pd.Series(ui).groupby(pi).first()
        np.add.at(out, first.to_numpy(), values[is_point][first.index.to_numpy()])
    if (~is_point).any():
        laea = equal_area_crs(gdf.geometry)
        polys = gpd.GeoSeries(geoms[~is_point], crs="EPSG:4326").to_crs(laea).to_numpy()
        units_m = gdf.geometry.to_crs(laea).to_numpy()
        pi, ui = shapely.STRtree(units_m).query(polys, predicate="intersects")
        share = shapely.area(shapely.intersection(polys[pi], units_m[ui])) / shapely.area(polys[pi])
        np.add.at(out, ui, values[~is_point][pi] * share)
    total = values.sum()
    notes = [
        f"population from {path.name} (field '{field}'): {total:,.0f} residents in the file, "
        f"{out.sum():,.0f} inside the planning units"
    ]
    return out, notes


def _aggregate_raster(units: PlanningUnits, path: Path, crs: str | None) -> tuple[np.ndarray, list[str]]:
    from rasterio import features

    from ..load.readers import read_population_raster

    values, transform, raster_crs = read_population_raster(path, crs, bounds=tuple(units.gdf.total_bounds))
    shapes_gdf = units.gdf.geometry.to_crs(raster_crs)
    label = features.rasterize(
        ((g, i + 1) for i, g in enumerate(shapes_gdf.to_numpy())),
        out_shape=values.shape,
        transform=transform,
        fill=0,
        dtype="int32",
    )
    sums = np.bincount(label.ravel(), weights=values.ravel(), minlength=len(units.gdf) + 1)
    out = sums[1:]
    notes = [
        f"population from raster {path.name}: {values.sum():,.0f} residents in the raster window over the "
        f"planning area, {out.sum():,.0f} in cells whose centre lies inside a planning unit "
        f"({sums[0]:,.0f} outside the planning area)"
    ]
    if out.sum() == 0 and values.sum() > 0:
        raise InputError(
            path, "no raster cell centre falls inside the planning area; check the raster's extent and CRS", field="crs"
        )
    return out, notes
