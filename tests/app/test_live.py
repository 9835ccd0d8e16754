"""The live panel agrees with the full evaluation (``caregrid run`` on the same layout, mode given_layout)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.config.scenario import load_scenario
from simulator.load.city import load_city
from simulator.units.pipeline import planning_units
from simulator.workflow import make_plan


def full_evaluation(ws, tmp_path):
    """Compliance and indicators of the workspace's saved scenario, through the CLI's own steps."""
    scenario = load_scenario(ws.save(tmp_path / "saved"))
    city = load_city(scenario)
    units = planning_units(scenario, city)
    return make_plan(scenario, city, units)


def _rows(df: pd.DataFrame) -> set[tuple]:
    return set(map(tuple, df[["rule_id", "scope", "status", "required", "actual"]].astype(str).to_numpy()))


def test_live_statuses_equal_full_evaluation_after_random_edits(workspace, tmp_path):
    rng = np.random.default_rng(14)
    ids = workspace.unit_ids
    seen_failed = False
    for k in range(8):
        # paint a random patch (a unit and its neighbours) into an existing or a new grid
        seed = int(rng.integers(len(ids)))
        patch = np.union1d([seed], workspace.units.adjacency[seed].indices)
        if k in (2, 5):
            workspace.assign(ids[patch].tolist(), f"N{k}", new_grid=True)
        else:
            workspace.assign(ids[patch].tolist(), str(rng.choice(workspace.grids)))
        if k == 3:  # the planner chooses a lead that stands outside its grid (the layout's lead_id)
            workspace.set_lead("N2", "T2")
        live = workspace.live.evaluate(workspace.labels, workspace.named_leads)
        plan = full_evaluation(workspace, tmp_path / str(k))
        assert _rows(live.compliance) == _rows(plan.compliance), k
        assert live.grid_lead == plan.grid_lead
        full = plan.indicators.set_index("grid_id")
        mine = live.indicators.set_index("grid_id")
        assert list(mine.index) == list(full.index)
        # compactness: the live panel's sums over units and shared edges equal the dissolved polygons' figure
        for col in ("population", "units", "travel_mean_min", "share_within_access", "beds_per_1000", "polsby_popper"):
            np.testing.assert_allclose(mine[col].to_numpy(float), full[col].to_numpy(float), rtol=1e-9, err_msg=col)
        assert full["polsby_popper"].notna().all()
        seen_failed |= (live.compliance["status"] == "failed").any()
    assert seen_failed  # the random edits broke rules, so failing statuses were compared too


def test_panel_reasons_come_from_the_catalogue(workspace):
    t1_unit = workspace.live.job.fac_unit[0]  # T1's unit
    neighbours = workspace.units.adjacency[t1_unit].indices
    # cut the lead's unit off into a grid of its own: 甲区 loses its lead and R2 fails there, or the new grid is tiny
    workspace.assign([workspace.unit_ids[i] for i in neighbours], "乙区")
    panel = workspace.live.panel(workspace.labels)
    failed = [r for r in panel["compliance"] if r["status"] == "failed"]
    assert failed
    rules = workspace.live.rules
    for r in failed:
        text = rules.text(r["rule_id"])
        assert r["reason_en"].startswith(f"{text.label} fails: {text.text_en}")
        assert text.text_zh in r["reason_zh"] and "未通过" in r["reason_zh"]
    by_grid = {g["grid_id"]: g for g in panel["grids"]}
    assert sum(g["population"] for g in panel["grids"]) == panel["summary"]["population"]
    assert set(by_grid) == set(workspace.grids)


def test_compactness_of_a_grid_with_a_hole_and_of_a_grid_in_pieces(workspace):
    """The unit sums equal the dissolve where the outline is not one simple ring: a grid around a hole (a unit of
    another grid inside) and a grid in two pieces."""
    from simulator.evaluate.indicators import _compactness

    adj, labels = workspace.units.adjacency, workspace.labels.copy()
    inner = next(i for i in range(len(labels)) if labels[i] == "甲区" and (labels[adj[i].indices] == "甲区").all()
                 and len(adj[i].indices) == 6)
    labels[inner] = "洞"  # a one-unit grid inside 甲区: 甲区's outline gains an inner ring
    east = np.flatnonzero(labels == "乙区")
    far = east[np.argmax(workspace.units.gdf["lon"].to_numpy()[east])]
    labels[far] = "甲区"  # 甲区 gets a second piece at the far east
    live = workspace.live.shapes.polsby_popper(labels)
    full = _compactness(labels.astype(str), workspace.units.gdf.geometry.to_numpy())
    assert live.keys() == full.keys() == {"甲区", "乙区", "洞"}
    for g in full:
        assert live[g] == pytest.approx(full[g], rel=1e-9), g
    assert live["洞"] > 0.8  # one hexagon: 4π·(3√3/2)/36 ≈ 0.907


def test_live_readiness_norms_come_from_the_scenario_targets_file(city_toml, tmp_path):
    """A planner's own targets file reaches the panel's indicators as it reaches ``caregrid run``'s."""
    from importlib import resources

    from simulator.app.state import Workspace

    text = (resources.files("simulator.config") / "targets" / "liaoning-2023.toml").read_text(encoding="utf-8")
    assert "quantity = \"ambulances_per_30000\"\ncomparison = \"at_least\"\nnorm = 1.0" in text
    own = tmp_path / "own_targets.toml"
    own.write_text(text.replace("quantity = \"ambulances_per_30000\"\ncomparison = \"at_least\"\nnorm = 1.0",
                                "quantity = \"ambulances_per_30000\"\ncomparison = \"at_least\"\nnorm = 2.5"),
                   encoding="utf-8")
    scenario = city_toml.parent / "city_own_targets.toml"  # beside the city, so its data folder resolves
    scenario.write_text(f"targets = {str(own)!r}\n" + city_toml.read_text(encoding="utf-8"), encoding="utf-8")
    ws = Workspace.create(tmp_path / "ws", scenario)
    live = ws.live.evaluate(ws.labels, ws.named_leads).indicators.set_index("grid_id")
    full = full_evaluation(ws, tmp_path / "full").indicators.set_index("grid_id")
    assert (live["ambulances_per_30000_target"] == 2.5).all()
    np.testing.assert_allclose(live["ambulances_per_30000_target"].to_numpy(float),
                               full["ambulances_per_30000_target"].to_numpy(float))
