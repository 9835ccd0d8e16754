"""The ambulance stations of a run (``ems_stations.csv``) as a layer of the interactive map: existing stations grey,
new ones red, each with a tooltip (station, status, facility name escaped for HTML and for folium's JavaScript)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..config.labels import TargetText
from ..runfolder import schema as s
from ..runfolder.reader import RunFolder, csv_unsafe
from .templating import escape, folium_html

#: marker colours: existing stations, new stations
COLOURS = {"existing": "#555555", "new": "#d62728"}


def station_tooltip(row: pd.Series) -> str:
    """``S3 · new 新增 · name`` as HTML, every value escaped, then made safe for folium (jinja and JS literals)."""
    status = TargetText.new if row["status"] == "new" else TargetText.existing
    parts = [f"<b>{escape(row['station_id'])}</b>", escape(str(status))]
    if isinstance(row.get("name"), str) and row["name"]:
        parts.append(str(escape(row["name"])))
    parts.append(f"{escape(TargetText.residents_within)}: {float(row['residents_within']):,.0f}")
    return folium_html(" · ".join(str(p) for p in parts))


def draw_stations(m: Any, run: RunFolder, shift: Callable | None = None) -> int:
    """Add the stations layer to the folium map ``m`` when the run sited stations; returns how many were drawn."""
    path = run.path / s.EMS_STATIONS_CSV
    if not path.exists():
        return 0
    df = csv_unsafe(pd.read_csv(path, dtype=str, keep_default_na=False))
    if df.empty:
        return 0
    import folium

    lon, lat = df["lon"].astype(float).to_numpy(), df["lat"].astype(float).to_numpy()
    if shift is not None:
        lon, lat = shift(lon, lat)
    fg = folium.FeatureGroup(name=str(TargetText.stations), show=True).add_to(m)
    for (_, row), x, y in zip(df.iterrows(), np.asarray(lon), np.asarray(lat), strict=True):
        colour = COLOURS.get(row["status"], COLOURS["new"])
        folium.CircleMarker(
            [float(y), float(x)], radius=7, color="#ffffff", weight=2, fill=True, fill_color=colour, fill_opacity=0.95,
            tooltip=folium.Tooltip(station_tooltip(row)), class_name=f"cg-station cg-station-{row['status']}",
        ).add_to(fg)
    return len(df)
