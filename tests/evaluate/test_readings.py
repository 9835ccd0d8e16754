"""Each reading of the pilot plan's words (辽宁省紧密型城市医疗集团建设试点工作方案, 2023) against those words, and the
Panjin run the issue names: 盘锦市人民医院's group collaborates with 盛京医院, enterprise hospitals do not lead by
default, the city's data has no maternal–child institution and the compliance table says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import simulator as cg
from simulator import cli
from simulator.config.rules import Switches, load_rules, required_members
from simulator.evaluate.compliance import RuleContext, lead_eligible, required_member
from simulator.evaluate.partition import GridPartition
from simulator.evaluate.verify import verify_run

ROOT = Path(__file__).resolve().parents[2]
PANJIN = ROOT / "scenarios" / "panjin.toml"
RULES = load_rules("liaoning-2023")


def facilities(*rows) -> pd.DataFrame:
    """(id, level, kind[, continuing_care]) rows, in the city."""
    return pd.DataFrame({
        "facility_id": [r[0] for r in rows], "name": [f"{r[0]}医院" for r in rows], "level": [r[1] for r in rows],
        "kind": [r[2] for r in rows], "continuing_care": [r[3] if len(r) > 3 else False for r in rows],
        "in_city": True, "ownership": "city", "grade": "", "modelled": False,
    })


# ------------------------------------------------------------------------------------------- members (rule 3)
def test_member_words_tcm_continuing_care_and_the_floor():
    """"至少包括二级综合性医院(含中医类医院,下同)或能够提供接续性医疗服务的医疗机构"."""
    f = facilities(
        ("TCM2", "secondary", "tcm"),  # 含中医类医院，下同
        ("GEN2", "secondary", "general"),
        ("GEN3", "tertiary", "general"),  # "二级" read as a floor: counts unless it leads
        ("HOS", "unrated", "hospice"),  # 安宁疗护: continuing care
        ("NUR", "primary", "nursing"),
        ("FLAG", "primary", "specialty", True),  # the planner's continuing_care flag
        ("SPEC", "secondary", "specialty"),  # a specialty hospital is not comprehensive
        ("CHC", "primary", "community_health_centre"),
    )
    floor = dict(zip(f.facility_id, required_members(f, RULES), strict=True))
    assert [k for k, v in floor.items() if v] == ["TCM2", "GEN2", "GEN3", "HOS", "NUR", "FLAG"]
    only = dict(zip(f.facility_id, required_members(f, RULES, "secondary_only"), strict=True))
    assert [k for k, v in only.items() if v] == ["TCM2", "GEN2", "HOS", "NUR", "FLAG"]


def _one_grid(members, *, reading="at_least_secondary", allow_enterprise=False, lead_ownership="city", plan=None):
    f = facilities(("LEAD", "tertiary", "general"), *members)
    f.loc[0, "ownership"] = lead_ownership
    groups = pd.DataFrame({"grid_id": "G1", "facility_id": f.facility_id,
                           "role": ["lead"] + ["member"] * len(members)})
    p = GridPartition(np.array(["G1"]), sp.csr_matrix((1, 1)), np.array([10.0]), {"G1": "LEAD"}, f, groups)
    switches = Switches.of(SimpleNamespace(plan=plan)) if plan is not None else Switches(member_reading=reading)
    return RuleContext(p, RULES, allow_enterprise, switches=switches)


def test_a_lead_is_not_its_own_member_and_the_row_names_the_reading():
    lone = required_member(_one_grid([]), "G1")
    assert lone.status == "failed" and lone.actual == "0"  # a tertiary lead does not satisfy its own group
    third = required_member(_one_grid([("T2", "tertiary", "integrated")]), "G1")
    assert third.passed and third.actual == "1 (T2医院)"
    assert third.reading == RULES.reading("member_at_least_secondary")
    strict = required_member(_one_grid([("T2", "tertiary", "integrated")], reading="secondary_only"), "G1")
    assert strict.status == "failed" and strict.reading == RULES.reading("member_secondary_only")
    assert required_member(_one_grid([("Z2", "secondary", "tcm")], reading="secondary_only"), "G1").passed


# ------------------------------------------------------------------------------------------- leads (rule 2)
def test_enterprise_lead_not_eligible_by_default_and_flagged_when_allowed():
    """"牵头医院原则上是地市级、区级的三级综合性医院": an enterprise-owned hospital leads only with the switch."""
    assert cg.load_scenario(PANJIN).plan.allow_enterprise_leads is False
    off = lead_eligible(_one_grid([], lead_ownership="enterprise"), "G1")
    assert off.status == "failed" and "not eligible without plan.allow_enterprise_leads" in off.actual
    assert off.reading.startswith(RULES.reading("lead_city_district"))
    on = lead_eligible(_one_grid([], lead_ownership="enterprise", allow_enterprise=True), "G1")
    assert on.passed and "enterprise-owned lead, allowed by the scenario switch" in on.actual
    assert on.reading.startswith(RULES.reading("lead_enterprise_allowed"))


@pytest.mark.parametrize(("plan", "where"), [(SimpleNamespace(), "lead_outside_grid"),
                                             (SimpleNamespace(lead_inside_grid=True), "lead_inside_grid")])
def test_lead_row_names_the_lead_location_reading(plan, where):
    """Only members are "网格内": the R2.lead reading says where the lead may stand (plan.lead_inside_grid)."""
    row = lead_eligible(_one_grid([], plan=plan), "G1")
    assert row.reading.endswith(RULES.reading(where))


def test_shipped_scenarios_do_not_switch_enterprise_leads_on():
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        assert "allow_enterprise_leads" not in path.read_text(encoding="utf-8"), path.name


def test_enterprise_hospital_named_as_lead_is_refused_without_the_switch():
    scenario = cg.load_scenario(PANJIN, {"plan.mode": "fixed_leads", "plan.leads": ["PJ-H02", "PJ-H03"]})
    city = cg.load_city(scenario)
    with pytest.raises(cg.PlanningError) as ei:
        cg.make_plan(scenario, city, cg.planning_units(scenario, city))
    assert ei.value.rule_ids == ["R2.lead"] and "PJ-H02 盘锦辽油宝石花医院 cannot lead" in ei.value.failures[0].message


# ------------------------------------------------------------------------------------------- the Panjin run
@pytest.fixture(scope="module")
def panjin(tmp_path_factory):
    out = tmp_path_factory.mktemp("panjin_readings") / "run"
    assert cli.main(["run", str(PANJIN), "--out", str(out)]) == 0
    comp = pd.read_csv(out / "compliance.csv", dtype=str, keep_default_na=False)
    groups = pd.read_csv(out / "groups.csv", dtype=str, keep_default_na=False)
    return out, comp, groups


def test_panjin_no_enterprise_lead_and_the_branch_collaborates_with_its_parent(panjin):
    out, comp, groups = panjin
    leads = dict(groups.loc[groups.role == "lead", ["facility_id", "grid_id"]].to_numpy())
    assert "PJ-H02" not in leads  # 盘锦辽油宝石花医院, enterprise-owned
    g = leads["PJ-H04"]  # 盘锦市人民医院, the managed branch 辽东湾分院 of 盛京医院
    collab = groups[(groups.grid_id == g) & (groups.role == "collaborating")]
    assert list(collab.facility_id) == ["LN-X01"]
    r4 = comp[(comp.rule_id == "R4.collaborating") & (comp.scope == g)].iloc[0]
    assert "中国医科大学附属盛京医院 (declared tie 已有协作关系: PJ-H04 managed_branch of LN-X01" in r4.actual
    assert r4.reading == RULES.reading("collaborating_declared")
    others = comp[(comp.rule_id == "R4.collaborating") & (comp.scope != g)]
    assert others.actual.str.contains("nearest 距离最近").all()
    lead_rows = comp[comp.rule_id == "R2.lead"]
    assert lead_rows.reading.str.startswith(RULES.reading("lead_city_district")).all()


def test_panjin_has_no_maternal_child_institution_and_says_so(panjin):
    _, comp, groups = panjin
    mc = comp[comp.rule_id == "R3.maternal_child"]
    assert sorted(mc.scope) == sorted(set(groups.grid_id))  # one row per grid
    assert set(mc.status) == {"no_data"} and set(mc.actual) == {"the data has none 数据中无此类机构"}
    assert set(mc.passed) == {"False"}
    ph = comp[comp.rule_id == "R3.public_health"]
    assert set(ph.status) == {"passed"} and ph.actual.str.contains("盘锦市疾病预防控制中心").all()


def test_panjin_cdc_listed_only_under_the_grids_it_does_not_stand_in(panjin):
    _, _, groups = panjin
    cdc = groups[groups.facility_id == "PJ-H09"]
    assert list(cdc.role).count("member") == 1
    assert set(cdc.grid_id) == set(groups.grid_id)  # a city-level CDC serves every grid, listed once in each
    assert cdc.loc[cdc.role == "cross_grid", "basis"].str.startswith("administrative area 行政辖区").all()


def test_panjin_provincial_hospital_serving_no_group_is_not_marked_collaborating(panjin):
    out, _, groups = panjin
    fac = gpd.read_file(out / "plan.gpkg", layer="facilities")
    role = dict(zip(fac.facility_id, fac.role, strict=True))
    serving = set(groups.loc[groups.role == "collaborating", "facility_id"])
    for fid in ("LN-X01", "LN-X02", "LN-X03", "LN-X04", "LN-X05", "LN-X06", "LN-X07"):
        assert role[fid] == ("collaborating" if fid in serving else "unassigned"), fid
    assert "LN-X02" not in serving


# ------------------------------------------------------------------------------------------- the verifier
def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_verifier_refuses_a_passed_row_the_data_cannot_judge(panjin, tmp_path):
    run = _copy(panjin[0], tmp_path / "mc_passed")
    comp = pd.read_csv(run / "compliance.csv", dtype=str, keep_default_na=False)
    row = comp.rule_id == "R3.maternal_child"
    comp.loc[row, "status"], comp.loc[row, "passed"] = "passed", "True"
    comp.to_csv(run / "compliance.csv", index=False)
    g = comp.loc[row, "scope"].iat[0]
    assert (f"compliance.csv marks rule R3.maternal_child ({g}) as passed, but the verifier finds it violated"
            in verify_run(run))


def test_verifier_refuses_an_idle_provincial_hospital_marked_collaborating(panjin, tmp_path):
    run = _copy(panjin[0], tmp_path / "idle")
    layers = {n: gpd.read_file(run / "plan.gpkg", layer=n) for n in ("units", "grids", "facilities")}
    fac = layers["facilities"]
    fac.loc[fac.facility_id == "LN-X02", "role"] = "collaborating"
    (run / "plan.gpkg").unlink()
    for n, g in layers.items():
        g.to_file(run / "plan.gpkg", layer=n, driver="GPKG")
    found = verify_run(run)
    assert any(m.startswith("facilities layer: LN-X02") and "collaborates with no group" in m for m in found), found


def test_verifier_reads_the_member_reading(panjin, tmp_path):
    """Read "secondary only", a grid whose only member of the kind is a non-leading tertiary hospital fails."""
    run = _copy(panjin[0], tmp_path / "strict")
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    record["scenario"]["plan"]["member_reading"] = "secondary_only"
    (run / "run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    groups = pd.read_csv(run / "groups.csv", dtype=str, keep_default_na=False)
    g = groups.loc[groups.facility_id == "PJ-H02", "grid_id"].iat[0]  # 宝石花医院: tertiary, does not lead
    members = groups[(groups.grid_id == g) & (groups.role == "member")].facility_id
    assert not members.isin(["PJ-H05", "PJ-H06", "PJ-H07"]).any()  # no secondary hospital in that grid
    assert any(m.startswith(f"R3 member: grid {g} has 0") for m in verify_run(run))
    assert verify_run(panjin[0]) == []


def test_planners_cross_grid_list_with_an_unknown_id_is_refused_before_planning():
    scenario = cg.load_scenario(PANJIN, {"plan.cross_grid_service": {"PJ-H9": "all"}})
    city = cg.load_city(scenario)
    with pytest.raises(cg.InputError, match="unknown facility id 'PJ-H9'; near ids: PJ-H09") as ei:
        cg.make_plan(scenario, city, cg.planning_units(scenario, city))
    assert ei.value.field == "cross_grid_service.PJ-H9" and ei.value.path == str(PANJIN.resolve())
