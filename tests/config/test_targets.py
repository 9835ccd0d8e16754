"""The targets file: the bundled one loads with a quoted source per target; a broken one names file and key;
targets.csv statuses follow the figures (passed / failed / no_data)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.config.rules import STATUSES
from simulator.config.targets import SCOPES, available_target_sets, load_targets, parse_targets
from simulator.errors import InputError
from simulator.evaluate.targets_table import TARGET_COLUMNS, merge_figures, targets_table

BUNDLED = Path(__file__).resolve().parents[2] / "simulator" / "config" / "targets" / "liaoning-2023.toml"


def _raw() -> dict:
    return tomllib.loads(BUNDLED.read_text(encoding="utf-8"))


def test_bundled_targets_load_with_sources():
    ts = load_targets()
    assert ts.id == "liaoning-2023" and "liaoning-2023" in available_target_sets()
    assert {"ems.ambulances", "ems.negative_pressure", "ems.aeds", "staff.nurses_per_doctor"} <= {t.id for t in ts}
    for t in ts:
        assert t.source.quote and t.source.document and set(t.scopes) <= set(SCOPES)
        assert re.search(r"[\u4e00-\u9fff]", t.source.quote), t.id  # the words as the plans write them
        assert t.text_zh and t.text_en
    amb = ts.get("ems.ambulances")
    assert (amb.norm, amb.per, amb.comparison) == (1.0, 30000.0, "at_least")
    assert "每3万人口配置1辆救护车" in amb.source.quote
    assert ts.get("ems.negative_pressure").norm == 0.4 and "40%" in ts.get("ems.negative_pressure").source.quote
    aeds = ts.get("ems.aeds")
    assert (aeds.norm, aeds.per, aeds.year) == (1.0, 10000.0, 2025) and "到2025年" in aeds.source.quote


BROKEN = [
    ("unknown-key", lambda r: r["target"][0].update(minimum=1), "target[0] (ems.ambulances).minimum", "unknown key"),
    ("missing-quote", lambda r: r["target"][2]["source"].pop("quote"), "target[2] (ems.aeds).source.quote", "lacks"),
    ("missing-norm", lambda r: r["target"][0].pop("norm"), "target[0] (ems.ambulances).norm", "lacks 'norm'"),
    ("bad-comparison", lambda r: r["target"][0].update(comparison=">="), "target[0] (ems.ambulances).comparison",
     "expected one of at_least, at_most, between"),
    ("between-without-max", lambda r: r["target"][0].update(comparison="between"),
     "target[0] (ems.ambulances).norm_max", "needs norm_max"),
    ("max-below-norm", lambda r: r["target"][0].update(comparison="between", norm_max=0.5),
     "target[0] (ems.ambulances).norm_max", "is below norm"),
    ("norm-text", lambda r: r["target"][1].update(norm="40%"), "target[1] (ems.negative_pressure).norm",
     "expected a finite number ≥ 0"),
    ("per-zero", lambda r: r["target"][0].update(per=0), "target[0] (ems.ambulances).per", "> 0"),
    # a rate quantity counts per its own number of residents: a different per would judge one figure by another's norm
    ("per-not-the-quantitys", lambda r: r["target"][0].update(per=50000), "target[0] (ems.ambulances).per",
     "expected per = 30000, or quantity = 'ambulances_per_50000'"),
    ("bad-scope", lambda r: r["target"][0].update(scopes=["county"]), "target[0] (ems.ambulances).scopes",
     "expected a list of distinct values among grid, district, city"),
    ("twice-a-scope", lambda r: r["target"][0].update(scopes=["grid", "grid"]), "target[0] (ems.ambulances).scopes",
     "distinct"),
    ("bad-year", lambda r: r["target"][2].update(year="2025年"), "target[2] (ems.aeds).year", "expected a year"),
    ("duplicate-id", lambda r: r["target"][1].update(id="ems.ambulances"), "target[1].id", "used twice"),
    ("no-targets", lambda r: r.pop("target"), "target", "no [[target]] tables"),
    ("top-level-typo", lambda r: r.update(titel="x"), "titel", "unknown key 'titel'"),
]


@pytest.mark.parametrize(("case", "edit", "field", "words"), BROKEN, ids=[c[0] for c in BROKEN])
def test_a_broken_targets_file_names_the_key(case, edit, field, words):
    raw = _raw()
    edit(raw)
    with pytest.raises(InputError) as ei:
        parse_targets(raw, "my_targets.toml")
    assert ei.value.field == field and words in str(ei.value), str(ei.value)
    assert ei.value.path == "my_targets.toml"


def test_file_level_errors(tmp_path):
    with pytest.raises(InputError, match="unknown targets file 'nowhere'") as ei:
        load_targets("nowhere")
    assert ei.value.field == "targets"
    bad = tmp_path / "t.toml"
    bad.write_text("id = [", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML") as ei:
        load_targets(str(bad))
    assert ei.value.path == str(bad)
    gbk = tmp_path / "g.toml"
    gbk.write_bytes('id = "中文"'.encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_targets(str(gbk))


def test_a_planner_can_add_a_target(tmp_path):
    """The format is open: a new row with a new quantity loads and is judged from whichever table holds it."""
    text = BUNDLED.read_text(encoding="utf-8") + '''
[[target]]
id = "teams.per_10000"
text_en = "Family-doctor teams per 10,000 residents"
text_zh = "每万人家庭医生团队"
quantity = "teams_per_10000"
comparison = "between"
norm = 2
norm_max = 4
unit = "teams per 10,000 residents"
scopes = ["grid"]
[target.source]
quote = "示例"
document = "a test"
url = ""
'''
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    ts = load_targets(str(path))
    t = ts.get("teams.per_10000")
    assert t.target_text == "2–4 teams per 10,000 residents"
    assert [t.passes(v) for v in (1.9, 2, 3, 4, 4.1)] == [False, True, True, True, False]


def test_targets_table_statuses():
    ts = load_targets()
    figures = pd.DataFrame({
        "scope": ["grid", "grid", "district", "city"],
        "scope_id": ["G1", "G2", "211103", "city"],
        "scope_name": ["G1", "G2", "兴隆台区", "city"],
        "ambulances_per_30000": [1.2, 0.5, np.nan, 0.9],
    })
    other = pd.DataFrame({"scope": ["grid"], "scope_id": ["G1"], "aeds_per_10000": [1.0]})
    table = targets_table(ts, [figures, other])
    assert tuple(table.columns) == TARGET_COLUMNS
    assert set(table["status"]) <= set(STATUSES)
    amb = table[table["target_id"] == "ems.ambulances"].set_index("scope_id")
    assert amb["status"].to_dict() == {"G1": "passed", "G2": "failed", "211103": "no_data", "city": "failed"}
    assert amb.loc["G1", "source_quote"] == ts.get("ems.ambulances").source.quote
    assert amb.loc["G1", "target"] == "≥ 1 ambulances per 30,000 residents"
    aeds = table[table["target_id"] == "ems.aeds"].set_index("scope_id")["status"].to_dict()
    assert aeds == {"G1": "passed", "G2": "no_data", "211103": "no_data", "city": "no_data"}  # 1.0 meets "≥ 1"
    # a quantity no table holds is no_data everywhere, never failed
    assert set(table.loc[table["target_id"] == "staff.nurses_per_doctor", "status"]) == {"no_data"}
    # scopes a target does not list get no row (the five centres are judged per district and city)
    assert "grid" not in set(table.loc[table["target_id"] == "centres.stroke", "scope"])


def test_merge_figures_outer_joins_on_scope():
    a = pd.DataFrame({"scope": ["grid"], "scope_id": ["G1"], "scope_name": ["G1"], "x": [1.0]})
    b = pd.DataFrame({"scope": ["grid", "grid"], "scope_id": ["G1", "G2"], "y": [2.0, 3.0], "x": [9.0, 9.0]})
    m = merge_figures([a, b]).set_index("scope_id")
    assert m.loc["G1", "x"] == 1.0 and m.loc["G2", "y"] == 3.0 and np.isnan(m.loc["G2", "x"])
