"""Grid compactness for the live panel without dissolving polygons.

The full evaluation (:func:`simulator.evaluate.indicators.compute_indicators`) dissolves each grid's units and takes
the Polsby–Popper score 4πA / P² of the dissolved polygon in an equal-area projection (1 = a circle). Dissolving
Panjin's 5,630 resolution-8 units takes about half a second, too slow for every edit. The planning units tile the
planning area (neighbours share their edges exactly), so for any grid

* A = the sum of its units' projected areas, and
* P = the sum of its units' projected perimeters − 2 × the length of the boundaries shared by two of its units

(a shared edge is inside the dissolved polygon; an edge shared with another grid, a hole's ring or the planning
area's outline stays on its outline, as the dissolved polygon's ``length`` counts it). :class:`GridShapes` measures
areas, perimeters and shared boundary lengths once, in the same projection as the full evaluation
(:func:`simulator.units.planning_units.equal_area_crs` of all units); a layout then costs two ``bincount``\\ s over
the unit pairs. ``tests/app/test_live.py`` checks the figures against the full evaluation after random edits.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from ..units.planning_units import equal_area_crs


class GridShapes:
    """Projected areas (m²), perimeters (m) and shared boundary lengths (m) of the planning units.

    Parameters
    ----------
    geometry : (n,) the planning units' polygons, WGS-84 (EPSG:4326), in the order of the layout's labels
    """

    def __init__(self, geometry) -> None:
        gs = gpd.GeoSeries(np.asarray(geometry), crs="EPSG:4326")
        proj = gs.to_crs(equal_area_crs(gs)).to_numpy()
        self.area = shapely.area(proj)
        self.perimeter = shapely.length(proj)
        i, j = shapely.STRtree(proj).query(proj, predicate="intersects")
        keep = i < j
        i, j = i[keep], j[keep]
        # the length of the boundary two units share (0 where they touch at a point only)
        shared = shapely.length(shapely.intersection(shapely.boundary(proj[i]), shapely.boundary(proj[j])))
        edge = shared > 0
        self.i, self.j, self.shared = i[edge], j[edge], shared[edge]

    def polsby_popper(self, labels: np.ndarray) -> dict[str, float]:
        """Grid id → Polsby–Popper score 4πA / P² (1 = a circle) of the layout ``labels`` ((n,) grid id per unit),
        as the full evaluation computes it from the dissolved grid polygons."""
        grids, inv = np.unique(np.asarray(labels).astype(str), return_inverse=True)
        k = len(grids)
        area = np.bincount(inv, self.area, minlength=k)
        perimeter = np.bincount(inv, self.perimeter, minlength=k)
        same = inv[self.i] == inv[self.j]
        perimeter -= 2 * np.bincount(inv[self.i][same], self.shared[same], minlength=k)
        score = 4 * np.pi * area / np.maximum(perimeter, 1e-12) ** 2
        return dict(zip(grids.tolist(), score.tolist(), strict=True))
