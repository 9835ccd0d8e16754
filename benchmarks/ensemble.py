"""Benchmark: ensemble draws per minute for Fuxin r8 (``scenarios/fuxin.toml``), locally and on a Dask cluster.

Runs ``run_ensemble(scenario, --samples, seed)`` three ways and prints one row each:

* ``in-process``: ``workers=1`` — the draws one after another in this process (no cluster);
* ``local cluster``: ``workers=--workers`` — the executor's own ``distributed.LocalCluster`` (started inside the
  draws phase, so its start-up counts);
* ``dask cluster``: a ``dask scheduler`` and ``--workers`` ``dask worker`` processes (one thread each) that this
  script starts on 127.0.0.1 beforehand (their start-up does not count), reached with ``scheduler=ADDRESS`` as
  ``caregrid ensemble --scheduler`` would.

Columns: draws s (wall time of the draws phase, the ``draws`` call of the executor: each worker process also loads
the city and builds the units once), draws/min (samples / draws s × 60), check s (the consensus plan checked on every
draw's placement: another ``samples`` solves on the same executor), total s (the whole ``run_ensemble``, consensus
repair and writing the folder included) and ``same`` (draws.csv and the consensus layout equal to the first row's:
the results do not depend on where the draws ran). The machine is shared: seconds are upper bounds.

Usage: ``python benchmarks/ensemble.py [--samples 8] [--workers 2] [--seed 0] [--resolution 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from simulator.ensemble import run_ensemble
from simulator.executor import map_tasks

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "fuxin.toml"
DASK = str(Path(sys.executable).with_name("dask"))


class Timed:
    """An executor that records the wall time of each call by its progress label (draws, consensus check)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, fn: Callable, items, **kwargs) -> list:
        t = time.perf_counter()
        out = map_tasks(fn, items, **kwargs)
        self.seconds[kwargs.get("desc", "").split()[0]] = time.perf_counter() - t
        return out


def start_cluster(base: Path, n_workers: int) -> tuple[str, list[subprocess.Popen]]:
    """``dask scheduler`` + ``n_workers`` ``dask worker`` processes on 127.0.0.1; returns the address and processes."""
    from distributed import Client

    sf = base / "scheduler.json"
    procs = [_start([DASK, "scheduler", "--scheduler-file", str(sf), "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--dashboard-address", ":0"], base / "scheduler.log")]
    deadline = time.monotonic() + 60
    while not sf.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"dask scheduler did not start; see {base / 'scheduler.log'}")
        time.sleep(0.1)
    for k in range(n_workers):
        procs.append(_start([DASK, "worker", "--scheduler-file", str(sf), "--nthreads", "1", "--nworkers", "1",
                             "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "0"], base / f"w{k}.log"))
    with Client(scheduler_file=str(sf), timeout=30) as client:
        client.wait_for_workers(n_workers, timeout=120)
    return json.loads(sf.read_text())["address"], procs


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def run(label: str, out: Path, args, **where) -> dict:
    timed = Timed()
    t = time.perf_counter()
    res = run_ensemble(SCENARIO, args.samples, out, seed=args.seed, overrides={"units.resolution": args.resolution},
                       mapper=timed, progress=False, **where)
    total = time.perf_counter() - t
    draws_s = timed.seconds.get("draws", float("nan"))
    return {"mode": label, "workers": where.get("workers") or args.workers, "samples": args.samples,
            "draws s": draws_s, "draws/min": args.samples / draws_s * 60, "check s": timed.seconds.get("consensus",
                                                                                                   float("nan")),
            "total s": total, "plans": int((res.draws["status"] == "plan").sum()), "out": out}


def same(a: Path, b: Path) -> bool:
    da, db = (pd.read_csv(p / "draws.csv").drop(columns="seconds") for p in (a, b))
    layout = [(p / "consensus_layout.csv").read_bytes() if (p / "consensus_layout.csv").exists() else b""
              for p in (a, b)]
    return da.equals(db) and layout[0] == layout[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resolution", type=int, default=8)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="caregrid-bench-ensemble-") as tmp:
        base = Path(tmp)
        rows.append(run("in-process", base / "here", args, workers=1))
        rows.append(run("local cluster", base / "local", args, workers=args.workers))
        (base / "dask").mkdir()
        address, procs = start_cluster(base / "dask", args.workers)
        try:
            rows.append(run("dask cluster", base / "cluster", args, scheduler=address))
        finally:
            stop(procs)
        for r in rows:
            r["same"] = same(rows[0]["out"], r["out"])
    print(f"Fuxin r{args.resolution} ensemble ({SCENARIO.name}), seed {args.seed}, {os.cpu_count()} CPU cores")
    head = f"{'mode':14} {'workers':>7} {'samples':>7} {'draws s':>8} {'draws/min':>9} {'check s':>8} {'total s':>8} " \
           f"{'plans':>5} {'same':>5}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['mode']:14} {r['workers']:>7} {r['samples']:>7} {r['draws s']:>8.1f} {r['draws/min']:>9.1f} "
              f"{r['check s']:>8.1f} {r['total s']:>8.1f} {r['plans']:>5} {'yes' if r['same'] else 'NO':>5}")


if __name__ == "__main__":
    main()
