"""Benchmark ``simulator.optimise.assign_units_to_grids`` on synthetic hexagonal cities.

Each city is a rhombus of ``side x side`` hexagonal cells (484 = 22², 2,025 = 45², 5,041 = 71²,
19,881 = 141²) with seeded population (a few lognormal-ish centres plus noise), 6 candidate leads
spread over the city, 3 grids and balanced population bounds (total / 3 ± ``--balance``).
Travel minutes: unit → candidate = straight-line km × 1.3 circuity ÷ 30 km/h × 60 (+ 3 min access);
adjacency edge minutes = centre distance × a seeded road factor in [0.8, 1.2].

Usage::

    PYTHONPATH=/work/main .venv/bin/python benchmarks/solve_synthetic.py --sizes 484 2025 --time-limit 120

Each (size, mode) run happens in a fresh subprocess so that the peak resident memory
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) is per run.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

CELL_KM = 0.5  # hex centre spacing (km)


def hex_city(
    n_units: int, n_candidates: int = 6, seed: int = 0, cost_noise: float = 0.0
) -> dict[str, np.ndarray | sp.csr_matrix]:
    """Synthetic hexagonal city.

    Parameters
    ----------
    n_units : int
        Approximate number of units; the city is a ``side x side`` rhombus, side = round(sqrt(n)).
    n_candidates : int
        Candidate lead hospitals.
    seed : int
        Random seed.
    cost_noise : float
        Sigma of a multiplicative lognormal factor on unit → candidate minutes (road irregularity);
        0 keeps travel minutes monotone in distance, > 0 makes p-median plans fragmented.

    Returns
    -------
    dict
        ``population`` (n,) residents, ``cost`` (n, m) minutes, ``adjacency`` (n, n) CSR of edge
        minutes, ``lead_unit`` (m,), ``xy`` (n, 2) km.
    """
    rng = np.random.default_rng(seed)
    side = int(round(math.sqrt(n_units)))
    q, r = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    q, r = q.ravel(), r.ravel()
    n = q.size
    xy = np.stack([CELL_KM * (q + 0.5 * r), CELL_KM * (math.sqrt(3) / 2) * r], axis=1)
    idx = np.full((side, side), -1)
    idx[q, r] = np.arange(n)
    rows, cols = [], []
    for dq, dr in ((1, 0), (0, 1), (-1, 1)):
        q2, r2 = q + dq, r + dr
        ok = (q2 >= 0) & (q2 < side) & (r2 >= 0) & (r2 < side)
        rows.append(idx[q[ok], r[ok]])
        cols.append(idx[q2[ok], r2[ok]])
    a, b = np.concatenate(rows), np.concatenate(cols)
    factor = rng.uniform(0.8, 1.2, a.size)
    minutes = CELL_KM * factor * 1.3 / 30 * 60
    adj = sp.csr_matrix(
        (np.concatenate([minutes, minutes]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    )
    extent = xy.max(axis=0)
    centres = rng.uniform(0.15, 0.85, (4, 2)) * extent
    dens = np.zeros(n)
    for c in centres:
        d = np.linalg.norm(xy - c, axis=1)
        dens += rng.uniform(0.5, 1.5) * np.exp(-((d / (0.25 * extent.max())) ** 2))
    population = np.round(rng.gamma(2.0, 0.5, n) * (200 + 4000 * dens)).astype(float)
    # candidates: spread by picking units near a jittered 3 x 2 layout
    gx, gy = np.meshgrid([0.2, 0.5, 0.8], [0.3, 0.7])
    target = np.stack([gx.ravel(), gy.ravel()], axis=1)[:n_candidates] + rng.uniform(
        -0.08, 0.08, (n_candidates, 2)
    )
    target = target * extent
    lead_unit = np.array([int(np.argmin(np.linalg.norm(xy - t, axis=1))) for t in target])
    km = np.linalg.norm(xy[:, None, :] - xy[lead_unit][None, :, :], axis=2)
    cost = 3.0 + km * 1.3 / 30 * 60
    if cost_noise > 0:
        cost *= rng.lognormal(0.0, cost_noise, cost.shape)
    return {"population": population, "cost": cost, "adjacency": adj, "lead_unit": lead_unit, "xy": xy}


def run_one(
    size: int,
    mode: str,
    time_limit: float,
    balance: float,
    candidate_k: int | None,
    threads: int | None,
    cost_noise: float = 0.0,
) -> dict:
    """Solve one city in this process and return the table row."""
    from simulator.optimise import ModelSpec, assign_units_to_grids, connected_components_per_grid

    city = hex_city(size, cost_noise=cost_noise)
    total = city["population"].sum()
    grids = 3
    bounds = ((1 - balance) * total / grids, (1 + balance) * total / grids)
    t0 = time.perf_counter()
    spec = ModelSpec(
        city["population"],
        city["cost"],
        city["adjacency"],
        city["lead_unit"],
        grids,
        pop_bounds=bounds,
        candidate_k=candidate_k,
    )
    res = assign_units_to_grids(spec, contiguity=mode, time_limit_s=time_limit, threads=threads)
    wall = time.perf_counter() - t0
    contiguous = None
    if res.has_plan:
        contiguous = all(
            v == 1 for v in connected_components_per_grid(res.unit_lead, city["adjacency"]).values()
        )
    return {
        "units": int(city["population"].size),
        "candidates": int(city["lead_unit"].size),
        "grids": grids,
        "mode": mode,
        "k": candidate_k,
        "build_s": res.timings["build_s"],
        "solve_s": res.timings["solve_s"],
        "wall_s": wall,
        "status": res.status,
        "objective": res.objective,
        "bound": res.bound,
        "gap": res.gap,
        "iters": res.timings.get("iterations"),
        "cuts": res.timings.get("cuts"),
        "contiguous": contiguous,
        "vars": res.model_size.get("variables"),
        "rows": res.model_size.get("constraints"),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "notes": res.notes,
    }


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[484, 2025, 5041, 20000])
    ap.add_argument("--modes", nargs="+", default=["none", "fast", "exact", "flow"])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--balance", type=float, default=0.10, help="population bounds total/3 x (1 ± balance)")
    ap.add_argument("--cost-noise", type=float, default=0.0, help="lognormal sigma on unit-candidate minutes")
    ap.add_argument(
        "--candidate-k", type=int, nargs="+", default=[0], help="model reduction(s) to run; 0 = none"
    )
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--flow-max", type=int, default=2025, help="skip flow above this many units")
    ap.add_argument("--exact-max", type=int, default=5041, help="skip exact above this many units")
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of the table")
    ap.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._one:
        row = run_one(
            int(args._one[0]),
            args._one[1],
            args.time_limit,
            args.balance,
            args.candidate_k[0] or None,
            args.threads,
            args.cost_noise,
        )
        print(json.dumps(row))
        return 0
    head = (
        f"{'units':>6} {'cand':>4} {'grids':>5} {'mode':>5} {'k':>2} {'build s':>8} {'solve s':>8} "
        f"{'objective':>14} {'bound':>14} {'gap':>8} {'iters':>5} {'contig':>6} {'peak MB':>8}  status"
    )
    if not args.json:
        print(head)
        print("-" * len(head))
    runs = [(size, mode, k) for size in args.sizes for mode in args.modes for k in args.candidate_k]
    for size, mode, k in runs:
        if (mode == "flow" and size > args.flow_max) or (mode == "exact" and size > args.exact_max):
            continue
        cmd = [
            sys.executable,
            __file__,
            "--_one",
            str(size),
            mode,
            "--time-limit",
            str(args.time_limit),
            "--balance",
            str(args.balance),
            "--cost-noise",
            str(args.cost_noise),
        ]
        cmd += ["--candidate-k", str(k)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            print(f"{size:>6} {mode:>5} {k:>2} FAILED: {out.stderr.strip()[-400:]}")
            continue
        row = json.loads(lines[-1])
        if args.json:
            print(json.dumps(row))
            continue
        print(
            f"{row['units']:>6} {row['candidates']:>4} {row['grids']:>5} {mode:>5} {row['k'] or '-':>2} "
            f"{row['build_s']:>8.2f} {row['solve_s']:>8.2f} {_fmt(row['objective'], '14,.0f')} "
            f"{_fmt(row['bound'], '14,.0f')} {_fmt(row['gap'], '8.2e')} {row['iters'] or '-':>5} "
            f"{str(row['contiguous']):>6} {row['peak_mb']:>8.0f}  {row['status']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
