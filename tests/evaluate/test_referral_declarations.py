"""Rule 5 as a check that can fail (issue 10): declared reservations against 1/3 and 1/4 of the lead's capacity.

Panjin has no real declarations (none is invented in geodata/): without one every rule 5 row is ``planned`` and
states the reservation the rule requires; the test writes a declarations file into tmp_path in which one lead
declares enough and the other too few, and the independent verifier must agree with compliance.csv.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from simulator import cli
from simulator.evaluate.verify import verify_run
from simulator.runfolder.schema import REFERRAL_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
PANJIN = ROOT / "scenarios" / "panjin.toml"
R5 = ("R5.outpatient", "R5.beds")


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _run(out: Path, *extra: str) -> Path:
    assert cli.main(["run", str(PANJIN), "--out", str(out), *extra]) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Panjin without declarations, and with a declarations file: the first lead enough, the second too few."""
    base = tmp_path_factory.mktemp("r5")
    plain = _run(base / "plain")
    groups = _csv(plain / "groups.csv")
    leads = groups[groups.role == "lead"].sort_values("grid_id")["facility_id"].tolist()
    fac = gpd.read_file(plain / "plan.gpkg", layer="facilities").set_index("facility_id")
    need = {
        lid: (math.ceil(fac.at[lid, "outpatient_daily"] / 3 - 1e-9), math.ceil(fac.at[lid, "beds"] / 4 - 1e-9))
        for lid in leads
    }
    enough, short = leads[0], leads[1]
    other = sorted(fac.index[(fac.level == "secondary") & ~fac.index.isin(leads)])[0]  # declares, but leads nothing
    declared = pd.DataFrame(
        {
            "facility_id": [enough, short, other],
            "reserved_outpatient_daily": [need[enough][0], need[short][0] - 1, 50],
            "reserved_beds": [need[enough][1] + 5, need[short][1] // 2, None],
            "source": ["test declaration 2026-11 (not real)"] * 3,
        }
    )
    path = base / "reservations.csv"
    declared.to_csv(path, index=False)
    with_decl = _run(base / "declared", "--set", f'inputs.reservations="{path}"')
    return {"plain": plain, "declared": with_decl, "enough": enough, "short": short, "need": need, "other": other,
            "declared_table": declared.set_index("facility_id")}


def test_without_a_declaration_no_referral_row_passes(runs):
    comp = _csv(runs["plain"] / "compliance.csv")
    r5 = comp[comp.rule_id.isin(R5)]
    assert len(r5) == 2 * len(runs["need"])
    assert (r5["status"] == "planned").all() and (r5["passed"] == "False").all()
    for _, row in r5.iterrows():
        unit = "slots/day" if row.rule_id == "R5.outpatient" else "beds"
        assert row.actual.startswith("plan: reserve ") and row.actual.endswith(f"{unit}, not declared 未申报")
    ref = _csv(runs["plain"] / "referrals.csv")
    assert tuple(ref.columns) == REFERRAL_COLUMNS
    assert set(ref["reserved_outpatient_basis"]) == set(ref["reserved_beds_basis"]) == {"planned"}
    assert verify_run(runs["plain"]) == []


def test_verifier_catches_a_referral_row_passed_without_a_declaration(runs, tmp_path):
    run = tmp_path / "forged"
    shutil.copytree(runs["plain"], run)
    comp = _csv(run / "compliance.csv")
    k = comp.index[comp.rule_id == "R5.outpatient"][0]
    comp.loc[k, ["status", "passed"]] = ["passed", "True"]
    comp.to_csv(run / "compliance.csv", index=False)
    found = verify_run(run)
    scope = comp.at[k, "scope"]
    assert (f"compliance.csv marks rule R5.outpatient ({scope}) as passed, but the verifier finds planned "
            "(the lead declared no reservation)") in found, found


def test_a_declaration_that_reaches_the_share_passes_and_one_short_of_it_fails(runs):
    comp = _csv(runs["declared"] / "compliance.csv")
    groups = _csv(runs["declared"] / "groups.csv")
    grid_of = dict(zip(groups.loc[groups.role == "lead", "facility_id"], groups.loc[groups.role == "lead", "grid_id"],
                       strict=True))
    r5 = comp[comp.rule_id.isin(R5)].set_index(["rule_id", "scope"])
    for rid in R5:
        ok, short = r5.loc[(rid, grid_of[runs["enough"]])], r5.loc[(rid, grid_of[runs["short"]])]
        assert (ok.status, ok.passed) == ("passed", "True"), ok
        assert (short.status, short.passed) == ("failed", "False"), short
        # Panjin's lead capacities are grade-rule estimates: the pass says it rests on one
        assert "declared 已申报" in ok.actual and "test declaration 2026-11" in ok.actual
        assert "passed against an estimate 估算 capacity" in ok.actual
        assert "estimate 估算" in ok.required and "estimate" not in short.actual
    # the verifier reads the declarations file itself and agrees: the short lead's two checks are violations
    found = verify_run(runs["declared"])
    short, g = runs["short"], grid_of[runs["short"]]
    need = runs["need"][short]
    decl = runs["declared_table"].loc[short]
    assert sorted(found) == sorted([
        f"R5.beds: lead {short} of grid {g} declares {int(decl.reserved_beds):,} beds; needs ≥ {need[1]:,} "
        f"(ceil(0.25 × {need[1] * 4:,}))",
        f"R5.outpatient: lead {short} of grid {g} declares {int(decl.reserved_outpatient_daily):,} outpatient slots; "
        f"needs ≥ {need[0]:,} (ceil(0.3333 × {need[0] * 3:,}))",
    ]), found


def test_the_plan_allocates_what_was_declared(runs):
    ref = _csv(runs["declared"] / "referrals.csv")
    table = runs["declared_table"]
    fac = gpd.read_file(runs["declared"] / "plan.gpkg", layer="facilities").set_index("facility_id")
    for lid in (runs["enough"], runs["short"]):
        rows = ref[ref.lead_facility_id == lid]
        assert set(rows["reserved_outpatient_basis"]) == set(rows["reserved_beds_basis"]) == {"declared"}
        assert set(rows["reservation_source"]) == {"test declaration 2026-11 (not real)"}
        assert pd.to_numeric(rows["reserved_outpatient_slots"]).sum() == table.at[lid, "reserved_outpatient_daily"]
        assert pd.to_numeric(rows["reserved_beds"]).sum() == table.at[lid, "reserved_beds"]
        assert fac.at[lid, "reserved_beds"] == table.at[lid, "reserved_beds"]
        # the status columns stay: the status of the lead capacity the share is taken of (estimate or fact)
        assert (rows["reserved_beds_status"] == fac.at[lid, "beds_status"]).all()


def test_verifier_catches_a_facilities_layer_that_reserves_other_than_declared(runs, tmp_path):
    run = tmp_path / "changed"
    shutil.copytree(runs["declared"], run)
    layers = {n: gpd.read_file(run / "plan.gpkg", layer=n) for n in ("units", "grids", "facilities")}
    fac = layers["facilities"]
    lid = runs["enough"]
    fac.loc[fac.facility_id == lid, "reserved_beds"] = 9999.0
    (run / "plan.gpkg").unlink()
    for n, g in layers.items():
        g.to_file(run / "plan.gpkg", layer=n, driver="GPKG")
    found = verify_run(run)
    assert any(m.startswith(f"R5.beds: lead {lid} of grid") and "declared" in m and "reserves 9,999" in m
               for m in found), found


def test_report_and_map_show_declared_figures_as_declared(runs):
    """The lead's declared reservation is its own figure: marked declared 已申报 in the report and the lead's popup,
    not estimate (the capacity it is checked against stays marked estimate)."""
    page = (runs["declared"] / "report.html").read_text(encoding="utf-8")
    for lid in (runs["enough"], runs["short"]):
        row = page.split(f"data-facility='{lid}' data-role='lead'")[1].split("</tr>")[0]
        slots = row.split("<td class='slots'>")[1].split("</td>")[0]
        assert "declared 已申报" in slots and "估算" not in slots, slots
    plain = (runs["plain"] / "report.html").read_text(encoding="utf-8")
    row = plain.split(f"data-facility='{runs['enough']}' data-role='lead'")[1].split("</tr>")[0]
    assert "estimate 估算" in row.split("<td class='slots'>")[1].split("</td>")[0]

def test_a_declaration_of_a_hospital_that_leads_nothing_is_noted(runs):
    notes = json.loads((runs["declared"] / "run.json").read_text(encoding="utf-8"))["notes"]
    said = [n for n in notes if n.startswith("declared referral reservations of 1 facilit(ies) not used")]
    assert said and said[0].endswith(runs["other"]), notes
    ref = _csv(runs["declared"] / "referrals.csv")
    assert runs["other"] not in set(ref["lead_facility_id"])


def test_the_leads_popup_says_declared_not_estimate(runs):
    from test_estimates_everywhere import _popups

    fac = gpd.read_file(runs["declared"] / "plan.gpkg", layer="facilities").set_index("facility_id")
    popups = _popups((runs["declared"] / "map.html").read_text(encoding="utf-8"))
    for lid in (runs["enough"], runs["short"]):
        reserved = popups[lid]["Reserved for primary care 下沉"]
        assert reserved.endswith("(declared 已申报)") and "估算" not in reserved, reserved
        # the capacity keeps its own status: an estimate stays marked, a sourced figure does not get the mark
        estimated = str(fac.at[lid, "beds_status"]).startswith("estimate")
        assert ("estimate 估算" in popups[lid]["Beds 床位"]) == estimated
