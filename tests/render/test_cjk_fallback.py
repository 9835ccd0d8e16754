"""Without a CJK font, map.png/pdf and the report's charts draw English, never boxes (☐☐☐) for Chinese text.

A planner's layout may name its grids in Chinese (西区, 东区): the run is renamed so, "no CJK font" is forced
(:func:`simulator.render.fonts.cjk_font` returns None), and every text the figures draw is checked.
"""

from __future__ import annotations

import re

import pytest

from simulator.render import fonts, report, static
from simulator.runfolder import read_run

CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")
CHINESE_GRIDS = {"G1": "西区", "G2": "东区"}


def _texts(fig) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


@pytest.fixture
def chinese_grid_run(run_dir):
    """The Panjin run with its grids named in Chinese (as a planner's layout may name them)."""
    run = read_run(run_dir)
    assert set(run.grids["grid_id"]) == set(CHINESE_GRIDS)
    for table in (run.grids, run.units, run.groups, run.referrals, run.indicators, run.facilities):
        table["grid_id"] = table["grid_id"].astype(str).replace(CHINESE_GRIDS)
    return run


def test_static_map_without_cjk_font_draws_no_chinese(chinese_grid_run, monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    with static.static_style(None):
        texts = _texts(static.static_figure(chinese_grid_run, None, dpi=50))
    assert not [t for t in texts if CJK.search(t)], [t for t in texts if CJK.search(t)]
    joined = " ".join(texts)
    assert "grid 1" in joined and "grid 2" in joined  # the Chinese grid names' English stand-ins
    # with a CJK font the Chinese grid names are drawn as they are
    assert fonts.grid_names(["西区", "G3"], True) == {"西区": "西区", "G3": "G3"}
    assert fonts.grid_names(["西区", "G3"], False) == {"西区": "grid 1", "G3": "G3"}


def test_report_charts_without_cjk_font_draw_no_chinese(chinese_grid_run, monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    drawn: list[str] = []
    png = report._png

    def spy(fig):
        drawn.extend(_texts(fig))
        return png(fig)

    monkeypatch.setattr(report, "_png", spy)
    charts = report._charts(chinese_grid_run.indicators, chinese_grid_run.units)
    assert len(charts) == 3 and drawn
    assert not [t for t in drawn if CJK.search(t)], [t for t in drawn if CJK.search(t)]
    assert "grid 1" in drawn and "grid 2" in drawn
