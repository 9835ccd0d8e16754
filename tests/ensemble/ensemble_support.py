"""Shared by the ensemble tests (a plain module: a conftest here would shadow tests/conftest.py).

The embedded Fuxin scenario at H3 resolution 7 (about 170 units), whose hospitals are all placed at their
district's seat — the case ensembles exist for."""

from __future__ import annotations

import functools
from pathlib import Path

import simulator as cg

FUXIN = Path(__file__).resolve().parents[2] / "scenarios" / "fuxin.toml"
R7 = {"units.resolution": 7}


def serial(fn, items, **kwargs):
    """An executor in this process (the Dask executor is tested in tests/test_cluster.py)."""
    return [fn(item) for item in items]


@functools.cache
def load_fuxin_r7():
    scenario = cg.load_scenario(FUXIN, R7)
    city = cg.load_city(scenario)
    return scenario, city, cg.planning_units(scenario, city)
