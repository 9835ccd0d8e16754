"""ModelSpec: what is checked and how optional families are normalised."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from test_optimise import random_inst, square_adjacency

from simulator.optimise import ModelSpec


@pytest.fixture
def inst():
    return random_inst(square_adjacency(3, 4, 1), [0, 6, 11], 1)


def make(inst, n_grids=2, **kw) -> ModelSpec:
    return ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, n_grids, **kw)


def test_normalised_families(inst):
    spec = make(inst, (2, 9), member_units=np.arange(12) % 5 == 0, pop_bounds=(100, None))
    assert (spec.n, spec.m, spec.count_lo, spec.count_hi) == (12, 3, 2, 3)  # the range is capped at m
    assert spec.member_units.shape == (1, 12)  # one required kind
    assert spec.must_open.dtype == bool and not spec.must_open.any()
    assert (spec.pop_lo, spec.pop_hi) == (100.0, None)
    assert spec.unit_beds is None and np.array_equal(spec.lead_beds, np.zeros(3))  # no beds rule, no beds
    # the graph is symmetric, positive and without a diagonal, whatever the adjacency's data
    assert (spec.graph != spec.graph.T).nnz == 0 and spec.graph.diagonal().sum() == 0
    again = dataclasses.replace(spec, candidate_k=2)  # re-validation of normalised data is a no-op
    assert again.member_units.shape == (1, 12) and again.candidate_k == 2


def test_boolean_adjacency_counts_hops(inst):
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency != 0, inst.lead_unit, 2)
    assert set(np.unique(spec.graph.data)) == {1.0}


def test_beds_need_a_rate_and_the_right_shapes(inst):
    spec = make(inst, unit_beds=np.ones(12), lead_beds=np.array([1.0, np.nan, 2.0]), min_beds_per_1000=3)
    assert np.array_equal(spec.lead_beds, [1.0, 0.0, 2.0])  # missing beds count 0
    assert spec.min_beds_per_1000 == 3.0
    with pytest.raises(ValueError, match=r"lead_beds must be \(3,\)"):
        make(inst, lead_beds=np.ones(4), min_beds_per_1000=3)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"cost": np.ones(12)}, r"cost must be an \(n, m\) array"),
        ({"population": -np.ones(12)}, r"population must be \(12,\) finite and >= 0"),
        ({"lead_unit": np.array([0, 6, 12])}, r"lead_unit must be \(3,\) unit indices in \[0, 12\)"),
        ({"n_grids": (3, 2)}, r"n_grids must be >= 1"),
        ({"n_grids": 0}, r"n_grids must be >= 1"),
        ({"must_open": np.ones(2, bool)}, r"must_open must be \(3,\) bool"),
        ({"member_units": np.ones((2, 11), bool)}, r"member_units must be \(12,\) or \(k, 12\)"),
        ({"reference_assignment": np.zeros(11)}, r"reference_assignment must be \(12,\)"),
        ({"adjacency": sp.eye(11, format="csr")}, r"adjacency must be \(12, 12\)"),
    ],
)
def test_bad_inputs_are_refused(inst, change, match):
    args = {"population": inst.population, "cost": inst.cost, "adjacency": inst.adjacency,
            "lead_unit": inst.lead_unit, "n_grids": 2, **change}
    with pytest.raises(ValueError, match=match):
        ModelSpec(**args)
