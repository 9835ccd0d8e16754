"""Groups as the pilot plan words them: cross-grid institutions serve the grids they reach (not every group), the
planner's list overrides, and collaborating units honour declared ties first, then distance.

A hand-made 4-unit city: G1 = units 0, 1 (district D1), G2 = units 2, 3 (district D2); travel minutes are given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from simulator.config.rules import Switches, load_rules
from simulator.errors import InputError
from simulator.evaluate.compliance import compliance_table
from simulator.plan.groups import GroupOptions, form_groups

RULES = load_rules("liaoning-2023")
UNITS = pd.DataFrame({"population": [100.0, 100.0, 100.0, 100.0], "district": ["D1", "D1", "D2", "D2"]})
UNIT_GRID = np.array(["G1", "G1", "G2", "G2"])
GRID_LEAD = {"G1": "L1", "G2": "L2"}
# id, name, level, kind, ownership, district, in_city, unit, lon
ROWS = [
    ("L1", "一号医院", "tertiary", "general", "city", "D1", True, 0, 122.0),
    ("L2", "二号医院", "tertiary", "general", "city", "D2", True, 2, 122.2),
    ("R1", "康复医院", "secondary", "rehab", "private", "D1", True, 0, 122.0),
    ("M1", "区妇幼保健院", "secondary", "maternal_child", "district", "D1", True, 1, 122.1),
    ("P1", "市疾控中心", "unrated", "public_health", "city", "D1", True, 1, 122.1),
    ("X1", "省医院甲", "tertiary", "general", "provincial", "", False, -1, 125.0),  # far, tied to L2
    ("X2", "省医院乙", "tertiary", "general", "provincial", "", False, -1, 123.0),  # nearest to both leads
    ("X3", "省医院丙", "tertiary", "general", "provincial", "", False, -1, 126.0),  # serves no group
]
FAC = pd.DataFrame(
    {
        "facility_id": [r[0] for r in ROWS], "name": [r[1] for r in ROWS], "level": [r[2] for r in ROWS],
        "kind": [r[3] for r in ROWS], "ownership": [r[4] for r in ROWS], "district": [r[5] for r in ROWS],
        "in_city": [r[6] for r in ROWS], "modelled": False, "grade": "", "lon": [r[8] for r in ROWS], "lat": 41.0,
        "beds": 100.0, "outpatient_daily": 300.0,
    }
)
FAC_UNIT = np.array([r[7] for r in ROWS])
# minutes unit → facility: R1 reaches units 0, 1, 2 (half of G2); M1 and P1 reach G1 only
MINUTES = np.full((4, len(ROWS)), 99.0)
MINUTES[:, 2] = [5.0, 10.0, 25.0, 45.0]
MINUTES[:, 3] = [10.0, 5.0, 40.0, 60.0]
MINUTES[:, 4] = [10.0, 5.0, 40.0, 60.0]
AFFILIATIONS = pd.DataFrame({"facility_id": ["L2"], "partner_facility_id": ["X1"], "relation": ["managed_branch"]})


def minutes(unit_idx, fac_idx):
    return MINUTES[np.ix_(np.atleast_1d(unit_idx), np.atleast_1d(fac_idx))]


def groups_of(**options):
    return form_groups(UNITS, UNIT_GRID, GRID_LEAD, FAC, FAC_UNIT, RULES, minutes, options=GroupOptions(**options))


def rows(groups, role):
    t = groups.groups
    return {(g, f): b for g, f, b in t.loc[t.role == role, ["grid_id", "facility_id", "basis"]].to_numpy()}


def test_cross_grid_institutions_serve_the_grids_they_reach_not_every_group():
    """"可以根据实际情况跨网格提供服务": a rehab hospital reaching half of G2's residents serves G2; a district
    maternal–child institution reaching no one in G2 (another district) does not; the city CDC serves every grid."""
    cross = rows(groups_of(), "cross_grid")
    assert set(cross) == {("G2", "R1"), ("G2", "P1")}
    assert cross[("G2", "R1")] == "reach 可达: 50% of residents within 30 min"
    assert cross[("G2", "P1")].startswith("administrative area 行政辖区: city-level")
    # each stands in G1 and is a member there, listed once
    members = rows(groups_of(), "member")
    assert {("G1", "R1"), ("G1", "M1"), ("G1", "P1")} <= set(members)


def test_the_old_reading_pastes_them_into_every_group():
    cross = rows(groups_of(switches=Switches(cross_grid_reading="every_group")), "cross_grid")
    assert set(cross) == {("G2", "R1"), ("G2", "M1"), ("G2", "P1")}


def test_the_planners_list_overrides_the_reading():
    service = {"R1": ["G1"], "M1": ["L2"], "P1": "all"}  # a grid named by its lead's facility id
    groups = groups_of(cross_grid_service=service)
    cross = rows(groups, "cross_grid")
    assert set(cross) == {("G2", "M1"), ("G2", "P1")}
    assert all(b.startswith("planner's list 规划者指定") for b in cross.values())
    # a grid the plan does not have is said, not silently dropped
    noted = groups_of(cross_grid_service={"M1": ["G7"]}).notes
    assert any("names grid(s) G7 that this plan does not have" in n for n in noted)


@pytest.mark.parametrize(
    ("service", "words"),
    [({"R2": "all"}, "unknown facility id 'R2'; near ids: R1"),
     ({"L1": "all"}, "L1 一号医院 (general); only in-city")],
)
def test_the_planners_list_names_known_cross_grid_institutions(service, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")) as ei:
        groups_of(cross_grid_service=service)
    assert ei.value.field.startswith("cross_grid_service.")


def test_collaborating_units_declared_tie_first_then_distance_and_shared():
    """"根据地理位置、城市医疗集团的业务需要,承担一个或多个…协作单位任务": L2's declared tie wins over the nearer X2;
    G1 takes the nearest; without ties one provincial hospital serves both groups; an unused one is not marked."""
    groups = groups_of(affiliations=AFFILIATIONS)
    collab = rows(groups, "collaborating")
    assert set(collab) == {("G1", "X2"), ("G2", "X1")}
    assert collab[("G2", "X1")].startswith("declared tie 已有协作关系: L2 managed_branch of X1")
    assert collab[("G1", "X2")].startswith("nearest 距离最近")
    role = dict(zip(groups.facilities.facility_id, groups.facilities.role, strict=True))
    assert (role["X1"], role["X2"], role["X3"]) == ("collaborating", "collaborating", "unassigned")
    # no declared ties: the nearest, X2, serves both groups
    plain = rows(groups_of(), "collaborating")
    assert set(plain) == {("G1", "X2"), ("G2", "X2")}


def test_compliance_names_the_collaborating_basis_and_the_reading():
    groups = groups_of(affiliations=AFFILIATIONS)
    table = compliance_table(
        UNITS, UNIT_GRID, sp.csr_matrix((4, 4)), GRID_LEAD, groups.facilities,
        groups.groups, RULES, allow_enterprise=False, switches=Switches(declared_ties=True),
    ).set_index(["rule_id", "scope"])
    r4 = table.loc[("R4.collaborating", "G2")]
    assert r4.status == "passed" and "省医院甲 (declared tie 已有协作关系" in r4.actual
    assert r4.reading == RULES.reading("collaborating_declared")
    assert "nearest 距离最近" in table.loc[("R4.collaborating", "G1"), "actual"]
    # every grid is served by a maternal–child institution (M1 stands in G1 … and serves no one in G2)
    assert table.loc[("R3.maternal_child", "G1"), "status"] == "passed"
    assert table.loc[("R3.maternal_child", "G2"), "status"] == "failed"
    assert table.loc[("R3.public_health", "G2"), "status"] == "passed"
    assert table.loc[("R3.public_health", "G2"), "reading"] == RULES.reading("cross_grid_reach")


def test_no_institution_of_the_kind_is_no_data_not_a_failure():
    fac = FAC[FAC.kind != "maternal_child"].reset_index(drop=True)
    fu = FAC_UNIT[(FAC.kind != "maternal_child").to_numpy()]
    keep = np.flatnonzero((FAC.kind != "maternal_child").to_numpy())

    def mins(u, f):
        return MINUTES[np.ix_(np.atleast_1d(u), keep[np.atleast_1d(f)])]

    g = form_groups(UNITS, UNIT_GRID, GRID_LEAD, fac, fu, RULES, mins)
    table = compliance_table(UNITS, UNIT_GRID, sp.csr_matrix((4, 4)), GRID_LEAD,
                             g.facilities, g.groups, RULES, allow_enterprise=False)
    rows_ = table[table.rule_id == "R3.maternal_child"]
    assert list(rows_.status) == ["no_data", "no_data"]
    assert set(rows_.actual) == {"the data has none 数据中无此类机构"}
    assert not rows_.passed.any()
