"""Facility marker icons as inline SVG (the interactive map and its legend)."""

from __future__ import annotations

import math

from .templating import Markup, macros


def _star_points(s: float, inner: float = 0.5) -> str:
    c, r = s / 2, s / 2 - 1.5
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = r if k % 2 == 0 else r * inner
        pts.append(f"{c + rr * math.cos(a):.1f},{c + rr * math.sin(a) + r * 0.08:.1f}")
    return " ".join(pts)


def _diamond_points(s: float) -> str:
    c, r = s / 2, s / 2 - 1
    return f"{c},{c - r} {c + r},{c} {c},{c + r} {c - r},{c}"


def marker_svg(
    shape: str,
    size: int,
    fill: str,
    stroke: str,
    *,
    dashed: bool,
    hollow: bool,
    letter: str = "",
    weight: float = 1.6,
) -> Markup:
    """Inline SVG for a facility marker (markup: numbers and catalogue letters only, nothing from the run folder).

    Parameters
    ----------
    shape
        "star" (lead), "circle", "diamond" or "square".
    size
        Width and height, pixels.
    fill, stroke
        Colours (``#rrggbb``); ``hollow`` draws white instead of ``fill`` (a modelled facility).
    dashed
        Dashed outline (approximate location).
    letter
        Drawn inside markers of 15 px and more (the facility kind).
    weight
        Outline width, pixels.
    """
    s = size
    points = _star_points(s) if shape == "star" else _diamond_points(s) if shape == "diamond" else ""
    show_letter = bool(letter) and s >= 15
    fs = s * (0.38 if shape == "star" else 0.52)
    return Markup(
        macros("map_parts.html.j2").marker(
            s,
            "#ffffff" if hollow else fill,
            stroke,
            weight,
            dashed,
            shape,
            points,
            letter if show_letter else "",
            s / 2,
            s / 2 + fs * 0.38 + (s * 0.05 if shape == "star" else 0),
            f"{fs:.1f}",
        )
    )
