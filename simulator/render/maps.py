"""All maps of a run folder at once (``caregrid run`` / ``caregrid map``): ``map.html``, ``map.png``, ``map.pdf``.

Everything is drawn from the run folder alone (read by :func:`simulator.runfolder.read_run`), so
``caregrid map RUN_DIR`` redraws a folder written earlier. The pieces live beside this module:
:mod:`.interactive` (folium map, notebook view), :mod:`.static` (print map), :mod:`.compare_map` (two runs side by
side), :mod:`.layers` (what is drawn), :mod:`.style` (colours, markers), :mod:`.fonts` (CJK font),
:mod:`.assets` (offline Leaflet), :mod:`.templating` (HTML templates and escaping).
"""

from __future__ import annotations

from pathlib import Path

from .compare_map import write_compare_map
from .interactive import build_map, plan_map, write_map
from .static import write_static_map

__all__ = ["build_map", "describe_size", "plan_map", "write_compare_map", "write_map", "write_maps", "write_static_map"]


def write_maps(run_dir: str | Path, *, tiles: str = "none", static: bool = True) -> dict[str, Path]:
    """Write ``map.html`` and (``static``) ``map.png`` / ``map.pdf`` into the run folder.

    Returns
    -------
    dict
        Paths by kind: ``html``, and ``png`` / ``pdf`` when drawn.
    """
    out = {"html": write_map(run_dir, tiles=tiles)}
    if static:
        png, pdf = write_static_map(run_dir)
        out.update(png=png, pdf=pdf)
    return out


def describe_size(path: str | Path) -> str:
    """File size for people: "1.2 MB" or "850 kB"."""
    n = Path(path).stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
