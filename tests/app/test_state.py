"""The workspace: edits, undo/redo, autosave and reopening, atomic writes, saved scenarios that `caregrid run`
reproduces, facility moves."""

from __future__ import annotations

import json
import os
import tomllib

import geopandas as gpd
import numpy as np
import pytest

from simulator import cli
from simulator.app.state import JOURNAL, Workspace
from simulator.app.toml import dumps_toml
from simulator.errors import InputError


def test_undo_redo_every_edit_kind(workspace):
    ids = workspace.unit_ids[workspace.labels == "甲区"]  # units of the west district
    start = workspace.labels.copy()
    workspace.assign(ids[:3].tolist(), "乙区")
    after_paint = workspace.labels.copy()
    workspace.assign(ids[3:5].tolist(), "新网格", new_grid=True)
    workspace.lock(ids[:2].tolist(), True)
    workspace.merge("新网格", "甲区")
    assert "新网格" not in workspace.grids and workspace.locked[workspace.unit_index(ids[:2].tolist())].all()
    for _ in range(4):
        assert workspace.undo() is not None
    assert workspace.undo() is None
    assert (workspace.labels == start).all() and not workspace.locked.any()
    assert workspace.redo() is not None
    assert (workspace.labels == after_paint).all()
    workspace.assign(ids[10:11].tolist(), "乙区")  # a new edit clears the redo stack
    assert workspace.redo() is None


def test_every_edit_is_autosaved_and_reopens(workspace):
    ids = workspace.unit_ids[workspace.labels == "甲区"]
    workspace.assign(ids[:4].tolist(), "乙区")
    workspace.lock(ids[5:7].tolist(), True)
    workspace.change_facility({"action": "move", "id": "T3", "lon": 122.03, "lat": 41.06})
    workspace.undo()
    workspace.redo()
    # a "crash": nothing is closed or flushed by hand; the folder alone restores the workspace
    again = Workspace.open(workspace.folder)
    assert (again.labels == workspace.labels).all()
    assert (again.locked == workspace.locked).all()
    assert again.changes == workspace.changes
    assert again.undo_stack == workspace.undo_stack and again.redo_stack == workspace.redo_stack
    f = again.city.facilities.set_index("facility_id")
    assert (f.at["T3", "lon"], f.at["T3", "lat"], f.at["T3", "location_quality"]) == (122.03, 41.06, "exact")
    again.undo()
    assert again.changes == [] and Workspace.open(workspace.folder).changes == []


def test_an_edit_that_cannot_be_written_is_not_done(workspace, monkeypatch):
    ids = workspace.unit_ids[workspace.labels == "甲区"]
    workspace.assign(ids[:1].tolist(), "乙区")
    labels, stack = workspace.labels.copy(), list(workspace.undo_stack)
    journal = (workspace.folder / JOURNAL).read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        workspace.assign(ids[1:3].tolist(), "乙区")
    with pytest.raises(OSError):
        workspace.undo()
    with pytest.raises(OSError):
        workspace.change_facility({"action": "move", "id": "T3", "lon": 122.03, "lat": 41.06})
    assert (workspace.labels == labels).all() and workspace.undo_stack == stack and workspace.changes == []
    assert workspace.city.facilities.set_index("facility_id").at["T3", "location_quality"] == "district_seat"
    assert (workspace.folder / JOURNAL).read_bytes() == journal
    monkeypatch.undo()
    assert (Workspace.open(workspace.folder).labels == labels).all()


def test_a_torn_journal_line_is_dropped(workspace):
    ids = workspace.unit_ids[workspace.labels == "甲区"]
    workspace.assign(ids[:2].tolist(), "乙区")
    labels = workspace.labels.copy()
    with (workspace.folder / JOURNAL).open("a", encoding="utf-8") as fh:
        fh.write('{"v": 2, "op": "do", "edit": {"kind": "assi')  # a crash while appending
    again = Workspace.open(workspace.folder)
    assert (again.labels == labels).all() and len(again.undo_stack) == 1
    again.assign(ids[2:3].tolist(), "乙区")  # the journal goes on cleanly after the cut
    assert len(Workspace.open(workspace.folder).undo_stack) == 2


def test_compaction_and_a_crash_between_snapshot_and_journal(workspace, monkeypatch):
    import simulator.app.state as state

    monkeypatch.setattr(state, "COMPACT_EVERY", 3)
    ids = workspace.unit_ids[workspace.labels == "甲区"]
    workspace.assign(ids[:1].tolist(), "乙区")
    workspace.assign(ids[1:2].tolist(), "乙区")
    lines = (workspace.folder / JOURNAL).read_text(encoding="utf-8")
    workspace.undo()  # third line: snapshot written, journal emptied
    assert (workspace.folder / JOURNAL).read_text(encoding="utf-8") == ""
    # as if the crash came after the snapshot and before the journal was emptied: the old lines are skipped
    (workspace.folder / JOURNAL).write_text(lines + '{"v": 3, "op": "undo"}\n', encoding="utf-8")
    again = Workspace.open(workspace.folder)
    assert (again.labels == workspace.labels).all()
    assert again.undo_stack == workspace.undo_stack and again.redo_stack == workspace.redo_stack


def test_unknown_ids_and_bad_fields_are_named(workspace):
    with pytest.raises(InputError, match="unknown unit id.*'nope'") as e:
        workspace.assign(["nope", workspace.unit_ids[0]], "乙区")
    assert e.value.field == "unit_ids"
    with pytest.raises(InputError, match="unknown grid id 'G9'") as e:
        workspace.assign(workspace.unit_ids[:1].tolist(), "G9")
    assert e.value.field == "grid_id"
    with pytest.raises(InputError, match="already exists"):
        workspace.assign(workspace.unit_ids[:1].tolist(), "乙区", new_grid=True)
    with pytest.raises(InputError) as e:
        workspace.assign(workspace.unit_ids[:1].tolist(), "<b>x</b>", new_grid=True)
    assert e.value.field == "grid_id"
    with pytest.raises(InputError) as e:
        workspace.merge("甲区", "甲区")
    assert e.value.field == "into"
    with pytest.raises(InputError) as e:
        workspace.change_facility({"action": "move", "id": "T99", "lon": 122.03, "lat": 41.06})
    assert "T99" in str(e.value)
    with pytest.raises(InputError, match="outside the city"):
        workspace.change_facility({"action": "move", "id": "T3", "lon": 100.0, "lat": 30.0})
    assert workspace.undo_stack == []  # refused edits leave nothing behind


def test_saved_scenario_reproduces_layout_and_facilities(workspace, tmp_path):
    ids = workspace.unit_ids
    workspace.assign(ids[workspace.labels == "甲区"][:6].tolist(), "北部", new_grid=True)
    workspace.change_facility({"action": "move", "id": "T3", "lon": 122.03, "lat": 41.06})
    workspace.change_facility({"action": "change", "id": "S2", "beds": 350})
    path = workspace.save()
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert raw["plan"]["mode"] == "given_layout"
    assert [c["action"] for c in raw["changes"]] == ["move", "change"]
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out)]) == 0
    units = gpd.read_file(out / "plan.gpkg", layer="units")
    assert dict(zip(units["unit_id"], units["grid_id"], strict=True)) == dict(zip(ids, workspace.labels, strict=True))
    fac = gpd.read_file(out / "plan.gpkg", layer="facilities").set_index("facility_id")
    assert np.isclose(fac.geometry["T3"].x, 122.03) and np.isclose(fac.geometry["T3"].y, 41.06)
    assert fac.at["S2", "beds"] == 350
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert [c["action"] for c in record["changes"]] == ["move", "change"]
    # and the run's compliance is what the live panel said
    live = workspace.live.evaluate(workspace.labels).compliance
    import pandas as pd

    comp = pd.read_csv(out / "compliance.csv", dtype=str, keep_default_na=False)
    assert sorted(zip(comp["rule_id"], comp["scope"], comp["status"], strict=True)) == sorted(
        zip(live["rule_id"], live["scope"], live["status"], strict=True))


def test_second_move_replaces_the_first(workspace):
    workspace.change_facility({"action": "move", "id": "T3", "lon": 122.03, "lat": 41.06})
    workspace.change_facility({"action": "move", "id": "T3", "lon": 122.04, "lat": 41.07})
    assert [(c["id"], c["lon"]) for c in workspace.changes] == [("T3", 122.04)]
    workspace.undo()
    assert [(c["id"], c["lon"]) for c in workspace.changes] == [("T3", 122.03)]


def test_toml_writer_round_trips():
    data = {"name": 'a "quoted" 名字 ${x} \\ \n', "n": 3, "x": 1.5, "flag": True, "ids": ["a", "b"],
            "inputs": {"facilities": ["f.csv", {"path": "g.csv", "crs": "gcj02"}], "crs": "EPSG:4326"},
            "plan": {"mode": "given_layout", "cross_grid_service": {"M1": ["G1"], "P1": "all"}},
            "changes": [{"action": "move", "id": "T3", "lon": 122.03, "lat": 41.06}]}
    assert tomllib.loads(dumps_toml(data)) == data


def test_chosen_leads_are_edits_saved_as_lead_id_and_reproduced(workspace, tmp_path):
    workspace.set_lead("甲区", "T3")
    assert workspace.grid_lead() == {"甲区": "T3", "乙区": "T2"}
    with pytest.raises(InputError, match="already leads grid 甲区") as e:
        workspace.set_lead("乙区", "T3")
    assert e.value.field == "facility_id"
    with pytest.raises(InputError, match="not a hospital that may lead") as e:
        workspace.set_lead("乙区", "S1")
    with pytest.raises(InputError, match="unknown grid id") as e:
        workspace.set_lead("丙区", "T1")
    # T1 stands in 甲区 but may lead 乙区 (the pilot plan's reading: only members are inside the grid)
    workspace.set_lead("乙区", "T1")
    assert workspace.grid_lead() == {"甲区": "T3", "乙区": "T1"}
    path = workspace.save()
    assert "lead_id" in (path.parent / "layout.csv").read_text(encoding="utf-8").splitlines()[0]
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out)]) == 0
    import pandas as pd

    groups = pd.read_csv(out / "groups.csv", dtype=str)
    assert dict(groups.loc[groups.role == "lead", ["grid_id", "facility_id"]].to_numpy()) == {"甲区": "T3",
                                                                                              "乙区": "T1"}
    assert Workspace.open(workspace.folder).grid_lead() == {"甲区": "T3", "乙区": "T1"}
    # closing a chosen lead: the grid falls back to its default (none: T1, the other hospital inside, leads 乙区),
    # and the panel says so instead of failing
    workspace.change_facility({"action": "close", "id": "T3"})
    assert workspace.grid_lead() == {"乙区": "T1"}
    failed = {(r["rule_id"], r["grid_id"]) for r in workspace.state()["compliance"] if r["status"] == "failed"}
    assert ("R2.lead", "甲区") in failed
    workspace.undo()
    assert workspace.grid_lead() == {"甲区": "T3", "乙区": "T1"}
    workspace.undo()
    workspace.undo()
    assert workspace.grid_leads == {} and Workspace.open(workspace.folder).grid_leads == {}


def test_a_given_layout_scenario_opens_with_its_grids_and_named_leads(city_toml, tmp_path):
    ws0 = Workspace.create(tmp_path / "ws0", city_toml)
    layout = tmp_path / "layout.csv"
    lead = {"甲区": "T3", "乙区": ""}
    layout.write_text("unit_id,grid_id,lead_id\n" + "".join(
        f"{u},{g},{lead[g]}\n" for u, g in zip(ws0.unit_ids, ws0.labels, strict=True)), encoding="utf-8")
    text = city_toml.read_text(encoding="utf-8").replace('mode = "optimise"',
                                                         f'mode = "given_layout"\nlayout = "{layout}"')
    given = tmp_path / "given.toml"
    given.write_text(text.replace('data = "data"', f'data = "{city_toml.parent / "data"}"'), encoding="utf-8")
    ws = Workspace.create(tmp_path / "ws", given)
    assert (ws.labels == ws0.labels).all() and ws.grid_leads == {"甲区": "T3"}  # a blank lead_id names none
    assert ws.grid_lead() == {"甲区": "T3", "乙区": "T2"}
    # saved with one grid's lead chosen and the other's blank, the scenario runs and keeps both
    out = tmp_path / "run"
    assert cli.main(["run", str(ws.save()), "--out", str(out)]) == 0
    import pandas as pd

    groups = pd.read_csv(out / "groups.csv", dtype=str)
    assert dict(groups.loc[groups.role == "lead", ["grid_id", "facility_id"]].to_numpy()) == {"甲区": "T3",
                                                                                              "乙区": "T2"}
