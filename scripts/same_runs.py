"""Show that a refactor left the run folders unchanged: run scenarios at a git ref and at the work tree, compare.

Usage::

    python scripts/same_runs.py --ref a296fc3 panjin panjin_all fuxin_district_layout

Each scenario (``scenarios/NAME.toml``) runs twice with ``caregrid run``: once from a temporary ``git worktree`` of
``--ref``, once from this work tree. The data files are compared strictly: every CSV cell (numbers to a relative
1e-9), every layer of ``plan.gpkg`` (attributes and geometries), ``indicators.json`` and ``run.json`` without
timings, versions, paths and solver chatter. Rendered files (``map.html``, ``map.png``, ``map.pdf``,
``report.html``) are listed, not compared: their markup is allowed to change. Exit code 0 when every data file is
the same, 1 otherwise; a table of files and verdicts is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

ROOT = Path(__file__).resolve().parents[1]
RENDERED = {"map.html", "map.png", "map.pdf", "report.html"}
#: run.json keys that legitimately differ between two runs of the same plan
VOLATILE = {"timings", "versions", "elapsed_s", "solve_time_s", "created", "output", "path", "run_id", "written"}


def run(tree: Path, scenario: str, out: Path) -> int:
    code = "import sys; sys.path.insert(0, sys.argv[1]); from simulator.cli import main; sys.exit(main(sys.argv[2:]))"
    scenario_file = tree / "scenarios" / f"{scenario}.toml"
    cmd = [sys.executable, "-c", code, str(tree), "run", str(scenario_file), "--out", str(out)]
    return subprocess.run(cmd, cwd=tree, capture_output=True, text=True).returncode


#: dotted run.json keys a change added or renamed on purpose (``--ignore``), listed in the output
IGNORED: set[str] = set()
#: absolute paths of the two trees and run folders, replaced by a placeholder before comparing
PLACES: list[str] = []


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    if isinstance(obj, str):
        for place in PLACES:
            obj = obj.replace(place, "<place>")
    return obj


def _diff_keys(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [x for k in sorted(set(a) | set(b)) for x in _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if _close(a, b) else [prefix.rstrip(".")]


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (math.isnan(fa) and math.isnan(fb)) or math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} rows"
    for c in a.columns:
        x, y = a[c], b[c]
        if isinstance(x, gpd.GeoSeries):
            if not x.geom_equals_exact(y, tolerance=1e-9).all():
                return f"geometry of column {c} differs"
            continue
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            if not np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True):
                return f"column {c} differs"
        elif not (x.astype(str).to_numpy() == y.astype(str).to_numpy()).all():
            return f"column {c} differs"
    return ""


def compare_file(old: Path, new: Path) -> str:
    """Empty string when the two files hold the same data, else what differs."""
    if not new.exists():
        return "missing in new run"
    if old.suffix == ".csv":
        return _frames_equal(pd.read_csv(old, keep_default_na=False), pd.read_csv(new, keep_default_na=False))
    if old.suffix == ".gpkg":
        layers = [x[0] for x in pyogrio.list_layers(old)]
        if layers != [x[0] for x in pyogrio.list_layers(new)]:
            return "layers differ"
        for layer in layers:
            why = _frames_equal(gpd.read_file(old, layer=layer), gpd.read_file(new, layer=layer))
            if why:
                return f"layer {layer}: {why}"
        return ""
    if old.suffix == ".json" or old.name == ".caregrid":  # the marker is JSON too (its write time is volatile)
        a, b = (_strip(json.loads(p.read_text(encoding="utf-8"), parse_constant=float)) for p in (old, new))
        keys = [k for k in _diff_keys(a, b) if k not in IGNORED]
        return f"differs in {keys[:8]}" if keys else ""
    return "" if old.read_bytes() == new.read_bytes() else "bytes differ"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="+", help="scenario names under scenarios/")
    ap.add_argument("--ref", required=True, help="git ref of the 'before' code (e.g. the commit before a refactor)")
    ap.add_argument("--keep", help="folder to keep both runs in (default: a temporary folder)")
    ap.add_argument("--ignore", action="append", default=[], metavar="DOTTED.KEY",
                    help="a run.json key that differs on purpose (e.g. a new scenario field's echo); repeatable")
    args = ap.parse_args(argv)
    IGNORED.update(args.ignore)
    work = Path(args.keep or tempfile.mkdtemp(prefix="same_runs."))
    before = work / "tree_before"
    # longest first, so a run folder inside a tree is replaced before the tree itself
    PLACES.extend(sorted([str(before / "scenarios"), str(ROOT / "scenarios"), str(before), str(ROOT),
                          str(work / "before"), str(work / "after")], key=len, reverse=True))
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(before), args.ref], cwd=ROOT, check=True,
                   capture_output=True)
    failures = 0
    try:
        print(f"{'scenario':<24} {'file':<18} verdict")
        for name in args.scenarios:
            rc_old = run(before, name, work / "before" / name)
            rc_new = run(ROOT, name, work / "after" / name)
            if rc_old != rc_new:
                print(f"{name:<24} {'(exit code)':<18} DIFFERENT: {rc_old} before, {rc_new} after")
                failures += 1
                continue
            for old in sorted((work / "before" / name).glob("*")):
                if old.name in RENDERED:
                    print(f"{name:<24} {old.name:<18} rendered (not compared)")
                    continue
                why = compare_file(old, work / "after" / name / old.name)
                failures += bool(why)
                print(f"{name:<24} {old.name:<18} {'DIFFERENT: ' + why if why else 'same'}")
            names = {side: {p.name for p in (work / side / name).glob("*")} for side in ("before", "after")}
            for e in sorted(names["after"] - names["before"]):
                print(f"{name:<24} {e:<18} new file")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, capture_output=True)
    ignored = f" (ignoring run.json keys: {', '.join(sorted(IGNORED))})" if IGNORED else ""
    print(f"\n{'all data files the same' if not failures else f'{failures} difference(s)'}{ignored}; runs in {work}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
