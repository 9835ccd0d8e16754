"""Run one function over many items on Dask distributed: a local cluster by default, or an existing Dask cluster.

``caregrid sweep`` (and the ensemble) hand their variants or draws to :func:`map_tasks`, which returns the results in
input order whichever worker ran what. Three ways to run:

* ``scheduler=None`` and more than one worker (the default: one per CPU core, at most one per item): a
  ``distributed.LocalCluster`` on this machine — worker *processes* with one thread each, no dashboard, quiet logs —
  started for the call and torn down afterwards.
* ``scheduler=None`` and one worker (``workers=1``, a one-core machine or a single item): the items run one after
  another in the calling process; a cluster of one worker would only add its start-up time.
* ``scheduler="tcp://HOST:PORT"`` (any Dask address: ``tls://…``; ``HOST:PORT`` means tcp) or the path of a
  scheduler file (``dask scheduler --scheduler-file FILE``): a client connects to that existing cluster and
  disconnects afterwards; the cluster is never shut down. Its workers need caregrid (the same version) installed
  and every file the tasks read at the same paths (README, "Running on a Dask cluster").

Failures
--------
An exception raised by ``fn`` is an answer, not a worker failure: the task catches it on the worker and sends it
back as a record (:class:`_Raised`), the caller cancels the outstanding tasks and re-raises it with its type,
message and attributes (a :class:`~simulator.errors.PlanningError` keeps its ``failures``); the remote traceback is
added as a note. Such tasks are never retried (``retries=0``): the same item would fail the same way.

A worker that *dies* while running a task (killed, out of memory, machine lost) is different: the scheduler notices
the lost connection and reschedules the task on another worker. Dask counts, per task, how many workers died while
running it (the scheduler's ``distributed.scheduler.allowed-failures``, Dask's default 3): a task is retried after
each such death, and once more workers than that have died on it, it is marked failed with ``KilledWorker`` (it is
probably what kills them), which :func:`map_tasks` raises as a :class:`~simulator.errors.CaregridError` naming the
item. The local cluster is started with ``allowed-failures`` = :data:`ALLOWED_FAILURES`; on an existing cluster the
scheduler's own configuration applies. A worker that leaves in an orderly way (``dask worker`` stopped with Ctrl-C,
scaled down) hands its tasks back without counting. Results are collected by task key, one per item: a rerun task
delivers one result, and a result that arrived is never replaced or counted twice.

Ctrl-C (``KeyboardInterrupt``) or any error in the caller cancels every outstanding task, closes the client (and the
local cluster) and re-raises; callers write outputs only through :mod:`simulator.runfolder.atomic`, so nothing
partial lands. On an existing cluster a task already running finishes on its worker and its result is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CaregridError, InputError

#: seconds to wait for an existing scheduler to answer before reporting it unreachable
CONNECT_TIMEOUT_S = 10.0
#: seconds to wait for an existing cluster to have at least one worker before giving up
WORKER_WAIT_S = 60.0
#: worker deaths a task survives on the local cluster before it is given up (Dask's own default)
ALLOWED_FAILURES = 3


def map_tasks(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "",
    on_result: Callable[[int, Any], Any] | None = None,
) -> list:
    """Run ``fn(item)`` for every item, on Dask workers, and return the results in input order.

    Parameters
    ----------
    fn : a top-level function importable by the workers (it is sent by reference, not by value)
    items : small picklable records, one task each
    scheduler : address of an existing Dask scheduler (``tcp://HOST:PORT``) or the path of its scheduler file;
        ``None`` = a local cluster on this machine (or this process, with one worker)
    workers : local worker processes (default: CPU cores, at most one per item); only without ``scheduler``
    progress : show a progress bar (tqdm, on stderr) while results arrive
    desc : label of the progress bar
    on_result : ``on_result(index, result)`` called in this process as each result arrives (in completion order);
        its return value takes the result's place in the list (e.g. write a large result to disk, keep a summary)

    Returns
    -------
    list
        ``[fn(item) for item in items]`` (passed through ``on_result``), whichever worker ran which item.

    Raises
    ------
    InputError
        ``workers`` below 1, ``workers`` together with ``scheduler``, or a scheduler that cannot be reached within
        :data:`CONNECT_TIMEOUT_S` seconds (or has no worker within :data:`WORKER_WAIT_S`).
    CaregridError
        a task could not be run: workers kept dying on it (``KilledWorker``) or could not load it (caregrid
        missing or of another version on the workers).
    Exception
        the first exception of ``fn`` to arrive (in completion order), with its own type; the other tasks are
        cancelled.
    """
    items = list(items)
    n_workers = _worker_count(scheduler, workers, len(items))
    if not items:
        return []
    label = desc or getattr(fn, "__name__", "tasks")
    if scheduler is None and n_workers == 1:
        with _progress_bar(len(items), progress, label) as bar:
            return _run_here(fn, items, bar, on_result)
    with _client(scheduler, n_workers) as client, _progress_bar(len(items), progress, label) as bar:
        return _run_on(client, fn, items, bar, on_result)


@contextlib.contextmanager
def executor_session(
    *, scheduler: str | None = None, workers: int | None = None, n_items: int = 1
) -> Iterator[Callable[..., list]]:
    """One cluster for several rounds of tasks (e.g. an ensemble's draws, then its consensus check).

    Yields ``run(fn, items, *, progress=True, desc="", on_result=None)`` with :func:`map_tasks`' meaning; the
    local cluster (sized for ``n_items`` tasks) starts once and workers keep what they loaded between rounds.
    """
    n_workers = _worker_count(scheduler, workers, max(n_items, 1))

    def here(fn: Callable, items: Iterable[Any], *, progress: bool = True, desc: str = "",
             on_result: Callable | None = None, **_: Any) -> list:
        return map_tasks(fn, items, workers=1, progress=progress, desc=desc, on_result=on_result)

    if scheduler is None and n_workers == 1:
        yield here
        return
    with _client(scheduler, n_workers) as client:

        def run(fn: Callable, items: Iterable[Any], *, progress: bool = True, desc: str = "",
                on_result: Callable | None = None, **_: Any) -> list:
            items = list(items)
            if not items:
                return []
            with _progress_bar(len(items), progress, desc or getattr(fn, "__name__", "tasks")) as bar:
                return _run_on(client, fn, items, bar, on_result)

        yield run


def in_worker() -> bool:
    """True inside a Dask worker task (e.g. to solve with one HiGHS thread there)."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _worker_count(scheduler: str | None, workers: int | None, n_items: int) -> int:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(None, f"{workers!r} workers: expected a whole number ≥ 1", field="--workers")
    if scheduler is not None:
        if workers is not None:
            raise InputError(
                None,
                f"--workers {workers} with --scheduler {scheduler}: the number of workers of an existing Dask cluster "
                "is set where its workers are started (dask worker --nworkers); give one of the two",
                field="--workers",
            )
        return 0
    return max(1, min(workers or os.cpu_count() or 1, n_items))


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool, desc: str) -> Iterator[Any]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="task", disable=not enabled)
    try:
        yield bar
    finally:
        bar.close()


def _run_here(fn: Callable, items: list, bar, on_result: Callable | None) -> list:
    out = []
    for k, item in enumerate(items):
        result = fn(item)
        out.append(on_result(k, result) if on_result else result)
        bar.update()
    return out


@dataclass
class _Raised:
    """An exception raised by ``fn`` on a worker, carried back as a plain record (its class, args and attributes).

    Exceptions whose ``__init__`` takes other arguments than ``args`` (``InputError(path, message)``,
    ``PlanningError(message, failures)``) do not survive ``pickle`` as is; this rebuilds them without calling
    ``__init__``, so type, message and attributes arrive unchanged.
    """

    cls: type
    args: tuple
    state: dict
    trace: str

    @classmethod
    def of(cls, exc: Exception) -> _Raised:
        trace = "".join(traceback.format_exception(exc))
        raised = cls(type(exc), exc.args, dict(vars(exc)), trace)
        try:
            pickle.loads(pickle.dumps(raised))
        except Exception:  # an exception that cannot travel: keep its type name and message
            raised = cls(RuntimeError, (f"{type(exc).__qualname__}: {exc}",), {}, trace)
        return raised

    def rebuild(self) -> BaseException:
        exc = self.cls.__new__(self.cls, *self.args)
        exc.args = self.args
        vars(exc).update(self.state)
        exc.add_note(f"(raised in a Dask worker task; its traceback there:)\n{self.trace.rstrip()}")
        return exc


def _call(fn: Callable, item: Any) -> Any:
    """The task a worker runs: ``fn(item)``, with an exception returned as :class:`_Raised` instead of raised."""
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001 - every exception of fn goes back to the caller, with its type
        return _Raised.of(exc)


def _run_on(client, fn: Callable, items: list, bar, on_result: Callable | None) -> list:
    from distributed import as_completed

    tag = f"caregrid-{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex[:12]}"
    keys = [f"{tag}-{k}" for k in range(len(items))]
    futures = client.map(_call, [fn] * len(items), items, key=keys, pure=False, retries=0)
    index = {f.key: k for k, f in enumerate(futures)}
    results: dict[int, Any] = {}
    try:
        for future in as_completed(futures, loop=client.loop):
            k = index[future.key]
            if k in results:  # never counted twice
                continue
            outcome = _outcome(future, items[k])
            if isinstance(outcome, _Raised):
                raise outcome.rebuild()
            results[k] = on_result(k, outcome) if on_result else outcome
            future.release()
            bar.update()
    except BaseException:
        client.cancel([f for f in futures if not f.done()])
        raise
    missing = [k for k in range(len(items)) if k not in results]
    if missing:  # as_completed yields every future once; this would be a bug in the collection above
        raise CaregridError(f"Dask returned no result for items {missing[:10]}; nothing was written")
    return [results[k] for k in range(len(items))]


def _outcome(future, item: Any) -> Any:
    """The task's return value, or a :class:`CaregridError` saying why the task itself could not run."""
    if future.status == "finished":
        return future.result()
    if future.status in ("cancelled", "lost"):
        raise CaregridError(f"the task for item {item!r} was cancelled by the Dask cluster (scheduler restarted?)")
    exc = future.exception()
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        raise CaregridError(
            f"the workers running the task for item {item!r} died {exc.allowed_failures + 1} time(s) (Dask "
            "KilledWorker: more deaths than the scheduler's allowed-failures); the task may exhaust a worker's memory "
            "or crash the solver"
        ) from exc
    why = " ".join(str(exc).split())
    raise CaregridError(
        f"the Dask cluster could not run the task for item {item!r} ({type(exc).__name__}: {why}); is caregrid, "
        "of the same version, installed on the scheduler and on every worker?"
    ) from exc


@contextlib.contextmanager
def _client(scheduler: str | None, n_workers: int) -> Iterator[Any]:
    """A Dask client: of a new local cluster (closed afterwards) or connected to ``scheduler`` (left running)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = _connect(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,  # no dashboard; its HTTP server (health checks) on a free port, not 8787
            scheduler_kwargs={"dashboard_address": ":0"},
            # no per-worker memory cap: the machine is shared with its other programs, a cap of RAM/n would pause
            # or restart a worker solving a large model while the machine still has memory
            memory_limit=0,
            # worker processes log connection errors while they are stopped (e.g. after Ctrl-C); a task's own
            # failure comes back through map_tasks with its type, a worker death as a CaregridError
            silence_logs=logging.CRITICAL,
        )
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _connect(scheduler: str):
    """Connect to an existing scheduler (address or scheduler file); :class:`InputError` when it is not there."""
    from distributed import Client

    expected = "expected a running Dask scheduler: tcp://HOST:PORT of `dask scheduler`, or its --scheduler-file"
    target = str(scheduler).strip()
    kwargs: dict[str, Any]
    if "://" in target:
        kwargs = {"address": target}
    elif Path(target).is_file():
        kwargs = {"scheduler_file": target}
    elif ":" in target and target.rsplit(":", 1)[1].isdigit():
        kwargs = {"address": f"tcp://{target}"}
    else:
        raise InputError(None, f"{scheduler!r}: neither a scheduler address nor an existing file; {expected}",
                         field="--scheduler")
    try:
        client = Client(timeout=CONNECT_TIMEOUT_S, set_as_default=False, **kwargs)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            None, f"no Dask scheduler answered at {kwargs.get('address', target)} within {CONNECT_TIMEOUT_S:g} s "
            f"({exc}); {expected}",
            field="--scheduler",
        ) from exc
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except (OSError, TimeoutError) as exc:
        address = client.scheduler.address
        client.close()
        raise InputError(
            None, f"the Dask scheduler at {target} has no worker after {WORKER_WAIT_S:g} s; start some with "
            f"`dask worker {address}`", field="--scheduler",
        ) from exc
    return client
