"""The derived geodata files are exactly what their build scripts make from the curated sources (no drift)."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "geodata" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("pair", [0, 1, 2])
def test_facilities_csv_is_curated_plus_documented_estimates(pair):
    mod = _load("build_facilities")
    src, dst = mod.PAIRS[pair]
    curated = pd.read_csv(src, dtype=str, keep_default_na=False)
    rebuilt = mod.estimate_capacity(curated)
    committed = pd.read_csv(dst, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(rebuilt.reset_index(drop=True), committed)
    # every figure the rule filled is flagged as an estimate, and no sourced figure was overwritten
    filled = curated["beds"].str.strip().eq("") & committed["beds"].str.strip().ne("")
    assert committed.loc[filled, "beds_status"].str.startswith("estimate").all()
    sourced = curated["beds"].str.strip().ne("")
    assert (committed.loc[sourced, "beds"] == curated.loc[sourced, "beds"]).all()


@pytest.mark.parametrize(("city", "prefix"), [("fuxin", "FX"), ("panjin", "PJ")])
def test_primary_care_file_matches_its_model(city, prefix):
    mod = _load("build_primary_care")
    rebuilt = mod.model_city(city, prefix)
    committed = pd.read_csv(ROOT / "geodata" / city / "primary_care_modelled.csv", dtype=str, keep_default_na=False)
    assert list(rebuilt["facility_id"]) == list(committed["facility_id"])
    assert (rebuilt["lon"].astype(float).round(6).to_numpy() == committed["lon"].astype(float).to_numpy()).all()
    assert (rebuilt["lat"].astype(float).round(6).to_numpy() == committed["lat"].astype(float).to_numpy()).all()
    assert (committed["modelled"] == "true").all() and (committed["location_quality"] == "modelled").all()
