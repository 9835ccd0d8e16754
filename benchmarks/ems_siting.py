"""Ambulance-station siting on a real city: instance size after the reductions, seconds, coverage and proof.

Usage::

    python benchmarks/ems_siting.py                       # Panjin urban districts, H3 resolution 7, T = 12 min
    python benchmarks/ems_siting.py --resolution 8 --minutes 12 15 --k 5 10 --share 0.8 0.9

Builds the scenario's planning units (``scenarios/panjin.toml`` unless ``--scenario``), takes every unit's point as
a candidate site, and for each T prints one row per model: maximal covering for each ``--k`` (residents covered, the
solver's bound) and set covering for each ``--share`` (stations, the proven fewest). The reduction columns say how
many units (rows) and sites (columns) the model kept. Every answer's coverage is recomputed from the coverage matrix.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "panjin.toml"))
    ap.add_argument("--resolution", type=int, default=None)
    ap.add_argument("--minutes", type=float, nargs="+", default=[12.0])
    ap.add_argument("--k", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--share", type=float, nargs="+", default=[0.8, 0.9])
    ap.add_argument("--time-limit", type=float, default=120.0)
    args = ap.parse_args()

    from simulator import load_city, load_scenario, planning_units
    from simulator.optimise.ems_siting import (
        covered_units,
        maximal_covering,
        reduce_instance,
        set_covering,
        site_coverage,
    )

    overrides = {"units.resolution": args.resolution} if args.resolution else {}
    sc = load_scenario(args.scenario, overrides)
    city = load_city(sc)
    units = planning_units(sc, city).gdf
    lon, lat = units["lon"].to_numpy(), units["lat"].to_numpy()
    pop = units["population"].to_numpy(dtype=float)
    print(f"{sc.name}: {len(units):,} units, {pop.sum():,.0f} residents; candidates = every unit's point")
    head = f"{'T min':>5} {'model':<17} {'k/share':>7} {'rows':>6} {'sites':>6} {'stations':>8} {'covered':>8} " \
           f"{'proof':>12} {'status':<20} {'seconds':>7}"
    print(head)
    print("-" * len(head))
    for t in args.minutes:
        t0 = time.perf_counter()
        cover = site_coverage(lon, lat, lon, lat, t, sc.travel.speed_kmh, sc.travel.circuity)
        build = time.perf_counter() - t0
        w, c, kept = reduce_instance(pop[pop > 0], cover[pop > 0])
        print(f"{t:>5g} coverage matrix: {cover.nnz:,} pairs within T in {build:.2f} s; "
              f"reduced to {len(w):,} rows × {len(kept):,} sites")
        for k in args.k:
            t0 = time.perf_counter()
            r = maximal_covering(pop, cover, k, time_limit=args.time_limit)
            s = time.perf_counter() - t0
            check = pop[covered_units(cover, r.chosen)].sum()
            assert abs(check - r.covered_population) < 1e-6
            proof = f"≤ {r.bound / pop.sum():.2%}" if r.bound is not None else "none"
            print(f"{t:>5g} {'maximal_covering':<17} {k:>7} {len(w):>6,} {len(kept):>6,} {len(r.chosen):>8} "
                  f"{r.share:>8.2%} {proof:>12} {r.status:<20} {s:>7.1f}")
        for share in args.share:
            t0 = time.perf_counter()
            r = set_covering(pop, cover, share, time_limit=args.time_limit)
            s = time.perf_counter() - t0
            proof = f"≥ {r.bound:.0f} needed" if r.bound is not None else "none"
            print(f"{t:>5g} {'set_covering':<17} {share:>7.0%} {len(w):>6,} {len(kept):>6,} {len(r.chosen):>8} "
                  f"{r.share:>8.2%} {proof:>12} {r.status:<20} {s:>7.1f}")
    print(f"(numpy {np.__version__}; seconds are wall time on a shared machine: upper bounds)")


if __name__ == "__main__":
    main()
