"""caregrid sweep on the Dask executor: same outputs in this process and on a local cluster, Ctrl-C leaves the old
output as it was, --workers / --jobs / --scheduler on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import executor_tasks as tasks
import pandas as pd
import psutil
import pytest

from simulator import cli, sweep
from simulator import executor as executor_mod
from simulator.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
PANJIN = str(ROOT / "scenarios" / "panjin.toml")
SMALL = ["grids=2..3", "resolution=6"]


def test_a_local_cluster_sweep_writes_what_one_process_writes(tmp_path):
    here = run_sweep(PANJIN, SMALL, tmp_path / "here", workers=1, progress=False)
    there = run_sweep(PANJIN, SMALL, tmp_path / "cluster", workers=2, progress=False)
    assert list(here["status"]) == ["optimal", "optimal"]
    assert list(there["grids"]) == [2, 3]
    tasks.assert_same_sweep(tmp_path / "here", tmp_path / "cluster")
    # the workers solved with one HiGHS thread each; this process kept the scenario's setting
    for table, folder, threads in ((here, "here", None), (there, "cluster", 1)):
        record = json.loads((tmp_path / folder / "variants" / table.variant[0] / "run.json").read_text())
        assert record["scenario"]["solver"]["threads"] == threads


def test_ctrl_c_during_a_cluster_sweep_leaves_the_previous_sweep_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    run_sweep(PANJIN, SMALL, out, workers=1, progress=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    unpacked = []

    def interrupted(files, folder):  # Ctrl-C in this process while the first variant's files are written
        unpacked.append(folder.name)
        (folder / "partial.csv").parent.mkdir(parents=True, exist_ok=True)
        (folder / "partial.csv").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "_unpack", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(PANJIN, ["grids=2..3", "speed=20,25,30,35,40", "resolution=6"], out, workers=2, progress=False)
    assert len(unpacked) == 1
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]  # no temporary folder or lock left beside it
    assert not tasks.new_children(children), "worker processes left running"


def test_jobs_stays_an_alias_of_workers(tmp_path, monkeypatch):
    seen = []
    real = executor_mod.map_tasks

    def spy(fn, items, **kw):
        seen.append(kw["workers"])
        return real(fn, items, **kw)

    monkeypatch.setattr(sweep, "map_tasks", spy)
    assert cli.main(["sweep", PANJIN, "--set", "resolution=6", "--out", str(tmp_path / "a"), "--jobs", "1"]) == 0
    assert cli.main(["sweep", PANJIN, "--set", "resolution=6", "--out", str(tmp_path / "b"), "--workers", "1"]) == 0
    assert seen == [1, 1]
    assert pd.read_csv(tmp_path / "a" / "sweep.csv").status.tolist() == ["optimal"]


def test_bad_workers_and_unreachable_scheduler_exit_2_naming_them(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    assert cli.main(["sweep", PANJIN, "--set", "grids=2..3", "--out", str(out), "--workers", "0"]) == 2
    assert "0 workers: expected a whole number ≥ 1" in capsys.readouterr().err
    monkeypatch.setattr(executor_mod, "CONNECT_TIMEOUT_S", 1.0)
    assert cli.main(["sweep", PANJIN, "--set", "grids=2..3", "--out", str(out), "--scheduler",
                     "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "no Dask scheduler answered at tcp://127.0.0.1:9 within 1 s" in err and "Traceback" not in err
    assert not out.exists()
