"""Spreadsheet formulas in names stay text in CSV outputs (raw in the GeoPackage); JSON outputs are strict JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import read_rows, write_csv

from simulator import cli
from simulator.evaluate.verify import verify_run
from simulator.runfolder.reader import read_run
from simulator.runfolder.writer import csv_safe

ROOT = Path(__file__).resolve().parents[2]
FORMULAS = {"PJ-H01": '=HYPERLINK("http://x.invalid","盘锦")', "PJ-H04": "@SUM(1+1)*cmd|' /C calc'!A0"}


@pytest.fixture(scope="module")
def formula_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("formula")
    data = base / "geodata"
    shutil.copytree(ROOT / "geodata" / "panjin", data / "panjin")
    shutil.copytree(ROOT / "geodata" / "liaoning", data / "liaoning")
    path = data / "panjin" / "facilities.csv"
    rows = read_rows(path)
    for r in rows:
        r["name"] = FORMULAS.get(r["facility_id"], r["name"])
    write_csv(path, rows)
    out = base / "run"
    assert cli.main(["run", str(ROOT / "scenarios" / "panjin.toml"), "--out", str(out), "--set",
                     f'data="{data / "panjin"}"']) == 0
    return out


def test_formula_names_are_text_in_csv_and_raw_in_the_geopackage(formula_run):
    groups = pd.read_csv(formula_run / "groups.csv", dtype=str, keep_default_na=False)
    written = set(groups.loc[groups["facility_id"].isin(FORMULAS), "name"])
    assert written == {"'" + name for name in FORMULAS.values()}
    for f in formula_run.glob("*.csv"):  # no cell of any CSV output starts a formula
        cells = pd.read_csv(f, dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")], f.name
    grids = gpd.read_file(formula_run / "plan.gpkg", layer="grids")
    assert set(FORMULAS.values()) <= set(grids["lead_name"])  # the GeoPackage keeps the raw name
    assert set(FORMULAS.values()) <= set(read_run(formula_run).groups["name"])  # the reader restores it
    assert verify_run(formula_run) == []


def test_json_outputs_parse_as_strict_json(formula_run):
    def reject(constant: str):
        pytest.fail(f"{constant} in a JSON output, which JSON.parse rejects")

    for name in ("indicators.json", "run.json"):
        json.loads((formula_run / name).read_text(encoding="utf-8"), parse_constant=reject)


def test_csv_safe_leaves_numbers_and_plain_text_alone():
    df = pd.DataFrame({"name": ["=1+1", "盘锦", "-", "+86", None], "beds": [-1.0, 2.0, 3.0, 4.0, 5.0]})
    out = csv_safe(df)
    assert out["name"].tolist()[:4] == ["'=1+1", "盘锦", "'-", "'+86"] and pd.isna(out["name"].iloc[4])
    assert out["beds"].tolist() == df["beds"].tolist()
    assert df["name"].iloc[0] == "=1+1"  # a copy: the plan's own table is untouched
