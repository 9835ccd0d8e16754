"""How the shared-centre location model (``simulator.plan.shared_centres.locate``) scales with the number of groups.

Usage::

    python benchmarks/shared_centres.py --groups 5 20 50 100 200 --hosts 4

Synthetic cities: groups on a ring, each with ``--hosts`` candidate hosts; a group may also use the hosts of its two
neighbours (``plan.share_centres``), at minutes drawn at random (own hosts cheaper on average). For each size and open
cost the table prints the solve time, the open centres, the groups served by a neighbour, and two independent checks:
the objective is at most the no-sharing total (each group's own cheapest host, a feasible plan) and at least the
bound Σ_g min_h cost + open cost (every group pays at least its cheapest allowed host, at least one centre is open).
Real cities have 2–9 groups: the model is solved in milliseconds there.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simulator.plan.shared_centres import locate


def ring_instance(n_groups: int, hosts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(cost (g, h), owner (h,)): volume-weighted minutes, ``inf`` outside a group and its two ring neighbours."""
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(n_groups), hosts)
    cost = np.full((n_groups, len(owner)), np.inf)
    for g in range(n_groups):
        for d, scale in ((0, 1.0), (-1, 1.6), (1, 1.6)):
            cols = np.flatnonzero(owner == (g + d) % n_groups)
            cost[g, cols] = scale * rng.uniform(1_000, 10_000, len(cols))
    return cost, owner


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, nargs="+", default=[5, 20, 50, 100, 200])
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--open-cost", type=float, nargs="+", default=[0.0, 5_000.0, 50_000.0])
    args = ap.parse_args(argv)
    print(f"{'groups':>6} {'hosts':>6} {'open cost':>10} {'seconds':>8} {'open':>5} {'shared':>6} "
          f"{'objective':>12} {'<= alone':>8} {'>= bound':>8}")
    for n in args.groups:
        cost, owner = ring_instance(n, args.hosts)
        own = np.where(owner[None, :] == np.arange(n)[:, None], cost, np.inf)
        for f in args.open_cost:
            t0 = time.perf_counter()
            pick, total = locate(cost, owner, f)
            dt = time.perf_counter() - t0
            alone = own.min(axis=1).sum() + f * n
            bound = cost.min(axis=1).sum() + f
            shared = int((owner[pick] != np.arange(n)).sum())
            print(f"{n:>6} {len(owner):>6} {f:>10,.0f} {dt:>8.3f} {len(set(pick.tolist())):>5} {shared:>6} "
                  f"{total:>12,.0f} {str(total <= alone + 1e-6):>8} {str(total >= bound - 1e-6):>8}")


if __name__ == "__main__":
    main()
