"""Shared fixtures for the foundation tests (small helpers only; test data is generated in tmp_path)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GEODATA = ROOT / "geodata"
SCENARIOS = ROOT / "scenarios"
#: read-only reference material beside the project (see ../shared/README.md); CAREGRID_SHARED points elsewhere
SHARED = Path(os.environ.get("CAREGRID_SHARED") or Path(__file__).resolve().parents[2] / "shared")
#: under CI a missing prerequisite fails the test instead of skipping it, so nothing is left unchecked silently
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false on a developer machine; fail loudly under CI (``CI=true``)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: prerequisites must be present)", pytrace=False)
    pytest.skip(reason)

#: a valid minimal facility table: two hospitals in 海州区 (Fuxin), WGS-84
FACILITY_FIELDS = ["facility_id", "name", "district", "level", "kind", "lon", "lat", "in_city", "source"]
FACILITY_ROWS = [
    {
        "facility_id": "T-1",
        "name": "测试医院甲",
        "district": "210902",
        "level": "tertiary",
        "kind": "general",
        "lon": "121.65",
        "lat": "42.01",
        "in_city": "true",
        "source": "test",
    },
    {
        "facility_id": "T-2",
        "name": "测试医院乙",
        "district": "210902",
        "level": "secondary",
        "kind": "tcm",
        "lon": "121.66",
        "lat": "42.00",
        "in_city": "true",
        "source": "test",
    },
]


def write_csv(path: Path, rows: list[dict], fields: list[str] | None = None) -> Path:
    """Write ``rows`` (dicts) as a UTF-8 CSV with header ``fields`` (default: the keys of the first row)."""
    fields = fields or list(rows[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def facility_csv(tmp_path):
    """Callable writing a facility CSV into tmp_path: ``facility_csv(name="f.csv", rows=None, fields=None)``."""

    def make(name: str = "facilities.csv", rows: list[dict] | None = None, fields: list[str] | None = None) -> Path:
        rows = [dict(r) for r in (FACILITY_ROWS if rows is None else rows)]
        return write_csv(tmp_path / name, rows, fields or FACILITY_FIELDS)

    return make


@pytest.fixture(scope="session")
def census():
    """2020 census population per adcode, read straight from the geodata district tables (csv module)."""
    out = {}
    for city in ("fuxin", "panjin"):
        for r in read_rows(GEODATA / city / "districts.csv"):
            out[r["adcode"]] = {
                "population": int(r["population_2020"]),
                "urban": r["urban"] == "true",
                "city": city,
                "name": r["name"],
            }
    return out


#: 3×3 grid of square planner polygons (0.01° sides) south-west corner, inside one test district
GRID_LON0, GRID_LAT0, GRID_STEP = 121.60, 41.90, 0.01


@pytest.fixture
def grid3x3(tmp_path):
    """3×3 planner polygons ``r{row}c{col}`` (row 0 = south) as GeoJSON in tmp_path, one test district around them,
    and the planning units built from them. Returns a dict: path, districts, units."""
    import geopandas as gpd
    from shapely.geometry import box

    from simulator.load.readers import read_vector
    from simulator.units.planning_units import build_polygon_units

    cells = []
    for r in range(3):
        for c in range(3):
            x0, y0 = GRID_LON0 + c * GRID_STEP, GRID_LAT0 + r * GRID_STEP
            cells.append({"unit_id": f"r{r}c{c}", "geometry": box(x0, y0, x0 + GRID_STEP, y0 + GRID_STEP)})
    polys = gpd.GeoDataFrame(cells, crs="EPSG:4326")
    path = tmp_path / "grid.geojson"
    polys.to_file(path, driver="GeoJSON")
    pad = GRID_STEP / 2
    district = gpd.GeoDataFrame(
        {"adcode": ["999001"], "name": ["测试区"]},
        geometry=[
            box(GRID_LON0 - pad, GRID_LAT0 - pad, GRID_LON0 + 3 * GRID_STEP + pad, GRID_LAT0 + 3 * GRID_STEP + pad)
        ],
        crs="EPSG:4326",
    )
    units = build_polygon_units(read_vector(path, None), district, path)
    return {"path": path, "districts": district, "units": units}
