"""Smoothed grid outlines (``caregrid map --smooth``): a presentation drawing that says so; the units stay the plan."""

from __future__ import annotations

import shutil

import geopandas as gpd
import shapely

from simulator import cli
from simulator.render import static
from simulator.runfolder import read_run

NOTE = "Grid outlines smoothed for presentation: a drawing"


def _texts(fig) -> str:
    from matplotlib.text import Text

    return " ".join(t.get_text() for t in fig.findobj(Text))


def test_smoothed_grids_stay_a_partition_with_fewer_vertices(run_dir):
    run = read_run(run_dir)
    crs = static.utm_crs(run.units)
    grids = run.grids.to_crs(crs)
    smooth = static.smoothed_grids(grids, run.units)
    assert list(smooth["grid_id"]) == list(grids["grid_id"])

    def shared_vertices(g: gpd.GeoDataFrame) -> int:  # vertices of the edge between the two grids
        return int(shapely.get_num_coordinates(g.geometry.iloc[0].boundary.intersection(g.geometry.iloc[1].boundary)))

    assert shared_vertices(smooth) < 0.5 * shared_vertices(grids), (shared_vertices(smooth), shared_vertices(grids))
    a, b = smooth.geometry.iloc[0], smooth.geometry.iloc[1]
    assert a.intersection(b).area < 1e-6 * a.area  # neighbours share one edge: no overlap
    assert abs(smooth.union_all().area - grids.union_all().area) < 1e-6 * grids.union_all().area  # no gap
    # the plan itself is untouched
    assert gpd.read_file(run_dir / "plan.gpkg", layer="grids").geometry.equals(read_run(run_dir).grids.geometry)


def test_smoothed_map_says_it_is_a_drawing(run_dir, tmp_path):
    run = read_run(run_dir)
    with static.static_style(None):
        assert NOTE not in _texts(static.static_figure(run, None, dpi=40))
        assert NOTE in _texts(static.static_figure(run, None, dpi=40, smooth=True))
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    before = (folder / "plan.gpkg").read_bytes()
    assert cli.main(["map", str(folder), "--smooth"]) == 0
    assert (folder / "map.png").stat().st_size > 0 and (folder / "plan.gpkg").read_bytes() == before
