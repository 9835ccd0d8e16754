"""GridPartition's cached per-grid facts and the one-check-per-rule compliance on a hand-made 5-unit plan.

Units 0..4 form a path 0–1–2–3–4. Grid G2 = {0, 1}, G10 = {2, 4} (two pieces: unit 3 between them is grid X),
X = {3} is a planner's grid without an eligible lead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from simulator.config.rules import load_rules
from simulator.evaluate.compliance import (
    RuleContext,
    beds_reserved,
    check_rules,
    compliance_table,
    contiguous,
    lead_eligible,
    outpatient_reserved,
    required_member,
)
from simulator.evaluate.partition import GridPartition

GRID = np.array(["G2", "G2", "G10", "X", "G10"])
POP = np.array([100.0, 200.0, 300.0, 50.0, 350.0])
EDGES = [(0, 1), (1, 2), (2, 3), (3, 4)]
ROWS, COLS = [a for a, _ in EDGES] + [b for _, b in EDGES], [b for _, b in EDGES] + [a for a, _ in EDGES]
ADJ = sp.csr_matrix((np.ones(len(ROWS)), (ROWS, COLS)), shape=(5, 5))
NAN = np.nan
FACILITIES = pd.DataFrame(
    {
        "facility_id": ["L2", "L10", "S2", "P2", "P10", "EXT"],
        "name": ["二号医院", "十号医院", "二号二级医院", "二号社区", "十号社区", "省医院"],
        "grade": ["三级甲等", "", "二级甲等", "", "", "三级甲等"],
        "level": ["tertiary", "tertiary", "secondary", "primary", "primary", "tertiary"],
        "kind": ["general", "general", "general", "community_health_centre", "community_health_centre", "general"],
        "ownership": ["city", "enterprise", "district", "district", "district", "provincial"],
        "in_city": [True, True, True, True, True, False],
        "modelled": [False] * 6,
        "beds": [400.0, 300.0, 100.0, NAN, NAN, 1000.0],
        "outpatient_daily": [1200.0, NAN, 300.0, NAN, NAN, 3000.0],
        "reserved_outpatient_slots": [400.0, NAN, NAN, 400.0, NAN, NAN],
        "reserved_beds": [100.0, 75.0, NAN, 100.0, 75.0, NAN],
    }
)
GROUPS = pd.DataFrame(
    {
        "grid_id": ["G2", "G2", "G2", "G2", "G10", "G10", "G10"],
        "facility_id": ["L2", "S2", "P2", "EXT", "L10", "P10", "EXT"],
        "role": ["lead", "member", "member", "collaborating", "lead", "member", "collaborating"],
    }
)
LEADS = {"G2": "L2", "G10": "L10"}


@pytest.fixture
def partition() -> GridPartition:
    return GridPartition(GRID, ADJ, POP, dict(LEADS), FACILITIES, GROUPS)


@pytest.fixture
def ctx(partition) -> RuleContext:
    return RuleContext(partition, load_rules("liaoning-2023"), allow_enterprise=True)


def test_partition_facts(partition):
    assert partition.grids == ["G2", "G10", "X"]  # G-numbers numerically, planner names after
    assert partition.led_grids == ["G2", "G10"]
    assert partition.population_of == {"G2": 300.0, "G10": 650.0, "X": 50.0}
    assert partition.pieces == {"G2": 1, "G10": 2, "X": 1}
    a, b, cut = partition.cut_edges
    assert sorted(zip(a[cut].tolist(), b[cut].tolist(), strict=True)) == [(1, 2), (2, 3), (3, 4)]
    assert list(partition.group_ids("G2")) == ["L2", "S2", "P2"]
    assert list(partition.group_ids("G10", ("collaborating",))) == ["EXT"]
    assert partition.lead_row("G10") == 1


def test_from_groups_reads_the_leads(partition):
    p = GridPartition.from_groups(GRID, ADJ, POP, FACILITIES, GROUPS)
    assert p.grid_lead == LEADS
    assert p.grids == partition.grids


def test_single_checks(ctx):
    assert contiguous(ctx, "G2").passed and contiguous(ctx, "G2").actual == "1 piece(s)"
    assert not contiguous(ctx, "G10").passed and contiguous(ctx, "G10").actual == "2 piece(s)"
    # G10's group has no secondary comprehensive hospital or continuing-care facility
    assert required_member(ctx, "G2").passed and not required_member(ctx, "G10").passed
    # enterprise-owned L10 may lead (switch on) and is flagged as such
    lead = lead_eligible(ctx, "G10")
    assert lead.passed and "enterprise-owned lead, allowed by the scenario switch" in lead.actual
    none = lead_eligible(ctx, "X")
    assert (none.required, none.actual, none.status) == ("eligible lead", "none in the grid", "failed")
    # L2: 1,200 slots → 400 to reserve, nothing declared: a plan figure; L10 has no outpatient figure
    o = outpatient_reserved(ctx, "G2")
    assert (o.status, o.required, o.actual) == ("planned", ">= 400 (of 1200)", "plan: reserve 400 slots/day, not "
                                                "declared 未申报")
    assert outpatient_reserved(ctx, "G10").actual == "no data (capacity unknown)"
    assert outpatient_reserved(ctx, "G10").status == "no_data"


def test_enterprise_switch_off_fails_the_lead(partition):
    ctx = RuleContext(partition, load_rules("liaoning-2023"), allow_enterprise=False)
    assert not lead_eligible(ctx, "G10").passed


def test_rows_in_table_order(ctx):
    keys = [(rid, scope) for rid, scope, _ in check_rules(ctx)]
    city = [("R1.grids", "city"), ("R1.coverage", "city"), ("R2.one_group_per_grid", "city")]
    per_grid = ["R2.lead", "R3.member", "R3.maternal_child", "R3.public_health", "R4.collaborating", "R5.outpatient",
                "R5.beds", "R6.contiguous"]
    assert keys == city + [(r, g) for g in ("G2", "G10") for r in per_grid] + [("R2.lead", "X")]


def test_compliance_table_verdicts():
    units = pd.DataFrame({"population": POP})
    table = compliance_table(
        units, GRID, ADJ, LEADS, FACILITIES, GROUPS, load_rules("liaoning-2023"), allow_enterprise=True,
        pop_bounds=(None, 600.0),
    )
    failed = set(map(tuple, table.loc[table.status == "failed", ["rule_id", "scope"]].to_numpy()))
    # the data holds no maternal–child or public-health institution: not judged, never passed
    no_data = table.loc[table.status == "no_data"]
    assert set(no_data.rule_id) - {"R5.outpatient"} == {"R3.maternal_child", "R3.public_health"}
    assert failed == {
        ("R1.coverage", "city"),  # X's 50 residents are in no group
        ("R2.one_group_per_grid", "city"),  # 3 grids, 2 leads
        ("R3.member", "G10"),
        ("R6.contiguous", "G10"),
        ("S.population", "G10"),  # 650 > 600
        ("R2.lead", "X"),
    }
    status = table.set_index(["rule_id", "scope"])["status"]
    # rule 5 without declarations: plan figures; L10 has no outpatient figure
    assert [status[(r, g)] for r in ("R5.outpatient", "R5.beds") for g in ("G2", "G10")] == [
        "planned", "no_data", "planned", "planned"]
    row = table.set_index(["rule_id", "scope"]).loc[("R1.coverage", "city")]
    assert (row.required, row.actual) == ("1,000", "950 in grids with a group")
    assert table.loc[table.rule_id == "R6.contiguous", "rule_zh"].unique().tolist() == ["网格连片（地域相连）"]


def test_outcome_status_follows_passed_and_rejects_contradictions():
    from simulator.evaluate.compliance import Outcome

    assert Outcome(">= 1", 1, True).status == "passed"
    assert Outcome(">= 1", 0, False).status == "failed"
    assert Outcome.planned(">= 500", "500 reserved by the plan").status == "planned"
    assert not Outcome.no_data(">= 1", "the data has none").passed
    with pytest.raises(ValueError):
        Outcome(">= 1", 1, True, "failed")
    with pytest.raises(ValueError):
        Outcome(">= 1", 1, False, "unknown")


def test_failed_checks_reads_status_not_passed():
    from simulator.config.rules import failed_checks

    table = pd.DataFrame({"status": ["passed", "planned", "no_data", "failed"], "passed": [True, False, False, False]})
    assert failed_checks(table).tolist() == [False, False, False, True]
    assert failed_checks(table.drop(columns="status")).tolist() == [False, True, True, True]


@pytest.mark.parametrize(
    ("declared", "status", "words"),
    [
        (400.0, "passed", "declared 已申报 400 slots/day (卫健委 2024)"),
        (399.0, "failed", "declared 已申报 399 slots/day (卫健委 2024)"),
        (NAN, "planned", "plan: reserve 400 slots/day, not declared 未申报"),
    ],
)
def test_declared_outpatient_reservation_is_checked_against_a_third(declared, status, words):
    """Rule 5 wording: "至少1/3的门诊号源…下沉": 400 of L2's 1,200 slots pass, 399 fail, nothing declared is a plan."""
    fac = FACILITIES.assign(declared_outpatient_daily=[declared, 500.0, NAN, NAN, NAN, NAN],
                            declared_beds=NAN, declared_source=["卫健委 2024", "卫健委 2024", "", "", "", ""])
    ctx = RuleContext(GridPartition(GRID, ADJ, POP, dict(LEADS), fac, GROUPS), load_rules("liaoning-2023"), True)
    o = outpatient_reserved(ctx, "G2")
    assert (o.status, o.passed, o.actual) == (status, status == "passed", words)
    # L10 declares 500 slots but has no outpatient figure: the share cannot be judged, the declaration is shown
    o10 = outpatient_reserved(ctx, "G10")
    assert o10.status == "no_data"
    assert o10.actual == "no data (capacity unknown); declared 已申报 500 slots/day (卫健委 2024)"


def test_declared_pass_on_an_estimated_capacity_says_so_and_no_primary_care_fails():
    fac = FACILITIES.assign(declared_beds=[100.0, NAN, NAN, NAN, NAN, NAN], declared_source="x",
                            beds_status=["estimate (rule in geodata/build_facilities.py: 三级 → 400)"] + [""] * 5)
    ctx = RuleContext(GridPartition(GRID, ADJ, POP, dict(LEADS), fac, GROUPS), load_rules("liaoning-2023"), True)
    o = beds_reserved(ctx, "G2")
    assert o.passed and o.required == ">= 100 (of 400, estimate 估算: grade rule)"
    assert o.actual == "declared 已申报 100 beds (x); passed against an estimate 估算 capacity"
    # a group without a primary-care member: the reservation reaches no one, declared or not
    groups = GROUPS[GROUPS.facility_id != "P2"]
    ctx = RuleContext(GridPartition(GRID, ADJ, POP, dict(LEADS), fac, groups), load_rules("liaoning-2023"), True)
    assert beds_reserved(ctx, "G2").status == "failed"
