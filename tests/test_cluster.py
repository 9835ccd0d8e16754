"""A real Dask cluster on 127.0.0.1: `dask scheduler` and two `dask worker` processes of this venv.

A sweep through it writes what a local run writes; errors of a task keep their type; a worker killed while it runs
a task has the task rerun elsewhere, every result present exactly once; a scheduler without workers or a worker
without the task's module is reported, not waited on forever. Needs only the venv (its `dask` command).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import executor_tasks as tasks
import pytest

from simulator import executor
from simulator.ensemble import run_ensemble
from simulator.errors import CaregridError, InputError, PlanningError
from simulator.executor import map_tasks
from simulator.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
PANJIN = str(ROOT / "scenarios" / "panjin.toml")
FUXIN_REL = "scenarios/fuxin.toml"  # relative to ROOT
R7 = {"units.resolution": 7}
DASK = str(Path(sys.executable).with_name("dask"))
#: the workers import the test tasks from here (and caregrid from the venv, like any installed package)
SUPPORT = str(Path(__file__).resolve().parent)
#: selectable with -m cluster; never skipped (the venv's `dask` command is all they need)
pytestmark = pytest.mark.cluster


class Cluster:
    """`dask scheduler` and ``n`` `dask worker` processes (each in its own process group, nanny and worker)."""

    def __init__(self, base: Path, n_workers: int) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.scheduler_file = base / "scheduler.json"
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        # the scheduler unpickles the tasks too: it needs their modules like the workers
        self._start([DASK, "scheduler", "--scheduler-file", str(self.scheduler_file), "--host", "127.0.0.1",
                     "--port", "0", "--no-dashboard", "--dashboard-address", ":0"], "scheduler", env=_env())
        deadline = time.monotonic() + 60
        while not self.scheduler_file.exists():
            assert time.monotonic() < deadline, (base / "scheduler.log").read_text()
            time.sleep(0.1)
        for k in range(n_workers):
            self.workers.append(self.add_worker(f"w{k}"))
        if n_workers:
            from distributed import Client

            with Client(scheduler_file=str(self.scheduler_file), timeout=30) as client:
                client.wait_for_workers(n_workers, timeout=60)

    def add_worker(self, name: str) -> subprocess.Popen:
        return self._start([DASK, "worker", "--scheduler-file", str(self.scheduler_file), "--nthreads", "1",
                            "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "0",
                            "--name", name], name, env=_env())

    def _start(self, cmd: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.base / f"{name}.log", "wb")  # noqa: SIM115 - closed by the process's end
        # cwd elsewhere than the client's: every path a task reads must be absolute
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.base, env=env,
                                start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    @property
    def address(self) -> str:
        return json.loads(self.scheduler_file.read_text())["address"]

    def close(self) -> None:
        for proc in reversed(self.procs):
            _kill_group(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SUPPORT, os.environ.get("PYTHONPATH")]))}


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"), 2)
    yield c
    c.close()


@pytest.fixture
def fresh_cluster(tmp_path, request):
    """A cluster of its own, for a test that kills one of its workers."""
    c = Cluster(tmp_path / "dask", 2)
    request.addfinalizer(c.close)
    return c


def test_a_sweep_on_the_cluster_writes_what_a_local_run_writes(cluster, tmp_path):
    settings = ["grids=2..3", "resolution=6", "speed=25,35"]
    remote = run_sweep(PANJIN, settings, tmp_path / "remote", scheduler=cluster.address, progress=False)
    run_sweep(PANJIN, settings, tmp_path / "local", workers=2, progress=False)
    assert len(remote) == 4 and remote.status.eq("optimal").all()
    tasks.assert_same_sweep(tmp_path / "local", tmp_path / "remote")
    # the scheduler file names the same cluster
    again = run_sweep(PANJIN, ["grids=2", "resolution=6", "speed=35"], tmp_path / "by_file",
                      scheduler=str(cluster.scheduler_file), progress=False)
    same = remote[(remote["grids.count"] == 2) & (remote["travel.speed_kmh"] == 35)]
    assert list(again.objective) == list(same.objective) and len(same) == 1


def _serial(fn, items, **kwargs):
    return [fn(item) for item in items]


def _assert_same_ensemble(a: Path, b: Path) -> None:
    """Two ensemble folders hold the same results: draws (but their seconds), per-unit agreement, summary,
    the consensus layout and the draws' sites."""
    import geopandas as gpd
    import pandas as pd
    from pandas.testing import assert_frame_equal

    assert_frame_equal(*(pd.read_csv(p / "draws.csv").drop(columns="seconds") for p in (a, b)))
    assert_frame_equal(*(pd.DataFrame(gpd.read_file(p / "ensemble.gpkg", layer="units").drop(columns="geometry"))
                         for p in (a, b)))
    assert json.loads((a / "summary.json").read_text()) == json.loads((b / "summary.json").read_text())
    for name in ("consensus_layout.csv", "draw_sites.csv", "consensus/groups.csv", "consensus/compliance.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_an_ensemble_on_the_cluster_equals_the_local_one_even_when_a_worker_dies(fresh_cluster, tmp_path,
                                                                                  monkeypatch):
    """Fuxin r7, 4 draws: through the real scheduler and workers, one worker killed (nanny and all) while it holds a
    draw; the ensemble folder holds what the same seed gives in this process."""
    from distributed import Client

    monkeypatch.chdir(ROOT)  # the scenario as a planner types it, relative to a folder the workers are not in
    local = run_ensemble(FUXIN_REL, 4, tmp_path / "local", seed=11, overrides=R7, mapper=_serial, progress=False)
    killed: dict = {}

    def kill_a_busy_worker():
        with Client(scheduler_file=str(fresh_cluster.scheduler_file), timeout=30) as watcher:
            pids = watcher.run(os.getpid)  # worker address → worker process id
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                busy = {w: keys for w, keys in watcher.processing().items() if keys}
                if busy:
                    time.sleep(1.0)  # well into the draw (a worker first loads the city, then solves)
                    worker, keys = next(iter(busy.items()))
                    os.killpg(os.getpgid(pids[worker]), signal.SIGKILL)
                    killed.update(worker=worker, keys=list(keys))
                    return
                time.sleep(0.1)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    remote = run_ensemble(FUXIN_REL, 4, tmp_path / "remote", seed=11, overrides=R7,
                          scheduler=fresh_cluster.address, progress=False)
    killer.join()
    assert killed and any("solve_draw" in str(k) for k in killed["keys"])
    assert len(remote.draws) == 4 and list(remote.draws["draw"]) == [0, 1, 2, 3]
    _assert_same_ensemble(local.out, remote.out)
    # the consensus repair runs in this process: with one HiGHS thread like the draws, whatever executor ran them
    record = json.loads((remote.out / "consensus" / "run.json").read_text(encoding="utf-8"))
    assert record["scenario"]["solver"]["threads"] == 1


def test_results_and_errors_on_the_cluster_match_this_process(cluster):
    seeds = [3, 1, 4, 1, 5, 9, 2, 6]
    assert map_tasks(tasks.seeded_draw, seeds, scheduler=cluster.address, progress=False) == [
        tasks.seeded_draw(s) for s in seeds
    ]
    pids = map_tasks(tasks.pid_after, [1.0] * 4, scheduler=cluster.address, progress=False)
    assert len(set(pids)) == 2 and os.getpid() not in pids  # both workers ran tasks, this process none
    with pytest.raises(PlanningError) as info:
        map_tasks(tasks.fail_on_two, range(4), scheduler=cluster.address, progress=False)
    assert info.value.rule_ids == ["R3.member"]


def test_a_task_the_workers_cannot_load_is_a_caregrid_error(cluster, tmp_path, monkeypatch):
    (tmp_path / "only_here.py").write_text("def f(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here

    with pytest.raises(CaregridError, match="could not run the task for item [12] .*on the scheduler and on every"):
        map_tasks(only_here.f, [1, 2], scheduler=cluster.address, progress=False)


def test_a_scheduler_without_workers_is_reported(tmp_path, request, monkeypatch):
    lonely = Cluster(tmp_path / "dask", 0)
    request.addfinalizer(lonely.close)
    monkeypatch.setattr(executor, "WORKER_WAIT_S", 1.0)
    with pytest.raises(InputError, match=f"has no worker after 1 s; start some with `dask worker {lonely.address}`"):
        map_tasks(tasks.square, [1, 2], scheduler=lonely.address, progress=False)


def test_a_worker_killed_mid_task_has_its_task_rerun_and_every_result_once(fresh_cluster, tmp_path):
    log = tmp_path / "tasks.log"
    items = [(str(log), k, 2.0) for k in range(6)]
    expected = [tasks.slow_record((str(tmp_path / "here.log"), k, 0.0)) for k in range(6)]
    groups = {p.pid for p in fresh_cluster.workers}
    killed: dict = {}

    def kill_first_runner():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            starts = [(k, pid) for e, k, pid in tasks.read_log(log) if e == "start"]
            if starts:
                k, pid = starts[0]
                pgid = os.getpgid(pid)
                assert pgid in groups
                os.killpg(pgid, signal.SIGKILL)  # nanny and worker: nobody restarts this worker
                killed.update(item=k, pid=pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_runner, daemon=True)
    killer.start()
    results = map_tasks(tasks.slow_record, items, scheduler=fresh_cluster.address, progress=False)
    killer.join()
    assert killed, "no task started"
    assert results == expected  # every item, in order, equal to running it here
    events = tasks.read_log(log)
    ends = [k for e, k, _ in events if e == "end"]
    assert sorted(ends) == list(range(6))  # each item finished exactly once
    runs_of_killed = [pid for e, k, pid in events if e == "start" and k == killed["item"]]
    assert len(runs_of_killed) == 2 and runs_of_killed[0] == killed["pid"] != runs_of_killed[1]
    assert not [1 for e, _, pid in events if e == "end" and pid == killed["pid"]]
