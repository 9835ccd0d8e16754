"""render stage: maps and the report, drawn from a run folder alone (:func:`simulator.runfolder.read_run`).

=====================  ===========================================================================================
module                 concern
=====================  ===========================================================================================
``interactive``        ``map.html`` (folium; offline), notebook view :func:`plan_map`
``static``             ``map.png`` / ``map.pdf`` (matplotlib, A4 at 300 dpi)
``compare_map``        ``compare.html``: two runs side by side
``maps``               all maps of a run folder at once (:func:`write_maps`)
``report``             ``report.html``
``layers``             what the maps draw: grid summary, facility roles, districts, choropleth classes, placement
``style``              palette, marker styles, data-source line
``markers``            SVG facility markers
``fonts``              CJK font lookup for matplotlib
``assets``             Leaflet and plugins inlined from ``folium-offline``
``templating``         jinja2 templates (``templates/*.j2``, autoescaped) and escaping for JS contexts
=====================  ===========================================================================================

Labels (English 中文) come from the one catalogue :mod:`simulator.config.labels`.
"""

from .assets import inline_assets
from .compare_map import write_compare_map
from .fonts import choose_cjk_font, cjk_font
from .interactive import MapView, build_map, draw_run, plan_map, write_map
from .layers import choropleth_classes, facility_roles, grid_summary
from .maps import describe_size, write_maps
from .report import render_report, write_report
from .static import static_figure, write_static_map
from .style import GRID_PALETTE, grid_colours

__all__ = [
    "GRID_PALETTE",
    "MapView",
    "build_map",
    "choose_cjk_font",
    "choropleth_classes",
    "cjk_font",
    "describe_size",
    "draw_run",
    "facility_roles",
    "grid_colours",
    "grid_summary",
    "inline_assets",
    "plan_map",
    "render_report",
    "static_figure",
    "write_compare_map",
    "write_map",
    "write_maps",
    "write_report",
    "write_static_map",
]
