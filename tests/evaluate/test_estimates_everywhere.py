"""Issue 10: wherever an estimated capacity appears, it says "estimate 估算" — one Panjin run, every output.

Panjin's hospital beds and outpatient figures are grade-rule estimates (geodata/build_facilities.py). The test reads
the facilities' ``beds_status`` / ``outpatient_status`` from plan.gpkg and checks each place a capacity, or a figure
taken from one, is shown: compliance.csv (rule 5), referrals.csv, report.html (rule rows, group tables, indicator
table) and the popups of map.html. It fails if one of them shows an estimated figure unmarked, or marks a fact.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from simulator import cli

ROOT = Path(__file__).resolve().parents[2]
EST = "estimate 估算"


def _est(status) -> bool:
    return str(status or "").strip().lower().startswith("estimate")


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("est") / "panjin"
    assert cli.main(["run", str(ROOT / "scenarios" / "panjin.toml"), "--out", str(out)]) == 0
    fac = gpd.read_file(out / "plan.gpkg", layer="facilities").set_index("facility_id")
    groups = pd.read_csv(out / "groups.csv", dtype=str, keep_default_na=False)
    lead_of = dict(zip(groups.loc[groups.role == "lead", "grid_id"], groups.loc[groups.role == "lead", "facility_id"],
                       strict=True))
    assert fac["beds_status"].map(_est).any() and fac["outpatient_status"].map(_est).any()
    return {"dir": out, "fac": fac, "groups": groups, "lead_of": lead_of}


def test_compliance_csv_marks_rule_5_on_estimated_capacities(run):
    comp = pd.read_csv(run["dir"] / "compliance.csv", dtype=str, keep_default_na=False)
    rows = comp[comp.rule_id.isin(("R5.outpatient", "R5.beds"))]
    assert len(rows)
    for r in rows.itertuples():
        col = "outpatient_status" if r.rule_id == "R5.outpatient" else "beds_status"
        assert (EST in r.required) == _est(run["fac"].at[run["lead_of"][r.scope], col]), r


def test_referrals_csv_carries_the_estimate_status_of_the_lead_capacity(run):
    ref = pd.read_csv(run["dir"] / "referrals.csv", dtype=str, keep_default_na=False)
    assert len(ref)
    for r in ref.itertuples():
        lead = run["fac"].loc[r.lead_facility_id]
        assert _est(r.reserved_outpatient_status) == _est(lead["outpatient_status"]), r
        assert _est(r.reserved_beds_status) == _est(lead["beds_status"]), r


def test_report_marks_every_estimated_capacity(run):
    page = (run["dir"] / "report.html").read_text(encoding="utf-8")
    fac = run["fac"]
    # rule rows of the compliance table
    rules = re.findall(r"<tr class='cg-rule' data-rule='(R5\.[a-z]+)' data-scope='([^']*)'>(.*?)</tr>", page, re.S)
    assert rules
    for rid, scope, body in rules:
        col = "outpatient_status" if rid == "R5.outpatient" else "beds_status"
        assert (EST in _text(body)) == _est(fac.at[run["lead_of"][scope], col]), (rid, scope)
    # group tables: each facility's beds and outpatient cells, and the reservations taken from the lead's figures
    members = re.findall(r"<tr class='cg-member' data-facility='([^']*)' data-role='([^']*)'[^>]*>(.*?)</tr>", page,
                         re.S)
    assert members
    checked = 0
    for fid, _role, body in members:
        cells = dict(re.findall(r"<td class='(beds|opd|slots|rbeds)'>(.*?)</td>", body, re.S))
        for cell, col in (("beds", "beds_status"), ("opd", "outpatient_status")):
            assert (EST in _text(cells[cell])) == _est(fac.at[fid, col]), (fid, cell, cells[cell])
            checked += _est(fac.at[fid, col])
    assert checked
    # the indicator table: beds per 1,000 of a group whose bed figures include estimates
    row = re.search(r"<tr><td class='l'>Beds /1,000 每千人床位</td>(.*?)</tr>", page, re.S)
    assert row and "class='estimated'" in row.group(1) and EST in _text(row.group(1))


def _popups(page: str) -> dict[str, dict[str, str]]:
    """facility id → {row label: row text} of every facility popup of map.html."""
    out, dec = {}, json.JSONDecoder()
    for m in re.finditer(r'bindPopup\("', page):
        fragment, _ = dec.raw_decode(page[m.end() - 1:])
        if "cg-popup" not in fragment:
            continue
        fid = _text(re.search(r'<div style="color:#555">(.*?)</div>', fragment).group(1))
        out[fid] = {_text(a): _text(b) for a, b in re.findall(r"<tr><td><b>(.*?)</b></td><td>(.*?)</td></tr>",
                                                             fragment, re.S)}
    return out


def test_map_popups_mark_estimated_beds_and_outpatient_figures(run):
    popups = _popups((run["dir"] / "map.html").read_text(encoding="utf-8"))
    fac = run["fac"]
    assert len(popups) >= len(run["lead_of"])
    marked = 0
    for fid, rows in popups.items():
        for label, col in (("Beds 床位", "beds_status"), ("Outpatient/day 日门诊量", "outpatient_status")):
            assert (EST in rows[label]) == _est(fac.at[fid, col]), (fid, label, rows[label])
            marked += _est(fac.at[fid, col])
        if fid in run["lead_of"].values():  # the plan's reservation is a share of the lead's estimated figures
            reserved = rows["Reserved for primary care 下沉"]
            estimated = _est(fac.at[fid, "beds_status"]) or _est(fac.at[fid, "outpatient_status"])
            assert (EST in reserved) == estimated, (fid, reserved)
    assert marked
