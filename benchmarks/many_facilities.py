"""How caregrid scales with the number of facility rows: validate and run Panjin plus N synthetic primary-care sites.

Usage::

    python benchmarks/many_facilities.py --rows 20000 200000

Each size writes a synthetic facility CSV (community health centres spread uniformly over Panjin's urban core,
``modelled = true``) next to the bundled files, then times ``caregrid validate`` and ``caregrid run`` in fresh
processes and prints wall time and peak memory (from ``/usr/bin/time`` when present). The maps draw at most 3,000
facility markers and say how many they leave out.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def synthetic_sites(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "facility_id": [f"SYN-{i}" for i in range(n)],
            "name": [f"模拟诊所{i}" for i in range(n)],
            "district": "211103",
            "level": "primary",
            "kind": "community_health_centre",
            "lon": rng.uniform(121.95, 122.15, n).round(6),
            "lat": rng.uniform(41.05, 41.17, n).round(6),
            "in_city": "true",
            "modelled": "true",
            "location_quality": "modelled",
            "source": "synthetic (benchmarks/many_facilities.py)",
        }
    )


def timed(cmd: list[str]) -> tuple[float, float | None, int]:
    """Wall seconds, peak resident MB (None without GNU time) and exit code of ``cmd``."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    full = [gnu_time, "-v", *cmd] if gnu_time else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, (int(peak.group(1)) / 1024 if peak else None), proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000], help="synthetic rows per run")
    args = ap.parse_args(argv)
    caregrid = [sys.executable, "-c", "import sys; from simulator.cli import main; sys.exit(main(sys.argv[1:]))"]
    scenario_text = (ROOT / "scenarios" / "panjin.toml").read_text(encoding="utf-8")
    print(f"{'rows':>9} {'command':<9} {'wall s':>8} {'peak MB':>8} {'exit':>5}")
    for n in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            sites = tmp / "sites.csv"
            synthetic_sites(n).to_csv(sites, index=False)
            text = scenario_text.replace('data = "../geodata/panjin"', f'data = "{ROOT / "geodata" / "panjin"}"')
            bundled = '"../liaoning/collaborating_units.csv"'
            text = text.replace(f"{bundled}]", f'{bundled}, "{sites}"]')
            scenario = tmp / "panjin_many.toml"
            scenario.write_text(text, encoding="utf-8")
            for command, extra in (("validate", []), ("run", ["--out", str(tmp / "run")])):
                wall, peak, rc = timed([*caregrid, command, str(scenario), *extra])
                peak_s = f"{peak:8.0f}" if peak is not None else "       -"
                print(f"{n:>9,} {command:<9} {wall:8.1f} {peak_s} {rc:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
