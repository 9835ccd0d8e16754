"""Run modes on a SYNTHETIC two-district city: optimise, fixed leads, given layout (+ repair), infeasible inputs.

The city (tests/synthetic_city.py, built in a temporary folder): two 0.1° × 0.1° districts side by side near lon 122,
lat 41 (甲区 990001 west, 乙区 990002 east), three tertiary general city/district hospitals, three secondary
comprehensive hospitals, five community health centres, a maternal–child hospital, a city CDC and one external
provincial hospital far away (Shenyang). Every written plan is checked with the independent verifier
(:mod:`simulator.evaluate.verify`).
"""

from __future__ import annotations

import heapq
import json
import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from synthetic_city import DISTRICTS, scenario_text, write_city, write_districts, write_facilities

from simulator import cli
from simulator.config.scenario import load_scenario
from simulator.errors import PlanningError
from simulator.evaluate.verify import MIN_EDGE_M, SURE_EDGE_M, grid_pieces, unit_adjacency, verify_run
from simulator.load.city import load_city
from simulator.load.validate import InputWarning
from simulator.runfolder.writer import write_plan
from simulator.units.pipeline import planning_units
from simulator.workflow import make_plan

SCENARIO = scenario_text()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The synthetic city's folder: scenario ``city.toml`` and data/ with several facility variants."""
    root = tmp_path_factory.mktemp("synthetic_city")
    data = root / "data"
    write_city(root, SCENARIO)
    # only T1 may lead: T2 becomes secondary, T3 privately owned
    write_facilities(data / "facilities_one_lead.csv",
                      change={"T2": {"level": "secondary", "grade": "二级甲等"}, "T3": {"ownership": "private"}})
    # only one secondary comprehensive hospital (S1), hence only one unit holding a rule-3 member
    write_facilities(data / "facilities_one_secondary.csv", drop=("S2", "S3"))
    # no community health centre near T3 (C5 left out)
    write_facilities(data / "facilities_no_c5.csv", drop=("C5",))
    # the central, largest hospital T1 is enterprise-owned
    write_facilities(data / "facilities_enterprise.csv", change={"T1": {"ownership": "enterprise"}})
    return root


def run_plan(city: Path, out: Path, overrides: dict | None = None, repair: bool = False):
    """Make and write a plan in-process; returns the Plan."""
    scenario = load_scenario(city / "city.toml", overrides)
    data = load_city(scenario)
    units = planning_units(scenario, data)
    plan = make_plan(scenario, data, units, repair=repair)
    write_plan(plan, out)
    return plan


def read_units(out: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(out / "plan.gpkg", layer="units")


def leads_of(out: Path) -> dict[str, str]:
    g = pd.read_csv(out / "groups.csv", dtype=str)
    return dict(g.loc[g.role == "lead", ["grid_id", "facility_id"]].to_numpy())


def compliance_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "compliance.csv", dtype={"passed": bool})


@pytest.fixture(scope="module")
def optimised(city, tmp_path_factory):
    """The optimise run with grids.count = 2 (reused by the given-layout tests)."""
    out = tmp_path_factory.mktemp("runs") / "optimise_count2"
    run_plan(city, out, {"grids.count": 2})
    return out


# ------------------------------------------------------------------------------------------------------------
# optimise / fixed leads
# ------------------------------------------------------------------------------------------------------------
def test_optimise_fixed_count_passes_verifier(optimised):
    assert verify_run(optimised) == []
    comp = compliance_of(optimised)
    assert (comp["status"] != "failed").all(), comp[comp["status"] == "failed"]  # rule 5 undeclared: planned
    record = json.loads((optimised / "run.json").read_text(encoding="utf-8"))
    assert record["compliance_passed"] is True
    assert record["grid_count_range"] == [2, 2]
    assert len(leads_of(optimised)) == 2


def test_optimise_grid_range_passes_verifier(city, tmp_path):
    out = tmp_path / "range"
    plan = run_plan(city, out, {"grids.min": 2, "grids.max": 3})
    assert plan.passed
    assert verify_run(out) == []
    n = len(leads_of(out))
    assert 2 <= n <= 3
    assert (compliance_of(out)["status"] != "failed").all()


def test_optimise_range_never_leaves_a_grid_without_primary_care(city, tmp_path):
    out = tmp_path / "range_no_c5"
    plan = run_plan(city, out, {"grids.min": 2, "grids.max": 3, "inputs.facilities": ["facilities_no_c5.csv"]})
    assert verify_run(out) == []
    assert plan.passed


def test_fixed_leads_uses_exactly_the_named_leads(city, tmp_path):
    out = tmp_path / "fixed"
    # T1 and T3 both stand in 甲区: not the optimiser's choice, so the mode really imposes them
    run_plan(city, out, {"plan.mode": "fixed_leads", "plan.leads": ["T1", "T3"]})
    assert sorted(leads_of(out).values()) == ["T1", "T3"]
    assert verify_run(out) == []
    assert (compliance_of(out)["status"] != "failed").all()


# ------------------------------------------------------------------------------------------------------------
# given layout (+ repair)
# ------------------------------------------------------------------------------------------------------------
def _node_weighted_distance(start: int, nbrs, weight: np.ndarray, passable: np.ndarray, target: np.ndarray) -> float:
    """Cheapest sum of ``weight`` over the intermediate units of a path start → any target unit, moving only
    through ``passable`` units (Dijkstra on node weights; start and target units cost nothing)."""
    best = {start: 0.0}
    heap = [(0.0, start)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > best.get(u, np.inf):
            continue
        for w in nbrs[u]:
            if target[w]:
                return d
            if not passable[w]:
                continue
            nd = d + weight[w]
            if nd < best.get(w, np.inf):
                best[w] = nd
                heapq.heappush(heap, (nd, w))
    return np.inf


def _pick_islands(units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, src: str, dst: str, k: int = 2):
    """Units of grid ``src`` to relabel ``dst`` so that ``dst`` becomes disconnected, chosen so that moving them
    back is provably the cheapest repair.

    Every chosen unit: holds no facility, has residents, touches no ``dst`` unit, and leaving ``src`` without it
    keeps ``src`` connected. If a moved unit u stayed in ``dst``, a path of ``dst`` units would have to join it to
    the rest of ``dst``: every ``src`` unit on it would move, so that costs at least chain(u) (other islands
    free). We require chain(u) > the residents of all islands, so the minimum repair moves exactly the islands.
    """
    geoms = units.to_crs(units.estimate_utm_crs()).geometry.to_numpy()
    loose = unit_adjacency(geoms, MIN_EDGE_M)
    sure = unit_adjacency(geoms, SURE_EDGE_M)
    grid = units["grid_id"].to_numpy().astype(str)
    pop = units["population"].to_numpy(dtype=float)
    has_fac = np.zeros(len(units), dtype=bool)
    hit = gpd.sjoin(units[["geometry"]], facilities[["geometry"]], predicate="intersects")
    has_fac[np.unique(hit.index.to_numpy())] = True
    # most populous first: a non-minimal repair (e.g. stopped at a loose MIP gap) then shows in the count
    cands = [i for i in np.argsort(-pop, kind="stable")
             if grid[i] == src and pop[i] > 0 and not has_fac[i] and not any(grid[j] == dst for j in loose[i])]

    def ok(chosen: list[int]) -> bool:
        if any(b in loose[a] for a in chosen for b in chosen if a != b):
            return False
        g = grid.copy()
        g[chosen] = dst
        if len(grid_pieces(g, sure)[src]) != 1:  # src stays one piece
            return False
        total = pop[chosen].sum()
        weight = np.where(np.isin(np.arange(len(g)), chosen), 0.0, pop)
        for u in chosen:
            others = np.zeros(len(g), dtype=bool)
            others[[c for c in chosen if c != u]] = True
            target = (grid == dst)  # the unmoved rest of dst
            if _node_weighted_distance(u, loose, weight, (grid == src) | others, target) <= total:
                return False
        return True

    for x, a in enumerate(cands[:60]):
        for b in cands[x + 1:60]:
            if ok([a, b][:k]):
                return [a, b][:k]
    pytest.skip("no pair of island units qualifies in this synthetic city")


@pytest.fixture(scope="module")
def broken_layout(city, optimised, tmp_path_factory):
    """A unit → grid table from the optimised run with two units of one grid moved into the other (islands)."""
    units = read_units(optimised)
    facilities = gpd.read_file(optimised / "plan.gpkg", layer="facilities")
    src, dst = "G1", "G2"
    islands = _pick_islands(units, facilities, src, dst)
    layout = units[["unit_id", "grid_id"]].copy()
    layout.loc[islands, "grid_id"] = dst
    path = tmp_path_factory.mktemp("layout") / "layout_broken.csv"
    layout.to_csv(path, index=False)
    return {"path": path, "src": src, "dst": dst, "islands": units["unit_id"].to_numpy()[islands].tolist(),
            "residents": float(units["population"].to_numpy()[islands].sum()), "original": optimised}


def test_given_layout_reports_broken_contiguity(city, broken_layout, tmp_path):
    out = tmp_path / "given"
    plan = run_plan(city, out, {"plan.mode": "given_layout", "plan.layout": str(broken_layout["path"])})
    assert not plan.passed
    comp = compliance_of(out)
    row = comp[(comp.rule_id == "R6.contiguous") & (comp.scope == broken_layout["dst"])]
    assert len(row) == 1 and not row["passed"].iat[0]
    assert (comp.loc[comp.rule_id != "R6.contiguous", "status"] != "failed").all()
    found = verify_run(out)
    assert any(m.startswith(f"R6 contiguity: grid {broken_layout['dst']} is in 3 pieces") for m in found), found
    # compliance.csv tells the truth about the broken layout: no disagreement
    assert not [m for m in found if m.startswith("compliance.csv")], found


def test_given_layout_repair_moves_the_displaced_units_back(city, broken_layout, tmp_path):
    # a tight gap: with the scenario default (0.001) the repair may stop above the minimum, see
    # test_repair_gap_is_relative_to_residents_moved
    out = tmp_path / "repaired"
    plan = run_plan(city, out, {"plan.mode": "given_layout", "plan.layout": str(broken_layout["path"]),
                                "solver.gap": 1e-6}, repair=True)
    assert plan.passed
    assert verify_run(out) == []
    moves = pd.read_csv(out / "moves.csv", dtype={"unit_id": str, "from_grid": str, "to_grid": str})
    assert sorted(moves["unit_id"]) == sorted(broken_layout["islands"])
    assert (moves["from_grid"] == broken_layout["dst"]).all()
    assert (moves["to_grid"] == broken_layout["src"]).all()
    # the minimum: moving the islands back is provably the cheapest repair (see _pick_islands)
    assert moves["residents"].sum() == pytest.approx(broken_layout["residents"])
    # … and it recovers the original plan exactly
    orig = read_units(broken_layout["original"]).set_index("unit_id")["grid_id"]
    now = read_units(out).set_index("unit_id")["grid_id"]
    assert now.sort_index().equals(orig.sort_index())


def test_given_layout_grid_without_a_lead(city, optimised, tmp_path):
    """A layout grid holding no eligible hospital: rule 2 fails there, and the verifier says so."""
    units = read_units(optimised)
    layout = units[["unit_id", "grid_id"]].copy()
    north = units.geometry.representative_point().y.to_numpy() > 41.09
    layout.loc[(units.grid_id == "G2").to_numpy() & north, "grid_id"] = "G3"
    path = tmp_path / "layout3.csv"
    layout.to_csv(path, index=False)
    out = tmp_path / "given3"
    plan = run_plan(city, out, {"plan.mode": "given_layout", "plan.layout": str(path)})
    failed = set(map(tuple, plan.compliance.loc[~plan.compliance.passed, ["rule_id", "scope"]].to_numpy()))
    assert ("R2.lead", "G3") in failed
    found = verify_run(out)
    assert "R2 lead: grid G3 has 0 lead(s) in groups.csv; exactly one is required" in found
    assert not [m for m in found if m.startswith("compliance.csv")], found


def _console_objective(text: str) -> tuple[str, float]:
    """Name and value of the objective line ``objective (NAME) VALUE; bound …`` the CLI prints."""
    line = next(x for x in text.splitlines() if x.startswith("objective ("))
    name, rest = line[len("objective ("):].split(")", 1)
    value = rest.split(";")[0].strip()
    if name == "residents_moved":
        assert "." not in value, f"residents moved are whole people: {value}"
    return name, float(value.replace(",", ""))


def test_repair_console_run_json_and_moves_agree(city, broken_layout, tmp_path, capsys):
    """The objective of a repair is residents moved, with one figure in the console, run.json and moves.csv."""
    out = tmp_path / "repaired_cli"
    rc = cli.main(["run", str(city / "city.toml"), "--out", str(out), "--repair", "--set", 'plan.mode="given_layout"',
                   "--set", f"plan.layout={json.dumps(str(broken_layout['path']))}"])
    assert rc == 0
    name, shown = _console_objective(capsys.readouterr().out)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    moves = pd.read_csv(out / "moves.csv")
    assert name == record["objective_name"] == "residents_moved"
    assert record["objective"] == pytest.approx(moves["residents"].sum())
    assert shown == pytest.approx(record["objective"], abs=0.05)
    assert any(f"{moves['residents'].sum():,.0f} residents" in n for n in record["notes"]), record["notes"]


def _layout_with_leadless_grid(optimised: Path, tmp_path: Path) -> tuple[Path, gpd.GeoDataFrame, np.ndarray]:
    """The optimised plan with the north of G2 relabelled G3, a grid that holds no eligible lead."""
    units = read_units(optimised)
    layout = units[["unit_id", "grid_id"]].copy()
    north = units.geometry.representative_point().y.to_numpy() > 41.09
    g3 = (units.grid_id == "G2").to_numpy() & north
    layout.loc[g3, "grid_id"] = "G3"
    path = tmp_path / "layout3.csv"
    layout.to_csv(path, index=False)
    return path, units, g3


def test_repair_dissolves_a_grid_without_a_lead(city, optimised, tmp_path):
    """Residents of a lead-less layout grid move to grids with a lead and count as moved; grid names follow the
    leads (no G3 rebuilt elsewhere, no move from a grid to a grid of the same name)."""
    path, units, g3 = _layout_with_leadless_grid(optimised, tmp_path)
    out = tmp_path / "repaired3"
    plan = run_plan(city, out, {"plan.mode": "given_layout", "plan.layout": str(path), "solver.gap": 1e-6},
                    repair=True)
    assert plan.passed
    assert verify_run(out) == []
    assert "G3" not in set(plan.grids["grid_id"])
    assert set(plan.grid_lead) == {"G1", "G2"}
    assert plan.grid_lead == leads_of(optimised)  # each layout grid with a lead keeps its name and lead
    moves = pd.read_csv(out / "moves.csv", dtype={"unit_id": str, "from_grid": str, "to_grid": str})
    assert (moves["from_grid"] != moves["to_grid"]).all()
    assert set(units.loc[g3, "unit_id"]) <= set(moves["unit_id"])
    assert moves["residents"].sum() >= units.loc[g3, "population"].sum() - 0.5
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["objective_name"] == "residents_moved"
    assert record["objective"] == pytest.approx(moves["residents"].sum())
    assert any("G3 contain no hospital eligible to lead" in n and "count as moved" in n for n in record["notes"])


def test_repair_of_a_one_grid_layout_says_why_a_grid_is_tiny_and_honours_min_population(city, optimised, tmp_path):
    """A layout of one grid must become two (rule 1): every resident of the new grid counts as moved, so repair
    makes it as small as the rules allow and says so in run.json; grids.min_population bounds it during repair."""
    units = read_units(optimised)
    path = tmp_path / "one_grid.csv"
    pd.DataFrame({"unit_id": units["unit_id"], "grid_id": "all"}).to_csv(path, index=False)
    base = {"plan.mode": "given_layout", "plan.layout": str(path)}
    plan = run_plan(city, tmp_path / "tiny", base, repair=True)
    pop = plan.grids.set_index("grid_id")["population"]
    assert set(pop.index) == {"all", "G1"}
    record = json.loads((tmp_path / "tiny" / "run.json").read_text(encoding="utf-8"))
    tiny = [n for n in record["notes"] if n.startswith("repaired grid G1 holds")]
    assert len(tiny) == 1 and "grids.min_population" in tiny[0] and "counts as moved" in tiny[0], record["notes"]
    floor = 0.3 * pop.sum()
    assert pop.min() < floor
    bounded = run_plan(city, tmp_path / "bounded", {**base, "grids.min_population": floor}, repair=True)
    assert bounded.grids["population"].min() >= floor - 1e-6
    assert bounded.passed
    record = json.loads((tmp_path / "bounded" / "run.json").read_text(encoding="utf-8"))
    assert not [n for n in record["notes"] if n.startswith("repaired grid")]


def test_overlapping_layout_polygons_are_reported(city, tmp_path):
    """Two layout polygons overlapping by a 0.04° strip: a warning and a run note name the area and the winner."""
    layout = gpd.GeoDataFrame({"grid_id": ["W", "E"]},
                              geometry=[box(121.99, 40.99, 122.12, 41.11), box(122.08, 40.99, 122.21, 41.11)],
                              crs="EPSG:4326")
    path = tmp_path / "overlap.geojson"
    layout.to_file(path, driver="GeoJSON")
    with pytest.warns(InputWarning, match=r"grid W .* and grid E .* share [\d.]+ km²"):
        plan = run_plan(city, tmp_path / "given", {"plan.mode": "given_layout", "plan.layout": str(path)})
    note = next(n for n in plan.notes if n.startswith("layout polygons overlap"))
    km2 = float(note.split("share ")[1].split(" km²")[0].replace(",", ""))
    assert 40 < km2 < 56  # 0.04° × 0.12° at lat 41: about 3.4 km × 13.3 km
    assert "go to grid W, the first in the file" in note
    u = plan.units
    strip = ((u["lon"] > 122.085) & (u["lon"] < 122.115)).to_numpy()
    assert strip.any() and (u.loc[strip, "grid_id"] == "W").all()


def test_repair_with_more_grids_than_member_units_speaks_the_planners_language(city, optimised, tmp_path):
    """Three layout grids with a lead each, but only two units hold a secondary hospital (S3 left out)."""
    write_facilities(city / "data" / "facilities_no_s3.csv", drop=("S3",))
    units = read_units(optimised)
    pt = units.geometry.representative_point()
    lon, lat = pt.x.to_numpy(), pt.y.to_numpy()
    grid = np.where(lon > 122.1, "east", np.where(lat < 41.035, "south", "north"))
    path = tmp_path / "three.csv"
    pd.DataFrame({"unit_id": units["unit_id"], "grid_id": grid}).to_csv(path, index=False)
    with pytest.raises(PlanningError) as exc:
        run_plan(city, tmp_path / "x", {"plan.mode": "given_layout", "plan.layout": str(path),
                                        "inputs.facilities": ["facilities_no_s3.csv"]}, repair=True)
    msg = str(exc.value)
    assert exc.value.rule_ids == ["R3.member"]
    assert ("3 grids are asked for (the layout has 3 grid(s)), but the planning area can give at most 2 grid(s) a"
            in msg), msg
    assert "candidate" not in msg


def test_exclave_is_joined_by_a_bridge(city, tmp_path):
    """A third, detached district (an exclave like Fuxin's 清河门区): grids are contiguous only through the
    bridge recorded in run.json; the verifier uses it, and without it finds the exclave's grid in two pieces."""
    data = tmp_path / "data"
    shutil.copytree(city / "data", data)
    exclave = ("990003", "丙区", "district", "true", 30000, 0.9, 122.325, 41.05, box(122.3, 41.02, 122.35, 41.08))
    write_districts(data, (*DISTRICTS, exclave))
    (tmp_path / "city.toml").write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    plan = run_plan(tmp_path, out, {"grids.count": 2})
    assert plan.passed
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert len(record["bridges"]) == 1
    assert verify_run(out) == []
    record["bridges"] = []
    (out / "run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    found = verify_run(out)
    assert any(m.startswith("R6 contiguity:") and "is in 2 pieces" in m for m in found), found


def test_repair_gap_is_relative_to_residents_moved():
    """Repair of a scrambled 3-grid layout on an 8 × 8 square lattice (pure arrays, public optimiser API):
    the relative gap must bound the residents moved, not the residents kept."""
    from scipy import sparse

    from simulator.optimise import ModelSpec, assign_units_to_grids

    rng = np.random.default_rng(10)
    rows = cols = 8
    n = rows * cols
    idx = np.arange(n).reshape(rows, cols)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    adj = sparse.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    xy = np.column_stack([idx.ravel() // cols, idx.ravel() % cols]).astype(float)
    lead_unit = np.array([0, n - 1, cols - 1])
    cost = np.linalg.norm(xy[:, None, :] - xy[lead_unit][None], axis=2) * 2 + 1
    pop = rng.integers(50, 500, n).astype(float)
    pop[lead_unit] = 1e6  # many residents stay put: a gap relative to them is huge in residents moved
    ref = np.argmin(cost, axis=1)
    flip = rng.choice(n, 6, replace=False)
    flip = flip[~np.isin(flip, lead_unit)]
    ref[flip] = (ref[flip] + 1) % 3

    def moved(gap: float):
        spec = ModelSpec(pop, cost, adj, lead_unit, (3, 3), must_open=np.ones(3, bool), reference_assignment=ref)
        r = assign_units_to_grids(spec, contiguity="fast", gap=gap, time_limit_s=30)
        assert r.status == "optimal"
        return r.objective

    best = moved(1e-9)
    assert moved(1e-3) <= best * (1 + 1e-3)


# ------------------------------------------------------------------------------------------------------------
# infeasible inputs and the enterprise switch
# ------------------------------------------------------------------------------------------------------------
def test_only_one_eligible_lead_is_a_planning_error(city, tmp_path):
    with pytest.raises(PlanningError) as exc:
        run_plan(city, tmp_path / "x", {"grids.count": 2, "inputs.facilities": ["facilities_one_lead.csv"]})
    assert exc.value.rule_ids == ["R2.lead"]
    assert exc.value.exit_code == 3
    assert not (tmp_path / "x").exists()


def test_one_unit_with_a_secondary_hospital_fails_rule_3(city, tmp_path):
    with pytest.raises(PlanningError) as exc:
        run_plan(city, tmp_path / "x", {"grids.count": 2, "inputs.facilities": ["facilities_one_secondary.csv"],
                                        "plan.member_reading": "secondary_only"})
    # the pre-check counts the units holding such a facility: one, so at most one grid can comply
    assert exc.value.rule_ids == ["R3.member"]
    assert "in 1 planning unit(s), so at most 1 grid(s) can comply" in exc.value.failures[0].message
    assert not (tmp_path / "x").exists()


def test_a_tertiary_hospital_that_does_not_lead_is_a_member(city, tmp_path):
    """Default reading (二级 as a floor): with one secondary hospital, the third tertiary one is the other member."""
    out = tmp_path / "x"
    run_plan(city, out, {"grids.count": 2, "inputs.facilities": ["facilities_one_secondary.csv"]})
    leads = set(leads_of(out).values())
    assert len(leads) == 2 and leads <= {"T1", "T2", "T3"}
    idle = ({"T1", "T2", "T3"} - leads).pop()
    g = pd.read_csv(out / "groups.csv", dtype=str)
    assert set(g.loc[(g.facility_id == idle), "role"]) == {"member"}
    comp = compliance_of(out)
    assert (comp.loc[comp.rule_id == "R3.member", "status"] == "passed").all()
    assert verify_run(out) == []


def test_named_lead_that_may_not_lead_is_a_rule_2_failure(city, tmp_path):
    with pytest.raises(PlanningError) as exc:
        run_plan(city, tmp_path / "x", {"plan.mode": "fixed_leads", "plan.leads": ["T1", "S1"]})
    assert exc.value.rule_ids == ["R2.lead"]
    assert exc.value.failures[0].message.startswith("rule 2 fails: S1 甲区第二医院 cannot lead under liaoning-2023")


def test_enterprise_lead_not_used_when_switched_off(city, tmp_path):
    on = tmp_path / "enterprise_on"
    run_plan(city, on, {"grids.count": 2, "inputs.facilities": ["facilities_enterprise.csv"]})
    rec_on = json.loads((on / "run.json").read_text(encoding="utf-8"))
    assert "T1" in rec_on["candidate_leads"]
    assert verify_run(on) == []

    off = tmp_path / "enterprise_off"
    run_plan(city, off, {"grids.count": 2, "inputs.facilities": ["facilities_enterprise.csv"],
                         "plan.allow_enterprise_leads": False})
    rec_off = json.loads((off / "run.json").read_text(encoding="utf-8"))
    assert "T1" not in rec_off["candidate_leads"]
    assert "T1" not in leads_of(off).values()
    assert sorted(leads_of(off).values()) == ["T2", "T3"]
    assert verify_run(off) == []

    # allowed, the central enterprise hospital is the optimiser's choice, and its R2.lead row flags the reading …
    assert "T1" in leads_of(on).values()
    g = {v: k for k, v in leads_of(on).items()}["T1"]
    comp = compliance_of(on).set_index(["rule_id", "scope"])
    row = comp.loc[("R2.lead", g)]
    assert "enterprise-owned lead, allowed by the scenario switch" in row.actual
    assert row.reading.startswith("enterprise-owned tertiary hospitals may lead (plan.allow_enterprise_leads = true)")
    # … and the verifier reads the switch: that plan is not valid once enterprise leads are off
    rec_on["scenario"]["plan"]["allow_enterprise_leads"] = False
    (on / "run.json").write_text(json.dumps(rec_on, ensure_ascii=False), encoding="utf-8")
    found = verify_run(on)
    assert any(m.startswith("R2 lead: T1") and "enterprise" in m for m in found), found


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_failing_run_leaves_existing_output_untouched(city, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", str(city / "city.toml"), "--out", str(out), "--set", "grids.count=2"]) == 0
    before = _snapshot(out)
    siblings = sorted(os.listdir(tmp_path))
    rc = cli.main(["run", str(city / "city.toml"), "--out", str(out), "--set", "grids.count=2",
                   "--set", 'inputs.facilities=["facilities_one_lead.csv"]'])
    assert rc == 3  # PlanningError: no plan satisfies the rules
    assert capsys.readouterr().err.startswith("caregrid: no plan 无可行方案: rule 2 fails: ")
    assert _snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == siblings  # no temporary folder left behind
    assert verify_run(out) == []


def test_copying_a_run_keeps_it_valid(optimised, tmp_path):
    """The verifier reads only the folder: a copied run folder verifies the same."""
    dst = tmp_path / "copy"
    shutil.copytree(optimised, dst)
    assert verify_run(dst) == []
