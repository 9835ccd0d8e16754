"""caregrid compare / sweep / report on real scenario runs, checked against values read back independently."""

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from simulator import cli

ROOT = Path(__file__).resolve().parents[1]
PANJIN = str(ROOT / "scenarios" / "panjin.toml")
FUXIN = str(ROOT / "scenarios" / "fuxin.toml")
FUXIN_DISTRICTS = str(ROOT / "scenarios" / "fuxin_district_layout.toml")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    a, b, fx = base / "pj_opt", base / "pj_layout", base / "fx_layout"
    assert cli.main(["run", PANJIN, "--out", str(a)]) == 0
    # a planner's layout: the optimised one with the 20 northernmost units of G2 handed to G1
    units = gpd.read_file(a / "plan.gpkg", layer="units")
    y = units.geometry.representative_point().y
    g2 = y[units.grid_id == "G2"].sort_values(ascending=False).head(20).index
    grid = units.grid_id.copy()
    grid[g2] = "G1"
    pd.DataFrame({"unit_id": units.unit_id, "grid_id": grid}).to_csv(base / "layout.csv", index=False)
    assert cli.main(["run", PANJIN, "--out", str(b), "--set", 'plan.mode="given_layout"',
                     "--set", f'plan.layout="{base / "layout.csv"}"']) == 0
    fxu = base / "fxu"
    assert cli.main(["units", FUXIN, "--out", str(fxu), "--set", "units.resolution=7"]) == 0
    fu = gpd.read_file(fxu / "units.gpkg", layer="units")
    pd.DataFrame({"unit_id": fu.unit_id, "grid_id": np.where(fu.district == "210903", "East", "West")}).to_csv(
        base / "fx_layout.csv", index=False)
    assert cli.main(["run", FUXIN, "--out", str(fx), "--set", "units.resolution=7", "--set",
                     'plan.mode="given_layout"', "--set", f'plan.layout="{base / "fx_layout.csv"}"']) == 0
    fxd = base / "fx_districts"  # one grid per district: 4 of 5 grids have no lead
    assert cli.main(["run", FUXIN_DISTRICTS, "--out", str(fxd)]) == 0
    return {"a": a, "b": b, "fx": fx, "fxd": fxd, "moved": set(units.unit_id[g2]), "base": base}


def md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """The pipe tables of a markdown file, keyed by the heading above each (rows as dicts of cell text)."""
    tables, heading, rows, header = {}, "", None, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header, rows = cells, []
            elif not set("".join(cells)) <= {"-"}:
                rows.append(dict(zip(header, cells, strict=True)))
        elif header is not None:
            tables[heading], header = rows, None
    return tables


def num(cell: str) -> float:
    """The figure of a cell as people read it: "1,166,481", "87.4%" (→ 0.874), "+3.1 pp" (→ 0.031), "9.6 (served…)"."""
    text = cell.split(" (")[0].replace(",", "").replace("+", "")
    if not text or text.startswith("not comparable"):
        return float("nan")
    if text.endswith("%") or text.endswith(" pp"):
        return float(text.removesuffix("%").removesuffix(" pp")) / 100
    return float(text)


#: how precisely compare.md shows a figure of each kind
TOLERANCE = {"count": 0.5, "share": 5e-4, "minutes": 0.05, "number": 5e-3}


def test_compare_two_layouts_of_one_city(runs, capsys):
    out = runs["base"] / "cmp_same"
    assert cli.main(["compare", str(runs["a"]), str(runs["b"]), "--out", str(out)]) == 0
    table = pd.read_csv(out / "compare.csv")
    ia = pd.read_csv(runs["a"] / "indicators.csv").set_index("grid_id").loc["city"]
    ib = pd.read_csv(runs["b"] / "indicators.csv").set_index("grid_id").loc["city"]
    row = table.set_index("indicator").loc["travel_mean_min"]
    delta_col = [c for c in table.columns if c.startswith("Δ")][0]
    assert row[delta_col] == pytest.approx(ib["travel_mean_min"] - ia["travel_mean_min"])
    assert ib["travel_mean_min"] > ia["travel_mean_min"]  # the optimum got worse by hand-moving units
    changed = pd.read_csv(out / "changed_units.csv")
    assert set(changed.unit_id) == runs["moved"]
    check_markdown(out / "compare.md", runs["a"], runs["b"], changed=runs["moved"])
    page = (out / "compare_table.html").read_text(encoding="utf-8")
    assert page.count("<table>") == 3 and "compare.html" in page


def check_markdown(md: Path, run_a: Path, run_b: Path, changed: set | None) -> None:
    """compare.md against the two runs' own files (indicators.csv, compliance.csv, plan.gpkg)."""
    tables = md_tables(md.read_text(encoding="utf-8"))
    ind = {k: pd.read_csv(r / "indicators.csv").set_index("grid_id") for k, r in (("a", run_a), ("b", run_b))}
    comp = {k: pd.read_csv(r / "compliance.csv") for k, r in (("a", run_a), ("b", run_b))}
    meta = pd.read_csv(md.parent / "compare.csv").set_index("indicator")
    rows = {r["indicator 指标"]: r for r in tables["Scenario comparison 方案比较"]}
    header = list(tables["Scenario comparison 方案比较"][0])
    assert "normalised" not in header and "kind" not in header  # no internal columns
    name_a, name_b = header[1:3]
    facts = {
        "grids": {k: float((v.index != "city").sum()) for k, v in ind.items()},
        "rules_failed": {k: float((v["status"] == "failed").sum()) for k, v in comp.items()},
    }
    for col in ("travel_mean_min", "share_within_access", "beds_per_1000", "population", "polsby_popper",
                "unserved_residents", "unserved_share"):
        facts[col] = {k: float(v.loc["city", col]) for k, v in ind.items()}
    served = all(f == 0 for f in facts["unserved_residents"].values())
    for col, vals in facts.items():
        row, kind = rows[meta.loc[col, "label"]], meta.loc[col, "kind"]
        tol = TOLERANCE[kind]
        assert num(row[name_a]) == pytest.approx(vals["a"], abs=tol), col
        assert num(row[name_b]) == pytest.approx(vals["b"], abs=tol), col
        delta = num(row[f"Δ {name_b}"])
        if meta.loc[col, "normalised"] and (served or col != "travel_mean_min"):
            assert delta == pytest.approx(vals["b"] - vals["a"], abs=2 * tol), col
        else:
            assert np.isnan(delta), col  # absolute sizes are not differenced, nor minutes of some residents only
    for r in tables["Compliance 规则核查"]:
        for k, name in (("a", name_a), ("b", name_b)):
            sub = comp[k][comp[k]["rule_id"] == r["rule_id"]]
            if (sub["scope"] == "city").all():
                assert r[name] == ("passed" if sub["passed"].all() else "FAILED")
            else:  # grid rules count every grid of the run
                n_grids = int((ind[k].index != "city").sum())
                assert r[name].startswith(f"{int(sub['passed'].sum())}/{n_grids} grids passed")
    if changed is not None:
        units = gpd.read_file(run_a / "plan.gpkg", layer="units")
        (row,) = tables["Units that changed lead hospital 调整单元"]
        assert int(row["units"]) == len(changed)
        assert num(row["residents"]) == units.loc[units["unit_id"].isin(changed), "population"].sum()


def test_failing_layout_never_ranks_better_than_a_compliant_plan(runs):
    """Fuxin's one-grid-per-district layout (4 of 5 grids without a lead) against Panjin's compliant plan: on no
    access figure is the failing layout the better one, its minutes stand beside its unserved count, and the
    compliance summary counts all five grids."""
    out = runs["base"] / "cmp_fair"
    assert cli.main(["compare", str(runs["a"]), str(runs["fxd"]), "--out", str(out)]) == 0
    table = pd.read_csv(out / "compare.csv").set_index("indicator")
    pj, fx = table.columns[3], table.columns[4]
    assert table.loc["unserved_residents", fx] > 500_000 and table.loc["unserved_residents", pj] == 0
    access = ["unserved_share", "share_within_access", "share_within_primary_care", "travel_mean_min", "travel_p90_min"]
    for col in access:
        assert table.loc[col, "best 最优"] == pj, col
    assert table.loc["share_within_access", fx] < table.loc["share_within_access", pj]
    assert table.loc["share_within_primary_care", fx] < table.loc["share_within_primary_care", pj]
    assert np.isnan(table.loc["travel_mean_min", f"Δ {fx}"])  # no "7.3 min better"
    md = md_tables((out / "compare.md").read_text(encoding="utf-8"))
    rows = {r["indicator 指标"]: r for r in md["Scenario comparison 方案比较"]}
    mean = rows[table.loc["travel_mean_min", "label"]]
    assert "540,257 unserved" in mean[fx] and "served" in table.loc["travel_mean_min", "label"]
    assert mean[pj] == f"{table.loc['travel_mean_min', pj]:.1f}"
    assert rows[table.loc["population", "label"]][pj] == "1,166,481"
    ind = pd.read_csv(runs["a"] / "indicators.csv").set_index("grid_id").loc["city"]
    beds = rows[table.loc["beds_per_1000", "label"]][pj]
    assert ind["beds_estimated_share"] > 0 and f"estimate 估算: {ind['beds_estimated_share']:.0%} of group beds" in beds
    comp = {r["rule_id"]: r[fx] for r in md["Compliance 规则核查"]}
    assert comp["R4.collaborating"].startswith("1/5 grids passed")
    check_markdown(out / "compare.md", runs["a"], runs["fxd"], changed=None)


def test_compare_two_cities_is_normalised_and_has_no_unit_diff(runs):
    out = runs["base"] / "cmp_cities"
    assert cli.main(["compare", str(runs["fx"]), str(runs["a"]), "--out", str(out)]) == 0
    assert not (out / "changed_units.csv").exists()
    table = pd.read_csv(out / "compare.csv").set_index("indicator")
    delta_col = [c for c in table.columns if c.startswith("Δ")][0]
    assert np.isnan(table.loc["population", delta_col])  # absolute sizes are not differenced
    assert table.loc["rules_failed"].iloc[3] > 0  # the Fuxin district layout fails rules
    check_markdown(out / "compare.md", runs["fx"], runs["a"], changed=None)
    assert "Units that changed" not in (out / "compare.md").read_text(encoding="utf-8")


def test_compare_three_runs(runs, capsys):
    """More than two runs: the tables hold all of them; the side-by-side map (two panes) is left out."""
    out = runs["base"] / "cmp_three"
    capsys.readouterr()
    assert cli.main(["compare", str(runs["a"]), str(runs["b"]), str(runs["fx"]), "--out", str(out)]) == 0
    console = capsys.readouterr().out
    assert "1,166,481" in console and "compare.html" not in console  # counts for people; only files written
    assert len(md_tables((out / "compare.md").read_text(encoding="utf-8"))["Compliance 规则核查"][0]) == 4
    table = pd.read_csv(out / "compare.csv")
    assert len([c for c in table.columns if c.startswith("Δ")]) == 2
    assert not (out / "compare.html").exists()
    assert "compare.html" not in (out / "compare_table.html").read_text(encoding="utf-8")


def test_estimated_capacities_are_marked_in_compliance_csv(runs):
    """Panjin's leads carry estimated beds and slots (grade rule): rule 5's required text says so."""
    fac = gpd.read_file(runs["a"] / "plan.gpkg", layer="facilities").set_index("facility_id")
    comp = pd.read_csv(runs["a"] / "compliance.csv")
    groups = pd.read_csv(runs["a"] / "groups.csv")
    lead = groups[groups.role == "lead"].set_index("grid_id")["facility_id"]
    checked = 0
    for _, r in comp[comp.rule_id.str.startswith("R5.")].iterrows():
        status = fac.loc[lead[r.scope], "beds_status" if r.rule_id == "R5.beds" else "outpatient_status"]
        assert ("estimate 估算" in r.required) == str(status).startswith("estimate"), r.required
        checked += str(status).startswith("estimate")
    assert checked  # the embedded roster's leads have estimated capacities


def test_compare_needs_complete_run_folders(runs, capsys):
    assert cli.main(["compare", str(runs["a"]), str(runs["base"]), "--out", str(runs["base"] / "x")]) == 2
    assert "not a complete run folder" in capsys.readouterr().err


def test_report_is_self_contained_and_shows_failures(runs):
    html = (runs["fx"] / "report.html").read_text(encoding="utf-8")
    comp = pd.read_csv(runs["fx"] / "compliance.csv")
    for rid in comp.rule_id:
        assert rid in html
    assert html.count("FAILED 未通过") == int((comp.status == "failed").sum())
    assert html.count("<td class='pass'>passed 通过</td>") == int(comp.passed.sum())
    assert f"{int((comp.status == 'failed').sum())} rule check(s) failed 未通过" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "report must not load anything from the internet"
    assert html.count("data:image/png;base64,") >= 3


def test_sweep_marks_failing_variants(tmp_path):
    out = tmp_path / "sweep"
    assert cli.main(["sweep", PANJIN, "--set", "grids=2..3", "--out", str(out), "--jobs", "1"]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["grids.count"]) == [2, 3]
    ok, bad = table.iloc[0], table.iloc[1]
    assert ok.passed and ok.status == "optimal"
    # the embedded Panjin roster has 2 units with a secondary hospital: 3 grids cannot all satisfy rule 3
    assert not bad.passed and bad.status == "no plan" and bad.failed_rules == "R3.member" and bad.exit_code == 3
    assert (out / "sweep.png").stat().st_size > 10_000
    assert "**FAILS**" in (out / "sweep.md").read_text(encoding="utf-8")
    v1 = out / "variants" / table.variant[0]
    ind = pd.read_csv(v1 / "indicators.csv").set_index("grid_id").loc["city"]
    assert ok.travel_mean_min == pytest.approx(ind.travel_mean_min)
