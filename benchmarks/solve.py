"""Benchmark the optimiser on the real Fuxin and Panjin unit graphs (H3 7, 8, 9) and a synthetic 20,000-unit city.

For each instance it prints: units, candidate leads, grids, contiguity mode, build s, solve s, objective
(resident-minutes), best bound, gap, peak memory (MB, max RSS of a fresh process per run) — for the fast
(shortest-path) mode, and beside it the same instance with exact (cut loop, ≤ ``--exact-max`` units), the plain
single-commodity flow formulation (≤ ``--flow-max`` units) and no contiguity (p-median: a lower bound); then
spopt's ``PMedian`` on the same units, candidates and costs (no contiguity; one solve per grid count of the range,
seconds summed) and the ratio of caregrid's fast wall time to spopt's (``pip install spopt`` first: a benchmark-only
dependency, extra ``bench``). ``--solvers highs highs_pulp`` compares the array-fed HiGHS back-end with the PuLP path.

Instances
---------
* ``panjin-rN``: Panjin's urban districts at H3 resolution N with the real candidate leads (eligible tertiary
  hospitals in distinct units), the rule-3 and rule-5 member families, 2–3 grids — exactly what ``caregrid run``
  solves.
* ``fuxin-rN``: Fuxin's urban districts at resolution N. Fuxin's real leads share one location (README, Data
  gaps), so this instance uses **synthetic candidate sites** — the most populous unit of each district — and 3
  grids without member families: a solver benchmark on Fuxin's real unit graph (exclave bridge included), not a plan.
* ``panjin_all-rN`` / ``fuxin_all-rN``: the whole city (counties included; scenarios ``panjin_all`` /
  ``fuxin_all_res7`` at resolution N), candidates as above.
* ``synthetic-20000``: a 141 × 141 hexagonal city (``benchmarks/solve_synthetic.py``), 6 candidates, 3 grids,
  balanced population bounds (± 10 %), ``candidate_k = 4``.

Usage: ``python benchmarks/solve.py [--instances panjin-r7 fuxin-r8 …] [--time-limit 600] [--lead-outside]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["fuxin-r7", "fuxin-r8", "fuxin-r9", "panjin-r7", "panjin-r8", "panjin-r9", "panjin_all-r8", "fuxin_all-r8",
           "synthetic-20000", "fuxin_all-r9"]

#: the speed issue's targets, with the figures measured before it (README benchmark table at commit b90c638, same
#: machine): (what, instance, mode, before, target text, check(result) -> bool)
TARGETS = [
    ("Panjin urban r9, fast", "panjin-r9", "fast", "285 s", "<= 30 s", lambda r: r["wall_s"] <= 30),
    ("panjin_all r8, fast", "panjin_all-r8", "fast", "> 120 s (time limit)", "<= 15 s", lambda r: r["wall_s"] <= 15),
    ("Fuxin all r8, no candidate_k", "fuxin_all-r8", "fast", "needs candidate_k", "<= 30 s",
     lambda r: r["wall_s"] <= 30),
    ("exact contiguity", "panjin_all-r8", "exact", "<= 2,000 units <= 60 s", "<= 8,000 units <= 60 s",
     lambda r: r["wall_s"] <= 60 and r["units"] >= 8000),
    ("Fuxin all r9, proven plan", "fuxin_all-r9", "fast", "not tried", "<= 600 s, < 8 GB",
     lambda r: r["wall_s"] <= 600 and r["peak_mb"] < 8192 and r["gap"] is not None),
    ("peak memory at 37,568 units", "panjin-r9", "fast", "1.3 GB", "< 2 GB", lambda r: r["peak_mb"] < 2048),
]
#: instance name prefix -> scenario file stem (the resolution comes from the name)
SCENARIO_FILES = {"fuxin_all": "fuxin_all_res7"}


def build_instance(name: str) -> dict:
    """Arrays for one instance (population, cost, adjacency minutes, lead units, grid count, options)."""
    if name.startswith("synthetic"):
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from solve_synthetic import hex_city

        city = hex_city(int(name.split("-")[1]))
        total = city["population"].sum()
        return dict(population=city["population"], cost=city["cost"], adjacency=city["adjacency"],
                    lead_unit=city["lead_unit"], n_grids=3, candidate_k=4,
                    pop_bounds=(0.9 * total / 3, 1.1 * total / 3), member_units=None)
    from simulator.config.rules import load_rules
    from simulator.config.scenario import load_scenario
    from simulator.load.city import load_city
    from simulator.plan.groups import facility_units
    from simulator.plan.make import precheck
    from simulator.travel import adjacency_minutes, unit_to_point_minutes
    from simulator.units.pipeline import planning_units

    city_key, res = name.split("-r")
    scenario = load_scenario(ROOT / "scenarios" / f"{SCENARIO_FILES.get(city_key, city_key)}.toml",
                             {"units.resolution": int(res)})
    city = load_city(scenario)
    units = planning_units(scenario, city)
    g = units.gdf
    lon, lat = g["lon"].to_numpy(), g["lat"].to_numpy()
    tr = scenario.travel
    adj = adjacency_minutes(units.adjacency, lon, lat, tr.speed_kmh, tr.circuity)
    pop = g["population"].to_numpy(dtype=float)
    if city_key.startswith("panjin"):
        f = city.facilities
        fac_unit = facility_units(f, g)
        cand, member = precheck(city, units, load_rules(scenario.rules), scenario, fac_unit)
        _, first = np.unique(fac_unit[cand], return_index=True)
        cand = cand[np.sort(first)]
        cost = unit_to_point_minutes(lon, lat, f["lon"].to_numpy()[cand], f["lat"].to_numpy()[cand],
                                     tr.speed_kmh, tr.circuity)
        return dict(population=pop, cost=cost, adjacency=adj, lead_unit=fac_unit[cand], n_grids=(2, 3),
                    candidate_k=None, pop_bounds=None, member_units=member)
    lead_unit = np.array([idx[np.argmax(pop[idx])] for idx in g.groupby("district").indices.values()])
    cost = unit_to_point_minutes(lon, lat, lon[lead_unit], lat[lead_unit], tr.speed_kmh, tr.circuity)
    return dict(population=pop, cost=cost, adjacency=adj, lead_unit=lead_unit, n_grids=3, candidate_k=None,
                pop_bounds=None, member_units=None)


def run_spopt(inst: dict, time_limit: float) -> dict:
    """spopt's PMedian (no contiguity, no member rules) on the same units, candidates and costs, for every grid count
    of the range (the same question caregrid answers in one call); seconds are model build + solve, summed."""
    import pulp
    from spopt.locate import PMedian

    lo, hi = inst["n_grids"] if isinstance(inst["n_grids"], tuple) else (inst["n_grids"],) * 2
    cost = np.where(np.isfinite(inst["cost"]), inst["cost"], 1e6)
    best, wall = np.inf, 0.0
    for p in range(lo, min(hi, cost.shape[1]) + 1):
        t0 = time.perf_counter()
        model = PMedian.from_cost_matrix(cost, inst["population"], p_facilities=p)
        model = model.solve(pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=1e-3), results=False)
        wall += time.perf_counter() - t0
        best = min(best, float(pulp.value(model.problem.objective)))
    return {"build_s": None, "solve_s": wall, "objective": best, "bound": None, "gap": None, "status": "spopt"}


def verify_plan(inst: dict, res, contiguous: bool, lead_inside: bool) -> str:
    """Independent check of a returned plan ("" when it holds): every unit in an open grid, grid count, member units,
    population bounds, contiguity (connected components of each grid's units), leads inside their grids when the
    reading asks it, the objective recomputed from the plan and the bound on the right side of it."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    lab = np.asarray(res.unit_lead)
    pop, cost, lead_unit = inst["population"], inst["cost"], np.asarray(inst["lead_unit"])
    if lab.size == 0 or (lab < 0).any():
        return "units without a grid"
    opened = np.unique(lab)
    lo, hi = inst["n_grids"] if isinstance(inst["n_grids"], tuple) else (inst["n_grids"],) * 2
    if not lo <= opened.size <= hi:
        return f"{opened.size} grids"
    adj = sp.csr_matrix(inst["adjacency"])
    member = inst.get("member_units")
    member = None if member is None else np.atleast_2d(member)
    bounds = inst.get("pop_bounds") or (None, None)
    for j in opened:
        mask = lab == j
        if member is not None and not (member[:, mask].any(axis=1)).all():
            return f"grid {j} lacks a member unit"
        if (bounds[0] is not None and pop[mask].sum() < bounds[0] - 1e-6) or (
                bounds[1] is not None and pop[mask].sum() > bounds[1] + 1e-6):
            return f"grid {j} population out of bounds"
        if contiguous and connected_components(adj[mask][:, mask], directed=False)[0] != 1:
            return f"grid {j} not contiguous"
        if lead_inside and lab[lead_unit[j]] != j:
            return f"lead {j} outside its grid"
    wt = float((pop * cost[np.arange(lab.size), lab]).sum())
    if abs(wt - res.weighted_time) > 1e-6 * max(1.0, wt):
        return "objective does not match the plan"
    if res.bound is not None and res.bound > wt * (1 + 1e-9) + 1e-6:
        return "bound above the plan"
    return ""


def run_one(name: str, mode: str, time_limit: float, solver: str = "highs", lead_inside: bool = True) -> dict:
    from simulator.optimise import ModelSpec, assign_units_to_grids

    inst = build_instance(name)
    if mode == "spopt":
        t0 = time.perf_counter()
        out = run_spopt(inst, time_limit)
        return {
            "instance": name, "units": int(len(inst["population"])), "candidates": int(len(inst["lead_unit"])),
            "grids": str(inst["n_grids"]), "mode": mode, "solver": "spopt", "wall_s": time.perf_counter() - t0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **out,
        }
    t0 = time.perf_counter()
    res = assign_units_to_grids(ModelSpec(**inst, lead_inside=lead_inside), contiguity=mode, time_limit_s=time_limit,
                                gap=1e-3, solver=solver)
    wall = time.perf_counter() - t0
    problem = verify_plan(inst, res, mode != "none", lead_inside) if res.has_plan else ""
    return {
        "instance": name, "units": int(len(inst["population"])), "candidates": int(len(inst["lead_unit"])),
        "grids": str(inst["n_grids"]), "mode": mode, "solver": solver, "build_s": res.timings.get("build_s"),
        "solve_s": res.timings.get("solve_s"), "wall_s": wall, "objective": res.weighted_time,
        "bound": res.bound, "gap": res.gap,
        "status": res.status + (f" NOT VERIFIED: {problem}" if problem else " verified" if res.has_plan else ""),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _fmt(v, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def print_targets(results: dict[tuple[str, str, str], dict]) -> None:
    """The speed issue's targets: the figure before it, the target and this run's figure (wall s, peak MB)."""
    rows = [(what, before, target, results.get((inst, mode, "highs")), check)
            for what, inst, mode, before, target, check in TARGETS]
    rows = [row for row in rows if row[3] is not None]
    if not rows:
        return
    print("\ntargets (before: README at b90c638, same machine; now: this run, wall seconds):")
    print(f"{'target':30} {'before':>24} {'target':>24} {'now':>34}  met")
    for what, before, target, r, check in rows:
        now = f"{r['units']:,} units {r['wall_s']:.1f} s {r['peak_mb']:.0f} MB {r['status']}"
        print(f"{what:30} {before:>24} {target:>24} {now:>34}  {'yes' if check(r) else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", nargs="+", default=DEFAULT)
    ap.add_argument("--modes", nargs="+", default=["fast", "exact", "flow", "none", "spopt"],
                    help="contiguity modes, and spopt: spopt's PMedian on the same instance (pip install spopt)")
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--exact-max", type=int, default=9000)
    ap.add_argument("--spopt-max", type=int, default=40000, help="skip spopt above this many units (hours at 146k)")
    ap.add_argument("--flow-max", type=int, default=2100)
    ap.add_argument("--solvers", nargs="+", default=["highs"],
                    help="back-ends to compare: highs (arrays handed to HiGHS), highs_pulp (through PuLP), cbc")
    ap.add_argument("--lead-outside", action="store_true",
                    help="leads may stand outside their grid (ModelSpec.lead_inside=False)")
    ap.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._one:
        print(json.dumps(run_one(args._one[0], args._one[1], args.time_limit, args._one[2],
                                   not args.lead_outside)))
        return 0
    head = (f"{'instance':16} {'units':>7} {'cand':>4} {'grids':>6} {'mode':>5} {'solver':>10} {'build s':>8} "
            f"{'solve s':>8} {'wall s':>8} {'objective':>15} {'bound':>15} {'gap':>8} {'peak MB':>8}  status")
    print(head)
    print("-" * len(head), flush=True)
    ratios = []
    results: dict[tuple[str, str, str], dict] = {}
    for name in args.instances:
        units = None
        wall: dict[str, float] = {}
        for mode, solver in ((m, s) for m in args.modes for s in (args.solvers if m != "spopt" else ["spopt"])):
            if units is not None and ((mode == "exact" and units > args.exact_max)
                                      or (mode == "flow" and units > args.flow_max)
                                      or (mode == "spopt" and units > args.spopt_max)):
                print(f"{name:16} {units:>7,} {'':>4} {'':>6} {mode:>5}  skipped (> {mode} size limit)", flush=True)
                continue
            cmd = [sys.executable, __file__, "--_one", name, mode, solver, "--time-limit", str(args.time_limit)]
            cmd += ["--lead-outside"] if args.lead_outside else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                print(f"{name:16} {mode:>5} FAILED: {out.stderr.strip()[-300:]}", flush=True)
                continue
            r = json.loads(lines[-1])
            units = r["units"]
            results[(name, mode, solver)] = r
            wall[f"{mode}/{solver}"] = r["wall_s"]
            print(f"{name:16} {r['units']:>7,} {r['candidates']:>4} {r['grids']:>6} {mode:>5} {solver:>10} "
                  f"{_fmt(r['build_s'], '8.2f')} {_fmt(r['solve_s'], '8.2f')} {_fmt(r['wall_s'], '8.2f')} "
                  f"{_fmt(r['objective'], '15,.0f')} {_fmt(r['bound'], '15,.0f')} {_fmt(r['gap'], '8.1e')} "
                  f"{r['peak_mb']:>8.0f}  {r['status']}", flush=True)
        if "fast/highs" in wall and "spopt/spopt" in wall:
            ratios.append((name, units, wall["fast/highs"], wall["spopt/spopt"]))
    if ratios:
        print("\ncaregrid fast (contiguous, member rules) vs spopt PMedian (no contiguity), wall seconds:")
        for name, units, ours, theirs in ratios:
            print(f"{name:16} {units:>7,}  caregrid {ours:8.2f}  spopt {theirs:8.2f}  ratio {ours / theirs:5.2f}")
    print_targets(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
