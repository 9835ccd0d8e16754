"""The independent check of shared_centres.csv: a written Panjin run passes; each tampering is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import load_city, load_scenario, planning_units, write_plan
from simulator.evaluate.verify import verify_run
from simulator.evaluate.verify_centres import verify_shared_centres

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from simulator.workflow import make_plan

    s = load_scenario(ROOT / "scenarios" / "panjin.toml")
    city = load_city(s)
    return write_plan(make_plan(s, city, planning_units(s, city)), tmp_path_factory.mktemp("centres") / "run")


def _tampered(run: Path, tmp_path: Path, change) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    sc = pd.read_csv(copy / "shared_centres.csv", dtype=str, keep_default_na=False)
    sc = change(sc)
    sc.to_csv(copy / "shared_centres.csv", index=False)
    return copy


def test_a_written_run_passes(run):
    assert verify_shared_centres(run) == []
    assert verify_run(run) == []  # the rule verifier is content with the folder that carries the new files


def _host_of_other_grid(sc):
    g1 = sc.grid_id == "G1"
    other = sc.loc[(sc.grid_id == "G2") & (sc.centre_kind == "lab"), "host_facility_id"].item()
    sc.loc[g1 & (sc.centre_kind == "lab"), "host_facility_id"] = other
    return sc


def _primary_care_host(sc):
    sc.loc[(sc.grid_id == "G1") & (sc.centre_kind == "pathology"), "host_facility_id"] = "PJ-M005"
    sc.loc[(sc.grid_id == "G1") & (sc.centre_kind == "pathology"), "host_basis"] = "level/kind rule (tertiary)"
    return sc


def _shared_without_permission(sc):
    sc.loc[(sc.grid_id == "G2") & (sc.centre_kind == "ecg"), "status"] = "shared"
    return sc


def _tcm_everywhere(sc):
    sc.loc[sc.centre_kind == "tcm_dispensing", "status"] = "own"
    return sc


def _dropped_row(sc):
    return sc.drop(sc.index[(sc.grid_id == "G3") & (sc.centre_kind == "imaging")])


def _false_no_host(sc):
    sc.loc[(sc.grid_id == "G3") & (sc.centre_kind == "lab"), ["status", "host_basis"]] = [
        "no_host", "no member able to host (level/kind rule hosts_lab)"]
    return sc


@pytest.mark.parametrize(("change", "words"), [
    (_host_of_other_grid, "is not the lead or a member of the group"),
    (_primary_care_host, "is not of a level and kind the rule allows"),
    (_shared_without_permission, "does not allow sharing"),
    (_tcm_everywhere, "lacks a tcm facility"),
    (_dropped_row, "no row for grid G3 and centre imaging"),
    (_false_no_host, "no host although a member of the group may host"),
], ids=["foreign-host", "rule", "sharing", "applicability", "missing-row", "no-host"])
def test_each_tampering_is_named(run, tmp_path, change, words):
    found = verify_shared_centres(_tampered(run, tmp_path, change))
    assert any(words in x for x in found), found


def test_the_check_is_independent_of_the_plan_stage():
    """It reads files and the host rules (data) only; the plan stage that chose the hosts is not imported."""
    import ast

    tree = ast.parse((ROOT / "simulator" / "evaluate" / "verify_centres.py").read_text(encoding="utf-8"))
    internal = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    internal |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
                 if a.name.startswith("simulator")}
    assert internal == {"config.centres"}, internal


# ------------------------------------------------------------------------------------------- capability flags kept
@pytest.fixture(scope="module")
def flagged_run(tmp_path_factory) -> Path:
    """Panjin whose facility file declares hosts_lab true for the central hospital PJ-H01 and hosts_pathology false
    for the TCM hospital PJ-H03 (blank for every other facility)."""
    from panjin_data import panjin_copy

    from simulator.workflow import make_plan

    def flags(r: dict[str, str]) -> None:
        r["hosts_lab"] = "true" if r["facility_id"] == "PJ-H01" else ""
        r["hosts_pathology"] = "false" if r["facility_id"] == "PJ-H03" else ""

    base = tmp_path_factory.mktemp("flags")
    panjin_copy(base, "facilities.csv", flags)
    s = load_scenario(ROOT / "scenarios" / "panjin.toml", {"data": str(base / "panjin")})
    city = load_city(s)
    return write_plan(make_plan(s, city, planning_units(s, city)), base / "run")


def _layer_with(run: Path, tmp_path: Path, change) -> Path:
    import geopandas as gpd

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    fac = gpd.read_file(copy / "plan.gpkg", layer="facilities")
    changed = change(fac)
    fac = fac if changed is None else changed
    fac.to_file(copy / "plan.gpkg", layer="facilities", driver="GPKG")
    return copy


def test_the_facilities_layer_keeps_the_capability_flags(flagged_run):
    import geopandas as gpd

    fac = gpd.read_file(flagged_run / "plan.gpkg", layer="facilities").set_index("facility_id")
    assert {"hosts_lab", "hosts_pathology"} <= set(fac.columns)
    assert fac.at["PJ-H01", "hosts_lab"] == 1 and fac.at["PJ-H03", "hosts_pathology"] == 0
    assert fac["hosts_lab"].drop("PJ-H01").isna().all()  # undeclared stays blank, never "false"
    sc = pd.read_csv(flagged_run / "shared_centres.csv", dtype=str, keep_default_na=False)
    lab = sc[(sc.host_facility_id == "PJ-H01") & (sc.centre_kind == "lab")]
    assert len(lab) and lab.host_basis.str.startswith("capability flag hosts_lab").all()
    assert verify_shared_centres(flagged_run) == [] and verify_run(flagged_run) == []


def test_a_host_whose_flag_says_false_is_named(flagged_run, tmp_path):
    sc = pd.read_csv(flagged_run / "shared_centres.csv", dtype=str, keep_default_na=False)
    host = sc.loc[(sc.centre_kind == "imaging") & (sc.status == "own"), "host_facility_id"].iat[0]

    def no_imaging(fac):
        fac["hosts_imaging"] = np.where(fac["facility_id"] == host, 0.0, np.nan)

    found = verify_run(_layer_with(flagged_run, tmp_path, no_imaging))
    assert any(f"host {host}'s capability flag hosts_imaging is false" in x for x in found), found


def test_a_flag_basis_without_the_flag_is_named(flagged_run, tmp_path):
    """The lab host PJ-H01 was chosen by its flag; a layer that lost the flag no longer explains the choice."""
    found = verify_shared_centres(_layer_with(flagged_run, tmp_path, lambda fac: fac.drop(columns="hosts_lab")))
    assert any("host_basis names the capability flag hosts_lab, but the facilities layer holds no such flag" in x
               for x in found), found


def test_no_host_although_a_member_is_flagged_is_named(flagged_run, tmp_path):
    """A group whose pathology row says no_host while the layer flags one of its members true."""
    sc = pd.read_csv(flagged_run / "shared_centres.csv", dtype=str, keep_default_na=False)
    groups = pd.read_csv(flagged_run / "groups.csv", dtype=str)
    grid = sc.loc[sc.host_facility_id == "PJ-H01", "grid_id"].iat[0]
    member = groups.loc[(groups.grid_id == grid) & (groups.role == "member"), "facility_id"].iat[0]
    copy = _layer_with(flagged_run, tmp_path, lambda fac: fac.__setitem__(
        "hosts_ecg", np.where(fac["facility_id"] == member, 1.0, 0.0)))
    sc.loc[(sc.grid_id == grid) & (sc.centre_kind == "ecg"), ["status", "host_facility_id", "host_basis"]] = [
        "no_host", "", "no member able to host (capability flags hosts_ecg)"]
    sc.to_csv(copy / "shared_centres.csv", index=False)
    found = verify_shared_centres(copy)
    assert any(f"({grid}, ecg): no host although a member of the group may host" in x for x in found), found
