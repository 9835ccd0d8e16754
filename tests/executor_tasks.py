"""Task functions for the executor tests, in a module Dask workers can import (tests/ on their PYTHONPATH).

Not a test module itself (pytest collects only ``test_*.py``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from simulator.errors import InputError, PlanningError, RuleFailure


def square(x: int) -> int:
    return x * x


def seeded_draw(seed: int) -> list[float]:
    """A result fixed by its seed alone, whichever process draws it."""
    return np.random.default_rng(seed).random(4).tolist()


def pid_after(seconds: float) -> int:
    """The process that ran the task (after holding it for ``seconds``, so every worker gets one)."""
    time.sleep(seconds)
    return os.getpid()


def fail_on_two(k: int) -> int:
    """Item 2 raises a PlanningError with structured failures; the others take a moment."""
    if k == 2:
        raise PlanningError(failures=[RuleFailure("R3.member", "grid G2 has no secondary hospital", "add one")])
    time.sleep(0.5)
    return k


def bad_input(k: int) -> int:
    raise InputError("facilities.csv", "expected a longitude in degrees", row=k, field="lon")


def slow_record(item: tuple[str, int, float]) -> dict:
    """Append ``start k pid`` to the log, hold the task ``seconds``, append ``end k pid``; a result fixed by ``k``."""
    log, k, seconds = item
    _append(log, f"start {k} {os.getpid()}")
    time.sleep(seconds)
    _append(log, f"end {k} {os.getpid()}")
    return {"k": k, "value": k * k + 0.5, "draw": seeded_draw(k)}


def _append(log: str, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_log(log: str | Path) -> list[tuple[str, int, int]]:
    """The log of :func:`slow_record` as (event, item, pid) tuples."""
    path = Path(log)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("start", "end"):  # a line being written is read next time
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def late_first(k: int) -> int:
    """Early items finish last (so completion order differs from input order)."""
    time.sleep(max(0.0, 1.2 - 0.3 * k))
    return k


def inside_worker(_: object) -> bool:
    from simulator.executor import in_worker

    return in_worker()


def die_once(item: tuple[str, int]) -> int:
    """The first run of item 0 kills its worker process (as an out-of-memory kill would); every run after works."""
    marker, k = item
    if k == 0 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    time.sleep(0.2)
    return k


def die(_: object) -> None:
    os._exit(1)


#: run.json keys that differ between two runs of the same plan: clock times, the solver thread count
RUN_VOLATILE = {"timings", "threads"}


def assert_same_sweep(a: Path, b: Path) -> None:
    """Two sweep folders hold the same results: table (but solve times), chart, and every variant's run folder
    (CSV files byte for byte, plan layers, run.json but clock times and the solver's thread count)."""
    import geopandas as gpd
    import pandas as pd
    from pandas.testing import assert_frame_equal

    ta, tb = (pd.read_csv(p / "sweep.csv").drop(columns="solve_s", errors="ignore") for p in (a, b))
    assert_frame_equal(ta, tb)
    assert (a / "sweep.png").read_bytes() == (b / "sweep.png").read_bytes()
    names = sorted(p.name for p in (a / "variants").iterdir())
    assert names == sorted(p.name for p in (b / "variants").iterdir())
    assert len(names) == int(ta["status"].eq("optimal").sum())  # one run folder per variant with a plan
    for name in names:
        va, vb = a / "variants" / name, b / "variants" / name
        files = sorted(p.name for p in va.iterdir())
        assert files == sorted(p.name for p in vb.iterdir()), name
        for f in files:
            if f.endswith((".csv", ".json")) and f != "run.json":
                assert (va / f).read_bytes() == (vb / f).read_bytes(), f"{name}/{f}"
        assert _stable(json.loads((va / "run.json").read_text())) == _stable(json.loads((vb / "run.json").read_text()))
        for layer in ("units", "grids", "facilities"):
            la, lb = (gpd.read_file(v / "plan.gpkg", layer=layer) for v in (va, vb))
            assert_frame_equal(pd.DataFrame(la.drop(columns="geometry")), pd.DataFrame(lb.drop(columns="geometry")))
            assert la.geometry.geom_equals_exact(lb.geometry, 0).all(), f"{name} {layer} geometry"


def _stable(record):
    if isinstance(record, dict):
        return {k: _stable(v) for k, v in record.items() if k not in RUN_VOLATILE}
    if isinstance(record, list):
        return [_stable(v) for v in record]
    return record


def new_children(before: set[int], wait_s: float = 20.0) -> list:
    """Child processes of this one not in ``before`` still running after ``wait_s`` (multiprocessing's resource
    tracker, started once per process by the first spawned worker, excepted)."""
    import psutil

    def tracker(p) -> bool:
        try:
            return "resource_tracker" in " ".join(p.cmdline())
        except psutil.Error:
            return False

    new = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and not tracker(p)]
    _, alive = psutil.wait_procs(new, timeout=wait_s)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
