"""The A4 map enlarges the dense urban core in an inset when facility markers crowd there (Panjin's 双台子区)."""

from __future__ import annotations

import dataclasses

import numpy as np

from simulator.render import static
from simulator.runfolder import read_run


def _inset_axes(fig):
    return [a for ax in fig.axes for a in ax.child_axes]


def test_crowded_core_gets_an_inset(run_dir):
    run = read_run(run_dir)
    d = static._prepare(run, None)
    box = static.core_box(d)
    assert box is not None, "Panjin's urban core crowds: an inset is expected"
    # the core is enlarged at least twice, and holds the crowded facilities around the first grid's lead
    assert (box[2] - box[0]) <= static.INSET_MAX_SHARE * d.frame.span_x
    inside = (d.fac["px"].between(box[0], box[2])) & (d.fac["py"].between(box[1], box[3]))
    assert int(inside.sum()) >= static.INSET_MIN_FACILITIES
    with static.static_style(None):
        fig = static.static_figure(run, None, dpi=50)
    insets = _inset_axes(fig)
    assert len(insets) == 1
    ins = insets[0]
    assert "Urban core, enlarged" in ins.get_title(loc="left")
    assert np.allclose(ins.get_xlim(), (box[0], box[2])) and np.allclose(ins.get_ylim(), (box[1], box[3]))
    # the inset does not cover the core it enlarges
    main = fig.axes[0]
    x0, y0, w, h = ins.get_position().bounds
    core_fig = main.transData.transform([[box[0], box[1]], [box[2], box[3]]])
    inv = fig.transFigure.inverted().transform(core_fig)
    assert inv[1][0] < x0 or inv[0][0] > x0 + w or inv[1][1] < y0 or inv[0][1] > y0 + h


def test_no_inset_when_facilities_do_not_crowd(run_dir):
    run = read_run(run_dir)
    d = static._prepare(run, None)
    few = d.fac[d.fac["display_role"] == "lead"]  # two leads, far apart: nothing crowds
    assert static.core_box(dataclasses.replace(d, fac=few)) is None
