"""Independent check of ``shared_centres.csv`` in a written run folder (beside :func:`.verify.verify_run`).

Reads the run folder's files with its own code (``shared_centres.csv``, ``groups.csv``, ``adjacency.csv``, the
``units`` and ``facilities`` layers of ``plan.gpkg``, ``run.json``) and the host rules (data, via
:func:`simulator.config.centres.load_centre_rules`); it does not import the plan stage that chose the hosts.

Checked: one row per grid with a lead and centre kind of the rules, with a known ``status``; ``not_applicable``
exactly where the group holds no facility of the kind's ``needs_group_kinds``; an ``own`` host is the lead or a
member of the grid's group, a ``shared`` host one of an adjacent grid's group (units sharing an edge or a bridge),
only when the scenario allows sharing, and that grid's row of the kind names the same host (an open centre serves its
own group); a host chosen by the level/kind rule has a level and kind the rule allows; the planner's capability flags,
which the facilities layer keeps (``hosts_lab`` … 1 / 0 / blank), win over the rule: a host whose flag is false is a
violation, a host chosen by its flag must have it true; a ``no_host`` row has no member that may host (flag true, or
blank and of the rule's levels and kinds); ``shared_with`` names exactly the other grids the same host serves for the
kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..config.centres import load_centre_rules

STATUSES = ("own", "shared", "no_host", "not_applicable")


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v)


def _adjacent(run_dir: Path, units: gpd.GeoDataFrame) -> set[tuple[str, str]]:
    adj = pd.read_csv(run_dir / "adjacency.csv", dtype=str)
    grid = dict(zip(units["unit_id"].astype(str), units["grid_id"].astype(str), strict=True))
    a, b = adj["unit_a"].map(grid), adj["unit_b"].map(grid)
    pairs = {(x, y) for x, y in zip(a, b, strict=True) if x != y}
    return pairs | {(y, x) for x, y in pairs}


def verify_shared_centres(run_dir: str | Path) -> list[str]:
    """Violations found in ``shared_centres.csv`` (empty list: consistent, or no such file in the folder)."""
    run_dir = Path(run_dir)
    path = run_dir / "shared_centres.csv"
    if not path.exists():
        return []
    v: list[str] = []
    sc = pd.read_csv(path, dtype={"grid_id": str, "host_facility_id": str, "host_grid_id": str}, keep_default_na=False)
    groups = pd.read_csv(run_dir / "groups.csv", dtype={"grid_id": str, "facility_id": str})
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    plan = (record.get("scenario") or {}).get("plan") or {}
    name = str(plan.get("centre_rules") or "liaoning-2023")
    scenario_path = (record.get("scenario") or {}).get("path")
    if name.endswith(".toml") and scenario_path and not Path(name).is_absolute():
        name = str(Path(scenario_path).parent / name)
    rules = {r.kind: r for r in load_centre_rules(name)}
    fac = gpd.read_file(run_dir / "plan.gpkg", layer="facilities")
    fac = fac.set_index(fac["facility_id"].astype(str))
    units = gpd.read_file(run_dir / "plan.gpkg", layer="units")
    adjacent = _adjacent(run_dir, units)
    share = bool(plan.get("share_centres", False))
    sending = groups[groups["role"].isin(("lead", "member"))]
    members = {g: set(x["facility_id"]) for g, x in sending.groupby("grid_id")}
    led = sorted(set(groups.loc[groups["role"] == "lead", "grid_id"]))
    have = set(zip(sc["grid_id"], sc["centre_kind"], strict=True))
    v += [f"shared_centres.csv: no row for grid {g} and centre {k}" for g in led for k in rules if (g, k) not in have]
    row_of = {(r.grid_id, r.centre_kind): r for r in sc.itertuples(index=False)}
    for r in sc.itertuples(index=False):
        v += _check_row(r, rules, members, fac, adjacent, share, row_of, sc)
    return v


def _flag(rule, fac: pd.DataFrame, fid: str) -> bool | None:
    """The planner's capability flag of ``fid`` for the rule (``hosts_lab`` …) as the facilities layer keeps it:
    True / False, ``None`` where undeclared (blank cell or no such column)."""
    if fid not in fac.index or rule.flag not in fac.columns:
        return None
    v = pd.to_numeric(pd.Series([fac.at[fid, rule.flag]]), errors="coerce").iat[0]
    return None if v != v else bool(v)


def _allowed(rule, fac: pd.DataFrame, fid: str) -> bool:
    """May host: its flag where declared (a planner's flag wins), else the rule's levels and kinds."""
    flag = _flag(rule, fac, fid)
    if flag is not None:
        return flag
    return fid in fac.index and fac.at[fid, "level"] in rule.levels and fac.at[fid, "kind"] in rule.kinds


def _check_flag(where: str, rule, fac: pd.DataFrame, host: str, basis: str) -> list[str]:
    """A host whose capability flag says false may not host; a host chosen by its flag has it true."""
    flag = _flag(rule, fac, host)
    if flag is False:
        return [f"{where}: host {host}'s capability flag {rule.flag} is false (the planner says it cannot host)"]
    if basis.startswith("capability flag") and flag is not True:
        return [f"{where}: host_basis names the capability flag {rule.flag}, but the facilities layer holds "
                f"{'no such flag' if flag is None else 'false'} for {host}"]
    return []


def _check_shared(where: str, r, host: str, members, adjacent, share: bool, row_of) -> list[str]:
    """A ``shared`` row: sharing allowed, the host in an adjacent grid's group and serving that group too."""
    out = []
    if not share:
        out.append(f"{where}: shared although the scenario does not allow sharing (plan.share_centres)")
    hg = _text(r.host_grid_id)
    if (r.grid_id, hg) not in adjacent or host not in members.get(hg, set()):
        out.append(f"{where}: shared host {host} is not in the group of an adjacent grid ({hg})")
    home = row_of.get((hg, r.centre_kind))
    if home is None or _text(home.host_facility_id) != host:
        out.append(f"{where}: host {host} does not serve its own group {hg}")
    return out


def _check_served(where: str, r, host: str, sc: pd.DataFrame) -> list[str]:
    """``shared_with`` names exactly the other grids the same host serves for the kind."""
    same = set(sc[(sc["centre_kind"] == r.centre_kind) & (sc["host_facility_id"] == host)]["grid_id"]) - {r.grid_id}
    named = {x for x in _text(r.shared_with).split(";") if x}
    return [] if named == same else [f"{where}: shared_with {sorted(named)} but the host serves {sorted(same)}"]


def _check_row(r, rules, members, fac, adjacent, share, row_of, sc) -> list[str]:
    where = f"shared_centres.csv ({r.grid_id}, {r.centre_kind})"
    if r.status not in STATUSES:
        return [f"{where}: status {r.status!r}; expected one of {', '.join(STATUSES)}"]
    rule = rules.get(r.centre_kind)
    if rule is None:
        return [f"{where}: centre kind not in the host rules"]
    mine = members.get(r.grid_id, set())
    kinds = {fac.at[f, "kind"] for f in mine if f in fac.index}
    applies = not rule.needs_group_kinds or bool(kinds & set(rule.needs_group_kinds))
    out = []
    if (r.status == "not_applicable") == applies:
        out.append(f"{where}: status {r.status} but the group {'holds' if applies else 'lacks'} a "
                   f"{'/'.join(rule.needs_group_kinds) or 'any'} facility")
    host, basis = _text(r.host_facility_id), _text(r.host_basis)
    if r.status == "own" and host not in mine:
        out.append(f"{where}: own host {host} is not the lead or a member of the group")
    if r.status == "shared":
        out += _check_shared(where, r, host, members, adjacent, share, row_of)
    if r.status in ("own", "shared"):
        if basis.startswith("level/kind rule") and not _allowed(rule, fac, host):
            out.append(f"{where}: host {host} is not of a level and kind the rule allows")
        out += _check_flag(where, rule, fac, host, basis)
        out += _check_served(where, r, host, sc)
    if r.status == "no_host" and any(_allowed(rule, fac, f) for f in mine):
        out.append(f"{where}: no host although a member of the group may host by the level/kind rule or its "
                   f"capability flag {rule.flag}")
    return out
