"""Infeasibility diagnosis: each relaxation is a structured record (family, candidate, member kind, amount)."""

from __future__ import annotations

import numpy as np
import pytest
from test_optimise import random_inst, square_adjacency

from simulator.optimise import ModelSpec, assign_units_to_grids, diagnose_infeasibility, note_codes


@pytest.fixture
def inst():
    return random_inst(square_adjacency(3, 4, 41), [0, 6, 11], 41)


def test_second_member_kind_is_reported_as_kind_1(inst):
    member = np.ones((2, 12), bool)
    member[1] = False
    member[1, 5] = True  # kind 1 (e.g. primary care) stands in one unit only; kind 0 is everywhere
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 3, member_units=member)
    assert assign_units_to_grids(spec, contiguity="fast", time_limit_s=30).status == "infeasible"
    diag = diagnose_infeasibility(spec, contiguity="fast")
    assert diag.families == ["member_units"]
    assert [r.kind for r in diag.relaxations] == [1, 1]
    assert sum(r.amount for r in diag.relaxations) == pytest.approx(2.0)
    # two distinct grids lack it (the third holds unit 5)
    assert len({r.candidate for r in diag.relaxations}) == 2
    assert all(r.grid_units >= 1 for r in diag.relaxations)


def test_grid_count_that_cannot_be_reached_names_the_lower_side(inst):
    cost = inst.cost.copy()
    cost[inst.lead_unit[2], 2] = np.inf  # candidate 2 cannot open: its own unit is unusable
    spec = ModelSpec(inst.population, cost, inst.adjacency, inst.lead_unit, 3)
    diag = diagnose_infeasibility(spec, contiguity="exact")
    (r,) = diag.relaxations
    assert (r.family, r.side, r.amount, r.candidate) == ("grid_count", "lower", pytest.approx(1.0), None)
    assert "diagnosis_rows" in note_codes(diag.notes)  # exact is diagnosed with the fast rows


def test_feasible_spec_needs_no_relaxation(inst):
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 3)
    diag = diagnose_infeasibility(spec, contiguity="none")
    assert diag.feasible and diag.relaxations == [] and diag.families == []
