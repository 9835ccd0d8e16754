"""Readiness norms from the targets file, for indicators.csv, indicators_district.csv and emergency.csv.

The targets file (:mod:`simulator.config.targets`) is the one source of the readiness norms — ambulances per 30,000
residents, the negative-pressure share, AEDs per 10,000, nurses per doctor; the rule file holds rules only. This module
turns a :class:`~simulator.config.targets.TargetSet` into

* the rate columns to compute: ``ambulances_per_30000`` and ``aeds_per_10000`` always (the units the tables are read
  in, not norms), plus any ``<readiness field>_per_<N>`` a target of the file is judged on (a planner's file may
  count ambulances per 50,000: ``ambulances_per_50000``);
* the norm of each readiness quantity (``<quantity>_target`` columns; NaN where the file holds no such target);
* the whole units a population requires: ⌈residents × norm / per⌉ of the first target judged on a rate of the field.
"""

from __future__ import annotations

import math

from ..config.targets import TargetSet, rate_quantity

#: rate columns every readiness table carries, (count field, residents): the reading units, not norms
DISPLAY_RATES: tuple[tuple[str, int], ...] = (("ambulances", 30_000), ("aeds", 10_000))
#: the share of negative-pressure ambulances and the nurse–doctor ratio (quantities of the targets file)
SHARE_QUANTITY = "ambulance_negative_pressure_share"
RATIO_QUANTITY = "nurses_per_doctor"


def rate_columns(targets: TargetSet, fields: tuple[str, ...]) -> list[tuple[str, str, int]]:
    """``(column, count field, residents)`` of every rate a readiness table holds.

    Parameters
    ----------
    targets : the scenario's targets file
    fields : the count fields the facilities may carry (``READINESS_FIELDS``)
    """
    cols = {f"{f}_per_{n}": (f, n) for f, n in DISPLAY_RATES}
    for t in targets:
        rate = rate_quantity(t.quantity)
        if rate and rate[0] in fields:
            cols.setdefault(t.quantity, rate)
    return [(c, f, n) for c, (f, n) in cols.items()]


def readiness_quantities(targets: TargetSet, fields: tuple[str, ...]) -> list[str]:
    """The readiness quantities a table reports, rates first, then the share and the ratio."""
    return [c for c, _, _ in rate_columns(targets, fields)] + [SHARE_QUANTITY, RATIO_QUANTITY]


def norm_of(targets: TargetSet, quantity: str) -> float:
    """The norm of the first target judged on ``quantity`` (its lower end for ``between``); NaN without one."""
    t = targets.for_quantity(quantity)
    return float(t.norm) if t is not None else math.nan


def required(targets: TargetSet, field: str, population: float) -> float:
    """Whole ``field`` units (ambulances, AEDs) ``population`` residents require: ⌈population × norm / per⌉ of the
    targets file's first target on a rate of ``field``; NaN when the file has none (no norm: nothing is invented)."""
    t = targets.rate_for(field)
    if t is None or not t.per or not math.isfinite(population):
        return math.nan
    return float(math.ceil(population * t.norm / t.per - 1e-9))
