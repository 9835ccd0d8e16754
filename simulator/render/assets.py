"""Offline pages: the Leaflet / plugin JS and CSS that folium loads from CDNs, inlined from ``folium-offline``.

The PyPI package ``folium-offline`` ships folium's assets keyed by folium's own CDN URLs. The Bootstrap / jQuery /
awesome-markers assets folium adds by default are not used (markers are SVG DivIcons) and are left out.
"""

from __future__ import annotations

import re

from ..errors import RenderError

#: folium's default CDN assets that these maps do not use (no awesome-markers icons, no Bootstrap widgets)
UNUSED_ASSETS = ("jquery", "bootstrap", "awesome-markers", "awesome_markers", "fontawesome", "awesome.rotate")

_VERSION_RE = re.compile(r"@[^/]+")
_SCRIPT_RE = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>')


def asset_table() -> dict[str, str]:
    """Folium's CDN URL → file contents, from the ``folium-offline`` package (its ``offlinefolium.elements``)."""
    try:
        from offlinefolium import elements
    except ImportError as exc:  # pragma: no cover - dependency declared in pyproject.toml
        raise RenderError(
            "map.html embeds Leaflet from the package folium-offline; install it (pip install folium-offline)"
        ) from exc
    table = getattr(elements, "_res", None)
    if not isinstance(table, dict):  # pragma: no cover - guards against a layout change of the package
        raise RenderError("folium-offline no longer exposes its asset table (offlinefolium.elements._res)")
    return table


def bundled_asset(table: dict[str, str], url: str) -> str | None:
    """The bundled copy of ``url``; failing an exact match, the one asset with the same path but another version
    (a newer folium may move to a patch release of Leaflet or a plugin before folium-offline follows)."""
    if url in table:
        return table[url]
    key = _VERSION_RE.sub("@", url)
    hits = [k for k in table if _VERSION_RE.sub("@", k) == key]
    return table[hits[0]] if len(hits) == 1 else None


def _unused(url: str) -> bool:
    return any(k in url.lower() for k in UNUSED_ASSETS)


def _inliner(tag: str, table: dict[str, str], missing: list[str]):
    """``re.sub`` callback replacing a CDN tag by an inline ``<tag>`` element (or nothing, for unused assets)."""

    def sub(m: re.Match) -> str:
        url = m.group(1)
        if _unused(url):
            return ""
        body = bundled_asset(table, url)
        if body is None:
            missing.append(url)
            return m.group(0)
        # an asset's own "</script" would end the inline element early
        return f"<{tag}>" + body.replace(f"</{tag}", f"<\\/{tag}") + f"</{tag}>"

    return sub


def inline_assets(page: str) -> str:
    """Replace the CDN ``<script src>`` / ``<link href>`` tags in a folium page by inline copies.

    Assets of :data:`UNUSED_ASSETS` are dropped; any other URL without a bundled copy is a :class:`RenderError`,
    so a page never silently depends on the network.
    """
    table = asset_table()
    missing: list[str] = []
    page = _SCRIPT_RE.sub(_inliner("script", table, missing), page)
    page = _LINK_RE.sub(_inliner("style", table, missing), page)
    if missing:
        raise RenderError("no offline copy of " + ", ".join(missing) + " (folium-offline does not ship it)")
    return page
