"""The SYNTHETIC two-district city of the plan and app tests (a plain module: a conftest.py in a test folder would
shadow tests/conftest.py). Import it as ``synthetic_city`` (tests/ is on ``sys.path`` through tests/conftest.py).

Two 0.1° × 0.1° districts side by side near lon 122, lat 41 (甲区 990001 west, 乙区 990002 east), three tertiary
general city/district hospitals, three secondary comprehensive hospitals, five community health centres, a
maternal–child hospital, a city CDC and one external provincial hospital far away (Shenyang). All of it is made up
(``source = synthetic test data``); the tests vary it with :func:`write_facilities` (``change`` / ``drop``) and
:func:`scenario_text`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

DISTRICTS = [
    # adcode, name, type, urban, population_2020, urban_share, seat_lon, seat_lat, polygon
    ("990001", "甲区", "district", "true", 200000, 0.9, 122.05, 41.05, box(122.0, 41.0, 122.1, 41.1)),
    ("990002", "乙区", "district", "true", 150000, 0.9, 122.15, 41.05, box(122.1, 41.0, 122.2, 41.1)),
]
FACILITY_FIELDS = ["facility_id", "name", "district", "level", "grade", "kind", "ownership", "beds", "beds_status",
                   "outpatient_daily", "outpatient_status", "lon", "lat", "location_quality", "in_city", "modelled",
                   "source"]
# facility_id, name, district, level, grade, kind, ownership, beds, outpatient_daily, lon, lat
FACILITIES = [
    ("T1", "甲市第一医院", "990001", "tertiary", "三级甲等", "general", "city", 800, 2400, 122.045, 41.055),
    ("T2", "乙市第二医院", "990002", "tertiary", "三级甲等", "general", "city", 600, 1800, 122.155, 41.045),
    ("T3", "甲区中心医院", "990001", "tertiary", "三级乙等", "general", "district", 500, 1500, 122.015, 41.015),
    ("S1", "甲区第二医院", "990001", "secondary", "二级甲等", "general", "district", 200, 600, 122.035, 41.025),
    ("S2", "乙区人民医院", "990002", "secondary", "二级甲等", "general", "district", 200, 600, 122.175, 41.075),
    ("S3", "甲区中西医结合医院", "990001", "secondary", "二级", "integrated", "district", 150, 450, 122.075, 41.085),
    ("C1", "甲区社区卫生服务中心一", "990001", "primary", "", "community_health_centre", "district", "", "", 122.025,
     41.075),
    ("C2", "甲区社区卫生服务中心二", "990001", "primary", "", "community_health_centre", "district", "", "", 122.065,
     41.035),
    ("C3", "乙区社区卫生服务中心一", "990002", "primary", "", "community_health_centre", "district", "", "", 122.135,
     41.025),
    ("C4", "乙区社区卫生服务中心二", "990002", "primary", "", "community_health_centre", "district", "", "", 122.185,
     41.085),
    ("C5", "甲区社区卫生服务中心三", "990001", "primary", "", "community_health_centre", "district", "", "", 122.022,
     41.022),
    ("M1", "市妇幼保健院", "990002", "secondary", "", "maternal_child", "city", 100, 300, 122.125, 41.065),
    ("P1", "市疾病预防控制中心", "990002", "unrated", "", "public_health", "city", "", "", 122.12, 41.04),
    ("X1", "省人民医院", "", "tertiary", "三级甲等", "general", "provincial", 1500, 4500, 123.45, 41.78),
]


def scenario_text(resolution: int = 8, time_limit_s: int = 60, grids: str = "",
                  allow_enterprise_leads: bool = True) -> str:
    """The city's scenario file (``data = "data"``, HiGHS, fast contiguity, mode ``optimise``).

    Parameters
    ----------
    resolution : H3 resolution of the planning units (8: about 300 units; 7: a few dozen)
    time_limit_s : the solver's time limit, seconds
    grids : lines of the ``[grids]`` table (e.g. ``"min = 2\\nmax = 3"``); empty: no ``[grids]`` table
    allow_enterprise_leads : ``plan.allow_enterprise_leads``
    """
    grid_table = f"[grids]\n{grids.strip()}\n\n" if grids.strip() else ""
    enterprise = "allow_enterprise_leads = true\n" if allow_enterprise_leads else ""
    return f"""\
name = "合成测试市 synthetic two-district city"
city = "synthetic"
data = "data"
districts = "urban"
rules = "liaoning-2023"

[inputs]
boundaries = "boundaries.geojson"
boundaries_crs = "EPSG:4326"
districts = "districts.csv"
facilities = ["facilities.csv"]
facilities_crs = "EPSG:4326"

[units]
kind = "h3"
resolution = {resolution}

{grid_table}[travel]
speed_kmh = 30.0
circuity = 1.3

[solver]
name = "highs"
time_limit_s = {time_limit_s}
gap = 0.001
contiguity = "fast"
objective = "weighted_time"

[plan]
mode = "optimise"
{enterprise}"""


def write_facilities(path: Path, rows=FACILITIES, change: dict | None = None, drop=()) -> Path:
    """Write a facility CSV; ``change`` maps facility id → {column: value}, ``drop`` lists ids left out."""
    change = change or {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FACILITY_FIELDS)
        w.writeheader()
        for fid, name, district, level, grade, kind, own, beds, opd, lon, lat in rows:
            if fid in drop:
                continue
            r = {"facility_id": fid, "name": name, "district": district, "level": level, "grade": grade,
                 "kind": kind, "ownership": own, "beds": beds, "beds_status": "fact" if beds != "" else "gap",
                 "outpatient_daily": opd, "outpatient_status": "estimate" if opd != "" else "gap", "lon": lon,
                 "lat": lat, "location_quality": "exact", "in_city": "false" if fid == "X1" else "true",
                 "modelled": "false", "source": "synthetic test data"}
            r.update(change.get(fid, {}))
            w.writerow(r)
    return path


def write_districts(data: Path, districts=DISTRICTS) -> None:
    """Write ``boundaries.geojson`` and ``districts.csv`` of ``districts`` into the folder ``data``."""
    data.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame({"adcode": [d[0] for d in districts], "name": [d[1] for d in districts]},
                     geometry=[d[8] for d in districts], crs="EPSG:4326").to_file(data / "boundaries.geojson",
                                                                                  driver="GeoJSON")
    with (data / "districts.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["adcode", "name", "type", "urban", "population_2020", "urban_share", "seat_lon", "seat_lat"])
        w.writerows(d[:8] for d in districts)


def write_city(root: Path, scenario: str, change: dict | None = None, drop=()) -> Path:
    """The city in ``root``: ``data/`` (districts, ``facilities.csv`` with ``change`` / ``drop``) and the scenario
    ``city.toml`` with the text ``scenario``; returns the scenario file."""
    write_districts(root / "data")
    write_facilities(root / "data" / "facilities.csv", change=change, drop=drop)
    path = root / "city.toml"
    path.write_text(scenario, encoding="utf-8")
    return path
