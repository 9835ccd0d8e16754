"""Estimated capacities are marked where compliance.csv shows them (rule 5's "of <capacity>")."""

import pandas as pd

from simulator.evaluate.compliance import capacity_note


def test_capacity_note_marks_estimates_and_modelled_figures():
    lead = pd.Series({"beds_status": "estimate (rule in geodata/build_facilities.py: 三级 → 500)",
                      "outpatient_status": "fact (hospital website, 2024)"})
    assert capacity_note(lead, "beds") == ", estimate 估算: grade rule"
    assert capacity_note(lead, "outpatient_daily") == ""  # a sourced fact stays unmarked
    assert capacity_note(pd.Series({"beds_status": "estimate (low-confidence page, 2025)"}), "beds") == (
        ", estimate 估算: low-confidence page, 2025"
    )
    assert capacity_note(pd.Series({"beds_status": "modelled"}), "beds") == ", modelled 模拟"
    assert capacity_note(pd.Series({"beds": 500.0}), "beds") == ""  # a planner's file without status columns


def test_referrals_say_whether_the_leads_capacity_is_an_estimate(tmp_path):
    """referrals.csv: each reservation row carries the status of the lead capacity it is a share of."""
    from pathlib import Path

    import simulator as cg

    panjin = Path(__file__).resolve().parents[2] / "scenarios" / "panjin.toml"
    sc = cg.load_scenario(panjin)
    city = cg.load_city(sc)
    plan = cg.make_plan(sc, city, cg.planning_units(sc, city))
    run = cg.write_plan(plan, tmp_path / "run")
    ref = pd.read_csv(run / "referrals.csv", dtype=str, keep_default_na=False)
    fac = city.facilities.set_index("facility_id")
    for col, status in (("reserved_outpatient_status", "outpatient_status"), ("reserved_beds_status", "beds_status")):
        expected = [fac.at[lead, status] or "fact" for lead in ref["lead_facility_id"]]
        assert ref[col].tolist() == expected
    assert ref["reserved_beds_status"].str.startswith("estimate").any()  # Panjin's lead beds are estimates today
