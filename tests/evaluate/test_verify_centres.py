"""The independent check of shared_centres.csv: a written Panjin run passes; each tampering is named."""

from __future__ import annotations

import shutil
from pathlib import Path

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
