"""Solver runs of ``caregrid app`` in a background thread: progress, cancel, and the result as an undoable edit.

Modes:

* ``repair`` — the given-layout repair of ``caregrid run --repair``: the compliant plan that moves the fewest
  residents from the painted layout;
* ``optimise`` — the scenario's optimiser from the current facilities (the base scenario's mode when it optimises
  or fixes leads, else ``optimise``);
* ``fill`` — the units of grids without an eligible lead (unpainted, or painted into a grid still to be settled)
  join the grids that have one; every other unit stays where it is and no grid is added.

Locked units stay in the grid they are in (the grid's lead is fixed for them: ``ModelSpec.fixed_assignment``) in
every mode; a locked unit in a grid without an eligible lead cannot be kept and is refused, named.
Grids keep their names where their lead keeps leading; a grid of a new lead gets the solver's name (G1, G2 …, made
distinct from the names in use).

The plan stage runs in a forked process (the server stays responsive, and the solver holds no lock the page needs);
only the plan's grid and lead per unit come back. Progress is the stage (preparing, solving, applying) and, while
solving, the share of the solver's time limit used (the solver reports no finer progress). Cancel kills the solver
process at once; the layout stays as it was.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CaregridError, InputError, PlanningError
from ..plan.make import build_plan
from .state import REQUEST, Workspace, atomic_write_text

MODES = ("repair", "optimise", "fill")


@dataclass
class Job:
    """One solver run: ``status`` queued → running → done | failed | cancelled."""

    id: str
    mode: str
    status: str = "queued"
    stage: str = "queued"
    started: float = field(default_factory=time.monotonic)
    time_limit_s: float = 0.0
    solving_since: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    process: Any = None  # the solver process (multiprocessing.Process) while it runs

    def progress(self) -> float:
        """0–1: stages, and while solving the share of the time limit used (at most 0.9)."""
        if self.status in ("done", "failed", "cancelled"):
            return 1.0
        if self.stage == "solving" and self.solving_since is not None:
            used = (time.monotonic() - self.solving_since) / max(self.time_limit_s, 1e-9)
            return 0.2 + 0.7 * min(used, 1.0)
        return {"queued": 0.0, "preparing": 0.1, "applying": 0.95}.get(self.stage, 0.1)

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.id, "mode": self.mode, "status": self.status, "stage": self.stage,
                "progress": round(self.progress(), 3), "elapsed_s": round(time.monotonic() - self.started, 2),
                "result": self.result, "error": self.error, "failures": self.failures}


class JobRunner:
    """Runs solver jobs for one workspace; ``lock`` guards the workspace (the server holds it for every edit)."""

    def __init__(self, ws: Workspace, lock: threading.RLock) -> None:
        self.ws, self.lock = ws, lock
        self.jobs: dict[str, Job] = {}

    def submit(self, mode: Any) -> Job:
        """Start a ``repair``, ``optimise`` or ``fill`` run; :class:`InputError` for another mode or while a job
        runs."""
        if mode not in MODES:
            raise InputError(REQUEST, f"mode = {mode!r}; expected one of {', '.join(MODES)}", field="mode")
        if any(j.status in ("queued", "running") for j in self.jobs.values()):
            raise InputError(REQUEST, "a solver job is already running; wait for it or cancel it", field="mode")
        job = Job(uuid.uuid4().hex[:12], mode)
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), name=f"caregrid-job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise KeyError(job_id)
        return self.jobs[job_id]

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status in ("queued", "running"):
            job.cancelled.set()
            job.status = "cancelled"
            proc = job.process
            if proc is not None and proc.is_alive():
                proc.kill()  # the solver stops now, not at its time limit
        return job

    def _run(self, job: Job) -> None:
        layout = self.ws.folder / ".jobs" / job.id / "layout.csv"
        try:
            self._solve(job, layout)
        finally:
            layout.unlink(missing_ok=True)  # the job's own file, written below
            if layout.parent.exists() and not any(layout.parent.iterdir()):
                layout.parent.rmdir()

    def _solve(self, job: Job, layout) -> None:
        job.status, job.stage = "running", "preparing"
        try:
            with self.lock:
                ws = self.ws
                scenario, city, units, version = ws.scenario, ws.city, ws.units, ws.changes
                labels, locked = ws.labels.copy(), ws.locked.copy()
                grid_lead = ws.grid_lead()
                atomic_write_text(layout, ws.layout_csv())
            run_scenario, locks = _run_setup(job.mode, scenario, labels, locked, grid_lead, units, layout)
            job.time_limit_s = float(run_scenario.solver.time_limit_s or 60)
            job.stage, job.solving_since = "solving", time.monotonic()
            answer = self._in_child(job, run_scenario, city, units, locks)
            if answer is None:  # cancelled: the solver process is gone
                return
            plan_units, record, notes = answer
            job.stage = "applying"
            new = _names_kept(plan_units, grid_lead)
            with self.lock:
                if self.ws.changes is not version:
                    raise InputError(REQUEST, "the facilities changed while the solver ran; run it again",
                                     field="mode")
                moved = new != labels
                pop = units.gdf["population"].to_numpy(dtype=float)
                self.ws.apply_labels(new, "solve", mode=job.mode)
            job.result = {"units_moved": int(moved.sum()), "residents_moved": float(pop[moved].sum()),
                          "grids": sorted(set(new.tolist())), "solver_status": record.get("status"),
                          "objective_name": record.get("objective_name"),
                          "objective": _num(record.get("objective")), "notes": notes}
            job.status, job.stage = "done", "done"
        except _ChildFailed as exc:
            job.error, job.failures = exc.message, exc.failures
            job.status = "failed" if not job.cancelled.is_set() else "cancelled"
        except CaregridError as exc:
            job.error = f"{exc.label}: {exc}"
            job.status = "failed" if not job.cancelled.is_set() else "cancelled"
        except Exception as exc:  # a bug: the page says so in one line; the traceback goes to the server's log
            traceback.print_exc()
            job.error = f"internal error: {type(exc).__name__}: {exc}"
            job.status = "failed" if not job.cancelled.is_set() else "cancelled"


    def _in_child(self, job: Job, scenario, city, units, locks: dict[int, str]):
        """Run the plan stage in a forked process (cancel kills it at once); ``None`` when cancelled. Where ``fork``
        is not available (Windows, macOS' default) it runs in this thread and a cancel drops its result."""
        if "fork" not in multiprocessing.get_all_start_methods():
            kind, *payload = _answer(scenario, city, units, job.mode == "repair", locks)
            if job.cancelled.is_set():
                return None
            if kind == "error":
                raise _ChildFailed(*payload)
            return payload
        ctx = multiprocessing.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, scenario, city, units, job.mode == "repair", locks),
                           name=f"caregrid-solve-{job.id}", daemon=True)
        proc.start()
        send.close()
        job.process = proc
        try:
            while not recv.poll(0.1):
                if job.cancelled.is_set():
                    return None
                if not proc.is_alive() and not recv.poll(0):
                    raise _ChildFailed(f"internal error: the solver process ended without an answer (exit code "
                                       f"{proc.exitcode})")
            kind, *payload = recv.recv()
        finally:
            if proc.is_alive() and job.cancelled.is_set():
                proc.kill()
            proc.join(5)
            recv.close()
        if kind == "error":
            raise _ChildFailed(*payload)
        return payload


class _ChildFailed(Exception):
    """What the solver process reported instead of a plan (message and structured rule failures)."""

    def __init__(self, message: str, failures: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message, self.failures = message, list(failures or [])


def _answer(scenario, city, units, repair: bool, locks: dict[int, str]) -> tuple:
    """The plan stage's answer: ``("ok", units (grid, lead), record facts, notes)`` or ``("error", message,
    failures)``."""
    try:
        plan = build_plan(scenario, city, units, repair=repair, locks=locks)
        keep = {k: plan.record.get(k) for k in ("status", "objective_name", "objective")}
        return ("ok", plan.units[["grid_id", "lead_facility_id"]].astype(str), keep, list(plan.notes))
    except PlanningError as exc:
        return ("error", str(exc), [{"rule_id": f.rule_id, "message": f.message, "fix": f.fix}
                                    for f in exc.failures])
    except CaregridError as exc:
        return ("error", f"{exc.label}: {exc}", [])
    except Exception as exc:  # a bug: one line for the page, the traceback on the server's stderr
        traceback.print_exc()
        return ("error", f"internal error: {type(exc).__name__}: {exc}", [])


def _child(conn, scenario, city, units, repair: bool, locks: dict[int, str]) -> None:
    """The solver process: sends :func:`_answer` to the server."""
    try:
        conn.send(_answer(scenario, city, units, repair, locks))
    finally:
        conn.close()


def _run_setup(mode: str, scenario, labels: np.ndarray, locked: np.ndarray, grid_lead: dict[str, str], units,
               layout) -> tuple[Any, dict[int, str]]:
    """The scenario a job solves and its locks (unit index → lead facility id)."""
    ids = units.gdf["unit_id"].to_numpy()
    led = np.isin(labels, list(grid_lead))
    stray = np.flatnonzero(locked & ~led)
    if len(stray):
        raise InputError(REQUEST, f"locked unit(s) {', '.join(map(str, ids[stray[:10]]))} are in a grid without an "
                         "eligible lead, so no grid can keep them; unlock them or paint them into a led grid",
                         field="locked")
    keep = locked | led if mode == "fill" else locked
    locks = {int(i): grid_lead[labels[i]] for i in np.flatnonzero(keep)}
    plan, grids, solver = scenario.plan, scenario.grids, scenario.solver
    if mode == "repair":
        plan = dataclasses.replace(plan, mode="given_layout", layout=str(layout), layout_crs=None,
                                   layout_grid_field="grid_id")
    elif mode == "fill":
        if not grid_lead:
            raise InputError(REQUEST, "no grid has an eligible lead: nothing to fill into; paint a grid around a "
                             "hospital that may lead, or run optimise", field="mode")
        if led.all():
            raise InputError(REQUEST, "every unit is in a grid with a lead: nothing to fill", field="mode")
        plan = dataclasses.replace(plan, mode="optimise")
        grids = dataclasses.replace(grids, count=len(grid_lead), min=None, max=None)

    elif plan.mode == "given_layout":
        plan = dataclasses.replace(plan, mode="optimise")
    if locks and solver.contiguity == "fast":
        # locked units stay where they are painted: "fast" contiguity (grids star-shaped around their first unit)
        # may not admit their grids, the exact family admits every contiguous grid
        solver = dataclasses.replace(solver, contiguity="exact")
    return dataclasses.replace(scenario, plan=plan, grids=grids, solver=solver), locks


def _names_kept(plan_units, grid_lead: dict[str, str]) -> np.ndarray:
    """The plan's grid per unit, named as in the layout where the grid's lead led a grid there."""
    name_of = {lead: g for g, lead in grid_lead.items()}
    new = plan_units["grid_id"].astype(str).to_numpy(dtype=object)
    leads = plan_units["lead_facility_id"].astype(str).to_numpy()
    taken = set(name_of.values())
    rename = {}
    for g in sorted(set(new.tolist())):
        lead = leads[new == g][0]
        if lead in name_of:
            rename[g] = name_of[lead]
        else:
            name, k = g, 2
            while name in taken:
                name, k = f"{g}-{k}", k + 1
            rename[g] = name
            taken.add(name)
    return np.array([rename[g] for g in new], dtype=object)


def _num(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
