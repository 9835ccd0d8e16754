"""Benchmark: planning-unit construction (H3 cells clipped to districts + adjacency) per city and resolution.

Prints a table: city, planning area, H3 resolution, units, whole cells, mean km² of a whole cell here, build s,
peak memory. Run: ``python benchmarks/units.py [--res 7 8 9]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import h3
import numpy as np

from simulator.load.readers import read_boundaries, read_districts
from simulator.units.planning_units import build_h3_units

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--res", type=int, nargs="+", default=[7, 8, 9])
    args = ap.parse_args()
    print("peak MB: Python heap by tracemalloc, from a second, traced build")
    print(f"{'city':8} {'area':6} {'res':>3} {'units':>8} {'whole':>8} {'km²/cell':>9} {'build s':>8} {'peak MB':>8}")
    for city in ("fuxin", "panjin"):
        b = read_boundaries(ROOT / "geodata" / city / "boundaries.geojson")
        d = read_districts(ROOT / "geodata" / city / "districts.csv")
        urban = set(d.loc[d["urban"], "adcode"])
        for label, sel in (("urban", b[b["adcode"].isin(urban)]), ("all", b)):
            sel = sel.reset_index(drop=True)
            for res in args.res:
                t = time.perf_counter()
                u = build_h3_units(sel, res)
                dt = time.perf_counter() - t
                tracemalloc.start()  # a second build, traced, for peak Python memory (tracing slows it down)
                build_h3_units(sel, res)
                peak = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
                cells = np.unique(u.gdf["h3"])
                mean = float(np.mean([h3.cell_area(c, "km^2") for c in cells]))
                whole = int(u.notes[0].split("(")[1].split(" whole")[0].replace(",", ""))
                print(f"{city:8} {label:6} {res:>3} {len(u):>8,} {whole:>8,} {mean:>9.3f} {dt:>8.2f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
