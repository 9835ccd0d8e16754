"""Readers for boundaries, districts, facilities and population.

Vector files (GeoJSON, GeoPackage, Shapefile) are read with pyogrio through geopandas; CSV files need
longitude/latitude columns. Every reader takes a ``crs``: any pyproj CRS string, or ``gcj02`` / ``bd09`` for
the Chinese map datums, which are converted to WGS-84 on load (``simulator.coords``). A file with no CRS of its
own and no ``crs`` given is an error, never a guess. Everything returned is in EPSG:4326.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import InputError
from .coords import geometries_to_wgs84
from .validate import (
    InputWarning,
    check_geometries,
    row_label,
    validate_districts,
    validate_facilities,
)

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
RASTER_SUFFIXES = (".tif", ".tiff")
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
CHINESE_DATUMS = ("gcj02", "bd09")


def _check_exists(path: Path) -> None:
    """A readable regular file, or an error that says what is there instead."""
    if path.is_symlink() and not path.exists():
        raise InputError(path, "broken symbolic link or link loop; expected a file")
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a folder; expected a file")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes); expected a header row and data")


#: encodings tried in order for CSV files; GB18030 is a superset of GBK/GB2312 (Excel on Chinese Windows)
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def _decode_csv(path: Path) -> tuple[str, str]:
    """Text of a CSV file and the encoding it was read with; an error names the first undecodable row."""
    data = path.read_bytes()
    errors = []
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            errors.append(exc)
    line = data[: errors[0].start].count(b"\n")  # where UTF-8 first fails; 0 = header
    raise InputError(
        path,
        "cannot decode the text as UTF-8 or GBK/GB18030; save the file as UTF-8 (Excel: 'CSV UTF-8')",
        row="header" if line == 0 else f"row {line}",
    )


def _parse_crs(path: Path, crs: str, field: str) -> pyproj.CRS | str:
    """A pyproj CRS, or the key ``gcj02``/``bd09`` of a Chinese map datum (not expressible as a pyproj CRS)."""
    key = str(crs).strip().lower().replace("-", "")
    if key in CHINESE_DATUMS:
        return key
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(
            path, f"unknown CRS {crs!r}; expected an EPSG code, a PROJ string, 'gcj02' or 'bd09'", field=field
        ) from exc


def _is_wgs84_degrees(crs: pyproj.CRS) -> bool:
    return crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True)


def declared_crs(path: Path, gdf: gpd.GeoDataFrame) -> pyproj.CRS | str | None:
    """The CRS the file itself declares, or ``None``.

    GeoPackage and Shapefile (``.prj``) declare theirs; a GeoJSON declares one only with a ``crs`` member (without
    it GDAL reports WGS-84 by RFC 7946, which is not the file's own statement); a CSV declares one in a sidecar
    ``NAME.prj`` holding WKT, ``EPSG:…`` or ``gcj02``/``bd09``.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        prj = path.with_suffix(".prj")
        return _parse_crs(prj, prj.read_text(encoding="utf-8").strip(), "crs") if prj.is_file() else None
    if suffix in (".geojson", ".json"):
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
        return gdf.crs if b'"crs"' in head else None
    return gdf.crs


def _apply_crs(
    gdf: gpd.GeoDataFrame, path: Path, crs: str | None, default_crs: str | None = None
) -> gpd.GeoDataFrame:
    """Interpret the data's coordinates and return EPSG:4326.

    ``crs`` is what the scenario says about this file; ``default_crs`` what it says about files that declare
    nothing. The file's own declaration wins over ``default_crs``; ``crs`` contradicting it is an error; no CRS
    at all is an error, never a guess. ``gcj02``/``bd09`` coordinates are stored as plain longitude/latitude, so
    they agree with a file that declares WGS-84 degrees (or nothing).
    """
    declared = declared_crs(path, gdf)
    stated = _parse_crs(path, crs, "crs") if crs is not None else None
    if stated is not None and declared is not None and not _agree(stated, declared):
        raise InputError(
            path,
            f"the file declares its CRS as {_name(declared)} but the scenario says {_name(stated)}; "
            "remove the scenario's crs for this file or correct the file",
            field="crs",
        )
    use = stated if stated is not None else declared
    if use is None and default_crs is not None:
        use = _parse_crs(path, default_crs, "crs")
    if use is None:
        raise InputError(
            path,
            "no coordinate reference system: the file does not declare one and none was given; "
            "set e.g. crs = 'EPSG:4326' (WGS-84), 'gcj02' (AMap/Tencent) or 'bd09' (Baidu) for this input",
            field="crs",
        )
    if isinstance(use, str):
        geoms = geometries_to_wgs84(gdf.geometry.to_numpy(), use)
        return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs="EPSG:4326"))
    return gdf.set_crs(use, allow_override=True).to_crs("EPSG:4326")


def _agree(stated: pyproj.CRS | str, declared: pyproj.CRS | str) -> bool:
    if isinstance(stated, str) or isinstance(declared, str):
        other = declared if isinstance(stated, str) else stated
        if isinstance(other, str):
            return stated == declared
        return _is_wgs84_degrees(other)
    return stated.equals(declared, ignore_axis_order=True)


def _name(crs: pyproj.CRS | str) -> str:
    if isinstance(crs, str):
        return crs
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _find_column(columns, names) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a plain CSV table with every column as text.

    UTF-8 (with or without a byte-order mark) and GBK/GB18030 are read; a file that is not UTF-8 is reported
    with an :class:`InputWarning` naming the encoding used.
    """
    path = Path(path)
    _check_exists(path)
    text, encoding = _decode_csv(path)
    if encoding != CSV_ENCODINGS[0]:
        warn(f"{path}: read as {encoding.upper()} (not UTF-8)")
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise InputError(path, "no header row; expected a CSV table with column names in the first row") from exc
    except pd.errors.ParserError as exc:
        raise InputError(path, f"cannot read as a CSV table: {exc}") from exc


def read_vector(path: str | Path, crs: str | None = None, default_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file or a CSV with lon/lat columns into EPSG:4326.

    Parameters
    ----------
    path : .geojson/.json/.gpkg/.shp, or .csv with longitude/latitude columns (lon/lng/longitude/x, lat/latitude/y)
    crs : CRS the scenario states for this file; an error when the file declares a different one
    default_crs : CRS for a file that declares none and has no ``crs`` (e.g. the scenario's ``facilities_crs``)
    """
    path = Path(path)
    _check_exists(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = read_table(path)
        lon_col, lat_col = _find_column(df.columns, LON_NAMES), _find_column(df.columns, LAT_NAMES)
        if lon_col is None or lat_col is None:
            raise InputError(
                path,
                "a CSV needs longitude and latitude columns (lon/lng/longitude and lat/latitude); "
                f"found {', '.join(df.columns)}",
                field="lon" if lon_col is None else "lat",
            )
        lon = pd.to_numeric(df[lon_col], errors="coerce")
        lat = pd.to_numeric(df[lat_col], errors="coerce")
        for col, values in ((lon_col, lon), (lat_col, lat)):
            if values.isna().any():
                i = int(np.flatnonzero(values.isna().to_numpy())[0])
                raise InputError(
                    path,
                    f"missing or non-numeric coordinate {df[col].iloc[i]!r}; expected a number in degrees",
                    row=row_label(path, i),
                    field=col,
                )
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs=None)
    elif suffix in VECTOR_SUFFIXES:
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several types for unreadable files
            raise InputError(path, f"cannot read as a vector file: {exc}") from exc
        if suffix == ".shp":
            gdf = _restore_shapefile_names(gdf, path)
    else:
        raise InputError(path, f"unsupported file type {suffix!r}; expected one of {', '.join(VECTOR_SUFFIXES)}, .csv")
    return _apply_crs(gdf, path, crs, default_crs)


#: column names of the input schemas; a Shapefile stores at most 10 characters of each
KNOWN_COLUMNS = (
    "facility_id",
    "district",
    "level",
    "grade",
    "grade_status",
    "kind",
    "ownership",
    "owner_detail",
    "ownership_status",
    "beds",
    "beds_status",
    "outpatient_daily",
    "outpatient_status",
    "address",
    "address_status",
    "location_quality",
    "location_source",
    "in_city",
    "modelled",
    "source",
    "notes",
    "doctors",
    "nurses",
    "ambulances",
    "ambulances_negative_pressure",
    "aeds",
    "chest_pain",
    "stroke",
    "trauma",
    "maternal_critical",
    "neonatal_critical",
    "infectious_ward",
    "fever_clinic",
    "population",
    "unit_id",
    "grid_id",
    "district_name",
)


def _restore_shapefile_names(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Undo the Shapefile format's 10-character truncation of known column names (and say so)."""
    renames = {}
    for col in gdf.columns:
        if len(str(col)) == 10 and col not in KNOWN_COLUMNS:
            full = [k for k in KNOWN_COLUMNS if len(k) > 10 and k[:10] == col]
            if len(full) == 1 and full[0] not in gdf.columns:
                renames[col] = full[0]
    if renames:
        warnings.warn(
            f"{path}: restored Shapefile field names truncated to 10 characters: "
            + ", ".join(f"{a} → {b}" for a, b in renames.items()),
            InputWarning,
            stacklevel=3,
        )
    return gdf.rename(columns=renames)


def read_boundaries(path: str | Path, crs: str | None = None, id_field: str = "adcode") -> gpd.GeoDataFrame:
    """Read district polygons (one feature per district, ``adcode`` and ``name``), repairing invalid ones."""
    path = Path(path)
    gdf = read_vector(path, crs)
    from .validate import check_unique, require_columns

    require_columns(gdf, (id_field, "name"), path, "boundaries")
    gdf = check_geometries(gdf, path, "boundaries", polygons=True)
    gdf[id_field] = gdf[id_field].astype(str).str.replace(r"\.0$", "", regex=True)
    check_unique(gdf, id_field, path)
    return gdf.rename(columns={id_field: "adcode"}) if id_field != "adcode" else gdf


def read_districts(path: str | Path) -> pd.DataFrame:
    """Read the district table (census population, seat coordinates…) and validate it."""
    path = Path(path)
    return validate_districts(read_table(path), path)


def read_facilities(path: str | Path, crs: str | None = None, default_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read and validate a facility table (points); ``crs``/``default_crs`` as in :func:`read_vector`."""
    path = Path(path)
    gdf = read_vector(path, crs, default_crs)
    gdf = check_geometries(gdf, path, "facilities", polygons=False)
    geoms = gdf.geometry.to_numpy()
    if not (shapely.get_type_id(geoms) == 0).all():
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    gdf = validate_facilities(gdf, path)
    gdf["lon"] = gdf.geometry.x
    gdf["lat"] = gdf.geometry.y
    gdf["source_file"] = path.name
    gdf["source_path"] = str(path)
    gdf["source_row"] = np.arange(len(gdf))
    return gdf


def read_facility_files(
    paths: list[Path], crs: str | None = None, *, crs_per_file: list[str | None] | None = None
) -> gpd.GeoDataFrame:
    """Read several facility files into one table; ids must be unique across files.

    ``crs`` is the default for files that declare no CRS of their own; ``crs_per_file`` states a file's CRS
    (an error when the file declares another). One file's CRS is never applied to another file.
    """
    per_file = crs_per_file or [None] * len(paths)
    frames = [read_facilities(p, c, crs) for p, c in zip(paths, per_file, strict=True)]
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    dup = gdf["facility_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        fid = gdf["facility_id"].iloc[i]
        first = gdf[gdf["facility_id"] == fid].iloc[0]
        where = gdf["source_path"].iloc[i]
        raise InputError(
            where,
            f"duplicate id {fid!r} (first seen in {first['source_file']}, "
            f"{row_label(first['source_path'], int(first['source_row']))}); ids must be unique across facility files",
            row=row_label(where, int(gdf["source_row"].iloc[i])),
            field="facility_id",
        )
    return gdf


def check_facilities_in_area(
    facilities: gpd.GeoDataFrame, city: gpd.GeoDataFrame, path, tolerance_m: float = 200.0
) -> None:
    """In-city facilities must lie inside the city (within ``tolerance_m``); external ones are exempt."""
    outline = shapely.union_all(city.geometry.to_numpy())
    local = city.estimate_utm_crs()
    outline_m = gpd.GeoSeries([outline], crs="EPSG:4326").to_crs(local).iloc[0].buffer(tolerance_m)
    pts = facilities.geometry.to_crs(local).to_numpy()
    inside = shapely.contains(outline_m, pts) | ~facilities["in_city"].to_numpy()
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        row = facilities.iloc[i]
        dist_km = shapely.distance(outline_m, pts[i]) / 1000 + tolerance_m / 1000
        src = row["source_path"] if "source_path" in facilities else path
        raise InputError(
            src,
            f"facility {row['facility_id']} ({row['name']}) at lon {row['lon']:.5f}, lat {row['lat']:.5f} lies "
            f"{dist_km:.1f} km outside the city boundary; expected a location inside it (or in_city = false "
            "for an external collaborating unit). Check the coordinates and their CRS (gcj02/bd09?)",
            row=row_label(src, int(row["source_row"])) if "source_row" in facilities else None,
            field="lon/lat",
        )


#: largest raster window read into memory (cells; float64 → 8 bytes each, so 1.6 GB)
MAX_RASTER_CELLS = 200_000_000


def read_population_raster(
    path: str | Path,
    crs: str | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    max_cells: int = MAX_RASTER_CELLS,
):
    """Open a population GeoTIFF (e.g. WorldPop 100 m counts); returns (counts, transform, crs).

    Parameters
    ----------
    path : the GeoTIFF
    crs : CRS of the raster when the file declares none
    bounds : (min lon, min lat, max lon, max lat) of the planning area, WGS-84 degrees; only the window of
        cells over it is read, so a continental raster costs what the city costs
    max_cells : refuse a window larger than this many cells (a header can claim any size)
    """
    import rasterio
    from rasterio.windows import Window, from_bounds

    path = Path(path)
    _check_exists(path)
    try:
        with rasterio.open(path) as src:
            file_crs = src.crs
            if crs is None and file_crs is None:
                raise InputError(
                    path, "the raster declares no CRS and none was given; set population_crs", field="crs"
                )
            use_crs = crs if crs is not None else file_crs.to_string()
            if str(use_crs).lower() in CHINESE_DATUMS:
                raise InputError(
                    path, "a raster in gcj02/bd09 is not supported; reproject it to WGS-84 first", field="crs"
                )
            window = Window(0, 0, src.width, src.height)
            if bounds is not None:
                left, bottom, right, top = pyproj.Transformer.from_crs(
                    "EPSG:4326", use_crs, always_xy=True
                ).transform_bounds(*bounds)
                wanted = from_bounds(left, bottom, right, top, transform=src.transform)
                wanted = wanted.round_offsets(op="floor").round_lengths(op="ceil")
                try:
                    window = wanted.intersection(window)
                except rasterio.errors.WindowError:
                    window = Window(0, 0, 0, 0)
            cells = int(window.width) * int(window.height)
            if cells > max_cells:
                raise InputError(
                    path,
                    f"the raster window over the planning area is {int(window.width):,} × {int(window.height):,} "
                    f"cells ({cells:,}), above the limit of {max_cells:,}; use a coarser raster or clip it",
                    field="band 1",
                )
            band = src.read(1, window=window, masked=True).astype("float64")
            transform = src.window_transform(window)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(path, f"cannot read as a GeoTIFF raster: {exc}") from exc
    values = band.filled(0.0)
    values[~np.isfinite(values)] = 0.0
    if (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise InputError(
            path,
            f"negative population {values[r, c]} in raster cell (row {r}, col {c}); expected counts ≥ 0 "
            "(use the raster's nodata value for missing cells)",
            field="band 1",
        )
    return values, transform, use_crs


def warn(message: str) -> None:
    warnings.warn(message, InputWarning, stacklevel=2)
