"""Benchmark: the live panel of ``caregrid app`` — milliseconds per paint edit, HTTP round-trip included.

Starts the app (uvicorn, 127.0.0.1) on a scenario, then paints strokes of 1, 10 and 100 adjacent units into the
neighbouring grid through ``POST /api/assign`` (the page's own request: the edit, the autosave of the workspace,
the live evaluation of every rule and indicator and the JSON answer), and undoes each (``POST /api/undo``).
Prints a table: stroke size, edits timed, median / p90 / max ms of assign and of undo, the target (300 ms).
Run: ``python benchmarks/app_panel.py [--scenario scenarios/panjin.toml] [--res 8] [--repeat 10]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from simulator.app.server import create_app
from simulator.app.state import Workspace

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def _stroke(ws: Workspace, start: int, k: int) -> tuple[list[str], str] | None:
    """``k`` connected units of one grid grown from ``start`` (breadth first) and a neighbouring grid to paint into."""
    adj, lab = ws.units.adjacency, ws.labels
    grid = lab[start]
    seen, queue = [start], [start]
    while queue and len(seen) < k:
        i = queue.pop(0)
        for j in adj[i].indices:
            if lab[j] == grid and j not in seen and len(seen) < k:
                seen.append(j)
                queue.append(j)
    if len(seen) < k:
        return None
    others = {lab[j] for i in seen for j in adj[i].indices if lab[j] != grid}
    if not others:
        others = {g for g in ws.grids if g != grid}
    return ws.unit_ids[seen].tolist(), sorted(others)[0]


def _compactness_table(ws: Workspace, repeat: int = 20) -> None:
    """The panel's compactness per layout (unit sums, :class:`simulator.app.shapes.GridShapes`) against the full
    evaluation's dissolve of the grid polygons; and measuring the units' shapes once (per workspace)."""
    from simulator.app.shapes import GridShapes
    from simulator.evaluate.indicators import _compactness

    geometry = ws.units.gdf.geometry.to_numpy()
    t0 = time.perf_counter()
    GridShapes(geometry)
    prep_ms = (time.perf_counter() - t0) * 1000
    live, full = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ws.live.shapes.polsby_popper(ws.labels)
        live.append((time.perf_counter() - t0) * 1000)
    for _ in range(3):
        t0 = time.perf_counter()
        _compactness(ws.labels.astype(str), geometry)
        full.append((time.perf_counter() - t0) * 1000)
    print(f"compactness per layout: panel (unit sums) median {np.median(live):.1f} ms, max {max(live):.1f} ms; "
          f"dissolve (full evaluation) median {np.median(full):.0f} ms; shapes measured once per workspace "
          f"{prep_ms:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "panjin.toml"))
    ap.add_argument("--res", type=int, default=8, help="H3 resolution (units.resolution)")
    ap.add_argument("--repeat", type=int, default=10, help="strokes per size")
    args = ap.parse_args()
    import uvicorn

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ws = Workspace.create(Path(tmp) / "ws", args.scenario, {"units.resolution": args.res})
        load_s = time.perf_counter() - t0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        with urllib.request.urlopen(base + "/api/state", timeout=60) as r:
            full = len(r.read())
        state_ms = (time.perf_counter() - t0) * 1000
        print(f"scenario {args.scenario} at H3 resolution {args.res}: {len(ws.labels):,} units, "
              f"{len(ws.grids)} grids; workspace opened in {load_s:.1f} s; GET /api/state {state_ms:.0f} ms "
              f"({full / 1e6:.1f} MB)")
        print(f"{'units/stroke':>12} {'edits':>6} {'assign med':>11} {'p90':>7} {'max':>7} {'undo med':>9} "
              f"{'p90':>7} {'max':>7} {'target':>7}")
        rng = np.random.default_rng(0)
        first = _stroke(ws, 0, 1) or _stroke(ws, 1, 1)
        first_ms = []
        for _ in range(2):  # untimed warm-up edit and its undo (first calls fill caches); reported apart
            t0 = time.perf_counter()
            _post(base + "/api/assign", {"unit_ids": first[0], "grid_id": first[1]})
            _post(base + "/api/undo", {})
            first_ms.append((time.perf_counter() - t0) * 1000)
        print(f"warm-up: first assign + undo {first_ms[0]:.0f} ms, second {first_ms[1]:.0f} ms (not in the table)")
        worst = 0.0
        for k in (1, 10, 100):
            times, undos = [], []
            while len(times) < args.repeat:
                stroke = _stroke(ws, int(rng.integers(len(ws.labels))), k)
                if stroke is None:
                    continue
                ids, grid = stroke
                t0 = time.perf_counter()
                s = _post(base + "/api/assign", {"unit_ids": ids, "grid_id": grid})
                times.append((time.perf_counter() - t0) * 1000)
                assert len(s["units"]) == k and all(u["grid_id"] == grid for u in s["units"])
                t0 = time.perf_counter()
                _post(base + "/api/undo", {})
                undos.append((time.perf_counter() - t0) * 1000)
            a, u = np.array(times), np.array(undos)
            worst = max(worst, a.max(), u.max())
            print(f"{k:>12} {len(a):>6} {np.median(a):>9.0f}ms {np.percentile(a, 90):>5.0f}ms {a.max():>5.0f}ms "
                  f"{np.median(u):>7.0f}ms {np.percentile(u, 90):>5.0f}ms {u.max():>5.0f}ms {TARGET_MS:>5.0f}ms")
        print(f"worst edit {worst:.0f} ms: " + ("within" if worst < TARGET_MS else "ABOVE") + " the 300 ms target")
        _compactness_table(ws)
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
