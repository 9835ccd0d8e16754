"""The sweep's trade-off chart and table, from a hand-made sweep table (no solving)."""

import numpy as np
import pandas as pd

from simulator.sweep import _figure, _markdown

TABLE = pd.DataFrame(
    {
        "variant": ["v01_count-2", "v02_count-3", "v03_count-4", "v04_count-5"],
        "grids.count": [2, 3, 4, 5],
        "status": ["optimal", "optimal", "no plan", "no plan"],
        "passed": [True, False, False, False],
        "grids": [2.0, 3.0, np.nan, np.nan],
        "unserved_residents": [0.0, 1234567.0, np.nan, np.nan],
        "share_within_access": [0.87405, 0.5, np.nan, np.nan],
        "travel_mean_min": [16.905403, 14.25, np.nan, np.nan],
        "gap": [0.0, 0.01, np.nan, np.nan],
    }
)


def test_chart_marks_failed_variants_as_failed_not_at_zero_minutes():
    import matplotlib.pyplot as plt

    fig = _figure(TABLE, ["grids.count"])
    ax = fig.axes[0]
    try:
        plotted = np.concatenate([line.get_ydata() for line in ax.get_lines()])
        assert not np.any(plotted[np.isfinite(plotted)] == 0)  # no variant drawn at 0 minutes
        assert ax.get_ylim()[0] > 5  # the axis is not stretched down to 0 by a missing plan
        offsets = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
        xs = sorted(float(x) for o in offsets for x in o[:, 0])
        assert xs == [3.0, 4.0, 5.0]  # the rule-failing variant and the two without a plan
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "no plan" in labels and "fails a rule" in labels
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)  # whole numbers of grids
        renderer = fig.canvas.get_renderer()
        title = ax.title.get_window_extent(renderer)
        assert title.x0 >= 0 and title.x1 <= fig.bbox.width  # the title fits the figure
    finally:
        plt.close(fig)


def test_chart_shows_every_variant_on_whole_numbers_of_grids():
    """Panjin's sweep grids=2..4: only 2 grids make a plan; the axis still spans 2–4 with whole-number ticks."""
    import matplotlib.pyplot as plt

    table = TABLE.iloc[[0, 2, 3]].assign(**{"grids.count": [2, 3, 4]})
    fig = _figure(table, ["grids.count"])
    ax = fig.axes[0]
    try:
        lo, hi = ax.get_xlim()
        assert lo < 2 and hi > 4
        assert list(ax.get_xticks()) == [2, 3, 4]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "3", "4"]
    finally:
        plt.close(fig)


def test_sweep_table_is_formatted_for_people():
    md = _markdown(TABLE)
    row2 = md.splitlines()[3]
    assert "1,234,567" in row2 and "50.0%" in row2 and "14.2" in row2 and "**FAILS**" in row2
    row1 = md.splitlines()[2]
    assert "16.9 |" in row1 and "87.4%" in row1 and "| 2 |" in row1 and ".000" not in md


def test_chart_of_a_changes_sweep_with_a_variant_without_a_plan():
    """``--set changes=none,all,upgrade_dawa``: no grid count is swept and one variant has no plan (grids NaN)."""
    import matplotlib.pyplot as plt

    table = pd.DataFrame(
        {
            "variant": ["v01_changes-none", "v02_changes-all", "v03_changes-upgrade_dawa"],
            "changes": ["none", "all", "upgrade_dawa"],
            "status": ["optimal", "optimal", "no plan"],
            "passed": [True, True, False],
            "grids": [2.0, 2.0, np.nan],
            "travel_mean_min": [16.9, 16.5, np.nan],
        }
    )
    fig = _figure(table, ["changes"])
    try:
        lo, hi = fig.axes[0].get_xlim()
        assert np.isfinite(lo) and np.isfinite(hi) and lo < 2 < hi
    finally:
        plt.close(fig)
