"""Locks survive a save: the saved scenario names them (``plan.locked_units``), ``caregrid run`` in optimise mode
keeps the locked units in their lead's grid, ``run.json`` records them and ``caregrid app`` reopens them."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd

from simulator import cli
from simulator.app.state import Workspace
from simulator.evaluate.verify import verify_run


def run_optimise(scenario, out) -> gpd.GeoDataFrame:
    """``caregrid run SCENARIO --set plan.mode=optimise`` in a process of its own (HiGHS fixes its thread pool at a
    process's first solve); returns the plan's units layer."""
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(scenario), "--out", str(out), "--set",
                           "plan.mode=optimise"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return gpd.read_file(out / "plan.gpkg", layer="units")


def test_locked_units_are_saved_and_optimise_of_the_saved_scenario_keeps_them(workspace, tmp_path):
    ws = workspace
    saved = ws.save()
    assert "locked_units" not in tomllib.loads(saved.read_text(encoding="utf-8"))["plan"]
    # where the optimiser puts units when nothing is locked
    free = run_optimise(saved, tmp_path / "free")
    lead = free.set_index("unit_id")["lead_facility_id"].reindex(ws.unit_ids).to_numpy()
    t2 = lead == "T2"
    adj = ws.units.adjacency
    border = np.flatnonzero(~t2 & (adj @ t2.astype(int) > 0))  # not in T2's grid, touching it
    chosen = ws.unit_ids[border[:3]].tolist()
    assert len(chosen) == 3
    # the planner paints them into T2's grid (乙区) and locks them
    ws.assign(chosen, "乙区")
    ws.lock(chosen, True)
    assert ws.grid_lead()["乙区"] == "T2"
    saved = ws.save()
    scenario = tomllib.loads(saved.read_text(encoding="utf-8"))
    locked_file = saved.parent / "locked_units.csv"
    assert scenario["plan"]["locked_units"] == str(locked_file.resolve())
    assert scenario["solver"]["contiguity"] == "exact"  # as the app's own solver runs with locks
    table = pd.read_csv(locked_file, dtype=str)
    assert sorted(table["unit_id"]) == sorted(chosen) and set(table["lead_id"]) == {"T2"}

    out = tmp_path / "locked"
    units = run_optimise(saved, out).set_index("unit_id")
    assert (units.loc[chosen, "lead_facility_id"] == "T2").all()  # the locked units keep their grid
    # the test can fail: the same saved scenario without its locks puts some of them in another grid
    unlocked = saved.with_name("unlocked.toml")
    unlocked.write_text(saved.read_text(encoding="utf-8").replace(f'locked_units = "{locked_file.resolve()}"\n', ""),
                        encoding="utf-8")
    assert "locked_units" not in tomllib.loads(unlocked.read_text(encoding="utf-8"))["plan"]
    plain = run_optimise(unlocked, tmp_path / "unlocked").set_index("unit_id")
    assert (plain.loc[chosen, "lead_facility_id"] != "T2").any()
    assert verify_run(out) == []
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["locked_units"] == {"file": str(locked_file.resolve()), "units": 3, "leads": ["T2"],
                                      "applied": True}

    # the saved scenario as it is (the given layout, evaluated as painted): locks read, recorded, not applied
    given = tmp_path / "given"
    assert cli.main(["run", str(saved), "--out", str(given)]) == 0
    record = json.loads((given / "run.json").read_text(encoding="utf-8"))
    assert record["locked_units"]["applied"] is False
    assert any("3 locked unit(s) 锁定单元 not applied" in n for n in record["notes"])

    # caregrid app on the saved scenario reopens the layout with its locks
    again = Workspace.create(tmp_path / "ws2", saved)
    assert (again.labels == ws.labels).all()
    assert sorted(again.unit_ids[again.locked]) == sorted(chosen)


def test_a_lock_in_a_grid_without_a_lead_is_not_saved_and_the_answer_says_so(workspace, client):
    ids = workspace.unit_ids[workspace.labels == "甲区"]
    client.post("/api/assign", json={"unit_ids": ids[:1].tolist(), "grid_id": "孤立", "new_grid": True})
    client.post("/api/lock", json={"unit_ids": ids[:2].tolist(), "locked": True})
    answer = client.post("/api/save", json={}).json()
    assert answer["locks_saved"] == 1 and answer["locks_not_saved"] == [ids[0]]
    table = pd.read_csv(answer["locked_units"], dtype=str)
    assert table.to_dict("records") == [{"unit_id": ids[1], "lead_id": workspace.grid_lead()["甲区"]}]
    # unlocking everything: the next save names no locks file and leaves no stale locks behind
    client.post("/api/lock", json={"unit_ids": ids[:2].tolist(), "locked": False})
    answer = client.post("/api/save", json={}).json()
    assert answer["locked_units"] is None and answer["locks_saved"] == 0
    assert "locked_units" not in tomllib.loads(open(answer["scenario"], encoding="utf-8").read())["plan"]
    assert pd.read_csv(workspace.folder / "saved" / "locked_units.csv").empty
