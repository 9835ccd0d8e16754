"""simulator.executor.map_tasks on a local Dask cluster: order, errors with their type, progress, worker count,
determinism, bad schedulers, Ctrl-C. (A real `dask scheduler` with `dask worker` processes: tests/test_cluster.py.)"""

from __future__ import annotations

import ast
import os
import signal
import threading
import time
from pathlib import Path

import executor_tasks as tasks
import psutil
import pytest

from simulator import executor
from simulator.errors import CaregridError, InputError, PlanningError
from simulator.executor import in_worker, map_tasks


def test_results_come_back_in_input_order_with_a_progress_bar(capsys):
    # item 0 sleeps longest: results arrive in reverse order, the list is still in input order
    assert map_tasks(tasks.late_first, range(5), workers=2, desc="draws") == [0, 1, 2, 3, 4]
    err = capsys.readouterr().err
    assert "draws" in err and "5/5" in err


def test_progress_off_prints_nothing(capsys):
    assert map_tasks(tasks.square, range(4), workers=2, progress=False) == [0, 1, 4, 9]
    assert map_tasks(tasks.square, range(4), workers=1, progress=False) == [0, 1, 4, 9]
    assert capsys.readouterr().err == ""


def test_worker_count_is_capped_by_items_and_one_worker_runs_here(monkeypatch):
    started = []
    real = executor._client

    def spy(scheduler, n_workers):
        started.append(n_workers)
        return real(scheduler, n_workers)

    monkeypatch.setattr(executor, "_client", spy)
    pids = map_tasks(tasks.pid_after, [1.0, 1.0], workers=5, progress=False)
    assert started == [2]  # 5 asked, 2 items
    assert len(set(pids)) == 2 and os.getpid() not in pids  # each item on its own worker process
    assert map_tasks(tasks.pid_after, [0.0, 0.0], workers=1, progress=False) == [os.getpid()] * 2
    assert started == [2]  # one worker: no cluster at all
    assert executor._worker_count(None, None, 1000) == (os.cpu_count() or 1)
    assert executor._worker_count(None, None, 1) == 1
    assert map_tasks(tasks.square, [], workers=3) == []


def test_an_exception_of_fn_keeps_its_type_message_and_facts():
    with pytest.raises(PlanningError) as info:
        map_tasks(tasks.fail_on_two, range(6), workers=2, progress=False)
    exc = info.value
    assert exc.rule_ids == ["R3.member"] and exc.failures[0].fix == "add one"
    assert str(exc) == "grid G2 has no secondary hospital"
    assert any("Dask worker" in note for note in exc.__notes__)
    with pytest.raises(InputError) as info:
        map_tasks(tasks.bad_input, [7, 7], workers=2, progress=False)
    assert (info.value.path, info.value.row, info.value.field) == ("facilities.csv", 7, "lon")
    assert str(info.value) == "facilities.csv: row 7: field 'lon': expected a longitude in degrees"


def test_results_do_not_depend_on_which_worker_ran_what():
    seeds = [11, 5, 2026, 0, 7, 99]
    here = [tasks.seeded_draw(s) for s in seeds]
    assert map_tasks(tasks.seeded_draw, seeds, workers=2, progress=False) == here
    assert map_tasks(tasks.seeded_draw, seeds, workers=1, progress=False) == here


def test_in_worker_is_true_only_in_dask_worker_tasks():
    assert not in_worker()
    assert map_tasks(tasks.inside_worker, [0, 1], workers=2, progress=False) == [True, True]
    assert map_tasks(tasks.inside_worker, [0], workers=1, progress=False) == [False]


@pytest.mark.parametrize("workers", [0, -2, 1.5, True])
def test_bad_worker_counts_are_input_errors(workers):
    with pytest.raises(InputError, match="workers"):
        map_tasks(tasks.square, [1], workers=workers)


def test_workers_with_a_scheduler_is_refused():
    with pytest.raises(InputError, match="--workers 2 with --scheduler tcp://127.0.0.1:8786"):
        map_tasks(tasks.square, [1], workers=2, scheduler="tcp://127.0.0.1:8786")


def test_an_unreachable_scheduler_is_named_within_the_timeout(monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    port = _free_port()
    with pytest.raises(InputError) as info:
        map_tasks(tasks.square, [1, 2], scheduler=f"127.0.0.1:{port}", progress=False)
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s" in str(info.value)
    assert info.value.field == "--scheduler"
    with pytest.raises(InputError, match="neither a scheduler address nor an existing file"):
        map_tasks(tasks.square, [1], scheduler="no-such-scheduler.json")


def test_ctrl_c_cancels_the_tasks_closes_the_cluster_and_reraises(tmp_path):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C → KeyboardInterrupt, as in a shell
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    log = tmp_path / "log.txt"
    items = [(str(log), k, 3.0) for k in range(6)]
    done = threading.Event()
    interrupter = _interrupt_when(lambda: any(e == "start" for e, _, _ in tasks.read_log(log)), done)
    try:
        with pytest.raises(KeyboardInterrupt):
            map_tasks(tasks.slow_record, items, workers=2, progress=False)
    finally:
        done.set()
        interrupter.join()
        signal.signal(signal.SIGINT, previous)
    time.sleep(4)  # long enough for a task that was not cancelled to have started and finished
    starts = [k for e, k, _ in tasks.read_log(log) if e == "start"]
    assert 1 <= len(starts) <= 2  # what the two workers were running; the other tasks were cancelled unstarted
    assert not tasks.new_children(before), "worker processes left running"


def test_executor_imports_only_errors_from_caregrid():
    tree = ast.parse(Path(executor.__file__).read_text(encoding="utf-8"))
    local = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    absolute = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert local == {"errors"} and not {m for m in absolute if m.startswith("simulator")}


def test_a_task_whose_worker_died_is_retried_once_and_counted_once(tmp_path):
    marker = tmp_path / "died"
    assert map_tasks(tasks.die_once, [(str(marker), k) for k in range(4)], workers=2, progress=False) == [0, 1, 2, 3]
    assert marker.exists()  # item 0 did kill its first worker


def test_a_task_that_keeps_killing_workers_is_given_up_as_a_caregrid_error(monkeypatch):
    monkeypatch.setattr(executor, "ALLOWED_FAILURES", 0)  # give up at the first death
    with pytest.raises(CaregridError, match=r"the workers running the task for item [12] died 1 time\(s\)"):
        map_tasks(tasks.die, [1, 2], workers=2, progress=False)


def _interrupt_when(condition, done: threading.Event) -> threading.Thread:
    """Send this process SIGINT (Ctrl-C) once ``condition()`` holds, unless ``done`` is set first (then never: no
    stray Ctrl-C for a later test); the main thread gets KeyboardInterrupt."""

    def run():
        while not done.is_set():
            if condition():
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_session_runs_several_rounds_on_one_cluster():
    """An ensemble's two rounds share one local cluster: the second round runs on the first round's workers."""
    with executor.executor_session(workers=2, n_items=4) as run:
        first = run(tasks.pid_after, [0.2] * 4, progress=False)
        second = run(tasks.pid_after, [0.2] * 4, progress=False)
        assert run(tasks.square, [], progress=False) == []
        assert run(tasks.square, [1, 2, 3], progress=False) == [1, 4, 9]
    assert os.getpid() not in first
    assert set(second) <= set(first) and len(set(first)) <= 2
    with executor.executor_session(workers=1, n_items=4) as run:  # one worker: this process, no cluster
        assert set(run(tasks.pid_after, [0.0, 0.0], progress=False)) == {os.getpid()}
