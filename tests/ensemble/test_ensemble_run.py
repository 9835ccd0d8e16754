"""``run_ensemble`` on Fuxin (r7): the consensus plan passes the independent verifier, the outputs are complete and
deterministic by seed, the robustness check can fail, and nothing partial is ever written."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from ensemble_support import FUXIN, R7, load_fuxin_r7, serial

import simulator as cg
from simulator.ensemble import DrawTask, run_ensemble, sample_draws, solve_draw
from simulator.errors import OutputError, PlanningError
from simulator.evaluate.verify import verify_run
from simulator.render.maps import write_maps
from simulator.render.report import write_report


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "fuxin"
    return run_ensemble(FUXIN, 4, out, seed=11, overrides=R7, mapper=serial, extras=(write_maps, write_report))


@pytest.fixture
def fuxin_r7():
    return load_fuxin_r7()


def test_consensus_plan_passes_the_independent_verifier(ensemble):
    assert verify_run(ensemble.consensus) == []
    rec = json.loads((ensemble.consensus / "run.json").read_text(encoding="utf-8"))
    assert rec["ensemble"]["samples"] == 4 and rec["mode"] == "given_layout + repair"
    assert "consensus of 4 draws" in rec["scenario"]["name"]
    # the consensus uses the representative draw's placement, and says so on the facilities it moved
    fac = gpd.read_file(ensemble.consensus / "plan.gpkg", layer="facilities").set_index("facility_id")
    rep = rec["ensemble"]["representative_draw"]
    assert f"ensemble draw {rep} " in fac.at["FX-H01", "location_source"]


def test_outputs_and_first_page(ensemble):
    out = ensemble.out
    draws = pd.read_csv(out / "draws.csv")
    assert len(draws) == 4 and set(draws["status"]) <= {"plan", "no plan"}
    assert (draws["seed"] == 11).all() and draws["spawn_key"].tolist() == [0, 1, 2, 3]
    sites = pd.read_csv(out / "draw_sites.csv")
    assert len(sites) == 4 * 7
    units = gpd.read_file(out / "ensemble.gpkg", layer="units")
    assert units["stability"].between(0, 1).all() and units["feasible_share"].between(0, 1).all()
    assert (units["majority_lead"] != "").all()
    layout = pd.read_csv(out / "consensus_layout.csv", dtype=str)
    assert set(layout.columns) == {"unit_id", "grid_id", "lead_id"} and len(layout) == len(units)
    sm = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert sm["draws"] == 4 and 0 <= sm["consensus"]["robustness"] <= 1
    assert set(sm["rule_pass_share"]) >= {"R3.member", "R6.contiguous"}
    html = (ensemble.consensus / "report.html").read_text(encoding="utf-8")
    assert "Hospital locations unknown: consensus of 4 draws" in html
    assert "阜新市中心医院" in html.split("cg-sampled")[1]  # what was sampled, named
    assert "at_least_secondary" in html.split("cg-member-reading")[1][:400]  # the member reading, first page
    assert "Stability" in (ensemble.consensus / "map.html").read_text(encoding="utf-8")


def test_same_seed_same_ensemble(ensemble, tmp_path):
    again = run_ensemble(FUXIN, 4, tmp_path / "again", seed=11, overrides=R7, mapper=serial)
    a = pd.read_csv(ensemble.out / "draws.csv").drop(columns="seconds")
    b = pd.read_csv(again.out / "draws.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)
    assert (ensemble.out / "consensus_layout.csv").read_text() == (again.out / "consensus_layout.csv").read_text()


def test_the_robustness_check_can_fail(fuxin_r7):
    """A layout whose second grid is one empty corner unit fails rule 3 in every draw: not a rubber stamp."""
    scenario, city, units = fuxin_r7
    draws, _ = sample_draws(city, units, scenario.ensemble, 2, seed=0)
    g = units.gdf
    corner = int(g["population"].idxmin())
    grid = tuple("G2" if i == corner else "G1" for i in range(len(g)))
    for d in draws:
        r = solve_draw(DrawTask(str(FUXIN), R7, d, layout=(grid, {"G1": "FX-H01", "G2": "FX-H04"})))
        assert r.status == "plan" and "R3.member" in r.failed_rules


def test_no_draw_with_a_plan_is_a_planning_error_with_the_draws_kept(tmp_path):
    out = tmp_path / "none"
    with pytest.raises(PlanningError, match="none of the 2 draws made a plan"):
        run_ensemble(FUXIN, 2, out, seed=0, overrides={**R7, "grids.count": 5}, mapper=serial)
    draws = pd.read_csv(out / "draws.csv")
    assert (draws["status"] == "no plan").all() and not (out / "consensus").exists()


def test_interrupt_writes_nothing_and_keeps_the_old_folder(ensemble, tmp_path):
    def interrupted(fn, items, **kw):
        fn(items[0])
        raise KeyboardInterrupt

    target = tmp_path / "kept"
    run_ensemble(FUXIN, 2, target, seed=5, overrides=R7, mapper=serial)
    before = (target / "draws.csv").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(FUXIN, 3, target, seed=6, overrides=R7, mapper=interrupted)
    assert (target / "draws.csv").read_bytes() == before
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(FUXIN, 3, fresh, seed=6, overrides=R7, mapper=interrupted)
    assert not fresh.exists()


def test_never_writes_over_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "planner"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError):
        run_ensemble(FUXIN, 2, mine, seed=0, overrides=R7, mapper=serial)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_embedded_fuxin_run_points_to_the_ensemble():
    scenario = cg.load_scenario(FUXIN, R7)
    city = cg.load_city(scenario)
    with pytest.raises(PlanningError) as ei:
        cg.make_plan(scenario, city, cg.planning_units(scenario, city))
    assert "caregrid ensemble" in str(ei.value) and "位置待确认" in str(ei.value)


def test_cli_ensemble(tmp_path, capsys):
    from simulator import cli

    out = tmp_path / "cli"
    args = ["ensemble", str(FUXIN), "--samples", "2", "--seed", "3", "--out", str(out), "--workers", "1",
            "--set", "units.resolution=7", "--no-progress"]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "draws 抽样: 2 (seed 3)" in text and "consensus plan 共识方案" in text
    assert (out / "consensus" / "report.html").exists() and (out / "consensus" / "map.html").exists()
    assert verify_run(out / "consensus") == []
    assert cli.main([*args[:3], "0", *args[4:]]) == 2
    assert "expected at least 1 draw" in capsys.readouterr().err
