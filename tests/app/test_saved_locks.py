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
import pytest

from simulator import cli
from simulator.app.cli import resolve_source
from simulator.app.state import Workspace
from simulator.errors import InputError
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
    # the verifier reads the locks file itself: a lock the plan does not keep is named
    kept = locked_file.read_text(encoding="utf-8")
    locked_file.write_text(kept.replace(f"{chosen[0]},T2", f"{chosen[0]},T1"), encoding="utf-8")
    assert any(v.startswith("locked units: 1 locked unit(s) outside their lead's grid: " + chosen[0])
               for v in verify_run(out))
    locked_file.write_text(kept + f"{ws.unit_ids[0]},T2\n", encoding="utf-8")
    assert any("run.json counts 3 locked unit(s), the locks file" in v for v in verify_run(out))
    locked_file.write_text(kept, encoding="utf-8")

    # the saved scenario as it is (the given layout, evaluated as painted): locks read, recorded, not applied
    given = tmp_path / "given"
    assert cli.main(["run", str(saved), "--out", str(given)]) == 0
    record = json.loads((given / "run.json").read_text(encoding="utf-8"))
    assert record["locked_units"]["applied"] is False
    assert any("3 locked unit(s) 锁定单元 not applied" in n for n in record["notes"])

    # caregrid app on the saved scenario reopens the layout with its locks; so does the optimised run folder
    again = Workspace.create(tmp_path / "ws2", saved)
    assert (again.labels == ws.labels).all()
    assert sorted(again.unit_ids[again.locked]) == sorted(chosen)
    scenario_path, _, labels = resolve_source(str(out), str(tmp_path / "ws3"))
    from_run = Workspace.create(tmp_path / "ws3", scenario_path, labels=labels)
    assert sorted(from_run.unit_ids[from_run.locked]) == sorted(chosen)
    assert {from_run.grid_lead()[g] for g in from_run.labels[from_run.locked]} == {"T2"}

    # --repair of the saved scenario honours the locks too (the optimiser's fixed_assignment)
    repaired = tmp_path / "repaired"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(saved), "--repair", "--out",
                           str(repaired)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads((repaired / "run.json").read_text(encoding="utf-8"))["locked_units"]["applied"] is True
    units = gpd.read_file(repaired / "plan.gpkg", layer="units").set_index("unit_id")
    assert (units.loc[chosen, "lead_facility_id"] == "T2").all()


def test_locks_that_do_not_fit_the_opening_layout_are_refused_named(city_toml, tmp_path):
    """An optimise scenario locking a west unit to 乙区's lead opens on one grid per district, where the unit is in
    甲区: the workspace cannot keep that lock (a lock keeps the painted grid), so it says so and how to open it."""
    probe = Workspace.create(tmp_path / "probe", city_toml)
    west = probe.unit_ids[probe.labels == "甲区"][0]
    locked = tmp_path / "locked.csv"
    locked.write_text(f"unit_id,lead_id\n{west},T2\n", encoding="utf-8")
    scenario = tmp_path / "locked.toml"
    text = city_toml.read_text(encoding="utf-8").replace('data = "data"', f'data = "{city_toml.parent / "data"}"')
    scenario.write_text(text + f'locked_units = "{locked}"\n', encoding="utf-8")
    with pytest.raises(InputError, match=f"unit {west} is locked to the grid of T2, but the workspace starts it in "
                       "grid 甲区 \\(lead T1\\)") as ei:
        Workspace.create(tmp_path / "ws", scenario)
    assert (ei.value.path, ei.value.field) == (str(locked), "lead_id")


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
