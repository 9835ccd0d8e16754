"""CJK font lookup for matplotlib (static map, report charts): Chinese labels need one, else English is drawn."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

#: families tried in this order (Simplified Chinese first; Japanese/Traditional fonts also hold the hanzi)
PREFERRED_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Serif CJK SC",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
)
#: a family name that is likely CJK when none of the preferred ones is installed
_CJK_FAMILY = re.compile(r"CJK|Han|WenQuanYi|Hei")
#: font file names of CJK fonts (for fonts installed after matplotlib built its font cache)
_CJK_FILE = re.compile(r"(cjk|wqy|wenquanyi|sourcehan|droidsansfallback|simhei|msyh|pingfang|notosanssc)", re.I)


def choose_cjk_font(families: Iterable[str], *, guess: bool = True) -> str | None:
    """The CJK family to draw with among the installed ``families``.

    The first of :data:`PREFERRED_CJK_FONTS` that is installed; failing that (``guess``) the alphabetically first
    family whose name looks CJK ("CJK", "Han", "WenQuanYi", "Hei"); else None.
    """
    names = sorted(set(families))
    found = [p for p in PREFERRED_CJK_FONTS if p in names]
    if not found and guess:
        found = [n for n in names if _CJK_FAMILY.search(n)]
    return found[0] if found else None


def _installed_families() -> list[str]:
    from matplotlib import font_manager as fm

    return sorted({f.name for f in fm.fontManager.ttflist})


def _register_system_cjk_fonts() -> None:
    """Add system CJK font files to matplotlib's font manager (its cache may predate their installation)."""
    from matplotlib import font_manager as fm

    for path in fm.findSystemFonts():
        if _CJK_FILE.search(Path(path).name):
            try:
                fm.fontManager.addfont(path)
            except Exception:  # noqa: BLE001 - an unreadable font file is skipped
                continue


def cjk_font() -> str | None:
    """Family name of the first CJK font matplotlib can use (installing it into the font manager if needed)."""
    found = choose_cjk_font(_installed_families(), guess=False)
    if found is None:
        _register_system_cjk_fonts()
        found = choose_cjk_font(_installed_families())
    return found


#: characters a Latin font cannot draw as text a reader understands (CJK ideographs, kana, hangul, full-width forms)
_CJK_TEXT = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds characters that need a CJK font."""
    return bool(_CJK_TEXT.search(str(text)))


def drawable(text: str, chinese: bool, fallback: str) -> str:
    """``text`` if it can be drawn (a CJK font is there, or it needs none), else ``fallback``."""
    return str(text) if chinese or not has_cjk(text) else fallback


def grid_names(grid_ids: Sequence[str], chinese: bool) -> dict[str, str]:
    """The name drawn for each grid: its id, or "grid 1", "grid 2"... (in plan order) for an id that is Chinese
    and cannot be drawn without a CJK font (a planner's layout may name its grids 西区, 东区)."""
    return {str(g): drawable(str(g), chinese, f"grid {i}") for i, g in enumerate(grid_ids, 1)}
