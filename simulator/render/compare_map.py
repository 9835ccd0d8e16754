"""``compare.html``: two runs' interactive maps side by side."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..runfolder.reader import RunFolder, read_run
from .interactive import MapScript, add_controls, draw_run, map_scripts, save_page


def same_city(a: RunFolder, b: RunFolder) -> bool:
    """True when the two runs' grids overlap by more than 5 % of the smaller city's area."""
    ua, ub = a.grids.geometry.union_all(), b.grids.geometry.union_all()
    if not ua.intersects(ub):
        return False
    return ua.intersection(ub).area > 0.05 * min(ua.area, ub.area)


def _synchronised_maps() -> tuple[tuple[Any, Any], Any]:
    from folium.plugins import DualMap

    dm = DualMap(tiles=None, control_scale=True, zoom_start=10)
    return (dm.m1, dm.m2), dm


def _independent_maps() -> tuple[tuple[Any, Any], Any]:
    import folium
    from branca.element import Figure

    fig = Figure()
    maps = tuple(
        folium.Map(
            tiles=None,
            control_scale=True,
            zoom_start=10,
            width="50%",
            height="100%",
            left=left,
            top="0%",
            position="absolute",
        )
        for left in ("0%", "50%")
    )
    for mm in maps:
        fig.add_child(mm)
    return maps, fig


def write_compare_map(run_dirs: Iterable[str | Path | RunFolder], out_html: str | Path, *, tiles: str = "none") -> Path:
    """Two runs side by side in ``compare.html``.

    Same city (the runs' grids overlap): :class:`folium.plugins.DualMap`, panning and zoom synchronised.
    Different cities (e.g. Fuxin vs Panjin): two maps in one page, each fitted to its own city, not synchronised.
    """
    run_dirs = list(run_dirs)
    if len(run_dirs) != 2:
        raise ValueError(f"compare needs exactly two run folders, got {len(run_dirs)}")
    a, b = (r if isinstance(r, RunFolder) else read_run(r) for r in run_dirs)
    same = same_city(a, b)
    maps, root = _synchronised_maps() if same else _independent_maps()
    for mm, run in zip(maps, (a, b), strict=True):
        draw_run(mm, run, tiles=tiles, compact=True)
        add_controls(mm, collapsed=True)
        mm.add_child(MapScript(map_scripts().side_border()))
    title = f"{a.name} | {b.name} — caregrid comparison" + (" (synchronised)" if same else "")
    return save_page(root, Path(out_html), title)
