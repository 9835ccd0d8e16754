"""Bad scenarios a planner really writes: each one is an InputError naming the file, the field and what is allowed.

The corpus is data: every case is a change to the Panjin scenario and the field and words the message must carry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.config.scenario import load_scenario
from simulator.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
PANJIN = ROOT / "scenarios" / "panjin.toml"


def _panjin_text() -> str:
    # the data folder relative to the copy's location
    return PANJIN.read_text(encoding="utf-8").replace('data = "../geodata/panjin"', f'data = "{ROOT}/geodata/panjin"')


def _with(text: str, section: str, line: str) -> str:
    """Add ``line`` to ``[section]`` (create the section if needed); ``""`` = the top level."""
    if not section:
        return line + "\n" + text
    if f"[{section}]" in text:
        return text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)
    return text + f"\n[{section}]\n{line}\n"


def _drop(text: str, key_regex: str) -> str:
    return re.sub(rf"(?m)^{key_regex}\s*=.*\n", "", text)


# (case id, section, line to set, field named, words expected in the message)
RANGE_CASES = [
    ("speed-zero", "travel", "speed_kmh = 0.0", "travel.speed_kmh", "(0, 200] km/h"),
    ("speed-negative", "travel", "speed_kmh = -30.0", "travel.speed_kmh", "(0, 200] km/h"),
    ("speed-nan", "travel", "speed_kmh = nan", "travel.speed_kmh", "(0, 200] km/h"),
    ("speed-inf", "travel", "speed_kmh = inf", "travel.speed_kmh", "(0, 200] km/h"),
    ("circuity-below-1", "travel", "circuity = 0.8", "travel.circuity", "[1, 5]"),
    ("access-minutes-zero", "travel", "access_minutes = 0.0", "travel.access_minutes", "minutes > 0"),
    ("time-limit-negative", "solver", "time_limit_s = -1", "solver.time_limit_s", "seconds > 0"),
    ("gap-negative", "solver", "gap = -0.1", "solver.gap", "[0, 1)"),
    ("gap-one", "solver", "gap = 1.0", "solver.gap", "[0, 1)"),
    ("candidate-k-zero", "solver", "candidate_k = 0", "solver.candidate_k", "≥ 1"),
    ("threads-zero", "solver", "threads = 0", "solver.threads", "≥ 1"),
    ("max-units-zero", "units", "max_units = 0", "units.max_units", "≥ 1"),
    ("urban-share-above-1", "population_model", "urban_share_district = 1.5", "population_model.urban_share_district",
     "[0, 1]"),
    ("bandwidth-zero", "population_model", "seat_bandwidth_km = 0.0", "population_model.seat_bandwidth_km", "> 0 km"),
    ("min-population-negative", "grids", "min_population = -5.0", "grids.min_population", "≥ 0"),
    ("beds-per-1000-negative", "grids", "min_beds_per_1000 = -1.0", "grids.min_beds_per_1000", "≥ 0"),
    ("ems-coverage-above-1", "ems", "coverage = 1.5", "ems.coverage", "a share of residents in (0, 1]"),
    ("ems-coverage-zero", "ems", "coverage = 0.0", "ems.coverage", "(0, 1]"),
    ("ems-stations-negative", "ems", "stations = -2", "ems.stations", "a station count ≥ 0"),
    ("ems-minutes-zero", "ems", "minutes = 0.0", "ems.minutes", "minutes > 0"),
    ("ems-centre-minutes-negative", "ems", "centre_minutes = -5.0", "ems.centre_minutes", "minutes > 0"),
    ("centre-open-cost-negative", "plan", "centre_open_cost = -1.0", "plan.centre_open_cost", "minutes ≥ 0"),
    ("residents-per-team-zero", "plan", "residents_per_family_doctor_team = 0", "plan.residents_per_family_doctor_team",
     "residents > 0"),
]


@pytest.mark.parametrize(("case", "section", "line", "field", "words"), RANGE_CASES, ids=[c[0] for c in RANGE_CASES])
def test_out_of_range_values_name_the_allowed_range(tmp_path, case, section, line, field, words):
    key = line.split("=")[0].strip()
    text = _drop(_panjin_text(), key) if section in ("travel", "solver") else _panjin_text()
    path = tmp_path / f"{case}.toml"
    path.write_text(_with(text, section, line), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.path == str(path.resolve())
    assert ei.value.field == field
    assert words in str(ei.value)


def test_resolution_outside_h3(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(_panjin_text().replace("resolution = 7", "resolution = 16"), encoding="utf-8")
    with pytest.raises(InputError, match="H3 resolution 0..15"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("case", "change", "field", "words"),
    [
        ("given-layout-no-layout", ('mode = "optimise"', 'mode = "given_layout"'), "plan.layout", "needs plan.layout"),
        ("fixed-leads-no-leads", ('mode = "optimise"', 'mode = "fixed_leads"'), "plan.leads", "needs plan.leads"),
        ("min-above-max", ("min = 2\nmax = 3", "min = 4\nmax = 3"), "grids.min", "exceeds grids.max"),
    ],
)
def test_modes_and_ranges_that_involve_two_keys(tmp_path, case, change, field, words):
    path = tmp_path / f"{case}.toml"
    text = _panjin_text()
    assert change[0] in text
    path.write_text(text.replace(*change), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.field == field and words in str(ei.value)


def test_a_folder_given_as_scenario(tmp_path):
    with pytest.raises(InputError, match="is a folder; expected a scenario file") as ei:
        load_scenario(tmp_path)
    assert ei.value.path == str(tmp_path)


def test_an_empty_scenario_file(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        load_scenario(path)


def test_a_symlink_loop(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(InputError, match="link loop"):
        load_scenario(a)


def test_gbk_scenario_names_the_line_and_asks_for_utf8(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes(_panjin_text().encode("gb18030"))
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert "GBK" in str(ei.value) and "save the file as UTF-8" in str(ei.value)
    lines = _panjin_text().splitlines()
    first_chinese = next(i for i, line in enumerate(lines, 1) if re.search(r"[\u4e00-\u9fff]", line))
    assert ei.value.row == f"line {first_chinese}"


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + _panjin_text().encode("utf-8"))
    assert load_scenario(path).city == "panjin"


@pytest.mark.parametrize(
    ("override", "words"), [("name.x", "'name' is a value, not a table"), ("grids..count", "empty key")]
)
def test_set_override_into_a_value(override, words):
    with pytest.raises(InputError, match=re.escape(words)) as ei:
        load_scenario(PANJIN, {override: 1})
    assert ei.value.field == "--set"


def test_rules_file_is_resolved_against_the_scenario_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "s.toml"
    path.write_text(_panjin_text().replace('rules = "liaoning-2023"', 'rules = "my_rules.toml"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    assert load_scenario(path).rules == str(tmp_path / "sub" / "my_rules.toml")
    assert load_scenario(PANJIN).rules == "liaoning-2023"


# readings of the pilot plan's words (plan.*): a mistyped reading or planner's list names the key and the choices
READING_CASES = [
    ("member-reading", 'member_reading = "tertiary_only"', "member_reading",
     "expected one of at_least_secondary, secondary_only"),
    ("cross-grid-reading", 'cross_grid_reading = "everywhere"', "cross_grid_reading",
     "expected one of reach, every_group"),
    ("cross-grid-service-not-a-table", 'cross_grid_service = ["PJ-H09"]', "cross_grid_service",
     'expected a table facility_id = [grid ids] or "all"'),
    ("cross-grid-service-number", 'cross_grid_service = {"PJ-H09" = 3}', "cross_grid_service.PJ-H09",
     'expected a non-empty list of grid ids (G1, …, or the lead\'s facility id) or "all"'),
    ("cross-grid-service-empty", 'cross_grid_service = {"PJ-H09" = []}', "cross_grid_service.PJ-H09",
     "expected a non-empty list of grid ids"),
    ("enterprise-text", 'allow_enterprise_leads = "yes"', "allow_enterprise_leads", "expected bool"),
    ("share-centres-text", 'share_centres = "yes"', "share_centres", "expected bool"),
    ("centre-rules-number", "centre_rules = 3", "centre_rules", "expected str"),
    ("locked-units-number", "locked_units = 3", "locked_units", "expected str"),
    ("locked-units-list", 'locked_units = ["a.csv"]', "locked_units", "expected str"),
]


@pytest.mark.parametrize(("case", "line", "field", "words"), READING_CASES, ids=[c[0] for c in READING_CASES])
def test_reading_switches_name_the_choices(tmp_path, case, line, field, words):
    path = tmp_path / f"{case}.toml"
    path.write_text(_with(_panjin_text(), "plan", line), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.field == field and words in str(ei.value), str(ei.value)


def test_reading_switches_are_read():
    s = load_scenario(PANJIN, {"plan.member_reading": "secondary_only", "plan.cross_grid_reading": "every_group",
                               "plan.cross_grid_service": {"PJ-H09": "all"}})
    assert (s.plan.member_reading, s.plan.cross_grid_reading) == ("secondary_only", "every_group")
    assert s.plan.cross_grid_service == {"PJ-H09": "all"} and s.plan.allow_enterprise_leads is False
    assert s.inputs.affiliations == "../liaoning/affiliations.csv"


def test_reservations_names_a_file(tmp_path):
    """inputs.reservations (declared referral reservations, rule 5) is a file name, resolved like other inputs."""
    text = _with(_panjin_text(), "inputs", "reservations = 500")
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"inputs.reservations = 500; expected str") as ei:
        load_scenario(path)
    assert ei.value.field == "reservations" and ei.value.path == str(path.resolve())
    path.write_text(_with(_panjin_text(), "inputs", 'reservations = "declared/reservations.csv"'), encoding="utf-8")
    sc = load_scenario(path)
    assert sc.input_path(sc.inputs.reservations) == ROOT / "geodata" / "panjin" / "declared" / "reservations.csv"
    assert load_scenario(PANJIN).inputs.reservations is None  # Panjin declares nothing (no real declaration exists)


# what-if changes [[changes]]: (case id, the change's TOML lines, field named, words expected in the message)
_NEW_CHC = 'action = "add"\nid = "X"\nname = "新机构"\nlevel = "一级"\nkind = "社区卫生服务中心"\n'
CHANGE_CASES = [
    ("unknown-action", 'action = "upgrade"\nid = "PJ-H05"', "action", "expected one of add, change, close, link"),
    ("missing-action", 'id = "PJ-H05"', "action", "expected one of add, change, close, link"),
    ("unknown-key", 'action = "close"\nid = "PJ-H05"\nbeds = 10', "beds",
     "unknown key 'beds' for action 'close'; allowed keys: action, label, note, id"),
    ("add-without-lon", _NEW_CHC + "lat = 41.1", "lon", "action 'add' needs 'lon'"),
    ("change-nothing", 'action = "change"\nid = "PJ-H05"', "id", "needs at least one of level, grade, kind"),
    ("bad-level", 'action = "change"\nid = "PJ-H05"\nlevel = "四级"', "level", "expected one of tertiary (三级)"),
    ("bad-kind", 'action = "change"\nid = "PJ-H05"\nkind = "医院"', "kind", "rehab (康复)"),
    ("bad-ownership", 'action = "change"\nid = "PJ-H05"\nownership = "公立"', "ownership", "city (市属)"),
    ("beds-negative", 'action = "change"\nid = "PJ-H05"\nbeds = -5', "beds", "expected a number ≥ 0"),
    ("beds-text", 'action = "change"\nid = "PJ-H05"\nbeds = "many"', "beds", "expected a finite number"),
    ("lon-nan", _NEW_CHC + "lon = nan\nlat = 41.1", "lon", "expected a finite number"),
    ("link-one-id", 'action = "link"\nids = ["PJ-H06"]', "ids", "at least two facility ids"),
    ("link-twice", 'action = "link"\nids = ["PJ-H06", "PJ-H06"]', "ids", "listed twice"),
    ("reserved-label", 'label = "all"\naction = "close"\nid = "PJ-H08"', "label", "reserved"),
    ("continuing-care-text", 'action = "change"\nid = "PJ-H07"\ncontinuing_care = "yes"', "continuing_care",
     "expected true or false"),
    ("bad-location-quality", _NEW_CHC + 'lon = 122.0\nlat = 41.1\nlocation_quality = "good"', "location_quality",
     "expected one of exact, street"),
    ("move-without-lat", 'action = "move"\nid = "PJ-H05"\nlon = 122.0', "lat", "action 'move' needs 'lat'"),
    ("move-with-beds", 'action = "move"\nid = "PJ-H05"\nlon = 122.0\nlat = 41.1\nbeds = 10', "beds",
     "unknown key 'beds' for action 'move'"),
    ("move-lat-text", 'action = "move"\nid = "PJ-H05"\nlon = 122.0\nlat = "north"', "lat",
     "expected a finite number"),
]


@pytest.mark.parametrize(("case", "lines", "field", "words"), CHANGE_CASES, ids=[c[0] for c in CHANGE_CASES])
def test_bad_changes_name_the_change_and_field(tmp_path, case, lines, field, words):
    path = tmp_path / f"{case}.toml"
    path.write_text(_panjin_text() + "\n[[changes]]\n" + lines + "\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.path == str(path.resolve())
    assert ei.value.row == "changes[0]"
    assert ei.value.field == field
    assert words in str(ei.value)


def test_two_changes_with_one_label(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(_panjin_text() + '\n[[changes]]\nlabel = "a"\naction = "close"\nid = "PJ-H08"\n'
                    '\n[[changes]]\nlabel = "a"\naction = "close"\nid = "PJ-H09"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"label 'a' is already used by changes\[0\]") as ei:
        load_scenario(path)
    assert ei.value.row == "changes[1]"


def test_changes_must_be_a_list_of_tables(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('changes = "upgrade"\n' + _panjin_text(), encoding="utf-8")
    with pytest.raises(InputError, match="expected a list of tables") as ei:
        load_scenario(path)
    assert ei.value.field == "changes"


def test_lead_inside_grid_is_a_boolean(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(_with(_panjin_text(), "plan", 'lead_inside_grid = "yes"'), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.field == "lead_inside_grid" and "expected bool" in str(ei.value)
    assert load_scenario(PANJIN).plan.lead_inside_grid is False  # the pilot plan's reading by default


def test_flow_contiguity_needs_the_lead_inside_its_grid():
    from simulator.plan.precheck import check_solver_names

    with pytest.raises(InputError) as ei:
        check_solver_names(load_scenario(PANJIN, {"solver.contiguity": "flow"}))
    assert ei.value.field == "solver.contiguity" and "plan.lead_inside_grid = true" in str(ei.value)
    check_solver_names(load_scenario(PANJIN, {"solver.contiguity": "flow", "plan.lead_inside_grid": True}))


# the [ems] section and the targets file (issue 15)
EMS_CASES = [
    ("ems-both-models", ["stations = 3", "coverage = 0.9"], "ems.stations", "not both"),
    ("ems-candidates", ['candidates = "hospitals"'], "candidates", "expected one of units, facilities"),
    ("ems-fixed-not-list", ['fixed = "PJ-H01"'], "fixed", "expected list[str]"),
    ("ems-unknown-key", ["station = 3"], "station", "unknown key 'station' in [ems]"),
    ("ems-stations-text", ['stations = "three"'], "stations", "expected int"),
]


@pytest.mark.parametrize(("case", "lines", "field", "words"), EMS_CASES, ids=[c[0] for c in EMS_CASES])
def test_ems_section_names_the_key(tmp_path, case, lines, field, words):
    text = _panjin_text()
    for line in lines:
        text = _with(text, "ems", line)
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.field == field and words in str(ei.value), str(ei.value)


TARGETS_CASES = [
    ("targets-unknown-id", 'targets = "atlantis-2030"', None, "targets", "unknown targets file 'atlantis-2030'"),
    ("targets-missing-file", 'targets = "mine.toml"', "mine.toml", "targets", "targets file not found"),
]


@pytest.mark.parametrize(("case", "line", "path_end", "field", "words"), TARGETS_CASES,
                         ids=[c[0] for c in TARGETS_CASES])
def test_targets_key_names_the_file(tmp_path, case, line, path_end, field, words):
    path = tmp_path / f"{case}.toml"
    path.write_text(_with(_panjin_text(), "", line), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.field == field and words in str(ei.value), str(ei.value)
    if path_end:
        assert ei.value.path == str(tmp_path / path_end)


def test_a_broken_targets_file_names_the_file_and_key(tmp_path):
    """A planner's copy of the targets file with a typo is refused when the scenario is read."""
    src = (ROOT / "simulator" / "config" / "targets" / "liaoning-2023.toml").read_text(encoding="utf-8")
    (tmp_path / "my_targets.toml").write_text(src.replace("norm = 0.4", 'norm = "40%"'), encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(_with(_panjin_text(), "", 'targets = "my_targets.toml"'), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.path == str(tmp_path / "my_targets.toml")
    assert ei.value.field == "target[1] (ems.negative_pressure).norm"
    assert "expected a finite number ≥ 0" in str(ei.value)


def test_a_targets_file_whose_per_contradicts_its_quantity_is_refused(tmp_path):
    """per = 50000 beside quantity ambulances_per_30000 would judge a per-30,000 figure by a per-50,000 norm."""
    src = (ROOT / "simulator" / "config" / "targets" / "liaoning-2023.toml").read_text(encoding="utf-8")
    assert src.count("per = 30000") == 1
    (tmp_path / "my_targets.toml").write_text(src.replace("per = 30000", "per = 50000"), encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(_with(_panjin_text(), "", 'targets = "my_targets.toml"'), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_scenario(path)
    assert ei.value.path == str(tmp_path / "my_targets.toml")
    assert ei.value.field == "target[0] (ems.ambulances).per"
    assert "quantity = 'ambulances_per_50000'" in str(ei.value)


def test_a_rule_file_with_readiness_norms_is_refused(tmp_path):
    """A planner's old copy of the rule file still holding [targets] (norms now in the targets file only)."""
    src = (ROOT / "simulator" / "config" / "rules" / "liaoning-2023.toml").read_text(encoding="utf-8")
    (tmp_path / "my_rules.toml").write_text(src + "\n[targets]\nambulances_per_30000 = 2.0\n", encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(_panjin_text().replace('rules = "liaoning-2023"', 'rules = "my_rules.toml"'), encoding="utf-8")
    from simulator.config.rules import load_rules

    with pytest.raises(InputError) as ei:  # the rule file is read when the plan starts, before any output
        load_rules(load_scenario(path).rules)
    assert ei.value.path == str(tmp_path / "my_rules.toml") and ei.value.field == "targets"
    assert "live in the targets file" in str(ei.value)
