"""The jinja2 environment of ``simulator/render/templates`` (HTML autoescaped) and escaping for other contexts.

Names in run folders come from planners' files and must show as text wherever they land:

* HTML text and attributes: the templates autoescape every value (``{{ name }}``);
* a JavaScript string inside ``<script>``: :func:`js_string` (JSON with ``<``, ``>``, ``&``, ``'`` as ``\\uXXXX``,
  so a name cannot close the script element);
* anything handed to folium: :func:`folium_html` additionally writes ``{``, ``}``, `````, ``$`` and ``\\`` as
  HTML character references. branca renders each element's script and then parses that output *again* as a jinja
  template (``Element(script(...))``), so a name holding ``{{ ... }}`` would be evaluated, with Python's full
  power, while map.html is written; and folium's ``Tooltip`` puts its text inside a JavaScript template literal.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from ..config import labels
from .layers import fmt_num

__all__ = ["Markup", "escape", "folium_html", "js_string", "render", "macros"]


def js_string(value: Any) -> Markup:
    """``value`` as a JavaScript literal that is safe inside an HTML ``<script>`` element."""
    return htmlsafe_json_dumps(value)


_FOLIUM_UNSAFE = str.maketrans({"{": "&#123;", "}": "&#125;", "`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def folium_html(html: str) -> str:
    """An HTML fragment (values already escaped) made safe to hand to folium: jinja delimiters and JavaScript
    template-literal characters as character references (the browser shows the same text)."""
    return str(html).translate(_FOLIUM_UNSAFE)


@cache
def environment() -> Environment:
    """The shared environment: templates from the package, autoescape on, undefined names are errors."""
    env = Environment(
        loader=PackageLoader("simulator.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals.update(
        T=labels.Text,
        ROLES=labels.ROLES,
        LEVELS=labels.LEVELS,
        KINDS=labels.KINDS,
        INDICATORS=labels.INDICATORS,
        TT=labels.TargetText,
    )
    env.filters["num"] = fmt_num
    env.filters["js"] = js_string
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a file name in templates/, e.g. ``"report.html.j2"``) with ``context``."""
    return environment().get_template(template).render(**context)


def macros(name: str) -> Any:
    """The macros of template ``name`` as callables returning :class:`~markupsafe.Markup`."""
    return environment().get_template(name).module
