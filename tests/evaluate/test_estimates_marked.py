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
