"""``caregrid ensemble``: plan through unknown data. Draw the uncertain inputs N times, solve every draw on an
executor (a local Dask cluster by default, or an existing one), and write what the draws agree on.

The ensemble folder (written atomically, like a run folder) holds:

* ``ensemble.gpkg`` layer ``units``: per unit the most frequent lead (``majority_lead``), the share of draws with a
  plan that agree with it (``stability``, 0–1), the share of draws whose plan put the unit in a grid meeting every
  rule (``feasible_share``) and the consensus plan's grid;
* ``draws.csv`` (one row per draw), ``draw_sites.csv`` (where each draw put each moved facility) and
  ``summary.json`` (pass share per rule, indicator quantiles, how often each hospital leads, the consensus plan's
  robustness);
* ``consensus_layout.csv`` (unit_id, grid_id, lead_id: a layout ``caregrid run`` can check or repair) and
  ``consensus/``, a normal run folder of the **consensus plan**.

The consensus plan is the compliant, contiguous plan closest to the per-unit majority: the majority layout (each
unit in the grid of its most frequent lead) repaired with the fewest residents moved (``given_layout`` + repair),
on the facility positions of the *representative draw* (the draw whose plan agrees most with the majority, by
residents). Those positions are one possible placement, not facts: the report's first page says so. The consensus
layout is then checked against every draw's placement: the share of draws in which it meets every rule is its
robustness.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.rules import load_rules
from ..errors import InputError, PlanningError
from ..runfolder.atomic import atomic_output_dir
from ..runfolder.writer import write_csv, write_json, write_plan_files
from .aggregate import draws_table, lead_matrix, summarise, unit_agreement
from .draws import Draw, apply_draw, sample_draws, sites_table
from .solve import DrawResult, DrawTask, load_base, solve_draw, units_digest

Mapper = Callable[..., list]


@dataclass
class EnsembleResult:
    """What :func:`run_ensemble` wrote and found."""

    out: Path
    draws: pd.DataFrame
    units: pd.DataFrame
    summary: dict[str, Any]
    consensus: Path | None
    #: residents per unit (the units of ``units``), for weighted figures
    consensus_population: np.ndarray | None = None


def _session(mapper: Mapper | None, scheduler: str | None, workers: int | None, n_items: int):
    """The executor for both rounds (draws, consensus check): one Dask cluster, or the caller's ``mapper``."""
    if mapper is not None:
        return contextlib.nullcontext(mapper)
    from ..executor import executor_session

    return executor_session(scheduler=scheduler, workers=workers, n_items=n_items)


def run_ensemble(
    scenario_path: str | Path,
    samples: int | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    mapper: Mapper | None = None,
    extras: tuple[Callable[[Path], Any], ...] = (),
) -> EnsembleResult:
    """Draw, solve and aggregate; write the ensemble folder ``out`` (atomically).

    Parameters
    ----------
    scenario_path : the scenario file; its ``[ensemble]`` section says what varies
    samples, seed : number of draws and root seed (default: the scenario's ``ensemble.samples`` / ``seed``)
    out : the ensemble folder (default: the scenario's output folder + ``_ensemble``)
    overrides : ``--set`` values applied to the scenario
    scheduler : a Dask scheduler address (``tcp://host:8786``); ``None`` = a local cluster on this machine
    workers : local cluster size (default: the machine's cores)
    progress : show a progress bar while draws complete
    mapper : ``mapper(fn, items, **kw) -> results in order`` instead of the Dask executor (tests, notebooks)
    extras : ``f(folder)`` run on the consensus run folder before it lands (the maps, then the report)

    Raises
    ------
    PlanningError
        no draw made a plan (the ensemble folder is still written: draws.csv says why each failed)
    """
    overrides = dict(overrides or {})
    # workers may run in other folders (dask worker on another machine): they get the scenario's absolute path
    task_path = str(Path(scenario_path).absolute())
    scenario, city, units = load_base(task_path, overrides)
    settings = scenario.ensemble
    samples = int(settings.samples if samples is None else samples)
    seed = int(settings.seed if seed is None else seed)
    if samples < 1:
        raise InputError(scenario.path, f"--samples {samples}; expected at least 1 draw", field="samples")
    out = Path(out) if out is not None else Path(str(scenario.output or "out/ensemble") + "_ensemble")
    draws, notes = sample_draws(city, units, settings, samples, seed, scenario.path)
    with _session(mapper, scheduler, workers, samples) as run:
        results: list[DrawResult] = run(solve_draw, [DrawTask(task_path, overrides, d) for d in draws],
                                        progress=progress, desc="draws 抽样")
        _check_alignment(results, units_digest(units))
        agree = unit_agreement(results)
        summary = summarise(results, list(load_rules(scenario.rules).catalogue)) | {
            "scenario": str(scenario_path), "samples": samples, "seed": seed,
            "sampled": sampled_text(city, settings, draws, notes),
        }
        table = draws_table(results, draws)
        consensus = None
        if summary["plan_share"] > 0:
            consensus = _consensus(scenario, city, units, draws, results)
            robust = run(solve_draw, [DrawTask(task_path, overrides, d, layout=consensus.layout) for d in draws],
                         progress=progress, desc="consensus check 共识核查")
            summary["consensus"] = consensus.record(robust)
            _mark_consensus(consensus, summary, table, agree, samples, seed)
    target = _write(out, units, agree, table, sites_table(draws, units, city), summary, consensus, extras)
    if consensus is None:
        counts = pd.Series([r for res in results for r in res.failed_rules]).value_counts()
        raise PlanningError(
            f"none of the {samples} draws made a plan (draws.csv in {target} says why each failed); most frequent "
            "failing rules: " + ", ".join(f"{k} ({v} draws)" for k, v in counts.head(3).items()),
            failures=[])
    return EnsembleResult(target, table, agree, summary, target / "consensus",
                          units.gdf["population"].to_numpy(dtype=float))


def _mark_consensus(consensus: _Consensus, summary: dict, table: pd.DataFrame, agree: pd.DataFrame, samples: int,
                    seed: int) -> None:
    """What the consensus run folder says of its ensemble: run.json ``ensemble``, its name, stability per unit."""
    consensus.plan.record["ensemble"] = summary["consensus"] | {
        "samples": samples, "seed": seed, "sampled": summary["sampled"], "plan_share": summary["plan_share"],
        "indicator_draws": {k: table[k].dropna().tolist() for k in ("travel_mean_min", "travel_p90_min",
                                                                    "share_within_access") if k in table},
    }
    sc = consensus.plan.record["scenario"]
    sc["name"] = f"{sc['name']} — consensus of {samples} draws 共识方案"
    consensus.plan.units = consensus.plan.units.assign(majority_lead=agree["majority_lead"].to_numpy(),
                                                       stability=agree["stability"].to_numpy(),
                                                       feasible_share=agree["feasible_share"].to_numpy())


def _check_alignment(results: list[DrawResult], digest: str) -> None:
    bad = [r.index for r in results if r.units_digest and r.units_digest != digest]
    if bad:
        raise InputError(None, f"draw(s) {bad[:5]} were solved on other planning units than this machine's (a "
                         "worker with other data files?); expected every worker to read the same scenario data",
                         field="workers")


def sampled_text(city, settings, draws: list[Draw], notes: list[str]) -> list[str]:
    """What varied across the draws, in the planner's words (report's first page, summary.json)."""
    moved = sorted({fid for d in draws for fid in d.sites})
    f = city.facilities.set_index(city.facilities["facility_id"].astype(str))
    names = [f"{fid} {f.at[fid, 'name']}" for fid in moved]
    out = [f"hospital locations 医院位置: {len(moved)} facilities placed only to their district "
           f"(location_quality {'/'.join(settings.move)}) drawn from their district's populated units, probability "
           f"by residents: {', '.join(names)}" if moved else "no facility location varies (none is placed only to "
           "its district)"]
    if settings.same_site:
        out.append("standing together (one site) 同址: " + "; ".join("+".join(g) for g in settings.same_site))
    if settings.population_noise > 0:
        out.append(f"modelled residents per unit 网格人口: log-normal factors (σ = {settings.population_noise:g}), "
                   "district census totals kept")
    if settings.speed_range:
        out.append(f"travel speed 出行速度: uniform {settings.speed_range[0]:g}–{settings.speed_range[1]:g} km/h")
    return out + notes


@dataclass
class _Consensus:
    plan: Any
    layout: tuple[tuple[str, ...], dict[str, str]]
    table: pd.DataFrame
    representative: int
    agreement: float

    def record(self, robust: list[DrawResult]) -> dict[str, Any]:
        n = len(robust)
        failed = pd.Series([rid for r in robust for rid in r.failed_rules]).value_counts()
        return {
            "representative_draw": self.representative,
            "representative_agreement": self.agreement,
            "robustness": sum(r.status == "plan" and not r.failed_rules for r in robust) / n,
            "robustness_failed_rules": {str(k): int(v) / n for k, v in failed.items()},
            "grids": len(self.layout[1]),
        }


def _consensus(scenario, city, units, draws: list[Draw], results: list[DrawResult]) -> _Consensus:
    """The majority layout, repaired on the representative draw's placement (fewest residents moved).

    The lead hospitals are the most frequent set of leads over the draws (a grid count and leads some draws
    reached); each unit goes to the lead of that set that most draws gave it (ties: the first lead in id order); the
    representative draw is the draw with that lead set whose plan agrees most with this layout, by residents. Its
    own plan is compliant, so the repair on its placement always has a plan.
    """
    from ..workflow import make_plan

    mat, leads = lead_matrix(results)
    pop = units.gdf["population"].to_numpy(dtype=float)
    sets = pd.Series([";".join(r.leads) for r in results if r.status == "plan"]).value_counts()
    chosen = sorted(sets.index[sets == sets.max()])[0].split(";")
    code = np.array([leads.index(fid) for fid in chosen])
    counts = np.stack([(mat == k).sum(axis=0) for k in code])
    maj = code[counts.argmax(axis=0)]
    score = ((mat == maj[None, :]) * pop[None, :]).sum(axis=1) / max(pop.sum(), 1.0)
    same_set = np.array([r.status == "plan" and r.leads == chosen for r in results])
    score[~same_set] = -1.0
    rep = int(np.argmax(score))
    majority = np.array(leads, dtype=object)[maj]
    names = {fid: f"G{k + 1}" for k, fid in enumerate(chosen)}
    table = pd.DataFrame({"unit_id": units.gdf["unit_id"].astype(str), "grid_id": [names[x] for x in majority],
                          "lead_id": majority})
    d_scenario, d_city, d_units = apply_draw(draws[rep], scenario, city, units)
    with tempfile.TemporaryDirectory(prefix="caregrid-consensus-") as tmp:
        path = Path(tmp) / "consensus_layout.csv"
        table.to_csv(path, index=False)
        plan_settings = dataclasses.replace(d_scenario.plan, mode="given_layout", layout=str(path), layout_crs=None,
                                            layout_grid_field="grid_id")
        # one HiGHS thread, as the draws: with the machine's threads the repair may pick another plan of equal
        # quality, and the consensus would depend on whether the draws ran in this process or on workers
        solver = dataclasses.replace(d_scenario.solver, threads=1)
        plan = make_plan(dataclasses.replace(d_scenario, plan=plan_settings, solver=solver), d_city, d_units,
                         repair=True)
    plan.record["scenario"]["plan"]["layout"] = "../consensus_layout.csv"
    g = plan.units
    grid = tuple(g["grid_id"].astype(str))
    lead_of = dict(zip(plan.groups.loc[plan.groups["role"] == "lead", "grid_id"].astype(str),
                       plan.groups.loc[plan.groups["role"] == "lead", "facility_id"].astype(str), strict=True))
    final = pd.DataFrame({"unit_id": g["unit_id"].astype(str), "grid_id": list(grid)})
    final["lead_id"] = final["grid_id"].map(lead_of).fillna("")
    return _Consensus(plan, (grid, lead_of), final, rep, float(score[rep]))


def _write(out: Path, units, agree: pd.DataFrame, table: pd.DataFrame, sites: pd.DataFrame, summary: dict,
           consensus: _Consensus | None, extras) -> Path:
    import geopandas as gpd

    g = units.gdf
    layer = gpd.GeoDataFrame(
        pd.concat([g[["unit_id", "district", "district_name", "population"]].reset_index(drop=True),
                   agree.reset_index(drop=True)], axis=1),
        geometry=g.geometry.to_numpy(), crs=g.crs)
    if consensus is not None:
        layer["consensus_grid"] = consensus.table["grid_id"].to_numpy()
        layer["consensus_lead"] = consensus.table["lead_id"].to_numpy()
    with atomic_output_dir(out, preserve=(), kind="ensemble") as tmp:
        layer.to_file(tmp / "ensemble.gpkg", layer="units", driver="GPKG")
        write_csv(table, tmp / "draws.csv")
        write_csv(sites, tmp / "draw_sites.csv")
        write_json(summary, tmp / "summary.json")
        if consensus is not None:
            write_csv(consensus.table, tmp / "consensus_layout.csv")
            (tmp / "consensus").mkdir()
            write_plan_files(consensus.plan, tmp / "consensus", extras)
    return out


def read_summary(folder: str | Path) -> dict[str, Any]:
    """``summary.json`` of an ensemble folder."""
    return json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
