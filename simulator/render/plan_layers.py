"""The plan layers of issue 15 as the map and the report show them: shared-centre hosts (a map layer with escaped
popups), equity by district, service lines and family-doctor teams (a report section). Everything is read from the
run folder (:class:`~simulator.runfolder.reader.RunFolder`); HTML comes from ``templates/plan_layers.html.j2``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..config.labels import INDICATORS, PlanLayerText
from ..runfolder.reader import RunFolder
from .templating import environment, folium_html, macros

#: equity columns the report shows (all of them are in indicators_district.csv)
EQUITY_COLUMNS = ("population", "travel_mean_min", "share_within_access", "share_within_primary_care",
                  "travel_gini", "beds_per_1000", "outpatient_slots_per_1000", "reserved_slots_per_10000")
#: family_doctors.csv columns the report shows, in order
FAMILY_DOCTOR_SHOWN = ("general_practitioners", "general_practitioners_needed", "general_practitioners_shortfall",
                       "family_doctor_teams", "family_doctor_teams_needed", "family_doctor_teams_shortfall")
STATUS_TEXT = {"own": PlanLayerText.own, "shared": PlanLayerText.shared, "no_host": PlanLayerText.no_host,
               "not_applicable": PlanLayerText.not_applicable}

environment().globals.setdefault("P", PlanLayerText)


def _minutes(v: Any) -> str:
    return f"{float(v):,.1f}" if v is not None and np.isfinite(float(v)) else ""


def centre_hosts(run: RunFolder) -> list[dict[str, Any]]:
    """One entry per host facility of ``shared_centres.csv``: id, name, location and its centres (name, the grids
    it serves, mean minutes per grid)."""
    sc = run.shared_centres
    if sc.empty or "host_facility_id" not in sc:
        return []
    fac = run.facilities.set_index(run.facilities["facility_id"].astype(str))
    hosted = sc[sc["host_facility_id"].fillna("").astype(str) != ""]
    out = []
    for fid, rows in hosted.groupby(hosted["host_facility_id"].astype(str), sort=True):
        if fid not in fac.index:
            continue
        geom = fac.loc[fid, "geometry"]
        centres = []
        for kind, k in rows.groupby("centre_kind", sort=False):
            centres.append({"centre_name": str(k["centre_name"].iloc[0]), "centre_kind": str(kind),
                            "grids": ", ".join(k["grid_id"].astype(str)),
                            "minutes": " / ".join(_minutes(v) for v in k["mean_minutes"])})
        out.append({"facility_id": fid, "name": str(fac.loc[fid, "name"]), "lon": float(geom.x), "lat": float(geom.y),
                    "centres": centres})
    return out


def draw_shared_centres(m: Any, run: RunFolder, shift: Callable | None = None) -> int:
    """A map layer "Shared centres 资源共享中心" (off at start): a ring around each host with a popup of its centres.

    Returns the number of hosts drawn.
    """
    import folium

    from .interactive import MapScript, map_scripts

    hosts = centre_hosts(run)
    if not hosts:
        return 0
    fg = folium.FeatureGroup(name=str(PlanLayerText.shared_centres), show=False).add_to(m)
    popup = macros("plan_layers.html.j2").centre_popup
    for h in hosts:
        lon, lat = np.array([h["lon"]]), np.array([h["lat"]])
        if shift is not None:
            lon, lat = shift(lon, lat)
        ring = folium.CircleMarker([float(lat[0]), float(lon[0])], radius=14, color="#6A3D9A", weight=3,
                                   fill=False, dash_array="2 3", class_name="cg-centre-host")
        ring.add_child(MapScript(map_scripts().bind_popup(folium_html(popup(h)))))
        ring.add_to(fg)
    return len(hosts)


def _cells(row: pd.Series, columns: tuple[str, ...], fmt: Callable[[str, Any], str | None]) -> list[str | None]:
    return [fmt(c, row.get(c)) if c in row and pd.notna(row.get(c)) else None for c in columns]


def plan_layers_context(run: RunFolder, fmt: Callable[[str, Any], str | None]) -> dict[str, Any]:
    """What the report's plan-layer section shows (text; the template escapes it). ``fmt`` formats an indicator
    (:func:`simulator.render.report.format_indicator`)."""
    sc, eq, sl, fd = run.shared_centres, run.indicators_district, run.service_lines, run.family_doctors
    centres = []
    for r in sc.to_dict("records") if not sc.empty else []:
        est = pd.to_numeric(pd.Series([r.get("volume_estimated_share")]), errors="coerce").fillna(0.0).iat[0]
        centres.append({**{k: ("" if pd.isna(v) else v) for k, v in r.items()},
                        "status_text": str(STATUS_TEXT.get(str(r.get("status")), r.get("status"))),
                        "mean_minutes": _minutes(r.get("mean_minutes")),
                        "estimated": r.get("status") in ("own", "shared") and bool(est > 0)})

    def ratio(_c: str, v: Any) -> str:
        return f"{float(v):.2f}"

    equity = [{"part_id": str(r["part_id"]), "part_type": str(r["part_type"]), "part_name": str(r["part_name"]),
               "figures": _cells(r, EQUITY_COLUMNS, ratio if r["part_type"] == "max_min_ratio" else fmt)}
              for _, r in eq.iterrows()] if not eq.empty else []
    headings = [str(PlanLayerText.travel_gini) if c == "travel_gini" else INDICATORS[c].short for c in EQUITY_COLUMNS]
    lines, line_headings = [], []
    if not sl.empty:
        line_headings = list(dict.fromkeys(sl["service_line_name"].astype(str)))
        for g, rows in sl.groupby(sl["grid_id"].astype(str), sort=False):
            lines.append({"grid_id": g, "cells": [{"offered": str(o).lower() == "true",
                                                   "facility_ids": "" if pd.isna(f) else str(f)}
                                                  for o, f in zip(rows["offered"], rows["facility_ids"], strict=True)]})
    def count(_c: str, v: Any) -> str:
        return f"{float(v):,.0f}"

    doctors = [{"grid_id": str(r["grid_id"]), "figures": _cells(r, FAMILY_DOCTOR_SHOWN, count)}
               for _, r in fd.iterrows()] if not fd.empty else []
    sources = [str(x) for c in ("gp_norm_source", "team_norm_source") if c in fd for x in fd[c].dropna().unique()]
    alloc = run.referral_allocations
    teams = int((alloc["recipient"] == "team").sum()) if not alloc.empty and "recipient" in alloc else 0
    facs = int((alloc["recipient"] == "facility").sum()) if not alloc.empty and "recipient" in alloc else 0
    return {
        "centres": centres,
        "centre_rules": str(run.scenario.get("plan", {}).get("centre_rules", "liaoning-2023")),
        "equity": equity,
        "equity_headings": headings,
        "service_lines": lines,
        "line_headings": line_headings,
        "family_doctors": doctors,
        "norm_sources": sources,
        "recipients": f"{teams} {PlanLayerText.recipient_team}, {facs} {PlanLayerText.recipient_facility}",
    }
