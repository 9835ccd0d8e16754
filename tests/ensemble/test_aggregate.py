"""Agreement across draws: labels align by lead hospital, whatever the grid names or code order of each draw."""

from __future__ import annotations

import numpy as np

from simulator.ensemble import DrawResult, summarise, unit_agreement
from simulator.ensemble.aggregate import lead_matrix


def _res(index, leads, codes, failed=None, rules=()):
    codes = np.asarray(codes, np.int16)
    return DrawResult(index, "plan" if leads else "no plan", leads=list(leads), unit_lead=codes,
                      unit_failed=np.zeros(codes.size, bool) if failed is None else np.asarray(failed, bool),
                      failed_rules=list(rules))


def test_labels_align_by_lead_not_by_code():
    # draw 0 codes A=0, B=1; draw 1 lists leads in another order, so B=0, A=1: the same plan
    r0 = _res(0, ["A", "B"], [0, 0, 1, 1])
    r1 = _res(1, ["B", "A"], [1, 1, 0, 0])
    mat, leads = lead_matrix([r0, r1])
    assert leads == ["A", "B"]
    assert (mat[0] == mat[1]).all()
    agree = unit_agreement([r0, r1])
    assert agree["majority_lead"].tolist() == ["A", "A", "B", "B"]
    assert agree["stability"].tolist() == [1.0] * 4


def test_stability_feasible_share_and_failed_draws():
    draws = [
        _res(0, ["A", "B"], [0, 0, 1, 1]),
        _res(1, ["A", "C"], [0, 1, 1, 1], failed=[0, 0, 1, 1], rules=["R3.member"]),
        _res(2, ["A", "B"], [0, 0, 0, 1]),
        _res(3, [], [-1, -1, -1, -1], failed=[1, 1, 1, 1], rules=["R2.lead"]),
    ]
    agree = unit_agreement(draws)
    # three draws with a plan; unit 1: A, C, A -> A with 2/3; unit 2: B, C, A -> tie, first lead in id order (A)
    assert agree["majority_lead"].tolist() == ["A", "A", "A", "B"]
    assert np.allclose(agree["stability"], [1.0, 2 / 3, 1 / 3, 2 / 3])
    assert np.allclose(agree["feasible_share"], [0.75, 0.75, 0.5, 0.5])
    assert np.allclose(agree["plan_share"], 0.75)
    sm = summarise(draws, ["R2.lead", "R3.member", "R6.contiguous"])
    assert sm["rule_pass_share"] == {"R2.lead": 0.75, "R3.member": 0.75, "R6.contiguous": 1.0}
    assert sm["plan_share"] == 0.75 and sm["compliant_share"] == 0.5
    assert sm["lead_share"] == {"A": 1.0, "B": 2 / 3, "C": 1 / 3}
