"""Fixtures of the ``caregrid app`` tests: a SYNTHETIC two-district city (built in a temporary folder, H3 resolution
7: a few dozen units, so every test is quick), a workspace on it and the FastAPI test client.

The city: 甲区 (west) and 乙区 (east), 0.1° × 0.1° each near lon 122, lat 41; three tertiary general hospitals (two
in 甲区, one in 乙区), secondary comprehensive hospitals, community health centres, a maternal–child hospital, a CDC
and an external provincial hospital (collaborating unit).
One hospital is named with ``<script>``, ``${…}`` and quotes: every page and answer must show it as text.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

#: a facility name that is code in HTML, in a JS template literal and in an attribute if written raw
HOSTILE_NAME = '<script>alert(1)</script>乙市"第二"医院${1+1}`\'<img src=x onerror=alert(2)>'

DISTRICTS = [
    ("990001", "甲区", "district", "true", 200000, 0.9, 122.05, 41.05, box(122.0, 41.0, 122.1, 41.1)),
    ("990002", "乙区", "district", "true", 150000, 0.9, 122.15, 41.05, box(122.1, 41.0, 122.2, 41.1)),
]
FIELDS = ["facility_id", "name", "district", "level", "grade", "kind", "ownership", "beds", "beds_status",
          "outpatient_daily", "outpatient_status", "lon", "lat", "location_quality", "in_city", "modelled", "source"]
FACILITIES = [
    ("T1", "甲市第一医院", "990001", "tertiary", "三级甲等", "general", "city", 800, 2400, 122.045, 41.055, "exact"),
    ("T2", HOSTILE_NAME, "990002", "tertiary", "三级甲等", "general", "city", 600, 1800, 122.155, 41.045, "exact"),
    ("T3", "甲区中心医院", "990001", "tertiary", "三级乙等", "general", "district", 500, 1500, 122.015, 41.015,
     "district_seat"),
    ("S1", "甲区第二医院", "990001", "secondary", "二级甲等", "general", "district", 200, 600, 122.035, 41.025,
     "exact"),
    ("S2", "乙区人民医院", "990002", "secondary", "二级甲等", "general", "district", 200, 600, 122.175, 41.075,
     "exact"),
    ("S3", "甲区中西医结合医院", "990001", "secondary", "二级", "integrated", "district", 150, 450, 122.075, 41.085,
     "exact"),
    ("C1", "甲区社区卫生服务中心一", "990001", "primary", "", "community_health_centre", "district", "", "", 122.025,
     41.075, "exact"),
    ("C2", "甲区社区卫生服务中心二", "990001", "primary", "", "community_health_centre", "district", "", "", 122.065,
     41.035, "exact"),
    ("C3", "乙区社区卫生服务中心一", "990002", "primary", "", "community_health_centre", "district", "", "", 122.135,
     41.025, "exact"),
    ("C4", "乙区社区卫生服务中心二", "990002", "primary", "", "community_health_centre", "district", "", "", 122.185,
     41.085, "exact"),
    ("M1", "市妇幼保健院", "990002", "secondary", "", "maternal_child", "city", 100, 300, 122.125, 41.065, "exact"),
    ("P1", "市疾病预防控制中心", "990002", "unrated", "", "public_health", "city", "", "", 122.12, 41.04, "exact"),
    ("X1", "省人民医院", "", "tertiary", "三级甲等", "general", "provincial", 1500, 4500, 123.45, 41.78, "exact"),
]

SCENARIO = """\
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
resolution = 7

[grids]
min = 2
max = 3

[travel]
speed_kmh = 30.0
circuity = 1.3

[solver]
name = "highs"
time_limit_s = 30
gap = 0.001
contiguity = "fast"
objective = "weighted_time"

[plan]
mode = "optimise"
"""


def build_city(root: Path) -> Path:
    """Write the synthetic city into ``root``; returns the scenario file."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame({"adcode": [d[0] for d in DISTRICTS], "name": [d[1] for d in DISTRICTS]},
                     geometry=[d[8] for d in DISTRICTS], crs="EPSG:4326").to_file(data / "boundaries.geojson",
                                                                                   driver="GeoJSON")
    with (data / "districts.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["adcode", "name", "type", "urban", "population_2020", "urban_share", "seat_lon", "seat_lat"])
        w.writerows(d[:8] for d in DISTRICTS)
    with (data / "facilities.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for fid, name, district, level, grade, kind, own, beds, opd, lon, lat, quality in FACILITIES:
            w.writerow({"facility_id": fid, "name": name, "district": district, "level": level, "grade": grade,
                        "kind": kind, "ownership": own, "beds": beds, "beds_status": "fact" if beds != "" else "gap",
                        "outpatient_daily": opd, "outpatient_status": "estimate" if opd != "" else "gap",
                        "lon": lon, "lat": lat, "location_quality": quality,
                        "in_city": "false" if fid == "X1" else "true",
                        "modelled": "false", "source": "synthetic test data"})
    path = root / "city.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def city_toml(tmp_path_factory) -> Path:
    return build_city(tmp_path_factory.mktemp("app_city"))


@pytest.fixture
def workspace(city_toml, tmp_path):
    from simulator.app.state import Workspace

    return Workspace.create(tmp_path / "ws", city_toml)


@pytest.fixture
def client(workspace):
    from fastapi.testclient import TestClient

    from simulator.app.server import create_app

    with TestClient(create_app(workspace), base_url="http://127.0.0.1:8765") as c:
        yield c
