"""Scenario sweeps: run the variants of a scenario in parallel and tabulate the trade-offs.

``caregrid sweep SCENARIO --set grids=2..6 --set travel.speed_kmh=25,35 --out DIR`` runs every combination
(here 5 × 2 = 10 variants) through :func:`simulator.executor.map_tasks`: on a local Dask cluster with one worker
process per core by default (``--workers N``; ``--jobs`` is the older name), or on an existing Dask cluster with
``--scheduler tcp://HOST:PORT``; HiGHS solves with one thread per variant on Dask workers. It writes each variant's
run folder under ``DIR/variants/``, a table ``sweep.csv`` / ``sweep.md`` of the main indicators per variant (variants
that fail a rule or have no plan are marked) and a trade-off chart ``sweep.png``.

A worker writes its variant's run folder into a temporary folder of its own and sends the files back; this process
writes them under ``DIR/variants/`` (so workers on other machines need no access to ``DIR``, and a variant rerun
after its worker died leaves nothing of the dead run in ``DIR``). Everything lands in ``DIR`` in one atomic step at
the end (:mod:`simulator.runfolder.atomic`): an interrupted sweep (Ctrl-C, an error) leaves ``DIR`` as it was.

What-if changes (the scenario's ``[[changes]]``) are switched on and off with ``--set changes=…``: ``all``, ``none``,
a change label, or labels joined by ``+``; e.g. ``--set changes=none,all,upgrade_dawa+new_chc_liaohe`` runs the
scenario without its changes, with all of them, and with those two (each change's ``label``, default
``<action>_<facility id>``). A label the scenario does not define is an input error before any variant runs.

A variant that cannot be planned does not stop the sweep: its row records the error (:class:`ErrorRecord`: class,
exit code, message, failing rule ids). ``caregrid sweep`` exits non-zero when no variant made a plan.
"""

from __future__ import annotations

import itertools
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from .config.rules import failed_checks
from .errors import CaregridError, ErrorRecord, InputError, PlanningError
from .executor import in_worker, map_tasks
from .runfolder.atomic import atomic_output_dir
from .runfolder.writer import write_csv

#: short names accepted by --set in a sweep
ALIASES = {"grids": "grids.count", "resolution": "units.resolution", "speed": "travel.speed_kmh"}


def parse_values(raw: str) -> list:
    """``2..6`` → [2, 3, 4, 5, 6]; ``25,35`` → [25, 35]; anything else → one TOML value (or a string)."""
    raw = raw.strip()
    if ".." in raw and "," not in raw:
        lo, hi = raw.split("..", 1)
        try:
            a, b = int(lo), int(hi)
        except ValueError as exc:
            raise InputError(None, f"range {raw!r}: expected integers like 2..6", field="--set") from exc
        if b < a:
            raise InputError(None, f"range {raw!r} is empty", field="--set")
        return list(range(a, b + 1))
    out = []
    for part in raw.split(","):
        try:
            out.append(tomllib.loads(f"v = {part.strip()}")["v"])
        except tomllib.TOMLDecodeError:
            out.append(part.strip())
    return out


def variants(settings: list[str]) -> list[dict]:
    """Cartesian product of ``key=values`` settings → list of override dicts."""
    axes = []
    for item in settings:
        if "=" not in item:
            raise InputError(None, f"--set expects key=values, got {item!r}", field="--set")
        key, raw = item.split("=", 1)
        key = ALIASES.get(key.strip(), key.strip())
        axes.append([(key, v) for v in parse_values(raw)])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def check_change_selections(scenario_path: str | Path, combos: list[dict]) -> None:
    """Every ``changes=…`` value of a sweep names changes the scenario defines (else :class:`InputError` at once)."""
    from .config.scenario import load_scenario

    seen = set()
    for combo in combos:
        value = combo.get("changes")
        key = repr(value)
        if value is None or key in seen:
            continue
        seen.add(key)
        load_scenario(scenario_path, {"changes": value})


def variant_name(k: int, overrides: dict) -> str:
    label = "_".join(f"{key.split('.')[-1]}-{value}" for key, value in overrides.items())
    return f"v{k + 1:02d}_{label}" if label else f"v{k + 1:02d}"


def _variant_task(task: tuple[str, dict, str]) -> tuple[dict, dict[str, bytes]]:
    """One variant on whichever process runs it: ``(scenario path, overrides, variant name)`` → its table row and
    the files of its run folder (relative path → bytes; none when the variant made no plan)."""
    scenario_path, overrides, name = task
    with tempfile.TemporaryDirectory(prefix="caregrid-variant-") as tmp:
        folder = Path(tmp) / name
        # on a Dask worker one HiGHS thread per variant (the worker processes share the cores)
        row = _run_variant((scenario_path, overrides, str(folder), in_worker()))
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return row, files


def _unpack(files: dict[str, bytes], folder: Path) -> None:
    """Write a variant's run folder (from :func:`_variant_task`) under the sweep's temporary folder."""
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _run_variant(args: tuple[str, dict, str, bool]) -> dict:
    """Plan one variant and write its run folder to ``out_dir``; returns its row of the sweep table."""
    scenario_path, overrides, out_dir, single_thread = args
    from .config.scenario import load_scenario
    from .load.city import load_city
    from .runfolder.writer import write_plan
    from .units.pipeline import planning_units
    from .workflow import make_plan

    row: dict = {"variant": Path(out_dir).name, **overrides}
    try:
        # worker processes solve with one HiGHS thread each (they share the cores); a run in this process keeps the
        # scenario's solver.threads, as `caregrid run` would (optimise/solvers.match_thread_pool lets them differ)
        extra = {"solver.threads": 1} if single_thread else {}
        scenario = load_scenario(scenario_path, {**overrides, **extra})
        city = load_city(scenario)
        units = planning_units(scenario, city)
        plan = make_plan(scenario, city, units)
        write_plan(plan, out_dir)
    except Exception as exc:  # one variant's failure, even a bug, is recorded and the sweep goes on
        return row | _error_row(exc)
    city_row = plan.indicators[plan.indicators.grid_id == "city"].iloc[0]
    failed = plan.compliance.loc[failed_checks(plan.compliance), "rule_id"]
    row.update(
        status=plan.record.get("status"),
        passed=bool(failed.empty),
        failed_rules=";".join(sorted(set(failed))),
        grids=int((plan.indicators.grid_id != "city").sum()),
        objective=plan.record.get("objective"),
        gap=plan.record.get("gap"),
        unserved_residents=city_row.get("unserved_residents", np.nan),
        unserved_share=city_row.get("unserved_share", np.nan),
        travel_mean_min=city_row["travel_mean_min"],
        travel_p90_min=city_row["travel_p90_min"],
        share_within_access=city_row["share_within_access"],
        share_within_primary_care=city_row["share_within_primary_care"],
        beds_per_1000=city_row["beds_per_1000"],
        population_cv=city_row["population_cv"],
        solve_s=(plan.record.get("timings") or {}).get("solve_s"),
        exit_code=0,
        error="",
    )
    return row


#: status shown for a variant without a plan, by error class (others: "error")
ERROR_STATUS = {PlanningError: "no plan", InputError: "input error"}


def _error_row(exc: Exception) -> dict:
    """Sweep-table fields of a variant that failed: status, the failing rule ids, exit code and message."""
    rec = ErrorRecord.of(exc)
    # a time limit or solver failure is named by its own label ("time limit 求解超时", …)
    default = exc.label if isinstance(exc, CaregridError) else "internal error"
    status = next((s for cls, s in ERROR_STATUS.items() if isinstance(exc, cls)), default)
    return {
        "status": status,
        "passed": False,
        "failed_rules": ";".join(rec.rule_ids),
        "exit_code": rec.exit_code,
        "error": f"{rec.kind}: {rec.message}"[:300],
    }


def run_sweep(
    scenario_path: str | Path,
    settings: list[str],
    out: str | Path,
    jobs: int | None = None,
    progress: bool = True,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Run every variant; returns the table (also written to ``out``).

    Parameters
    ----------
    scenario_path : the scenario TOML (on a Dask cluster: at the same path on every worker, with its data)
    settings : ``key=values`` strings (``--set``), see :func:`variants`
    out : the sweep folder (replaced atomically when complete)
    jobs : older name of ``workers``
    progress : show a progress bar
    scheduler : an existing Dask scheduler (``tcp://HOST:PORT`` or a scheduler file); ``None`` = this machine
    workers : local worker processes (default: CPU cores, at most one per variant; 1 = in this process)
    """
    combos = variants(settings)
    check_change_selections(scenario_path, combos)
    out = Path(out)
    with atomic_output_dir(out, preserve=(), kind="sweep") as tmp:
        (tmp / "variants").mkdir(exist_ok=True)
        tasks = [(str(Path(scenario_path).absolute()), o, variant_name(k, o)) for k, o in enumerate(combos)]

        def keep(k: int, result: tuple[dict, dict[str, bytes]]) -> dict:
            row, files = result
            _unpack(files, tmp / "variants" / tasks[k][2])
            return row

        rows = map_tasks(_variant_task, tasks, scheduler=scheduler, workers=jobs if workers is None else workers,
                         progress=progress, desc="variants", on_result=keep)
        table = pd.DataFrame(rows).sort_values("variant").reset_index(drop=True)
        write_csv(table, tmp / "sweep.csv")
        (tmp / "sweep.md").write_text(_markdown(table), encoding="utf-8")
        _chart(table, list(combos[0]) if combos else [], tmp / "sweep.png")
    return table


def _format(col: str, v) -> str:
    """A sweep.md cell for people: counts without decimals, shares and the gap as percentages, minutes and seconds
    with one decimal, other figures with two; missing values empty."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
    if not np.isfinite(v):
        return ""
    if col.startswith("share_") or col in ("unserved_share", "gap"):
        return f"{v:.1%}"
    if col.endswith("_min") or col.endswith("_s"):
        return f"{v:,.1f}"
    if col in ("grids", "grids.count", "unserved_residents", "exit_code") or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The sweep table as text for people (see :func:`_format`; ``passed`` as passed / FAILS)."""
    return pd.DataFrame(
        {c: [("passed" if v else "FAILS") if c == "passed" else _format(c, v) for v in table[c]] for c in table.columns}
    )


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = [("passed" if r[c] else "**FAILS**") if c == "passed" else _format(c, r[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _figure(table: pd.DataFrame, keys: list[str]):
    """The trade-off chart: mean minutes to the lead (of served residents) per number of grids, one line per
    combination of the other settings. A variant that fails a rule is a red ×; one without a plan has no minutes
    and is drawn as a red ▼ "no plan" along the top edge (never at 0 minutes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4))
    if "travel_mean_min" not in table:
        table = table.assign(travel_mean_min=np.nan)  # no variant produced a plan
    x_key = "grids.count" if "grids.count" in table else ("grids" if "grids" in table else None)
    others = [k for k in keys if k != x_key]
    groups = table.groupby(others, dropna=False) if others else [((), table)]
    failed = no_plan = False
    for label, sub in groups:
        sub = sub.sort_values(x_key) if x_key else sub
        x = (sub[x_key] if x_key else pd.Series(np.arange(len(sub)), index=sub.index)).to_numpy(dtype=float)
        y = sub["travel_mean_min"].to_numpy(dtype=float)
        name = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, np.atleast_1d(label), strict=False))
        ax.plot(x, y, marker="o", label=name or "mean minutes (served residents)")
        bad = ~sub["passed"].astype(bool).to_numpy()
        planned = np.isfinite(y)
        if (bad & planned).any():
            failed = True
            ax.scatter(x[bad & planned], y[bad & planned], marker="x", s=80, color="red", zorder=5)
        if (bad & ~planned).any():
            no_plan = True
            top = np.full(int((bad & ~planned).sum()), 0.97)
            ax.scatter(x[bad & ~planned], top, marker="v", s=60, color="red", zorder=5,
                       transform=ax.get_xaxis_transform(), clip_on=False)
    if failed:
        ax.scatter([], [], marker="x", s=80, color="red", label="fails a rule")
    if no_plan:
        ax.scatter([], [], marker="v", s=60, color="red", label="no plan")
    xs = np.unique(table[x_key].to_numpy(dtype=float)) if x_key else np.arange(len(table), dtype=float)
    xs = xs[np.isfinite(xs)]  # the grid count of a variant without a plan is unknown (e.g. --set changes=…)
    if len(xs):  # every variant in view, planned or not (the "no plan" marks do not widen the axis by themselves)
        ax.set_xlim(xs.min() - 0.5, xs.max() + 0.5)
    if x_key and len(xs) <= 12:
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of grids" if x_key else "variant")
    ax.set_ylabel("mean minutes to lead (served residents)")
    ax.set_title("Access vs number of grids")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _chart(table: pd.DataFrame, keys: list[str], path: Path) -> None:
    """Write the trade-off chart (see :func:`_figure`) to ``path``."""
    import matplotlib.pyplot as plt

    fig = _figure(table, keys)
    fig.savefig(path, dpi=150)
    plt.close(fig)
