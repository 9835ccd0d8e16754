"""The independent verifier (simulator/verify.py) on a real run (Panjin), and on corrupted copies of it.

A verifier that never fails proves nothing: every corruption below breaks one rule in the written files and
the verifier must name it.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from simulator import cli
from simulator.evaluate.verify import VerificationError, assert_valid_run, verify_run

ROOT = Path(__file__).resolve().parents[2]
PANJIN = ROOT / "scenarios" / "panjin.toml"
LAYERS = ("units", "grids", "facilities")


@pytest.fixture(scope="module")
def panjin_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("panjin") / "run"
    assert cli.main(["run", str(PANJIN), "--out", str(out)]) == 0
    return out


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def read_layer(run: Path, layer: str) -> gpd.GeoDataFrame:
    return gpd.read_file(run / "plan.gpkg", layer=layer)


def write_layer(run: Path, layer: str, gdf: gpd.GeoDataFrame) -> None:
    """Replace one layer of plan.gpkg (the file is rewritten with all three layers)."""
    layers = {name: (gdf if name == layer else read_layer(run, name)) for name in LAYERS}
    (run / "plan.gpkg").unlink()
    for name, g in layers.items():
        g.to_file(run / "plan.gpkg", layer=name, driver="GPKG")


def read_csv(run: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run / name, dtype=str, keep_default_na=False)


def farthest_unit(units: gpd.GeoDataFrame, src: str, dst: str) -> int:
    """Index of the unit of grid ``src`` farthest from grid ``dst`` (so it touches no ``dst`` unit)."""
    m = units.to_crs(units.estimate_utm_crs())
    other = m.loc[m.grid_id == dst].union_all()
    d = m.geometry.distance(other).where(m.grid_id == src)
    return int(d.idxmax())


# ------------------------------------------------------------------------------------------------------------
def test_panjin_run_verifies(panjin_run):
    assert verify_run(panjin_run) == []
    assert_valid_run(panjin_run)
    comp = read_csv(panjin_run, "compliance.csv")
    # no check fails; rule 5 without declared reservations only sets plan figures (planned); rows the data cannot
    # judge (no maternal–child institution in Panjin's data) are no_data, never passed
    r5 = comp.rule_id.str.startswith("R5.")
    assert not (comp["status"] == "failed").any()
    assert (comp.loc[r5, "status"] == "planned").all()
    assert comp.loc[~r5, "status"].isin(("passed", "no_data")).all()


def test_verifier_is_independent_of_the_planner():
    """The verifier reads outputs only: it must not import the planner's modules (the rule file loader is allowed)."""
    package = "simulator.evaluate"
    tree = ast.parse((ROOT / "simulator" / "evaluate" / "verify.py").read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module
            modules.add(base)
            modules.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
    internal = {m for m in modules if m.startswith("simulator.")}
    assert internal, "the verifier should load the rule file through simulator.config.rules"
    # its sibling verifiers of the plan layers have their own independence tests (test_verify_centres.py,
    # test_verify_layers.py)
    siblings = {"simulator.evaluate.verify_centres", "simulator.evaluate.verify_centres.verify_shared_centres",
                "simulator.evaluate.verify_layers", "simulator.evaluate.verify_layers.verify_plan_layers"}
    assert internal - siblings <= {"simulator.config.rules", "simulator.config.rules.load_rules"}, internal


def test_unit_moved_to_another_grid_is_disconnected(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "moved")
    units = read_layer(run, "units")
    i = farthest_unit(units, "G1", "G2")
    uid = units["unit_id"].iat[i]
    units.loc[i, "grid_id"] = "G2"
    write_layer(run, "units", units)
    found = verify_run(run)
    assert any(m.startswith("R6 contiguity: grid G2 is in 2 pieces") and uid in m for m in found), found
    # the grids layer no longer matches its units, and compliance.csv still claims G2 is contiguous
    assert any(m.startswith("population: grid G2") for m in found), found
    assert "compliance.csv marks rule R6.contiguous (G2) as passed, but the verifier finds it violated" in found
    with pytest.raises(AssertionError, match="R6 contiguity"):
        assert_valid_run(run)


def test_lead_swapped_for_a_secondary_hospital(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "swapped")
    groups = read_csv(run, "groups.csv")
    fac = read_layer(run, "facilities")
    secondary = set(fac.loc[(fac.level == "secondary") & fac.kind.isin(["general", "integrated"]), "facility_id"])
    # the first grid with a secondary member (G1's member may be a non-leading tertiary hospital)
    g = next(g for g in sorted(set(groups.grid_id))
             if set(groups.loc[(groups.grid_id == g) & (groups.role == "member"), "facility_id"]) & secondary)
    gg = groups[groups.grid_id == g]
    old = gg.loc[gg.role == "lead", "facility_id"].iat[0]
    new = sorted(set(gg.loc[gg.role == "member", "facility_id"]) & secondary)[0]
    groups.loc[(groups.grid_id == g) & (groups.facility_id == old), "role"] = "member"
    groups.loc[(groups.grid_id == g) & (groups.facility_id == new), "role"] = "lead"
    groups.to_csv(run / "groups.csv", index=False)
    found = verify_run(run)
    assert any(m.startswith(f"R2 lead: {new}") and "not eligible" in m and "level secondary" in m
               for m in found), found
    assert f"compliance.csv marks rule R2.lead ({g}) as passed, but the verifier finds it violated" in found


def test_dropped_referral_row(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "dropped")
    ref = read_csv(run, "referrals.csv")
    slots = pd.to_numeric(ref["reserved_outpatient_slots"], errors="coerce")
    k = int(slots.idxmax())
    g, fid = ref["grid_id"].iat[k], ref["facility_id"].iat[k]
    ref.drop(index=k).to_csv(run / "referrals.csv", index=False)
    found = verify_run(run)
    assert any(m.startswith(f"R5.outpatient: referrals of grid {g}") for m in found), found
    assert any(m.startswith(f"R5.beds: referrals of grid {g}") for m in found), found
    assert any(m.startswith("R5 referral: primary-care member(s)") and fid in m for m in found), found
    assert any(m.startswith(f"R5 referral: residents_served of grid {g}") for m in found), found


def test_status_must_agree_with_passed_and_be_known(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "status")
    comp = read_csv(run, "compliance.csv")
    comp.loc[(comp.rule_id == "R3.member") & (comp.scope == "G2"), "passed"] = "False"
    comp.loc[(comp.rule_id == "R6.contiguous") & (comp.scope == "G1"), "status"] = "maybe"
    comp.to_csv(run / "compliance.csv", index=False)
    found = verify_run(run)
    assert "compliance.csv: rule R3.member (G2) has status passed but passed=False" in found
    assert any("R6.contiguous (G1) has status 'maybe'" in f for f in found)


def test_passing_rule_marked_failed(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "marked_failed")
    comp = read_csv(run, "compliance.csv")
    row = (comp.rule_id == "R3.member") & (comp.scope == "G2")
    comp.loc[row, "passed"], comp.loc[row, "status"] = "False", "failed"
    comp.to_csv(run / "compliance.csv", index=False)
    found = verify_run(run)
    assert "compliance.csv marks rule R3.member (G2) as failed, but the verifier finds it holds" in found
    assert any(m.startswith("run.json: compliance_passed") for m in found), found


def test_compliance_texts_come_from_the_catalogue(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "texts")
    comp = read_csv(run, "compliance.csv")
    comp.loc[comp.rule_id == "R3.member", "rule_en"] = "At least one hospital of any kind"
    comp.loc[comp.rule_id == "R1.grids", "rule_id"] = "R1.grid_count"
    comp.to_csv(run / "compliance.csv", index=False)
    found = [m for m in verify_run(run) if m.startswith("compliance.csv:")]
    assert found == [
        "compliance.csv: no row for rule R1.grids (city)",
        "compliance.csv: rule R1.grid_count is not in the catalogue of liaoning-2023",
        "compliance.csv: the text of rule R3.member differs from the catalogue of liaoning-2023",
    ]


@pytest.fixture(scope="module")
def broken_given_layout(panjin_run, tmp_path_factory):
    """Panjin evaluated as a given layout in which one unit of G1 was moved into G2: rule 6 genuinely fails."""
    base = tmp_path_factory.mktemp("panjin_layout")
    units = read_layer(panjin_run, "units")
    i = farthest_unit(units, "G1", "G2")
    layout = units[["unit_id", "grid_id"]].copy()
    layout.loc[i, "grid_id"] = "G2"
    layout.to_csv(base / "layout.csv", index=False)
    out = base / "run"
    rc = cli.main(["run", str(PANJIN), "--out", str(out), "--set", 'plan.mode="given_layout"',
                   "--set", f'plan.layout="{base / "layout.csv"}"'])
    assert rc == 0
    return out


def test_failing_rule_reported_and_consistent(broken_given_layout):
    comp = read_csv(broken_given_layout, "compliance.csv")
    failed = comp[comp.status == "failed"]
    assert set(zip(failed.rule_id, failed.scope, strict=True)) == {("R6.contiguous", "G2")}
    found = verify_run(broken_given_layout)
    assert any(m.startswith("R6 contiguity: grid G2 is in 2 pieces") for m in found), found
    assert not [m for m in found if m.startswith(("compliance.csv", "run.json"))], found


def test_failing_rule_marked_passed(broken_given_layout, tmp_path):
    run = copy_run(broken_given_layout, tmp_path / "marked_passed")
    comp = read_csv(run, "compliance.csv")
    row = (comp.rule_id == "R6.contiguous") & (comp.scope == "G2")
    comp.loc[row, "passed"], comp.loc[row, "status"] = "True", "passed"
    comp.to_csv(run / "compliance.csv", index=False)
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    record["compliance_passed"], record["failed_rules"] = True, []
    (run / "run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    found = verify_run(run)
    assert "compliance.csv marks rule R6.contiguous (G2) as passed, but the verifier finds it violated" in found
    with pytest.raises(VerificationError) as exc:
        assert_valid_run(run)
    assert any("R6.contiguous" in m for m in exc.value.violations)


@pytest.mark.parametrize("inside", [True, False, None], ids=["lead_inside_grid", "lead_outside", "old_run_json"])
def test_lead_standing_outside_its_grid(panjin_run, tmp_path, inside):
    """A lead standing in another grid violates rule 2 only under ``plan.lead_inside_grid = true`` (read from run.json;
    a run.json from before the switch has no key and was made with the lead inside its grid)."""
    run = copy_run(panjin_run, tmp_path / "lead_moved")
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert record["scenario"]["plan"]["lead_inside_grid"] is False  # the default reading is recorded
    if inside is None:
        del record["scenario"]["plan"]["lead_inside_grid"]
    else:
        record["scenario"]["plan"]["lead_inside_grid"] = inside
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    groups = read_csv(run, "groups.csv")
    lead = groups.loc[(groups.grid_id == "G2") & (groups.role == "lead"), "facility_id"].iat[0]
    fac = read_layer(run, "facilities")
    g1_member = groups.loc[(groups.grid_id == "G1") & (groups.role == "member"), "facility_id"].iat[0]
    k = fac.index[fac.facility_id == lead][0]
    fac.loc[k, "geometry"] = fac.loc[fac.facility_id == g1_member, "geometry"].iat[0]
    write_layer(run, "facilities", fac)
    found = verify_run(run)
    if inside is False:
        assert not [m for m in found if lead in m], found
        return
    assert any(m.startswith(f"R2 lead: {lead} leads grid G2 but stands") for m in found), found
    # and, standing in G1 now, it is listed in a grid it stands outside of
    assert any(m.startswith("membership:") and lead in m for m in found), found


def test_collaborating_unit_must_be_external(panjin_run, tmp_path):
    run = copy_run(panjin_run, tmp_path / "collab")
    groups = read_csv(run, "groups.csv")
    k = groups.index[(groups.grid_id == "G1") & (groups.role == "collaborating")][0]
    # an in-city member of G2 (a city-owned hospital) as G1's only collaborating unit
    fac = read_layer(run, "facilities")
    city_owned = set(fac.loc[fac.ownership.isin(["city", "district"]) & fac.in_city, "facility_id"])
    g2 = groups.loc[(groups.grid_id == "G2") & (groups.role == "member"), "facility_id"]
    fid = next(f for f in g2 if f in city_owned)
    groups.loc[k, ["facility_id", "name"]] = [fid, "x"]
    groups.to_csv(run / "groups.csv", index=False)
    found = verify_run(run)
    assert any(m.startswith(f"R4 collaborating: {fid}") for m in found), found
    assert any(m.startswith("R4 collaborating: grid G1 has 0 valid") for m in found), found
