"""Benchmark the given-layout repair (``caregrid run --repair``) on realistic planner layouts.

For each city and H3 resolution it builds the planning units once, solves the scenario's optimiser plan once (mode
``optimise``, the scenario's contiguity) and then repairs these layouts, each through the plan stage exactly as
``caregrid run --repair`` does (:func:`simulator.plan.make.build_plan` with ``repair=True``, layout as a
``unit_id,grid_id`` CSV):

* ``districts`` — one grid per district (the district boundaries as grid polygons, like
  ``scenarios/fuxin_district_layout.toml``);
* ``flip-K`` — the optimiser's own plan with ``K`` random border units (seed 0) each given to the grid of a
  neighbouring unit in another grid;
* ``no-lead`` — the optimiser's plan with a new grid "X" cut out of it: the breadth-first ball of 10 % of the units
  around the populated unit farthest from every candidate lead (a grid with no eligible lead: repair dissolves it).

Printed per repair: layout, resolution, units, grids of the layout, contiguity, wall seconds (the whole plan stage:
travel times, model, solves, groups), build s (models and starts), solve s (solver time, summed over stages), rounds
(solves of the exact cut loop, both stages), start (residents the solver-free start moves:
:func:`simulator.optimise.repair_start.repair_start`), residents moved, the proven lower bound, solver status, gap,
and the optimiser's notes.

Usage: ``python benchmarks/repair.py [--cities panjin-r8 panjin-r9 fuxin-r8] [--layouts districts flip-10 …]
[--contiguity fast exact] [--time-limit 120]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CITIES = ["panjin-r8", "panjin-r9", "fuxin-r8"]
DEFAULT_LAYOUTS = ["districts", "flip-10", "flip-100", "no-lead"]
SCENARIO_FILES = {"panjin": "panjin.toml", "fuxin": "fuxin_district_layout.toml"}


def load_instance(name: str, time_limit: float):
    """Scenario (mode optimise), city and planning units of ``name`` (``panjin-r8`` …)."""
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city
    from simulator.units.pipeline import planning_units

    key, res = name.split("-r")
    scenario = load_scenario(ROOT / "scenarios" / SCENARIO_FILES[key],
                             {"units.resolution": int(res), "solver.time_limit_s": time_limit})
    if scenario.plan.mode != "optimise":
        scenario = dataclasses.replace(scenario, plan=dataclasses.replace(scenario.plan, mode="optimise"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        city = load_city(scenario)
        units = planning_units(scenario, city)
    return scenario, city, units


def optimiser_plan(scenario, city, units) -> np.ndarray:
    """(n,) grid id per unit of the scenario's own optimiser plan."""
    from simulator.plan.make import build_plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = build_plan(scenario, city, units)
    return plan.units["grid_id"].astype(str).to_numpy()


def district_layout(units) -> np.ndarray:
    """(n,) one grid per district: the district's name."""
    return units.gdf["district_name"].astype(str).to_numpy()


def flip_layout(grid: np.ndarray, adjacency, k: int, seed: int = 0) -> np.ndarray:
    """``grid`` with ``k`` random border units each moved to the grid of a random neighbour in another grid."""
    rng = np.random.default_rng(seed)
    a = adjacency.tocoo()
    out = grid.copy()
    border = np.unique(a.row[grid[a.row] != grid[a.col]])
    for u in rng.choice(border, size=min(k, border.size), replace=False):
        nb = a.col[a.row == u]
        other = nb[out[nb] != out[u]]
        if other.size:
            out[u] = out[rng.choice(other)]
    return out


def no_lead_layout(grid: np.ndarray, units, lead_units: np.ndarray, share: float = 0.1) -> np.ndarray:
    """``grid`` with a grid "X" (no lead): the BFS ball of ``share`` of the units around the populated unit
    farthest (straight line) from every candidate lead."""
    from scipy.sparse.csgraph import breadth_first_order

    g = units.gdf
    lon, lat = g["lon"].to_numpy(), g["lat"].to_numpy()
    d = np.min(np.hypot(lon[:, None] - lon[lead_units][None, :], lat[:, None] - lat[lead_units][None, :]), axis=1)
    d[g["population"].to_numpy() <= 0] = -1
    seed = int(np.argmax(d))
    order = breadth_first_order(units.adjacency, seed, directed=False, return_predecessors=False)
    ball = order[: max(1, int(share * len(g)))]
    ball = ball[~np.isin(ball, lead_units)]
    out = grid.copy()
    out[ball] = "X"
    return out


def repair(scenario, city, units, layout: np.ndarray, contiguity: str) -> dict:
    """One repair through the plan stage; wall seconds and the run record's facts."""
    from simulator.plan.make import build_plan

    with tempfile.TemporaryDirectory(prefix="caregrid-bench-") as tmp:
        path = Path(tmp) / "layout.csv"
        pd.DataFrame({"unit_id": units.gdf["unit_id"].astype(str), "grid_id": layout}).to_csv(path, index=False)
        plan = dataclasses.replace(scenario.plan, mode="given_layout", layout=str(path), layout_crs=None,
                                   layout_grid_field="grid_id")
        solver = dataclasses.replace(scenario.solver, contiguity=contiguity)
        sc = dataclasses.replace(scenario, plan=plan, solver=solver)
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = build_plan(sc, city, units, repair=True)
        except Exception as exc:  # noqa: BLE001 - the table shows the failure and goes on
            return {"wall_s": time.perf_counter() - t0, "status": f"{type(exc).__name__}: {str(exc)[:60]}"}
        wall = time.perf_counter() - t0
    rec = p.record
    tm = rec.get("timings") or {}
    notes = [{"code": getattr(n, "code", ""), **getattr(n, "facts", {})} for n in rec["solver_notes"]]
    codes = [n.get("code") for n in notes]
    start = next((n.get("moved") for n in notes if n.get("code") == "repair_start"), None)
    return {"wall_s": wall, "build_s": tm.get("build_s"), "solve_s": tm.get("solve_s"),
            "moved": rec.get("objective"), "bound": rec.get("best_bound"), "status": rec.get("status"),
            "gap": rec.get("gap"), "iterations": tm.get("iterations"), "cuts": tm.get("cuts"),
            "start": start, "notes": ",".join(c for c in codes if c), "timings": tm}


def _fmt(v, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def main(argv: list[str] | None = None) -> None:
    """Print the repair table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cities", nargs="+", default=DEFAULT_CITIES)
    ap.add_argument("--layouts", nargs="+", default=DEFAULT_LAYOUTS)
    ap.add_argument("--contiguity", nargs="+", default=["fast", "exact"])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--json", type=Path, help="also write the rows as JSON lines here")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    head = (f"{'layout':10} {'res':>3} {'units':>6} {'grids':>5} {'contig':>6} {'wall s':>7} {'build s':>7} "
            f"{'solve s':>7} {'rounds':>6} {'start':>9} {'moved':>9} {'bound':>9} {'status':>20} {'gap':>7}  notes")
    print(head, flush=True)
    for name in args.cities:
        res = int(name.split("-r")[1])
        t0 = time.perf_counter()
        scenario, city, units = load_instance(name, args.time_limit)
        try:
            base = optimiser_plan(scenario, city, units)
        except Exception as exc:  # noqa: BLE001 - e.g. Fuxin: rule 3 cannot hold with the embedded roster
            print(f"# {name}: {len(units.gdf):,} units; the optimiser finds no plan, so no repair can "
                  f"({type(exc).__name__}: {str(exc)[:100]} …)", flush=True)
            continue
        prep = time.perf_counter() - t0
        from simulator.plan.groups import facility_units

        f = city.facilities
        fac_unit = facility_units(f, units.gdf)
        leads = fac_unit[(f["level"] == "tertiary").to_numpy() & (fac_unit >= 0)]
        print(f"# {name}: {len(units.gdf):,} units, optimiser plan with {len(set(base))} grids ({prep:.1f} s)",
              flush=True)
        for lay in args.layouts:
            if lay == "districts":
                layout = district_layout(units)
            elif lay.startswith("flip-"):
                layout = flip_layout(base, units.adjacency, int(lay.split("-")[1]))
            elif lay == "no-lead":
                layout = no_lead_layout(base, units, leads)
            else:
                raise SystemExit(f"unknown layout {lay}")
            for fam in args.contiguity:
                r = repair(scenario, city, units, layout, fam)
                print(f"{lay:10} {res:>3} {len(layout):>6} {len(set(layout)):>5} {fam:>6} {_fmt(r['wall_s'], '7.1f')} "
                      f"{_fmt(r.get('build_s'), '7.1f')} {_fmt(r.get('solve_s'), '7.1f')} "
                      f"{_fmt(r.get('iterations'), '6d')} {_fmt(r.get('start'), '9,.0f')} "
                      f"{_fmt(r.get('moved'), '9,.0f')} {_fmt(r.get('bound'), '9,.0f')} {r['status']:>20} "
                      f"{_fmt(r.get('gap'), '7.2%')}  {r.get('notes', '')}", flush=True)
                if args.json:
                    with args.json.open("a") as fh:
                        fh.write(json.dumps({"city": name, "layout": lay, "contiguity": fam,
                                             **{k: v for k, v in r.items()}}, default=str) + "\n")


if __name__ == "__main__":
    main()
