"""caregrid compare / sweep / report on real scenario runs, checked against values read back independently."""

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from simulator import cli

ROOT = Path(__file__).resolve().parents[1]
PANJIN = str(ROOT / "scenarios" / "panjin.toml")
FUXIN = str(ROOT / "scenarios" / "fuxin.toml")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    a, b, fx = base / "pj_opt", base / "pj_layout", base / "fx_layout"
    assert cli.main(["run", PANJIN, "--out", str(a)]) == 0
    # a planner's layout: the optimised one with the 20 northernmost units of G2 handed to G1
    units = gpd.read_file(a / "plan.gpkg", layer="units")
    y = units.geometry.representative_point().y
    g2 = y[units.grid_id == "G2"].sort_values(ascending=False).head(20).index
    grid = units.grid_id.copy()
    grid[g2] = "G1"
    pd.DataFrame({"unit_id": units.unit_id, "grid_id": grid}).to_csv(base / "layout.csv", index=False)
    assert cli.main(["run", PANJIN, "--out", str(b), "--set", 'plan.mode="given_layout"',
                     "--set", f'plan.layout="{base / "layout.csv"}"']) == 0
    fxu = base / "fxu"
    assert cli.main(["units", FUXIN, "--out", str(fxu), "--set", "units.resolution=7"]) == 0
    fu = gpd.read_file(fxu / "units.gpkg", layer="units")
    pd.DataFrame({"unit_id": fu.unit_id, "grid_id": np.where(fu.district == "210903", "East", "West")}).to_csv(
        base / "fx_layout.csv", index=False)
    assert cli.main(["run", FUXIN, "--out", str(fx), "--set", "units.resolution=7", "--set",
                     'plan.mode="given_layout"', "--set", f'plan.layout="{base / "fx_layout.csv"}"']) == 0
    return {"a": a, "b": b, "fx": fx, "moved": set(units.unit_id[g2]), "base": base}


def test_compare_two_layouts_of_one_city(runs, capsys):
    out = runs["base"] / "cmp_same"
    assert cli.main(["compare", str(runs["a"]), str(runs["b"]), "--out", str(out)]) == 0
    table = pd.read_csv(out / "compare.csv")
    ia = pd.read_csv(runs["a"] / "indicators.csv").set_index("grid_id").loc["city"]
    ib = pd.read_csv(runs["b"] / "indicators.csv").set_index("grid_id").loc["city"]
    row = table.set_index("indicator").loc["travel_mean_min"]
    delta_col = [c for c in table.columns if c.startswith("Δ")][0]
    assert row[delta_col] == pytest.approx(ib["travel_mean_min"] - ia["travel_mean_min"])
    assert ib["travel_mean_min"] > ia["travel_mean_min"]  # the optimum got worse by hand-moving units
    changed = pd.read_csv(out / "changed_units.csv")
    assert set(changed.unit_id) == runs["moved"]
    assert (out / "compare.md").read_text(encoding="utf-8").count("|") > 50
    assert "<table" in (out / "compare_table.html").read_text(encoding="utf-8")


def test_compare_two_cities_is_normalised_and_has_no_unit_diff(runs):
    out = runs["base"] / "cmp_cities"
    assert cli.main(["compare", str(runs["fx"]), str(runs["a"]), "--out", str(out)]) == 0
    assert not (out / "changed_units.csv").exists()
    table = pd.read_csv(out / "compare.csv").set_index("indicator")
    delta_col = [c for c in table.columns if c.startswith("Δ")][0]
    assert np.isnan(table.loc["population", delta_col])  # absolute sizes are not differenced
    assert table.loc["rules_failed"].iloc[2] > 0  # the Fuxin district layout fails rules


def test_compare_needs_complete_run_folders(runs, capsys):
    assert cli.main(["compare", str(runs["a"]), str(runs["base"]), "--out", str(runs["base"] / "x")]) == 2
    assert "not a complete run folder" in capsys.readouterr().err


def test_report_is_self_contained_and_shows_failures(runs):
    html = (runs["fx"] / "report.html").read_text(encoding="utf-8")
    comp = pd.read_csv(runs["fx"] / "compliance.csv")
    for rid in comp.rule_id:
        assert rid in html
    assert html.count("FAILED 未通过") == int((~comp.passed).sum())
    assert not re.search(r"""(src|href)=["']https?://""", html), "report must not load anything from the internet"
    assert html.count("data:image/png;base64,") >= 3


def test_sweep_marks_failing_variants(tmp_path):
    out = tmp_path / "sweep"
    assert cli.main(["sweep", PANJIN, "--set", "grids=2..3", "--out", str(out), "--jobs", "1"]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["grids.count"]) == [2, 3]
    ok, bad = table.iloc[0], table.iloc[1]
    assert ok.passed and ok.status == "optimal"
    # the embedded Panjin roster has 2 units with a secondary hospital: 3 grids cannot all satisfy rule 3
    assert not bad.passed and bad.status == "no plan" and bad.failed_rules == "R3.member" and bad.exit_code == 3
    assert (out / "sweep.png").stat().st_size > 10_000
    assert "**FAILS**" in (out / "sweep.md").read_text(encoding="utf-8")
    v1 = out / "variants" / table.variant[0]
    ind = pd.read_csv(v1 / "indicators.csv").set_index("grid_id").loc["city"]
    assert ok.travel_mean_min == pytest.approx(ind.travel_mean_min)
