"""The planner's workspace: a scenario, its city and planning units, the painted layout (unit → grid), locked units
and the facility changes, with undo/redo and an autosave of every edit.

The workspace lives in a folder. ``workspace.json`` is a snapshot of everything a reopening needs (where the
scenario came from, the ``--set`` overrides, the layout, the locks, the facility changes and both undo stacks),
written through a temporary file, ``fsync`` and an atomic rename. Every edit, undo and redo is appended to
``edits.jsonl`` (one JSON line, flushed and ``fsync``-ed before the edit is answered), so a reload of the page, a
killed server or a crash loses no edit and an edit costs one short line, not a rewrite of the whole state. Every
:data:`COMPACT_EVERY` lines the snapshot is rewritten and the journal emptied; lines the snapshot already holds
(a crash between the two) are skipped by their version, and a torn last line (a crash while appending, an edit
never answered) is dropped. :meth:`Workspace.open` restores the snapshot and replays the journal.

:meth:`Workspace.save` writes ``saved/scenario.toml`` (mode ``given_layout``), ``saved/layout.csv`` (``unit_id,
grid_id``), ``saved/locked_units.csv`` (``unit_id,lead_id``: ``plan.locked_units``, :mod:`simulator.plan.locks`) and
the facility changes as the scenario's ``[[changes]]``; ``caregrid run saved/scenario.toml`` reproduces the
workspace's layout and facilities exactly, and its optimise / ``--repair`` keep the locked units in their grids.
``caregrid app saved/scenario.toml`` reopens the layout with its locks.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from ..config.scenario import Scenario, load_scenario, parse_changes
from ..errors import InputError
from ..load.city import CityData, load_city
from ..plan.locks import locks_csv, locks_path, read_locks
from ..units.pipeline import planning_units
from ..units.planning_units import PlanningUnits
from .live import LiveEvaluator
from .toml import dumps_toml

WORKSPACE_JSON = "workspace.json"
JOURNAL = "edits.jsonl"
#: journal lines after which the snapshot is rewritten and the journal emptied
COMPACT_EVERY = 200
SAVED = "saved"
FORMAT = 1
#: where errors about an API request point (instead of a file)
REQUEST = "request"
#: grid ids the page may create: letters (any script), digits, space, _ - . ( ) and 1–40 characters
GRID_ID_RE = re.compile(r"^[\w\-. ()（）]{1,40}$")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder, fsync and rename: readers see
    the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_grid_id(grid_id: Any, field: str = "grid_id") -> str:
    """A grid id from a request: text of 1–40 letters, digits, spaces or ``_ - . ( )``; else :class:`InputError`."""
    if not isinstance(grid_id, str) or not GRID_ID_RE.match(grid_id.strip()):
        raise InputError(REQUEST, f"{field} = {grid_id!r}; expected 1–40 letters, digits, spaces or _ - . ( )",
                         field=field)
    return grid_id.strip()


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if dotted in ("grids.count", "grids.min", "grids.max"):
        for key in ("min", "max") if dotted == "grids.count" else ("count",):
            node.pop(key, None)
    node[parts[-1]] = value


class Workspace:
    """A scenario being painted. Create with :meth:`create` (from a scenario or a run folder) or :meth:`open`.

    Attributes
    ----------
    folder : the workspace folder (``workspace.json``, ``saved/``, exported run folders)
    scenario : the scenario as the workspace evaluates it (mode ``given_layout`` on the painted layout, the base
        scenario's changes plus the workspace's)
    city, units : loaded for the current facility changes
    labels : (n,) grid id per unit, in the order of ``units.gdf``
    locked : (n,) units the planner locked
    changes : the workspace's facility changes, ``[[changes]]`` entries as dicts (``move``, ``add``, ``change``…)
    """

    def __init__(self, folder: Path, source: dict[str, Any], raw: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.source = source  # {"scenario": path, "overrides": {...}}
        self.raw = raw  # the base scenario's TOML with the overrides applied
        self.base = load_scenario(source["scenario"], source.get("overrides") or None)
        self.changes: list[dict[str, Any]] = []
        self.undo_stack: list[dict[str, Any]] = []
        self.redo_stack: list[dict[str, Any]] = []
        self.version = 0
        #: grid → lead facility id the planner chose (the layout's ``lead_id``); other grids: the largest inside
        self.grid_leads: dict[str, str] = {}
        self._load_facilities()
        n = len(self.units.gdf)
        self.labels = np.full(n, "", dtype=object)
        self.locked = np.zeros(n, dtype=bool)

    # ------------------------------------------------------------------------------------------ creation
    @classmethod
    def create(cls, folder: str | Path, scenario: str | Path, overrides: dict[str, Any] | None = None,
               labels: tuple[dict[str, str], dict[str, str]] | None = None) -> Workspace:
        """A new workspace for ``scenario`` in ``folder``: the scenario's own layout when it is a given layout,
        ``labels`` (unit id → grid id and grid id → lead facility id, e.g. a run folder's plan) when given, else
        one grid per district."""
        folder = Path(folder)
        if (folder / WORKSPACE_JSON).exists():
            raise InputError(folder / WORKSPACE_JSON, "a workspace already exists here; open it (caregrid app "
                             f"{folder}) or choose another --workspace folder", field="--workspace")
        load_scenario(scenario, overrides)  # a bad scenario file is an InputError naming it, before anything else
        path = Path(scenario).resolve()
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        for dotted, value in (overrides or {}).items():
            if dotted != "changes":
                _set_dotted(raw, dotted, value)
        ws = cls(folder, {"scenario": str(path), "overrides": dict(overrides or {})}, raw)
        ws.labels = ws._initial_labels(labels)
        ws.locked = ws._initial_locks()
        ws.snapshot()
        return ws

    @classmethod
    def open(cls, folder: str | Path) -> Workspace:
        """Reopen a workspace folder exactly as its last edit left it."""
        folder = Path(folder)
        path = folder / WORKSPACE_JSON
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(path, f"cannot read the workspace: {exc}") from exc
        if state.get("format") != FORMAT:
            raise InputError(path, f"workspace format {state.get('format')!r}; expected {FORMAT}", field="format")
        ws = cls(folder, state["source"], state["raw"])
        ids = ws.unit_ids
        if list(state["unit_ids"]) != ids.tolist():
            raise InputError(path, "the scenario's planning units changed since the workspace was made; expected "
                             "the same units (open the scenario in a new workspace)", field="unit_ids")
        ws.changes = state["changes"]
        ws.labels = np.asarray(state["labels"], dtype=object)
        ws.locked = np.isin(ids, state["locked"])
        ws.undo_stack, ws.redo_stack = state["undo"], state["redo"]
        ws.grid_leads = dict(state.get("grid_leads") or {})
        ws.version = int(state.get("version", 0))
        ws._replay()
        if ws.changes:
            ws._load_facilities()
        return ws

    @classmethod
    def open_or_create(cls, folder: str | Path, scenario: str | Path | None, overrides: dict[str, Any] | None = None,
                       labels: tuple[dict[str, str], dict[str, str]] | None = None) -> Workspace:
        """Open ``folder`` when it holds a workspace, else create one for ``scenario``."""
        if (Path(folder) / WORKSPACE_JSON).exists():
            return cls.open(folder)
        if scenario is None:
            raise InputError(Path(folder), "no workspace here; give a scenario or a run folder", field="scenario")
        return cls.create(folder, scenario, overrides, labels)

    def _initial_labels(self, labels: tuple[dict[str, str], dict[str, str]] | None) -> np.ndarray:
        ug = self.units.gdf
        if labels is not None:
            labels, leads = labels
            eligible = set(self.live.eligible_ids())
            self.grid_leads = {g: fid for g, fid in leads.items() if fid in eligible}
            got = ug["unit_id"].map(labels)
            if got.isna().any():
                miss = ug.loc[got.isna(), "unit_id"].tolist()
                raise InputError(REQUEST, f"{len(miss)} unit(s) have no grid in the run folder (e.g. "
                                 f"{', '.join(miss[:5])}); expected the scenario's units", field="unit_id")
            return got.to_numpy(dtype=object)
        if self.base.plan.mode == "given_layout":
            from ..plan.make import _read_layout  # the plan stage's reader of a planner's layout

            grid, named = _read_layout(self.base, ug)
            self.grid_leads = dict(named)
            return np.asarray(grid, dtype=object)
        return ug["district_name"].astype(str).to_numpy(dtype=object)

    def _initial_locks(self) -> np.ndarray:
        """The units the scenario's ``plan.locked_units`` file locks (what a save wrote), else none. A lock in the
        workspace keeps a unit in the grid it is painted in, so each locked unit must start in its lead's grid."""
        locked = np.zeros(len(self.labels), dtype=bool)
        path = locks_path(self.base)
        if path is None:
            return locked
        locks = read_locks(path, self.unit_ids, self.city.facilities, self.live.job.rules,
                           self.base.plan.allow_enterprise_leads)
        idx = np.fromiter(locks, dtype=np.int64, count=len(locks))
        lead = self.grid_lead()
        have = np.array([lead.get(g, "") for g in self.labels[idx]], dtype=object)
        wrong = np.flatnonzero(have != np.array(list(locks.values()), dtype=object))
        if len(wrong):
            i = idx[wrong[0]]
            raise InputError(path, f"unit {self.unit_ids[i]} is locked to the grid of {locks[i]}, but the workspace "
                             f"starts it in grid {self.labels[i]} (lead {have[wrong[0]] or 'none'}); "
                             "expected the layout the locks belong to: open a run folder of this scenario "
                             "(caregrid run, then caregrid app RUN_DIR) or a given layout that paints it there",
                             field="lead_id")
        locked[idx] = True
        return locked

    # ---------------------------------------------------------------------------------------- facilities
    def _scenario_with(self, changes: list[dict[str, Any]]) -> Scenario:
        """The base scenario with the workspace's changes appended (validated as a scenario file would be)."""
        base_labels = {c.label for c in self.base.changes}
        raw = [c for c in self.raw.get("changes", []) if _label_of(c) in base_labels] + changes
        parsed = parse_changes(Path(self.source["scenario"]), raw)
        return dataclasses.replace(self.base, changes=parsed)

    def _prepare(self, changes: list[dict[str, Any]]) -> tuple[Scenario, CityData, PlanningUnits, LiveEvaluator]:
        """Scenario, city, units and live evaluator for ``changes``, without touching the workspace (a change that
        fails to apply raises here and leaves everything as it was)."""
        scenario = self._scenario_with(changes)
        city = load_city(scenario)
        units = planning_units(scenario, city)
        if hasattr(self, "units") and units.gdf["unit_id"].tolist() != self.units.gdf["unit_id"].tolist():
            raise InputError(scenario.path, "the facility change altered the planning units; expected the same "
                             "units", field="changes")
        shapes = self.live.shapes if hasattr(self, "live") else None  # same units: their shapes are measured
        return scenario, city, units, LiveEvaluator(scenario, city, units, shapes)

    def _load_facilities(self, prepared: tuple | None = None) -> None:
        self.scenario, self.city, self.units, self.live = prepared or self._prepare(self.changes)

    # -------------------------------------------------------------------------------------------- views
    @property
    def unit_ids(self) -> np.ndarray:
        return self.units.gdf["unit_id"].to_numpy(dtype=object)

    def unit_index(self, unit_ids: Any, field: str = "unit_ids") -> np.ndarray:
        """Positions of ``unit_ids`` (a list of text); unknown ids are named in an :class:`InputError`."""
        if not isinstance(unit_ids, list) or not all(isinstance(u, str) for u in unit_ids):
            raise InputError(REQUEST, f"{field}: expected a list of unit ids (text)", field=field)
        pos = self._positions()
        unknown = [u for u in unit_ids if u not in pos]
        if unknown:
            raise InputError(REQUEST, f"unknown unit id(s) {', '.join(map(repr, unknown[:10]))}"
                             + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""), field=field)
        return np.array(sorted({pos[u] for u in unit_ids}), dtype=np.int64)

    def _positions(self) -> dict[str, int]:
        """Unit id → position (the units never change within a workspace)."""
        if getattr(self, "_pos", None) is None or len(self._pos) != len(self.labels):
            self._pos = {u: i for i, u in enumerate(self.unit_ids)}
        return self._pos

    @property
    def grids(self) -> list[str]:
        from ..plan.groups import grid_sort_key

        return sorted(set(self.labels.tolist()), key=grid_sort_key)

    def units_geojson(self) -> dict[str, Any]:
        """The planning units as GeoJSON (unit id, district, residents, area km²), for the page's map."""
        g = self.units.gdf
        cols = ["unit_id", "district_name", "population", "area_km2", "geometry"]
        return json.loads(gpd.GeoDataFrame(g[cols], crs=g.crs).to_json(drop_id=True))

    def boundaries_geojson(self) -> dict[str, Any]:
        """The planning area's district lines as GeoJSON (adcode, name)."""
        a = self.city.area
        return json.loads(gpd.GeoDataFrame(a[["adcode", "name", "geometry"]], crs=a.crs).to_json(drop_id=True))

    @property
    def named_leads(self) -> dict[str, str]:
        """The chosen leads of the grids that exist now and of hospitals that may still lead (a merged grid's choice,
        or one a facility change made ineligible, is kept for its undo)."""
        grids, eligible = set(self.labels.tolist()), set(self.live.eligible_ids())
        return {g: fid for g, fid in self.grid_leads.items() if g in grids and fid in eligible}

    def grid_lead(self) -> dict[str, str]:
        """Grid → lead facility id of the current layout (chosen, else the largest eligible hospital inside)."""
        return self.live.leads(self.labels, self.named_leads)[0]

    def state(self, delta_units: np.ndarray | None = None) -> dict[str, Any]:
        """``units`` (all, or the changed ones), ``facilities``, ``compliance``, ``grids``, ``summary`` and the
        stacks' sizes: what ``GET /api/state`` and every edit return."""
        panel = self.live.panel(self.labels, self.named_leads)
        sel = np.arange(len(self.labels)) if delta_units is None else delta_units
        ids = self.unit_ids
        units = [{"unit_id": ids[i], "grid_id": self.labels[i], "locked": bool(self.locked[i])} for i in sel]
        return {"version": self.version, "delta": delta_units is not None, "units": units, **panel,
                "changes": self.changes, "can_undo": len(self.undo_stack), "can_redo": len(self.redo_stack),
                "scenario": self.scenario.name, "eligible_leads": self.live.eligible_ids()}

    # -------------------------------------------------------------------------------------------- edits
    def _label_edit(self, kind: str, idx: np.ndarray, after: np.ndarray, **extra: Any) -> dict[str, Any] | None:
        before = self.labels[idx]
        changed = before != after
        if not changed.any():
            return None
        idx, before, after = idx[changed], before[changed], after[changed]
        return {"kind": kind, "units": self.unit_ids[idx].tolist(), "before": before.tolist(),
                "after": after.tolist(), **extra}

    def assign(self, unit_ids: Any, grid_id: Any, new_grid: bool = False) -> np.ndarray:
        """Paint units into ``grid_id`` (an existing grid, or a new one with ``new_grid``); returns the changed
        unit positions. Locked units are painted too: locks bind the optimiser, not the planner."""
        idx = self.unit_index(unit_ids)
        grid = check_grid_id(grid_id)
        known = set(self.labels.tolist())
        if not new_grid and grid not in known:
            raise InputError(REQUEST, f"unknown grid id {grid!r}; the grids are {', '.join(self.grids)} (set new_grid "
                             "to start a grid)", field="grid_id")
        if new_grid and grid in known:
            raise InputError(REQUEST, f"grid id {grid!r} already exists; expected a new name", field="grid_id")
        edit = self._label_edit("assign", idx, np.full(len(idx), grid, dtype=object), grid_id=grid)
        return self._do(edit)

    def merge(self, grid_id: Any, into: Any) -> np.ndarray:
        """Merge grid ``grid_id`` into grid ``into`` (deleting a grid is merging it into a neighbour)."""
        src, dst = check_grid_id(grid_id, "grid_id"), check_grid_id(into, "into")
        for g, fld in ((src, "grid_id"), (dst, "into")):
            if g not in set(self.labels.tolist()):
                raise InputError(REQUEST, f"unknown grid id {g!r}; the grids are {', '.join(self.grids)}", field=fld)
        if src == dst:
            raise InputError(REQUEST, f"into = {dst!r} is the grid being merged; expected another grid", field="into")
        idx = np.flatnonzero(self.labels == src)
        return self._do(self._label_edit("merge", idx, np.full(len(idx), dst, dtype=object), grid_id=src, into=dst))

    def delete_grid(self, grid_id: Any) -> np.ndarray:
        """Delete a grid: its units join the neighbouring grid it shares the most unit edges with."""
        grid = check_grid_id(grid_id)
        if grid not in set(self.labels.tolist()):
            raise InputError(REQUEST, f"unknown grid id {grid!r}; the grids are {', '.join(self.grids)}",
                             field="grid_id")
        coo = self.units.adjacency.tocoo()
        a, b = self.labels[coo.row], self.labels[coo.col]
        border = b[(a == grid) & (b != grid)]
        if not len(border):
            raise InputError(REQUEST, f"grid {grid!r} touches no other grid; merge it into a grid by name",
                             field="grid_id")
        names, counts = np.unique(border.astype(str), return_counts=True)
        into = str(names[np.argmax(counts)])  # most shared edges; ties: the first name
        idx = np.flatnonzero(self.labels == grid)
        return self._do(self._label_edit("delete", idx, np.full(len(idx), into, dtype=object), grid_id=grid,
                                         into=into))

    def lock(self, unit_ids: Any, locked: Any) -> np.ndarray:
        """Lock (or unlock) units: the optimiser must not move them."""
        if not isinstance(locked, bool):
            raise InputError(REQUEST, f"locked = {locked!r}; expected true or false", field="locked")
        idx = self.unit_index(unit_ids)
        idx = idx[self.locked[idx] != locked]
        if not len(idx):
            return idx
        edit = {"kind": "lock", "lock_units": self.unit_ids[idx].tolist(), "locked": locked}
        return self._do(edit)

    def set_lead(self, grid_id: Any, facility_id: Any) -> None:
        """Choose the lead of a grid (``None``: the plan stage's choice, the largest eligible hospital inside).
        The lead may stand outside its grid; a hospital leads one grid."""
        grid = check_grid_id(grid_id)
        if grid not in set(self.labels.tolist()):
            raise InputError(REQUEST, f"unknown grid id {grid!r}; the grids are {', '.join(self.grids)}",
                             field="grid_id")
        if facility_id is not None:
            if not isinstance(facility_id, str) or facility_id not in set(self.live.eligible_ids()):
                raise InputError(REQUEST, f"facility_id = {facility_id!r} is not a hospital that may lead "
                                 f"({self.live.rules.text('R2.lead').label}); expected one of "
                                 f"{', '.join(self.live.eligible_ids())}", field="facility_id")
            other = [g for g, fid in self.named_leads.items() if fid == facility_id and g != grid]
            if other:
                raise InputError(REQUEST, f"{facility_id} already leads grid {other[0]}; a hospital leads one group",
                                 field="facility_id")
        before = self.grid_leads.get(grid)
        if before == facility_id:
            return
        self._do({"kind": "lead", "grid_id": grid, "before": before, "after": facility_id})

    def change_facility(self, change: Any) -> None:
        """Apply a facility change: a ``[[changes]]`` entry (``move`` with ``id``/``lon``/``lat``, ``add``,
        ``change``, ``close``, ``link``). A second move of one facility replaces its first."""
        if not isinstance(change, dict):
            raise InputError(REQUEST, "expected a JSON object: a [[changes]] entry with action = …", field="change")
        change = {k: v for k, v in change.items() if v is not None}
        if change.get("action") == "move":
            change.setdefault("crs", "EPSG:4326")
            change.setdefault("label", f"move_{change.get('id')}")
            after = [c for c in self.changes if not (c.get("action") == "move" and c.get("id") == change.get("id"))]
        else:
            after = list(self.changes)
        taken = {_label_of(c) for c in after} | {c.label for c in self.base.changes}
        if change.get("label") in taken or not change.get("label"):
            stem = change.get("label") or f"{change.get('action')}_{change.get('id') or (change.get('ids') or [''])[0]}"
            k = 1 if stem not in taken else 2
            while (label := stem if k == 1 else f"{stem}_{k}") in taken:
                k += 1
            change["label"] = label
        after.append(change)
        prepared = self._prepare(after)  # validates and applies (InputError names the changes[k] row and field)
        self._do({"kind": "facility", "changes_before": copy.deepcopy(self.changes), "changes_after": after},
                 prepared)

    def apply_labels(self, labels: np.ndarray, kind: str, **extra: Any) -> np.ndarray:
        """Replace the whole layout (a solver's result) as one undoable edit."""
        idx = np.arange(len(self.labels))
        return self._do(self._label_edit(kind, idx, np.asarray(labels, dtype=object), **extra))

    def _do(self, edit: dict[str, Any] | None, prepared: tuple | None = None) -> np.ndarray:
        if edit is None:
            return np.array([], dtype=np.int64)
        before = (copy.deepcopy(self.changes), self.scenario, self.city, self.units, self.live)
        changed = self._apply(edit, forward=True, prepared=prepared)
        redo = self.redo_stack
        self.undo_stack.append(edit)
        self.redo_stack = []
        self.version += 1
        try:
            self._record("do", edit)
        except BaseException:  # not on disk: not done (the edit is taken back, the caller gets the error)
            self.version -= 1
            self.undo_stack.pop()
            self.redo_stack = redo
            self._apply(edit, forward=False, prepared=before[1:])
            self.changes = before[0]
            raise
        return changed

    def undo(self) -> np.ndarray | None:
        """Revert the last edit; ``None`` when there is none."""
        return self._step(self.undo_stack, self.redo_stack, forward=False)

    def redo(self) -> np.ndarray | None:
        """Repeat the last undone edit; ``None`` when there is none."""
        return self._step(self.redo_stack, self.undo_stack, forward=True)

    def _step(self, take: list, put: list, forward: bool) -> np.ndarray | None:
        if not take:
            return None
        edit = take.pop()
        changed = self._apply(edit, forward=forward)
        put.append(edit)
        self.version += 1
        try:
            self._record("redo" if forward else "undo")
        except BaseException:
            self.version -= 1
            put.pop()
            take.append(edit)
            self._apply(edit, forward=not forward)
            raise
        return changed

    def _apply(self, edit: dict[str, Any], forward: bool, prepared: tuple | None = None,
               load: bool = True) -> np.ndarray:
        """Apply ``edit`` forwards or backwards; returns the unit positions whose label or lock changed.
        ``load=False`` (replaying the journal) sets facility changes without loading them."""
        pos = self._positions()
        if edit["kind"] == "facility":
            changes = copy.deepcopy(edit["changes_after" if forward else "changes_before"])
            if load:
                self._load_facilities(prepared or self._prepare(changes))
            self.changes = changes
            return np.arange(len(self.labels))
        if edit["kind"] == "lead":
            value = edit["after" if forward else "before"]
            if value is None:
                self.grid_leads.pop(edit["grid_id"], None)
            else:
                self.grid_leads[edit["grid_id"]] = value
            return np.array([], dtype=np.int64)
        if edit["kind"] == "lock":
            idx = np.array([pos[u] for u in edit["lock_units"]], dtype=np.int64)
            self.locked[idx] = edit["locked"] if forward else not edit["locked"]
            return idx
        idx = np.array([pos[u] for u in edit["units"]], dtype=np.int64)
        self.labels[idx] = np.asarray(edit["after" if forward else "before"], dtype=object)
        return idx

    # ------------------------------------------------------------------------------------------- storage
    def snapshot(self) -> None:
        """Write ``workspace.json`` atomically, then empty the journal (its lines are in the snapshot now)."""
        state = {"format": FORMAT, "source": self.source, "raw": self.raw, "version": self.version,
                 "unit_ids": self.unit_ids.tolist(), "labels": self.labels.tolist(),
                 "locked": self.unit_ids[self.locked].tolist(), "changes": self.changes,
                 "grid_leads": self.grid_leads, "undo": self.undo_stack, "redo": self.redo_stack}
        atomic_write_text(self.folder / WORKSPACE_JSON, json.dumps(state, ensure_ascii=False))
        atomic_write_text(self.folder / JOURNAL, "")
        self._journal_lines = 0

    def _record(self, op: str, edit: dict[str, Any] | None = None) -> None:
        """Append one journal line (flushed and fsync-ed); compact every :data:`COMPACT_EVERY` lines."""
        line = json.dumps({"v": self.version, "op": op, **({"edit": edit} if edit is not None else {})},
                          ensure_ascii=False)
        with (self.folder / JOURNAL).open("a", encoding="utf-8", newline="") as fh:
            size = fh.tell()
            try:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            except BaseException:
                fh.truncate(size)  # an edit not answered is not kept either
                raise
        self._journal_lines = getattr(self, "_journal_lines", 0) + 1
        if self._journal_lines >= COMPACT_EVERY:
            self.snapshot()

    def _replay(self) -> None:
        """Apply the journal's lines newer than the snapshot; a torn last line is dropped (and cut from the file)."""
        path = self.folder / JOURNAL
        if not path.exists():
            return
        lines = path.read_text(encoding="utf-8").split("\n")
        good = []
        for k, text in enumerate(lines):
            if not text.strip():
                continue
            try:
                entry = json.loads(text)
            except json.JSONDecodeError:
                if any(x.strip() for x in lines[k + 1:]):
                    raise InputError(path, f"line {k + 1} is not JSON; expected one edit per line", row=k + 1) from None
                atomic_write_text(path, "".join(x + "\n" for x in good))  # the torn tail of a crash
                break
            good.append(text)
            if entry["v"] <= self.version:
                continue  # already in the snapshot
            if entry["op"] == "do":
                self._apply(entry["edit"], forward=True, load=False)
                self.undo_stack.append(entry["edit"])
                self.redo_stack = []
            else:
                take, put = ((self.undo_stack, self.redo_stack) if entry["op"] == "undo"
                             else (self.redo_stack, self.undo_stack))
                edit = take.pop()
                self._apply(edit, forward=entry["op"] == "redo", load=False)
                put.append(edit)
            self.version = int(entry["v"])
        self._journal_lines = len(good)

    def layout_csv(self) -> str:
        """The layout as CSV text: ``unit_id,grid_id`` and, when the planner chose leads, ``lead_id`` (the chosen
        lead on every unit of its grid, blank elsewhere)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        named = self.named_leads
        if not named:
            w.writerow(["unit_id", "grid_id"])
            w.writerows(zip(self.unit_ids, self.labels, strict=True))
        else:
            w.writerow(["unit_id", "grid_id", "lead_id"])
            w.writerows((u, g, named.get(g, "")) for u, g in zip(self.unit_ids, self.labels, strict=True))
        return buf.getvalue()

    def locks_to_save(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(locked unit positions that can be saved, their grids' leads, locked unit positions left out): a lock
        keeps a unit in its grid's lead's grid, so a locked unit of a grid without an eligible lead cannot be
        written (the solver refuses it too)."""
        lead = self.grid_lead()
        idx = np.flatnonzero(self.locked)
        led = np.array([self.labels[i] in lead for i in idx], dtype=bool)
        return idx[led], [lead[self.labels[i]] for i in idx[led]], idx[~led]

    def scenario_toml(self, layout: Path, locked: Path | None = None) -> str:
        """The workspace as a scenario file: the base scenario (overrides applied, paths absolute), mode
        ``given_layout`` on ``layout``, the locked units file ``locked`` (``plan.locked_units``) when given, and
        the base's selected changes followed by the workspace's."""
        raw = copy.deepcopy(self.raw)
        raw["name"] = f"{self.base.name} (caregrid app)"
        raw["data"] = str(self.base.data)
        raw["rules"] = self.base.rules
        raw.pop("output", None)
        plan = raw.setdefault("plan", {})
        plan.update(mode="given_layout", layout=str(layout.resolve()), layout_grid_field="grid_id")
        plan.pop("layout_crs", None)
        plan.pop("leads", None)
        plan.pop("locked_units", None)
        if locked is not None:
            plan["locked_units"] = str(locked.resolve())
            if self.base.solver.contiguity == "fast":
                # as the app's solver runs (jobs._run_setup): "fast" contiguity (grids star-shaped around their
                # first unit) may not admit the grids locked units are painted in; the exact family admits them all
                raw.setdefault("solver", {})["contiguity"] = "exact"
        base_labels = {c.label for c in self.base.changes}
        changes = [c for c in raw.get("changes", []) if _label_of(c) in base_labels] + self.changes
        raw.pop("changes", None)
        if changes:
            raw["changes"] = changes
        return dumps_toml(raw)

    def save(self, folder: Path | None = None) -> Path:
        """Write ``scenario.toml``, ``layout.csv`` and ``locked_units.csv`` into ``folder`` (default
        ``<workspace>/saved``); returns the scenario's path. ``caregrid run`` on it reproduces the layout and the
        facilities, and its optimise / repair keep the locked units in their grids (the scenario names the locks
        file only when a unit is locked; see :meth:`locks_to_save` for locks that cannot be saved)."""
        folder = Path(folder or self.folder / SAVED)
        layout, locked = folder / "layout.csv", folder / "locked_units.csv"
        atomic_write_text(layout, self.layout_csv())
        idx, leads, _ = self.locks_to_save()
        # header only without locks: an earlier save's locks are not left behind
        atomic_write_text(locked, locks_csv(self.unit_ids[idx], leads))
        path = folder / "scenario.toml"
        atomic_write_text(path, self.scenario_toml(layout, locked if len(idx) else None))
        return path


def _label_of(change: dict[str, Any]) -> str:
    """The label a ``[[changes]]`` entry gets (its own, else ``<action>_<id>``), as the scenario reader gives it."""
    if change.get("label"):
        return str(change["label"])
    fid = change.get("id") if change.get("id") is not None else (change.get("ids") or [""])[0]
    return f"{change.get('action')}_{str(fid).strip()}"
