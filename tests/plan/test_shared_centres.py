"""Shared centres: host rules as data, capability flags win, the volume-weighted choice and the sharing model,
each checked against brute force on tiny cities."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from simulator.config.centres import CentreRule, load_centre_rules
from simulator.errors import InputError
from simulator.plan.shared_centres import CentreOptions, adjacent_grids, locate, shared_centres

LAB = CentreRule("lab", "Lab", "检验", "hosts_lab", ("tertiary", "secondary"), ("general", "tcm"),
                 ("outpatient_daily", "beds"), (), "test rule")
TCM = CentreRule("tcm_dispensing", "TCM", "中药", "hosts_tcm", ("tertiary", "secondary"), ("tcm",),
                 ("outpatient_daily",), ("tcm",), "test rule")


def brute_locate(cost: np.ndarray, owner: np.ndarray, open_cost: float) -> float:
    """Every assignment of each group to an allowed host; an open host must serve its own group."""
    ng, nh = cost.shape
    choices = [[h for h in range(nh) if np.isfinite(cost[g, h])] or [-1] for g in range(ng)]
    best = np.inf
    for pick in itertools.product(*choices):
        open_ = {h for h in pick if h >= 0}
        if any(owner[h] >= 0 and np.isfinite(cost[owner[h], h]) and pick[owner[h]] != h for h in open_):
            continue
        total = sum(cost[g, h] for g, h in enumerate(pick) if h >= 0) + open_cost * len(open_)
        best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_locate_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    ng, nh = rng.integers(1, 5), rng.integers(1, 6)
    owner = rng.integers(-1, ng, nh)
    cost = rng.integers(1, 50, (ng, nh)).astype(float)
    cost[rng.random((ng, nh)) < 0.35] = np.inf
    for h in range(nh):  # a host is always allowed to its own group
        if owner[h] >= 0:
            cost[owner[h], h] = rng.integers(1, 50)
    open_cost = float(rng.choice([0.0, 10.0, 60.0]))
    pick, total = locate(cost, owner, open_cost)
    assert total == pytest.approx(brute_locate(cost, owner, open_cost))
    # the returned assignment is feasible and has that value
    for g in range(ng):
        assert (pick[g] >= 0) == bool(np.isfinite(cost[g]).any())
    open_ = {h for h in pick if h >= 0}
    for h in open_:
        if owner[h] >= 0:
            assert pick[owner[h]] == h
    assert total == pytest.approx(sum(cost[g, h] for g, h in enumerate(pick) if h >= 0) + open_cost * len(open_))


def _city(hosts_lab=None):
    """Two grids on a line of four units; minutes = 10 × |unit − facility unit| + 1."""
    fac = pd.DataFrame({
        "facility_id": ["A1", "A2", "A3", "B1", "B2"],
        "name": ["甲医院", "乙医院", "甲社区", "丙医院", "丙社区"],
        "level": ["tertiary", "secondary", "primary", "tertiary", "primary"],
        "kind": ["general", "tcm", "community_health_centre", "general", "community_health_centre"],
        "beds": [500.0, 100.0, np.nan, 400.0, np.nan],
        "beds_status": ["fact", "estimate", "gap", "fact", "gap"],
        "outpatient_daily": [1500.0, 300.0, 50.0, 1200.0, np.nan],
        "outpatient_status": ["estimate", "estimate", "fact", "fact", "gap"],
    })
    if hosts_lab is not None:
        fac["hosts_lab"] = hosts_lab
    fac_unit = np.array([0, 1, 1, 3, 2])
    groups = pd.DataFrame({
        "grid_id": ["G1", "G1", "G1", "G2", "G2"],
        "facility_id": ["A1", "A2", "A3", "B1", "B2"],
        "role": ["lead", "member", "member", "lead", "member"],
    })
    unit_grid = np.array(["G1", "G1", "G2", "G2"])
    adj = sp.diags([np.ones(3), np.ones(3)], [1, -1], shape=(4, 4)).tocsr()

    def minutes(units, facs):
        return 10.0 * np.abs(np.asarray(units)[:, None] - fac_unit[np.asarray(facs)][None, :]) + 1.0

    return fac, fac_unit, groups, unit_grid, adj, minutes


def brute_host(fac, fac_unit, groups, minutes, grid, able, vol):
    """The member of ``grid`` with the least volume-weighted minutes, by enumeration."""
    ids = list(groups.loc[groups.grid_id == grid, "facility_id"])
    idx = [int(np.flatnonzero(fac.facility_id == i)[0]) for i in ids]
    w = np.array([vol[i] for i in idx])
    best = None
    for h in idx:
        if not able[h]:
            continue
        c = sum(w[k] * minutes(np.array([fac_unit[i]]), np.array([h]))[0, 0] for k, i in enumerate(idx))
        best = min(best or (np.inf, ""), (c, fac.facility_id[h]))
    return best[1] if best else ""


def test_hosts_by_rule_are_the_volume_weighted_best():
    fac, fac_unit, groups, unit_grid, adj, minutes = _city()
    out = shared_centres(groups, fac, fac_unit, minutes, [LAB, TCM])
    lab = out[out.centre_kind == "lab"].set_index("grid_id")
    vol = (fac.outpatient_daily.fillna(0) + fac.beds.fillna(0)).to_numpy()
    able = fac.level.isin(LAB.levels) & fac.kind.isin(LAB.kinds)
    for g in ("G1", "G2"):
        assert lab.loc[g, "host_facility_id"] == brute_host(fac, fac_unit, groups, minutes, g, able.to_numpy(), vol)
        assert lab.loc[g, "status"] == "own"
    # G1: A1 (2000/day at unit 0) outweighs A2 + A3 (400 + 50 at unit 1)
    assert lab.loc["G1", "host_facility_id"] == "A1"
    assert lab.loc["G1", "mean_minutes"] == pytest.approx((2000 * 1 + 450 * 11) / 2450)
    # B2 has no capacity figure: it weighs nothing and is counted
    assert lab.loc["G2", "members_without_volume"] == 1
    # estimated share of G1's weight: A1 outpatients 1500 and A2's 100 + 300 are estimates
    assert lab.loc["G1", "volume_estimated_share"] == pytest.approx((1500 + 400) / 2450)
    tcm = out[out.centre_kind == "tcm_dispensing"].set_index("grid_id")
    assert tcm.loc["G1", "host_facility_id"] == "A2" and tcm.loc["G2", "status"] == "not_applicable"


def test_capability_flags_win_over_the_rule():
    # A1 declares it cannot host a lab; A3 (primary care, not allowed by the rule) declares it can
    fac, fac_unit, groups, *_ , minutes = _city(hosts_lab=["false", "", "true", "", ""])
    lab = shared_centres(groups, fac, fac_unit, minutes, [LAB]).set_index("grid_id")
    # A2 and A3 stand in the same unit: equal minutes; the smaller id wins the tie
    assert lab.loc["G1", "host_facility_id"] == "A2"
    fac["hosts_lab"] = ["false", "false", "true", "", ""]
    lab = shared_centres(groups, fac, fac_unit, minutes, [LAB]).set_index("grid_id")
    assert lab.loc["G1", "host_facility_id"] == "A3"
    assert lab.loc["G1", "host_basis"].startswith("capability flag hosts_lab")
    fac["hosts_lab"] = ["false", "false", "false", "", ""]
    lab = shared_centres(groups, fac, fac_unit, minutes, [LAB]).set_index("grid_id")
    assert lab.loc["G1", "status"] == "no_host" and bool(lab.loc["G1", "capability_declared"])


def test_sharing_serves_a_group_without_a_host_from_the_adjacent_grid():
    fac, fac_unit, groups, unit_grid, adj, minutes = _city(hosts_lab=["", "", "", "false", ""])
    alone = shared_centres(groups, fac, fac_unit, minutes, [LAB]).set_index("grid_id")
    assert alone.loc["G2", "status"] == "no_host" and bool(alone.loc["G2", "capability_declared"])
    shared = shared_centres(groups, fac, fac_unit, minutes, [LAB], unit_grid, adj,
                            CentreOptions(share=True)).set_index("grid_id")
    assert shared.loc["G2", "status"] == "shared" and shared.loc["G2", "host_grid_id"] == "G1"
    assert shared.loc["G1", "shared_with"] == "G2" and shared.loc["G2", "shared_with"] == "G1"
    assert shared.loc["G2", "host_facility_id"] == shared.loc["G1", "host_facility_id"]


def test_an_open_cost_makes_neighbours_share():
    fac, fac_unit, groups, unit_grid, adj, minutes = _city()
    cheap = shared_centres(groups, fac, fac_unit, minutes, [LAB], unit_grid, adj,
                           CentreOptions(share=True, open_cost=0))
    assert set(cheap.status) == {"own"}
    dear = shared_centres(groups, fac, fac_unit, minutes, [LAB], unit_grid, adj,
                          CentreOptions(share=True, open_cost=1e7)).set_index("grid_id")
    assert dear.host_facility_id.nunique() == 1 and "shared" in set(dear.status)


def test_adjacent_grids():
    adj = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    assert adjacent_grids(np.array(["G1", "G2", "G3"]), adj) == {("G1", "G2"), ("G2", "G1"), ("G2", "G3"),
                                                                 ("G3", "G2")}


def test_the_shipped_host_rules_load_and_state_a_source():
    rules = load_centre_rules()
    assert {r.kind for r in rules} == {"lab", "imaging", "ecg", "pathology", "sterile_supply", "remote_consultation",
                                       "tcm_dispensing"}
    assert all(r.source for r in rules)


@pytest.mark.parametrize("change, says", [
    ('levels = ["tertiary", "secondary"]', "levels"),
    ('flag = "hosts_lab"', "defined twice"),
    ('source = "project choice', "lacks key"),
])
def test_broken_host_rules_are_named(tmp_path, change, says):
    text = load_text()
    if "defined twice" in says:
        text = text.replace('flag = "hosts_imaging"', 'flag = "hosts_lab"')
    elif change.startswith("levels"):
        text = text.replace(change, 'levels = ["quaternary"]', 1)
    else:
        text = text.replace("source = \"project choice: a secondary or tertiary hospital runs", "# ", 1)
    p = tmp_path / "centres.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=says):
        load_centre_rules(p)


def load_text() -> str:
    from importlib import resources

    return (resources.files("simulator.config") / "centres" / "liaoning-2023.toml").read_text(encoding="utf-8")


def test_equal_plans_resolve_to_the_smaller_rank():
    cost = np.array([[10.0, 10.0, 10.0], [np.inf, 10.0, 10.0]])
    owner = np.array([0, 1, 1])
    for rank in ([2, 1, 0], [0, 1, 2], [1, 2, 0]):
        pick, total = locate(cost, owner, 0.0, rank=np.array(rank))
        g1 = min((1, 2), key=lambda h: rank[h])  # group 1 takes its own host of smaller rank
        g0 = min((0, g1), key=lambda h: rank[h])  # group 0 its own, or group 1's host when that ranks first
        assert list(pick) == [g0, g1] and total == pytest.approx(20.0)


def test_sharing_without_an_open_cost_keeps_each_groups_own_best():
    """With a zero open cost and every group able to host, sharing changes nothing but strict improvements."""
    fac, fac_unit, groups, unit_grid, adj, minutes = _city()
    fac.loc[fac.facility_id == "A2", "beds"] = 500.0  # A1 and A2 now tie in G1 for pathology-like volumes
    alone = shared_centres(groups, fac, fac_unit, minutes, [LAB])
    shared = shared_centres(groups, fac, fac_unit, minutes, [LAB], unit_grid, adj, CentreOptions(share=True))
    assert list(alone.host_facility_id) == list(shared.host_facility_id)


def test_unknown_host_rules_and_broken_service_lines_are_named(tmp_path):
    from simulator.config.centres import load_service_lines

    with pytest.raises(InputError, match="unknown centre host rules 'hebei-2099'.*shipped: liaoning-2023") as ei:
        load_centre_rules("hebei-2099")
    assert ei.value.field == "plan.centre_rules"
    p = tmp_path / "lines.toml"
    p.write_text(load_text().replace('kinds = ["rehab"]', 'kinds = ["spa"]'), encoding="utf-8")
    with pytest.raises(InputError, match=r"\[\[service_line\]\] rehab: kinds = \['spa'\]") as ei:
        load_service_lines(p)
    assert ei.value.field == "kinds"
