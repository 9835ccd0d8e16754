"""A lead's label sits on the lead's star, also where stars sharing one location are spread around it.

The Panjin run is changed in memory so that both leads are recorded at one point (as two hospitals at a district
seat would be): the two stars are then drawn apart, and each label must follow its own star.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.render import interactive, static
from simulator.runfolder import read_run

#: JS: per lead label, its box and the box of the lead marker drawn just before it
PAIRS_JS = """() => Array.from(document.querySelectorAll('.cg-lead-label')).map(lab => {
    let m = lab.previousElementSibling;
    while (m && !m.classList.contains('cg-role-lead')) m = m.previousElementSibling;
    const a = lab.firstElementChild.getBoundingClientRect(), b = m.getBoundingClientRect();
    return [[a.left, a.top, a.right, a.bottom], [b.left, b.top, b.right, b.bottom]];
})"""


@pytest.fixture
def shared_seat_run(run_dir):
    run = read_run(run_dir)
    leads = run.groups.loc[run.groups["role"] == "lead", "facility_id"].astype(str).tolist()
    assert len(leads) == 2
    at = run.facilities["facility_id"].astype(str)
    first = run.facilities.loc[at == leads[0], "geometry"].iloc[0]
    run.facilities.loc[at == leads[1], "geometry"] = first
    return run


def _touch(a: list[float], b: list[float], slack: float) -> bool:
    """Whether boxes (left, top, right, bottom) overlap or lie within ``slack`` of each other."""
    return a[0] <= b[2] + slack and b[0] <= a[2] + slack and a[1] <= b[3] + slack and b[1] <= a[3] + slack


def test_lead_labels_sit_on_their_stars_in_the_browser(shared_seat_run, tmp_path, open_page, map_ready):
    out = interactive.save_page(interactive.build_map(shared_seat_run), tmp_path / "map.html", "shared seat")
    seen = open_page(out, map_ready)
    pairs = seen.page.evaluate(PAIRS_JS)
    assert len(pairs) == 2
    stars = [tuple(np.round(p[1], 1)) for p in pairs]
    assert stars[0] != stars[1], "the two stars recorded at one point are spread"
    for label, star in pairs:
        assert _touch(label, star, 1.0), (label, star)


def test_lead_labels_sit_on_their_stars_in_the_static_map(shared_seat_run):
    from matplotlib.text import Annotation

    with static.static_style(None):
        fig = static.static_figure(shared_seat_run, None, dpi=100)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    main = fig.axes[0]  # the map (an inset of the urban core draws its own stars and labels)
    stars = [c for c in main.collections if c.get_zorder() == 8]
    centres = [c.get_offset_transform().transform(c.get_offsets())[0] for c in stars]
    radius = [np.sqrt(c.get_sizes()[0]) / 2 * fig.dpi / 72 for c in stars]
    assert len(centres) == 2 and np.linalg.norm(centres[0] - centres[1]) > 3, "stars spread apart"
    labels = [t for t in main.texts if isinstance(t, Annotation) and t.zorder == 9]
    assert len(labels) == 2
    near = []
    for lab in labels:
        box = lab.get_window_extent(renderer)
        gaps = [
            np.hypot(max(box.x0 - cx, 0, cx - box.x1), max(box.y0 - cy, 0, cy - box.y1)) - r
            for (cx, cy), r in zip(centres, radius, strict=True)
        ]
        assert min(gaps) <= 3, gaps  # within 3 px of the star's outline
        # the label's anchor is its own star's centre (where the star is drawn, not where it is recorded)
        tr = lab.xycoords if not isinstance(lab.xycoords, str) else lab.axes.transData
        anchor = tr.transform(lab.xy)
        dist = [float(np.linalg.norm(anchor - c)) for c in centres]
        assert min(dist) < 0.5, dist
        near.append(int(np.argmin(dist)))
    assert sorted(near) == [0, 1], "each star has its own label"
