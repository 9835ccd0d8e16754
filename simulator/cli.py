"""Command line: ``caregrid validate | units | run | map | compare | sweep | ensemble | app``.

Errors become exit codes here and nowhere else: every :class:`~simulator.errors.CaregridError` exits with its
``exit_code`` after one line on stderr (``caregrid: <label>: <message>``), Ctrl-C exits 130, and any other
exception is a bug reported in one line (``caregrid: internal error: …``, exit 1); ``caregrid --debug …`` adds
the traceback.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import traceback
import warnings
from pathlib import Path

import pandas as pd

from .config.rules import failed_checks, load_rules
from .config.scenario import load_scenario
from .errors import CaregridError, InputError
from .evaluate.emergency import console_lines
from .load.city import CityData, load_city
from .plan.locks import locks_path, read_locks
from .plan.precheck import check_rule_fields, check_solver_names
from .runfolder.atomic import atomic_output_dir, check_output_target
from .units.pipeline import planning_units
from .units.planning_units import PlanningUnits


def _parse_set(values: list[str] | None) -> dict:
    """``--set grids.count=3`` → {"grids.count": 3}; values are parsed as TOML (numbers, booleans, strings)."""
    out = {}
    for item in values or []:
        if "=" not in item:
            raise InputError(None, f"--set expects key=value, got {item!r}", field="--set")
        key, raw = item.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def summary_tables(city: CityData, units: PlanningUnits | None = None) -> str:
    """Plain-text summary: population per district, facilities per level and kind, units."""
    lines = []
    area_codes = set(city.area["adcode"])
    d = city.districts.assign(in_area=city.districts["adcode"].isin(area_codes))
    if units is not None:
        per = units.gdf.groupby("district").agg(units=("unit_id", "size"), unit_population=("population", "sum"))
        d = d.merge(per, left_on="adcode", right_index=True, how="left")
        d[["units", "unit_population"]] = d[["units", "unit_population"]].fillna(0).astype("int64")
    cols = ["adcode", "name", "type", "population_2020", "population_status", "in_area"]
    cols += [c for c in ("units", "unit_population") if c in d]
    cols = [c for c in cols if c in d]
    lines.append("Population per district 各区县常住人口 (2020 census 第七次人口普查)")
    lines.append(d[cols].to_string(index=False))
    f = city.facilities
    lines.append("")
    lines.append("Facilities per level and kind 医疗机构 (in planning area / in city outside area / external)")
    scope = pd.Series("external 外部协作", index=f.index)
    scope[f["in_city"] & f["in_area"]] = "in area 规划区内"
    scope[f["in_city"] & ~f["in_area"]] = "in city, outside area"
    table = pd.crosstab([f["level"], f["kind"]], scope.rename("scope"))
    lines.append(table.to_string())
    modelled = int(f["modelled"].sum())
    approx = int((~f["location_quality"].isin(("exact", "street"))).sum())
    lines.append(
        f"{modelled} facilities are MODELLED (not real), {approx} are placed approximately "
        "(district seat / centroid / modelled)"
    )
    if units is not None:
        g = units.gdf
        lines.append("")
        lines.append(
            f"Planning units 规划单元: {len(g):,}; residents {int(g.population.sum()):,} "
            f"({g.population_status.iloc[0]}); area {g.area_km2.sum():,.1f} km²"
        )
        lines.extend(f"  - {n}" for n in units.notes)
    if city.notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in city.notes)
    return "\n".join(lines)


def changes_text(city: CityData) -> str:
    """The what-if changes loading applied (scenario ``[[changes]]``), one line each; "" when there are none."""
    if not city.changes:
        return ""
    from .config.labels import Text

    return f"{Text.what_if_changes}:\n" + "\n".join(f"  {c['label']}: {c['text']}" for c in city.changes)


def cmd_validate(args) -> int:
    scenario = load_scenario(args.scenario, _parse_set(args.set))
    check_solver_names(scenario)
    city = load_city(scenario)
    rules = load_rules(scenario.rules)
    check_rule_fields(city, rules)  # a field a rule reads is missing: say which rule
    units = planning_units(scenario, city)
    locks = locks_path(scenario)
    if locks is not None:  # plan.locked_units: checked against the units and the hospitals that may lead
        locked = read_locks(locks, units.gdf["unit_id"].to_numpy(), city.facilities, rules,
                            scenario.plan.allow_enterprise_leads)
    print(f"Scenario 方案: {scenario.name} ({scenario.path})")
    print(summary_tables(city, units))
    if locks is not None:
        print(f"\nLocked units 锁定单元: {len(locked)} ({locks})")
    if city.changes:
        print("\n" + changes_text(city))
    census = int(city.districts.loc[city.districts["adcode"].isin(city.area["adcode"]), "population_2020"].sum())
    total = int(units.gdf["population"].sum())
    if units.gdf["population_status"].iloc[0] == "modelled" and total != census:
        raise InputError(scenario.path, f"unit population {total:,} differs from the census total {census:,}")
    print("\nOK: inputs are valid 输入数据校验通过")
    return 0


def output_dir(path: str | Path) -> Path:
    """The output folder of a command, checked before any work is done (planning may take minutes).

    Raises
    ------
    OutputError
        the path is a file, a broken link, or a folder caregrid did not write (the same check as when writing)
    """
    out = Path(path)
    check_output_target(out.absolute())
    return out


def write_units(units: PlanningUnits, path: Path) -> None:
    cols = ["unit_id", "district", "district_name", "population", "population_status", "area_km2", "geometry"]
    units.gdf[cols].to_file(path, layer="units", driver="GPKG")


def cmd_units(args) -> int:
    scenario = load_scenario(args.scenario, _parse_set(args.set))
    city = load_city(scenario)
    units = planning_units(scenario, city)
    out = output_dir(args.out or scenario.output or Path("out") / scenario.city)
    with atomic_output_dir(out, kind="units") as tmp:
        write_units(units, tmp / "units.gpkg")
    print(summary_tables(city, units))
    print(f"\nwrote {out / 'units.gpkg'} (layer 'units', {len(units):,} units, EPSG:4326)")
    return 0


def cmd_run(args) -> int:
    from .runfolder.writer import write_plan
    from .workflow import make_plan

    scenario = load_scenario(args.scenario, _parse_set(args.set))
    check_solver_names(scenario)  # before the slow steps
    out = output_dir(args.out or scenario.output or Path("out") / scenario.city)
    city = load_city(scenario)
    units = planning_units(scenario, city)
    plan = make_plan(scenario, city, units, repair=args.repair)
    from .render.maps import write_maps
    from .render.report import write_report

    # maps first: the report embeds map.png
    write_plan(plan, out, extras=(write_maps, write_report))
    r = plan.record
    print(f"Scenario 方案: {scenario.name}")
    if city.changes:
        print(changes_text(city))
    print(f"mode {r['mode']}; solver {r.get('solver')}; status {r.get('status')}; contiguity {r.get('contiguity')}")
    if r.get("objective") is not None:
        # residents moved are whole people; minutes and resident-minutes keep one decimal
        value = f"{r['objective']:,.0f}" if r.get("objective_name") == "residents_moved" else f"{r['objective']:,.1f}"
        print(f"objective ({r.get('objective_name')}) {value}; bound {r.get('best_bound')}; gap {r.get('gap')}")
    print(plan.grids.drop(columns="geometry").to_string(index=False))
    failed = plan.compliance[failed_checks(plan.compliance)]
    open_rows = plan.compliance[plan.compliance["status"].isin(("planned", "no_data"))]
    verdict = "PASSED 无规则未通过" if failed.empty else f"FAILED 未通过: {len(failed)} rule check(s)"
    if not open_rows.empty:
        verdict += f"; {len(open_rows)} not judged (planned 规划值 / no_data 无数据)"
    print(f"compliance 规则核查: {verdict}")
    if not failed.empty:
        print(failed[["rule_id", "scope", "required", "actual"]].to_string(index=False))
    for line in console_lines(r):  # targets and ambulance-station siting (simulator.evaluate.emergency)
        print(line)
    print(f"wrote {out.resolve()}")
    _print_map_sizes(out)
    return 0


def _print_map_sizes(folder: Path) -> None:
    from .render.maps import describe_size

    names = [n for n in ("map.html", "map.png", "map.pdf") if (folder / n).exists()]
    if names:
        print("maps 地图: " + ", ".join(f"{n} {describe_size(folder / n)}" for n in names))


def cmd_map(args) -> int:
    from .render.maps import describe_size, write_map, write_static_map

    run_dir = Path(args.run_dir)
    html = write_map(run_dir, args.out, tiles=args.tiles)
    written = [html]
    if not args.no_static:
        written += write_static_map(run_dir, smooth=args.smooth)
    for path in written:
        print(f"wrote {path.resolve()} ({describe_size(path)})")
    return 0


def cmd_verify(args) -> int:
    from .errors import InputError, VerificationFailed
    from .evaluate.verify import verify_run
    from .evaluate.verify_layers import unverifiable

    run_dir = Path(args.run_dir)
    if not (run_dir / "run.json").is_file():
        raise InputError(run_dir, "not a run folder (no run.json); give a folder written by `caregrid run`",
                         field="run_dir")
    violations = verify_run(run_dir, tolerance_m=args.tolerance_m)
    for line in unverifiable(run_dir):
        print(f"not re-checked 未复核: {line}")
    for line in violations:
        print(f"violation 违规: {line}")
    if violations:
        raise VerificationFailed(f"{run_dir}: {len(violations)} violation(s) found by the independent verifier")
    print(f"verified 核验通过: {run_dir} (every rule and plan layer the folder holds re-checked from its files)")
    return 0


def cmd_compare(args) -> int:
    from .compare import compare_runs, display_table, write_comparison

    out_dir = output_dir(args.out)
    cmp = compare_runs(args.runs)
    out = write_comparison(cmp, args.runs, out_dir)
    print(display_table(cmp)[["indicator 指标", *cmp.names]].to_string(index=False))
    if cmp.changed_units is not None:
        print(
            f"units that changed lead hospital: {len(cmp.changed_units)} "
            f"({cmp.changed_units['residents'].sum():,.0f} residents)"
        )
    files = sorted(f.name for f in out.iterdir() if not f.name.startswith("."))
    print(f"wrote {out.resolve()} ({', '.join(files)})")
    return 0


def cmd_sweep(args) -> int:
    from .sweep import format_table, run_sweep

    table = run_sweep(args.scenario, args.set or [], output_dir(args.out), scheduler=args.scheduler,
                      workers=args.workers)
    show = [
        c
        for c in (
            "variant",
            "status",
            "passed",
            "grids",
            "travel_mean_min",
            "share_within_access",
            "population_cv",
            "failed_rules",
        )
        if c in table
    ]
    print(format_table(table[show]).to_string(index=False))
    print(f"wrote {Path(args.out).resolve()} (sweep.csv, sweep.md, sweep.png, variants/)")
    code = sweep_exit_code(table)
    if code:
        print(f"caregrid: every variant failed 全部方案失败 ({len(table)} of {len(table)}); see the error column of "
              "sweep.csv", file=sys.stderr)
    return code


def cmd_ensemble(args) -> int:
    from .ensemble import run_ensemble
    from .render.maps import write_maps
    from .render.report import write_report

    overrides = _parse_set(args.set)
    scenario = load_scenario(args.scenario, overrides)
    check_solver_names(scenario)
    out = output_dir(args.out)
    res = run_ensemble(args.scenario, args.samples, out, args.seed, overrides=overrides, scheduler=args.scheduler,
                       workers=args.workers, progress=not args.no_progress, extras=(write_maps, write_report))
    sm = res.summary
    print(f"Scenario 方案: {scenario.name}")
    print(f"draws 抽样: {sm['draws']} (seed {sm['seed']}); with a plan 有方案: {sm['plan_share']:.0%}; meeting every "
          f"rule 全部规则通过: {sm['compliant_share']:.0%}")
    for line in sm["sampled"]:
        print(f"  sampled: {line}")
    c = sm.get("consensus") or {}
    if c:
        print(f"consensus plan 共识方案: {c['grids']} grids; representative draw {c['representative_draw']} (agrees "
              f"with the majority for {c['representative_agreement']:.0%} of residents); meets every rule in "
              f"{c['robustness']:.0%} of the draws' placements")
        print(f"stability 稳定度 (share of draws agreeing on a unit's lead), residents-weighted mean: "
              f"{_weighted_mean(res.units['stability'], res.consensus_population):.2f}")
    print(f"wrote {out.resolve()} (ensemble.gpkg, draws.csv, draw_sites.csv, summary.json, consensus_layout.csv, "
          "consensus/)")
    return 0


def _weighted_mean(values, weights) -> float:
    import numpy as np

    w = np.asarray(weights, float)
    return float((np.asarray(values, float) * w).sum() / max(w.sum(), 1.0))


def cmd_app(args) -> int:
    """``caregrid app``: the planner's workspace in the browser (:mod:`simulator.app`)."""
    from .app.cli import run_app

    return run_app(args.source, workspace=args.workspace, host=args.host, port=args.port,
                   overrides=_parse_set(args.set), open_browser=not args.no_browser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caregrid",
        description="Grids 网格 and tight urban medical groups 紧密型城市医疗集团 for health-system planners.",
    )
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error 显示错误详情")
    # --debug also after the command; SUPPRESS keeps a subcommand's default from resetting the global flag
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[debug], **kwargs)

    def scenario_cmd(name: str, help_text: str):
        p = command(name, help=help_text, description=help_text)
        p.add_argument("scenario", help="scenario file 方案文件 (TOML), e.g. scenarios/fuxin.toml")
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a scenario value, e.g. --set units.resolution=7 (repeatable)",
        )
        return p

    scenario_cmd("validate", "load and check every input; print a summary 数据校验")
    p = scenario_cmd("units", "build planning units 规划单元 and write DIR/units.gpkg")
    p.add_argument("--out", help="output folder (default: the scenario's output folder)")
    p = scenario_cmd("run", "make a plan: grids 网格 and medical groups 医疗集团; write the run folder")
    p.add_argument("--out", help="output folder (default: the scenario's output folder)")
    p.add_argument(
        "--repair",
        action="store_true",
        help="given layout: find the compliant plan that moves the fewest residents 最少调整",
    )
    p = command(
        "map",
        help="redraw the maps of a run folder 地图 (map.html, map.png, map.pdf)",
        description="Redraw map.html (interactive, works offline) and map.png / map.pdf from a run folder alone.",
    )
    p.add_argument("run_dir", help="run folder written by `caregrid run`")
    p.add_argument(
        "--tiles",
        choices=("none", "osm", "amap"),
        default="none",
        help="base tiles: none (offline, default), osm (OpenStreetMap, WGS-84), amap (AMap 高德, GCJ-02: overlays "
        "are shifted to GCJ-02)",
    )
    p.add_argument("--out", help="path of the interactive map (default: RUN_DIR/map.html)")
    p.add_argument("--no-static", action="store_true", help="do not redraw map.png / map.pdf")
    p.add_argument(
        "--smooth",
        action="store_true",
        help="map.png / map.pdf: smoothed grid outlines for presentation (a drawing, marked so; units stay the plan)",
    )
    p = command(
        "verify",
        help="re-check a run folder with the independent verifier 独立核验",
        description="Re-check every rule and plan layer of a run folder from its files alone (plan.gpkg, CSVs, "
        "run.json), with code of its own; exit 7 when it finds violations.",
    )
    p.add_argument("run_dir", help="run folder written by `caregrid run`")
    p.add_argument("--tolerance-m", type=float, default=50.0,
                   help="how far (m) a facility may stand outside its grid polygon and count as inside (default 50)")
    p = command(
        "compare",
        help="compare run folders side by side 方案比较",
        description="Compare run folders: city indicators, compliance, changed units.",
    )
    p.add_argument("runs", nargs="+", help="run folders (the first is the reference)")
    p.add_argument("--out", required=True, help="output folder")
    p = command(
        "sweep",
        help="run variants of a scenario in parallel 参数扫描",
        description="Run every combination of --set values, e.g. --set grids=2..6 --set travel.speed_kmh=25,35",
    )
    p.add_argument("scenario", help="scenario file (TOML)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUES",
        help="values to sweep: a..b (integers), a,b,c, or one value; 'grids' = grids.count",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster 计算集群: tcp://HOST:PORT of `dask scheduler`, or its scheduler file "
        "(default: worker processes on this machine)",
    )
    p.add_argument(
        "--workers",
        "--jobs",
        dest="workers",
        type=int,
        default=None,
        help="worker processes on this machine (default: CPU cores; 1 = in this process); --jobs is the older name",
    )
    p = scenario_cmd("ensemble", "plan through unknown data: solve many seeded draws and write their consensus "
                                 "集成方案 (ensemble.gpkg, draws.csv, summary.json, consensus/ run folder)")
    p.add_argument("--samples", type=int, default=None, help="number of draws (default: ensemble.samples, 30)")
    p.add_argument("--seed", type=int, default=None, help="root seed; the same seed gives the same draws anywhere")
    p.add_argument("--out", required=True, help="ensemble folder")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://HOST:8786) of an existing cluster; default: a local cluster")
    p.add_argument("--workers", type=int, default=None, help="local cluster workers (default: CPU cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = command(
        "app",
        help="the planner's workspace in the browser 网格规划工作台 (paint grids, live rule checks)",
        description="Start a local web page to paint planning units into grids, see the rule checks change on every "
        "edit, run repair/optimise, save a scenario and export a run folder. Bound to 127.0.0.1 unless --host.",
    )
    p.add_argument("source", nargs="?", help="scenario file (TOML), run folder, or workspace folder to reopen")
    p.add_argument("--workspace", help="workspace folder (default: out/app/<scenario name>)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other prints an access token every request needs)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario value (new workspace)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def sweep_exit_code(table: pd.DataFrame) -> int:
    """0 when at least one variant made a plan; else the exit code its failures share (1 when they differ)."""
    if "exit_code" not in table or table.empty:
        return 0
    codes = table["exit_code"].fillna(0).astype(int)
    if (codes == 0).any():
        return 0
    return int(codes.iat[0]) if codes.nunique() == 1 else 1


#: exit code of Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130

HANDLERS = {
    "validate": cmd_validate,
    "units": cmd_units,
    "run": cmd_run,
    "map": cmd_map,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "ensemble": cmd_ensemble,
    "app": cmd_app,
    "verify": cmd_verify,
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (see the README's "Exit codes")."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            return HANDLERS[args.command](args)
    except CaregridError as exc:
        _report(f"{exc.label}: {exc}", debug)
        return exc.exit_code
    except KeyboardInterrupt:
        _report("interrupted 已中断", debug)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one clear line, the traceback only when asked for
        first = " ".join(str(exc).split("\n")[0].split())
        hint = "" if debug else " (run with --debug for the traceback)"
        _report(f"internal error: {type(exc).__name__}: {first}{hint}", debug)
        return 1


def _report(message: str, debug: bool) -> None:
    """Print ``caregrid: <message>`` on stderr, after the traceback of the exception being handled with --debug."""
    if debug:
        traceback.print_exc()
    print(f"caregrid: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
