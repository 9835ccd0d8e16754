"""A plan as a partition of planning units into grids, with per-grid facts computed once.

Modelled on GerryChain's ``Partition``: rule checks (:mod:`.compliance`) and indicators (:mod:`.indicators`) read
the same :class:`GridPartition` instead of each recounting populations, pieces, leads and group members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..plan.groups import grid_sort_key
from ..units.graph import components_per_grid

#: roles of the facilities that belong to a grid's group (the lead and the facilities standing inside the grid)
GROUP_ROLES = ("member", "lead")



@dataclass
class GridPartition:
    """Units labelled with grids, the grids' leads and groups; per-grid totals are cached on first use.

    Parameters
    ----------
    unit_grid : (n,) grid id of every unit (text)
    adjacency : (n, n) unit adjacency (shared edges and exclave bridges)
    population : (n,) residents per unit
    grid_lead : grid id → lead facility id; a grid of a planner's layout may have none
    facilities : plan facilities (``facility_id``, ``grid_id``, ``role``, ``level``, ``kind``, ``beds``, …)
    groups : ``groups.csv`` table (``grid_id``, ``facility_id``, ``role``)
    """

    unit_grid: np.ndarray
    adjacency: sp.spmatrix
    population: np.ndarray
    grid_lead: dict[str, str]
    facilities: pd.DataFrame
    groups: pd.DataFrame
    _group_ids: dict[tuple[str, tuple[str, ...]], np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_groups(
        cls,
        unit_grid: np.ndarray,
        adjacency: sp.spmatrix,
        population: np.ndarray,
        facilities: pd.DataFrame,
        groups: pd.DataFrame,
    ) -> GridPartition:
        """Partition whose leads are the ``lead`` rows of ``groups``."""
        leads = groups.loc[groups["role"] == "lead"].set_index("grid_id")["facility_id"].to_dict()
        return cls(np.asarray(unit_grid).astype(str), adjacency, np.asarray(population, dtype=float), leads,
                   facilities, groups)

    # ------------------------------------------------------------------------------------------- grids
    @cached_property
    def grids(self) -> list[str]:
        """Every grid (with or without a lead), G1, G2, … numerically, then planner-named grids."""
        return sorted({str(g) for g in self.unit_grid} | set(self.grid_lead), key=grid_sort_key)

    @cached_property
    def led_grids(self) -> list[str]:
        """Grids that have a lead, hence a medical group."""
        return sorted(self.grid_lead, key=grid_sort_key)

    def units_of(self, grid: str) -> np.ndarray:
        """Boolean mask (n,) of the units of ``grid``."""
        return self.unit_grid == grid

    @cached_property
    def population_of(self) -> dict[str, float]:
        """Residents per grid."""
        return {g: float(self.population[self.units_of(g)].sum()) for g in self.grids}

    @cached_property
    def pieces(self) -> dict[str, int]:
        """Connected pieces per grid (1 = contiguous), from :func:`simulator.units.graph.components_per_grid`."""
        return {str(g): c for g, c in components_per_grid(self.unit_grid, self.adjacency).items()}

    @cached_property
    def cut_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, cut)``: both ends of every adjacency edge (each once) and whether it joins two grids."""
        coo = sp.triu(self.adjacency, k=1).tocoo()
        return coo.row, coo.col, self.unit_grid[coo.row] != self.unit_grid[coo.col]

    # -------------------------------------------------------------------------------------- facilities
    @cached_property
    def facility_row(self) -> dict[str, int]:
        """Facility id → position in :attr:`facilities` (the first, should an id repeat)."""
        ids = self.facilities["facility_id"].to_numpy()
        return {fid: i for i, fid in reversed(list(enumerate(ids)))}

    def lead_row(self, grid: str) -> int:
        """Position of ``grid``'s lead in :attr:`facilities`."""
        return self.facility_row[self.grid_lead[grid]]

    def group_ids(self, grid: str, roles: tuple[str, ...] = GROUP_ROLES) -> np.ndarray:
        """Facility ids listed in ``grid``'s group with one of ``roles`` (``groups.csv`` order)."""
        key = (grid, roles)
        if key not in self._group_ids:
            g = self.groups
            self._group_ids[key] = g.loc[(g["grid_id"] == grid) & g["role"].isin(roles), "facility_id"].to_numpy()
        return self._group_ids[key]
