"""report.html tells the whole plan: each 医疗集团 with its facilities and referral reservations, estimates marked.

Expected values come from the run folder's own files (groups.csv, referrals.csv, the facilities layer of plan.gpkg);
the report is read as a person sees it, in headless Chromium (fixtures in conftest.py).
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd

from simulator.render.figures import estimate_note, figure_text, is_estimate

READY = "document.querySelectorAll('section.cg-group').length > 0"
#: each group row as the DOM shows it
ROWS_JS = """els => els.map(tr => ({
    grid: tr.closest('section').dataset.grid, facility: tr.dataset.facility, role: tr.dataset.role,
    name: tr.querySelector('td.name').innerText, sim_in_name: tr.querySelectorAll('td.name .sim').length,
    beds: tr.querySelector('td.beds').innerText, opd: tr.querySelector('td.opd').innerText,
    res: tr.querySelector('td.res').innerText, slots: tr.querySelector('td.slots').innerText,
    sim_in_slots: tr.querySelectorAll('td.slots .sim, td.rbeds .sim').length,
    rbeds: tr.querySelector('td.rbeds').innerText}))"""


def _facilities(run_dir) -> pd.DataFrame:
    fac = gpd.read_file(run_dir / "plan.gpkg", layer="facilities")
    fac["modelled"] = fac["modelled"].astype(bool)
    return fac.set_index("facility_id")


def _report_rows(run_dir, open_page) -> tuple[pd.DataFrame, list[str]]:
    seen = open_page(run_dir / "report.html", READY)
    rows = pd.DataFrame(seen.page.eval_on_selector_all("section.cg-group tr.cg-member", ROWS_JS))
    headings = seen.page.eval_on_selector_all("section.cg-group h3", "els => els.map(e => e.innerText)")
    assert seen.errors == [] and seen.external == []
    return rows, headings


def test_report_lists_each_medical_group(run_dir, open_page):
    rows, headings = _report_rows(run_dir, open_page)
    groups = pd.read_csv(run_dir / "groups.csv", dtype=str)
    referrals = pd.read_csv(run_dir / "referrals.csv", dtype={"grid_id": str, "facility_id": str})
    fac = _facilities(run_dir)
    # every facility of every group, in its role: lead, members, cross-grid institutions, collaborating units
    assert set(groups["role"]) >= {"lead", "member", "cross_grid", "collaborating"}
    assert Counter(zip(rows.grid, rows.facility, rows.role, strict=True)) == Counter(
        zip(groups.grid_id, groups.facility_id, groups.role, strict=True)
    )
    for lead in groups[groups["role"] == "lead"].itertuples():  # the heading names the group's lead
        assert any(h.startswith(f"Grid 网格 {lead.grid_id} ") and lead.name in h for h in headings), headings
    # the referral reservation of each primary-care member, as referrals.csv has it
    got = rows.set_index(["grid", "facility"])
    assert len(referrals) > 0
    for r in referrals.itertuples():
        row = got.loc[(r.grid_id, r.facility_id)]
        assert row.res == f"{r.residents_served:,.0f}"
        assert row.slots.split()[0] == f"{r.reserved_outpatient_slots:,.0f}"
        assert row.rbeds.split()[0] == f"{r.reserved_beds:,.0f}"
        # modelled facilities are marked 模拟 next to the name and next to the numbers they receive
        modelled = bool(fac.loc[r.facility_id, "modelled"])
        assert (row.sim_in_name, row.sim_in_slots) == ((1, 2) if modelled else (0, 0)), r.facility_id
        assert ("模拟" in row.slots) == modelled
    assert fac.loc[referrals["facility_id"], "modelled"].any()  # Panjin's primary care is modelled: the mark shows
    # rows without a reservation (hospitals, collaborating units) show none; real facilities carry no mark
    reserved = list(zip(referrals.grid_id, referrals.facility_id, strict=True))
    no_ref = ~rows.set_index(["grid", "facility"]).index.isin(reserved)
    assert (rows.loc[no_ref & (rows.role != "lead"), "res"] == "").all()
    real = ~rows.facility.map(fac["modelled"]).fillna(False).astype(bool)
    assert (rows.loc[real, "sim_in_name"] == 0).all()


def test_estimated_figures_are_marked_in_the_report(run_dir, open_page):
    rows, _ = _report_rows(run_dir, open_page)
    fac = _facilities(run_dir)
    rows = rows.drop_duplicates("facility")
    checked = 0
    for r in rows.itertuples():
        f = fac.loc[r.facility]
        for shown, value, status in ((r.beds, f.beds, f.beds_status), (r.opd, f.outpatient_daily, f.outpatient_status)):
            if pd.isna(value):
                assert shown == "no data 无数据"
            elif is_estimate(status):
                assert "estimate 估算" in shown, (r.facility, shown)
                checked += 1
            else:
                assert "估算" not in shown and "≥" not in shown, (r.facility, shown)
    assert checked > 0
    # the lead's reservation is a share of its estimated figures: so marked, at the lead and at each member
    lead = rows[rows.role == "lead"].iloc[0]
    assert is_estimate(fac.loc[lead.facility, "outpatient_status"])
    assert "estimate 估算" in lead.slots
    members = rows[rows.res != ""]
    assert members.slots.str.contains("estimate 估算").all()


def test_indicators_built_on_estimates_are_marked(run_dir, open_page):
    from simulator.config.labels import INDICATORS

    seen = open_page(run_dir / "report.html", READY)
    table = seen.page.eval_on_selector_all(
        "table tr", "els => els.map(tr => Array.from(tr.children).map(td => td.innerText))"
    )
    by_label = {r[0]: r[1:] for r in table if r}
    beds = by_label[INDICATORS["beds_per_1000"].short]
    assert beds and all("estimate 估算" in c for c in beds), beds  # Panjin's leads have grade-rule beds
    residents = by_label[INDICATORS["population"].short]
    assert not any("估算" in c for c in residents)


def test_estimated_figures_are_marked_in_the_map_popup(run_dir, open_page, map_ready):
    seen = open_page(run_dir / "map.html", map_ready)
    page = seen.page
    fac = _facilities(run_dir)
    groups = pd.read_csv(run_dir / "groups.csv", dtype=str)
    marker = page.locator(".cg-fac.cg-role-lead").first
    marker.dispatch_event("click")
    page.wait_for_function("document.querySelector('.cg-popup') !== null")
    popup = page.inner_text(".cg-popup")
    lead = [fid for fid in groups.loc[groups["role"] == "lead", "facility_id"] if fid in popup]
    assert len(lead) == 1
    f = fac.loc[lead[0]]
    assert figure_text(f.beds, f.beds_status) in popup
    assert figure_text(f.outpatient_daily, f.outpatient_status) in popup
    assert "Outpatient/day 日门诊量" in popup
    if is_estimate(f.beds_status):
        assert "estimate 估算" in popup


def test_figure_text():
    rule = "estimate (rule in geodata/build_facilities.py: 医疗机构基本标准 1994 level lower bound)"
    assert figure_text(500.0, rule, "beds") == "≥ 500 beds (estimate 估算: grade rule 等级标准下限)"
    assert figure_text(120, "estimate (low-confidence SEO page: 120 beds)") == (
        "120 (estimate 估算: low-confidence SEO page: 120 beds)"
    )
    assert figure_text(1200, "fact (annual report 2023)") == "1,200"
    assert figure_text(float("nan"), "gap") == "no data 无数据"
    assert figure_text(None, "") == "no data 无数据"
    assert estimate_note("fact (x)") == "" and estimate_note("estimate") == "(estimate 估算)"


def test_rule_checks_built_on_estimates_are_marked(run_dir, open_page):
    seen = open_page(run_dir / "report.html", READY)
    rows = seen.page.eval_on_selector_all(
        "tr.cg-rule",
        "els => els.map(tr => [tr.dataset.rule, tr.dataset.scope, tr.children[3].innerText, tr.children[4].innerText])",
    )
    comp = pd.read_csv(run_dir / "compliance.csv", dtype=str)
    assert [(r[0], r[1]) for r in rows] == list(zip(comp.rule_id, comp.scope, strict=True))
    fac = _facilities(run_dir)
    groups = pd.read_csv(run_dir / "groups.csv", dtype=str)
    lead_of = dict(zip(groups.loc[groups.role == "lead", "grid_id"], groups.loc[groups.role == "lead", "facility_id"],
                       strict=True))
    checked = 0
    for rule, scope, required, actual in rows:
        if rule in ("R5.outpatient", "R5.beds"):
            status = fac.loc[lead_of[scope], "outpatient_status" if rule == "R5.outpatient" else "beds_status"]
            marked = is_estimate(status)
            assert ("estimate 估算" in required and "estimate 估算" in actual) == marked, (rule, scope, required)
            assert required.count("估算") <= 1, required  # marked once, whether by compliance.csv or the report
            checked += marked
        elif rule.startswith(("R1", "R2", "R3", "R4", "R6")):
            assert "估算" not in required + actual, (rule, required, actual)
    assert checked >= 2  # Panjin's leads have grade-rule outpatient and bed figures
