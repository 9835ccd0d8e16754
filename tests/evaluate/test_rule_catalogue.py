"""The rule catalogue: rule ids and texts come only from ``simulator/config/rules/*.toml``.

A province's rules are one TOML file: a copy of liaoning-2023.toml with other texts and thresholds changes the
compliance table, the pre-check messages and the verifier without any code change.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

import simulator as cg
from simulator.config.rules import CHECKED_RULE_IDS, load_rules
from simulator.errors import InputError
from simulator.evaluate.compliance import CITY_CHECKS, GRID_CHECKS
from simulator.evaluate.verify import verify_run

ROOT = Path(__file__).resolve().parents[2]
LIAONING = (resources.files("simulator.config") / "rules" / "liaoning-2023.toml").read_text(encoding="utf-8")


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def province(tmp_path: Path, min_grids: int) -> Path:
    """A made-up province: liaoning-2023 with its own id, grid minimum, R1/R2 texts and rule-3 label."""
    text = _edit(LIAONING, 'id = "liaoning-2023"', 'id = "testprov-2030"')
    text = _edit(text, "min_count = 2 ", f"min_count = {min_grids} ")
    text = _edit(text, 'text_en = "At least {grids.min_count} grids"',
                 'text_en = "Test province: no fewer than {grids.min_count} grids"')
    text = _edit(text, 'text_zh = "至少{grids.min_count}个网格"', 'text_zh = "测试省：不少于{grids.min_count}个网格"')
    text = _edit(text, 'text_en = "Led by a tertiary (三级) comprehensive or TCM hospital at city or district level"',
                 'text_en = "Led by a test-province lead hospital"')
    text = _edit(text, 'label = "rule 3"', 'label = "article 3"')
    path = tmp_path / f"testprov-{min_grids}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fuxin_layout():
    """Fuxin's five urban districts as a given layout (evaluated, not optimised: fast)."""
    scenario = cg.load_scenario(ROOT / "scenarios" / "fuxin_district_layout.toml")
    city = cg.load_city(scenario)
    return city, cg.planning_units(scenario, city)


@pytest.mark.parametrize(("min_grids", "passed"), [(3, True), (6, False)])
def test_province_file_sets_texts_and_threshold(min_grids, passed, fuxin_layout, tmp_path):
    rules = province(tmp_path, min_grids)
    scenario = cg.load_scenario(ROOT / "scenarios" / "fuxin_district_layout.toml", {"rules": str(rules)})
    city, units = fuxin_layout
    plan = cg.make_plan(scenario, city, units)
    comp = plan.compliance.set_index(["rule_id", "scope"])
    r1 = comp.loc[("R1.grids", "city")]
    assert r1["rule_en"] == f"Test province: no fewer than {min_grids} grids"
    assert r1["rule_zh"] == f"测试省：不少于{min_grids}个网格"
    assert (r1["required"], r1["actual"], bool(r1["passed"])) == (f">= {min_grids}", "5", passed)
    # one text per rule: grids with and without an eligible lead read the same R2.lead text
    r2 = plan.compliance[plan.compliance.rule_id == "R2.lead"]
    assert len(r2) == 5 and set(r2["rule_en"]) == {"Led by a test-province lead hospital"}
    assert plan.record["rules"] == "testprov-2030"
    # the independent verifier reads the same file's threshold
    out = cg.write_plan(plan, tmp_path / "run")
    found = verify_run(out)
    expected = [] if passed else [f"R1 grids: the plan has 5 grid(s); testprov-2030 requires at least {min_grids}"]
    assert [m for m in found if m.startswith("R1 grids:")] == expected


def test_province_file_words_the_pre_check(tmp_path):
    """Read "secondary only", Panjin's urban area holds a rule-3 member in 2 planning units: a province asking for 3
    grids refuses it."""
    scenario = cg.load_scenario(ROOT / "scenarios" / "panjin.toml", {"rules": str(province(tmp_path, 3)),
                                                                     "plan.member_reading": "secondary_only"})
    city = cg.load_city(scenario)
    with pytest.raises(cg.PlanningError) as ei:
        cg.make_plan(scenario, city, cg.planning_units(scenario, city))
    assert ei.value.rule_ids == ["R3.member"]
    message = ei.value.failures[0].message
    assert message.startswith("article 3 fails: every group needs at least one secondary comprehensive/TCM hospital")
    assert message.endswith("testprov-2030 requires at least 3 grids")


def test_every_checked_rule_has_a_catalogue_entry_and_a_check():
    rules = load_rules("liaoning-2023")
    assert set(rules.catalogue) == set(CHECKED_RULE_IDS)
    checks = set(CITY_CHECKS) | set(GRID_CHECKS)
    # R5.primary_care is checked before planning only (plan/precheck.py); every other id has a compliance check
    assert checks == set(CHECKED_RULE_IDS) - {"R5.primary_care"}
    for rid in CITY_CHECKS:
        assert rules.text(rid).scope == "city"
    for rid in GRID_CHECKS:
        assert rules.text(rid).scope == "grid"


def test_no_rule_text_in_the_code():
    """Rule texts live in the TOML file only; a copy in a module would drift from a province's file.

    (Short texts such as "Group beds per 1,000 residents" double as indicator names in the maps and are skipped.)
    """
    rules = load_rules("liaoning-2023")
    texts = [t for r in rules.catalogue.values() for t in (r.text_en, r.short_en) if len(t) > 30]
    texts += [r.text_zh for r in rules.catalogue.values() if len(r.text_zh) > 8]
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "simulator").rglob("*.py")}
    hits = [(str(p.relative_to(ROOT)), t) for t in texts for p, s in sources.items() if t in s]
    assert hits == []


def test_placeholders_take_the_thresholds():
    r = load_rules("liaoning-2023")
    assert r.text("R1.grids").text_en == "At least 2 grids"
    assert r.text("R1.grids").short_en == "at least 2 grids per city"
    failure = r.failure("R3.member", "the facts")
    assert (failure.rule_id, failure.message) == ("R3.member", "rule 3 fails: the facts")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('id = "R6.contiguous"', 'id = "R6.connected"', "lacks rule id(s) R6.contiguous"),
        ('text_en = "At least {grids.min_count} grids"', 'text_en = "At least {grids.max_count} grids"',
         "names {grids.max_count}, which the rule file does not define"),
        ('label = "rule 3"\n', "", "entry 5 lacks text field(s) label"),
        ('id = "R1.coverage"\nscope = "city"', 'id = "R1.coverage"\nscope = "province"', "scope must be"),
        ('id = "R1.coverage"', 'id = "R1.grids"', "rule id R1.grids is defined twice"),
    ],
    ids=["missing-id", "unknown-threshold", "missing-field", "bad-scope", "duplicate-id"],
)
def test_a_broken_catalogue_is_an_input_error(old, new, says, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(_edit(LIAONING, old, new), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_rules(str(path))
    assert ei.value.path == str(path) and ei.value.field == "catalogue"
    assert says in ei.value.detail


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (("min_count = 2", "min_count = -1"), "grids.min_count", "expected a whole number ≥ 0"),
        (("bed_share = 0.25", "bed_share = 1.5"), "referral.bed_share", "expected a share in [0, 1]"),
        (('id = "liaoning-2023"\n', ""), "id", "the rule file lacks id"),
        (("[cross_grid]", "[cross_grid_typo]"), "cross_grid.kinds", "the rule file lacks cross_grid.kinds"),
        # readiness norms live in the targets file only; an old rule file's copy would be a second, silent source
        (("[referral]", "[targets]\ndoctor_nurse_ratio = 2.0\n\n[referral]"), "targets",
         "holds a [targets] table"),
    ],
)
def test_broken_thresholds_are_named(tmp_path, change, field, says):
    from simulator.config.rules import load_rules as load

    text = (ROOT / "simulator" / "config" / "rules" / "liaoning-2023.toml").read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(*change, 1), encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(says)) as ei:
        load(str(path))
    assert ei.value.field == field and ei.value.path == str(path)


def test_a_missing_rule_file_is_named(tmp_path):
    with pytest.raises(InputError, match="rule file not found") as ei:
        load_rules(str(tmp_path / "none.toml"))
    assert ei.value.path == str(tmp_path / "none.toml")
