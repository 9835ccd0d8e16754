"""Non-leading candidates as rule-3 members (``ModelSpec.member_candidates``) against brute force.

The pilot plan reads "二级" as a floor, so a tertiary hospital that does not lead is a member of the grid holding its
unit. Fuxin's hospitals are all tertiary or unrated: without this, no 2-grid plan exists whatever their locations.
Both readings (lead inside / outside its grid), both contiguous families, the full model and the fixed-lead-set path
(``lead_sets="always"``) are compared with an enumeration of every labelling.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_optimise import TIGHT, Inst, _connected_mask, _labellings, random_inst, rel_eq, square_adjacency, wt

from simulator.optimise import ModelSpec, assign_units_to_grids


def brute_members(inst: Inst, n_grids, member: np.ndarray, mcand: np.ndarray, lead_inside: bool) -> np.ndarray:
    """Every contiguous labelling in which each open grid holds a member unit or a non-leading member candidate."""
    n, m = inst.cost.shape
    lab = _labellings(n, m).astype(np.int64)
    used = np.stack([(lab == j).any(axis=1) for j in range(m)], axis=1)
    opened = lab[:, inst.lead_unit] == np.arange(m)[None, :] if lead_inside else used
    ok = ~(used & ~opened).any(axis=1)
    lo, hi = (n_grids, n_grids) if isinstance(n_grids, int) else n_grids
    ok &= (opened.sum(axis=1) >= lo) & (opened.sum(axis=1) <= hi)
    for j in range(m):
        has = ((lab == j) & member[None, :]).any(axis=1)
        for c in np.flatnonzero(mcand):
            if c != j:
                has |= ~opened[:, c] & (lab[:, inst.lead_unit[c]] == j)
        ok &= ~opened[:, j] | has
    lab = lab[ok]
    return lab[_connected_mask(lab, inst.adjacency, inst.lead_unit, lead_inside)]


def _solve(inst: Inst, n_grids, member, mcand, lead_inside, **how):
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, n_grids,
                     member_units=member, member_candidates=mcand, lead_inside=lead_inside)
    return assign_units_to_grids(spec, **TIGHT, **how)


CASES = [
    # 3 x 3 squares, four candidates, no plain member: two grids, each needs an idle candidate as its member
    ("no_plain_member", (3, 3), [0, 2, 6, 8], [], [True] * 4, 2),
    # 3 x 4 squares, one plain member and two member candidates of three, two or three grids
    ("one_plain_member", (3, 4), [1, 6, 10], [3], [False, True, True], (2, 3)),
    # a downtown cluster: two candidates share unit 5 and one of them is the other grid's member
    ("cluster", (3, 4), [5, 5, 11], [3], [True, True, False], 2),
]


@pytest.mark.parametrize("lead_inside", [True, False], ids=["inside", "outside"])
@pytest.mark.parametrize("name,shape,leads,plain,mc,n_grids", CASES, ids=[c[0] for c in CASES])
def test_member_candidates_vs_brute_force(name, shape, leads, plain, mc, n_grids, lead_inside):
    inst = random_inst(square_adjacency(*shape, 7), leads, 7)
    member = np.zeros(shape[0] * shape[1], bool)
    member[plain] = True
    mcand = np.array(mc)
    feas = brute_members(inst, n_grids, member, mcand, lead_inside)
    without = brute_members(inst, n_grids, member, np.zeros(len(leads), bool), lead_inside)
    for how in ({"contiguity": "exact", "lead_sets": "never"}, {"contiguity": "exact", "lead_sets": "always"},
                {"contiguity": "fast", "lead_sets": "never"}):
        res = _solve(inst, n_grids, member, mcand, lead_inside, **how)
        if feas.shape[0] == 0:
            assert not res.has_plan, how
            continue
        assert res.has_plan, how
        # the returned plan is one of the enumerated feasible plans (an independent feasibility check)
        assert (feas == res.unit_lead[None, :]).all(axis=1).any(), (how, res.unit_lead)
        if how["contiguity"] == "exact":
            assert rel_eq(res.objective, wt(inst, feas).min()), (how, res.objective, wt(inst, feas).min())
    if name == "no_plain_member":
        # without member candidates there is no plan at all: the family is what makes the city plannable
        assert without.shape[0] == 0 and feas.shape[0] > 0


def test_a_lead_is_not_its_own_member():
    """Two candidates alone, two grids: each would need the other as its member while both lead: no plan."""
    inst = random_inst(square_adjacency(2, 3, 1), [0, 5], 1)
    for lead_inside in (True, False):
        res = _solve(inst, 2, np.zeros(6, bool), np.array([True, True]), lead_inside, contiguity="exact")
        assert not res.has_plan
        one = _solve(inst, (1, 2), np.zeros(6, bool), np.array([True, True]), lead_inside, contiguity="exact")
        assert one.has_plan and one.open_leads.size == 1
