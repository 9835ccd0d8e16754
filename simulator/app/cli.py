"""``caregrid app [SCENARIO | RUN_DIR | WORKSPACE] [--workspace DIR] [--host H] [--port P]``: what to open, and the
server (:func:`run_app`, called by :mod:`simulator.cli`)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from .state import WORKSPACE_JSON, Workspace

LOCAL = ("127.0.0.1", "localhost")


def resolve_source(source: str | None, workspace: str | None
                   ) -> tuple[Path | None, Path, tuple[dict[str, str], dict[str, str]] | None]:
    """(scenario file, workspace folder, (unit → grid, grid → lead) of a run folder's plan) for the arguments.

    ``source`` is a scenario TOML, a run folder written by ``caregrid run`` (its scenario and its plan's layout), or
    a workspace folder to reopen; without ``--workspace`` a new workspace goes to ``out/app/<scenario file name>``.
    """
    labels = None
    if source is None:
        if workspace is None or not (Path(workspace) / WORKSPACE_JSON).exists():
            raise InputError(None, "give a scenario, a run folder or a workspace folder (caregrid app "
                             "scenarios/panjin.toml)", field="source")
        return None, Path(workspace), None
    src = Path(source)
    if src.is_dir() and (src / WORKSPACE_JSON).exists():
        return None, src, None
    if src.is_dir():
        run_json = src / "run.json"
        if not run_json.exists():
            raise InputError(src, "is a folder without run.json or workspace.json; expected a scenario file, a run "
                             "folder or a workspace folder", field="source")
        record = json.loads(run_json.read_text(encoding="utf-8"))
        scenario = Path(record.get("scenario", {}).get("path") or "")
        if not scenario.is_file():
            raise InputError(run_json, f"the run's scenario file {scenario} is not there", field="scenario.path")
        import geopandas as gpd

        units = gpd.read_file(src / "plan.gpkg", layer="units", columns=["unit_id", "grid_id"], ignore_geometry=True)
        groups = pd.read_csv(src / "groups.csv", dtype=str, keep_default_na=False)
        leads = groups.loc[groups["role"] == "lead"]
        # the run's leads, chosen: an optimised plan's lead may stand outside its grid
        labels = (dict(zip(units["unit_id"].astype(str), units["grid_id"].astype(str), strict=True)),
                  dict(zip(leads["grid_id"], leads["facility_id"], strict=True)))
        src = scenario
    folder = Path(workspace) if workspace else Path("out") / "app" / src.stem
    return src, folder, labels


def run_app(source: str | None, *, workspace: str | None = None, host: str = "127.0.0.1", port: int = 8765,
            overrides: dict[str, Any] | None = None, open_browser: bool = True) -> int:
    """Open (or create) the workspace and serve it until Ctrl-C; another host than 127.0.0.1 gets a random token."""
    from .server import serve

    scenario, folder, labels = resolve_source(source, workspace)
    ws = Workspace.open_or_create(folder, scenario, overrides, labels)
    token = None if host in LOCAL else secrets.token_urlsafe(24)
    serve(ws, host=host, port=port, token=token, open_browser=open_browser)
    return 0
