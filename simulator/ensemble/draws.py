"""What an ensemble varies, one seeded draw at a time: facility locations known only to their district, and optionally
the modelled population and the travel speed.

No public source gives the address of Fuxin's hospitals: ``geodata/fuxin/facilities.csv`` places each at its
district's seat (``location_quality = district_seat``). A single plan on those positions hides that. A draw places
every such facility in one populated planning unit of its recorded district, with probability proportional to the
unit's residents (hospitals stand where people live), distinct facilities in distinct units unless the scenario says
they stand together (``[ensemble] same_site``). Facilities with ``exact`` or ``street`` locations, modelled primary
care (``modelled``) and facilities outside the planning area never move. A moved facility keeps its location
quality: the position is a draw, not a fact, and maps still mark it 位置待确认.

Optional perturbations (off by default, ``[ensemble]``):

* ``population_noise = σ``: each unit's modelled residents × a log-normal factor with mean 1 (``exp(N(-σ²/2, σ))``),
  then rescaled so every district keeps its census total (integers, largest remainder); the census figures are
  facts, their spread over units is the model's estimate;
* ``speed_range = [low, high]``: the draw's travel speed, uniform in km/h.

Every draw's random numbers come from ``numpy.random.SeedSequence(seed, spawn_key=(k,))``: draw ``k`` of seed ``s``
is the same on any machine and in any order, so a cluster and this machine give the same ensemble.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from ..config.scenario import EnsembleSettings, Scenario
from ..errors import InputError
from ..load.city import CityData
from ..units.planning_units import PlanningUnits


@dataclass(frozen=True)
class Draw:
    """One seeded draw of the uncertain inputs.

    Attributes
    ----------
    index : draw number k (0-based); its random numbers come from ``SeedSequence(seed, spawn_key=(k,))``
    seed : the ensemble's root seed
    sites : facility id → planning unit id it stands in for this draw
    speed_kmh : travel speed of this draw (km/h), or ``None`` for the scenario's
    population_seed : seed of this draw's population factors, or ``None`` (no perturbation)
    population_noise : σ of the log-normal factors (0: none)
    """

    index: int
    seed: int
    sites: dict[str, str]
    speed_kmh: float | None = None
    population_seed: int | None = None
    population_noise: float = 0.0


def moving_sites(city: CityData, settings: EnsembleSettings, path: object = None) -> list[list[int]]:
    """Facility rows drawn together (one list per site), in a fixed order: the planning area's facilities whose
    location quality is in ``settings.move``, grouped by ``same_site``.

    Raises
    ------
    InputError
        a ``same_site`` id that is no facility of the scenario, or a group spanning two districts
    """
    f = city.facilities
    ids = f["facility_id"].astype(str).to_numpy()
    pos = {fid: i for i, fid in enumerate(ids)}
    moves = f["in_area"].to_numpy(bool) & f["location_quality"].isin(settings.move).to_numpy()
    moves &= ~f["modelled"].to_numpy(bool)
    grouped: set[int] = set()
    sites = []
    for k, group in enumerate(settings.same_site):
        unknown = [fid for fid in group if fid not in pos]
        if unknown:
            raise InputError(path, f"ensemble.same_site[{k}] names {unknown[0]}, which is no facility of the "
                             "scenario's facility files", field="ensemble.same_site")
        rows = [pos[fid] for fid in group]
        if len({f["district"].iat[i] for i in rows}) > 1:
            raise InputError(path, f"ensemble.same_site[{k}] = {group!r} spans several districts; facilities that "
                             "stand together stand in one district", field="ensemble.same_site")
        rows = [i for i in rows if moves[i]]
        if rows:
            sites.append(sorted(rows))
            grouped.update(rows)
    sites += [[int(i)] for i in np.flatnonzero(moves) if int(i) not in grouped]
    return sorted(sites, key=lambda rows: ids[rows[0]])


def draw_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of draw ``index`` of root seed ``seed`` (independent of every other draw)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def sample_draws(
    city: CityData, units: PlanningUnits, settings: EnsembleSettings, samples: int, seed: int, path: object = None
) -> tuple[list[Draw], list[str]]:
    """``samples`` draws of the uncertain inputs, and notes on how they were drawn.

    Parameters
    ----------
    city, units : the scenario's loaded city and planning units (the facilities' recorded districts)
    settings : the scenario's ``[ensemble]`` section
    samples : number of draws
    seed : root seed (recorded in every draw)
    """
    f, g = city.facilities, units.gdf
    sites = moving_sites(city, settings, path)
    unit_ids = g["unit_id"].astype(str).to_numpy()
    pop = g["population"].to_numpy(dtype=float)
    district = g["district"].astype(str).to_numpy()
    by_district: dict[str, list[int]] = {}
    for s, rows in enumerate(sites):
        by_district.setdefault(str(f["district"].iat[rows[0]]), []).append(s)
    notes = []
    pools = {}
    for d, members in sorted(by_district.items()):
        units_d = np.flatnonzero((district == d) & (pop > 0))
        if units_d.size == 0:
            raise InputError(path, f"district {d}: no populated planning unit to draw {len(members)} facility "
                             "location(s) from; expected the facilities' district to lie in the planning area",
                             field="district")
        pools[d] = (units_d, pop[units_d] / pop[units_d].sum())
        if units_d.size < len(members):
            notes.append(f"district {d}: {len(members)} sites but {units_d.size} populated units; sites may share "
                         "a unit")
    ids = f["facility_id"].astype(str).to_numpy()
    draws = []
    for k in range(samples):
        rng = draw_rng(seed, k)
        placed: dict[str, str] = {}
        for d, members in sorted(by_district.items()):
            units_d, p = pools[d]
            pick = rng.choice(units_d, size=len(members), replace=units_d.size < len(members), p=p)
            for s, u in zip(members, pick, strict=True):
                placed.update({ids[i]: unit_ids[u] for i in sites[s]})
        speed = float(rng.uniform(*settings.speed_range)) if settings.speed_range else None
        pseed = int(rng.integers(2**63 - 1)) if settings.population_noise > 0 else None
        draws.append(Draw(k, seed, placed, speed, pseed, float(settings.population_noise)))
    return draws, notes


def apply_draw(draw: Draw, scenario: Scenario, city: CityData, units: PlanningUnits
               ) -> tuple[Scenario, CityData, PlanningUnits]:
    """The scenario, city and units of one draw (copies; the inputs are not changed).

    A moved facility stands at its drawn unit's inside point (``lon``/``lat`` of the units layer); its
    ``location_source`` says which draw put it there.
    """
    g = units.gdf
    f = city.facilities.copy()
    rows = np.flatnonzero(f["facility_id"].astype(str).isin(list(draw.sites)).to_numpy())
    if rows.size:
        uid = f["facility_id"].astype(str).iloc[rows].map(draw.sites).to_numpy()
        at = pd.Index(g["unit_id"].astype(str)).get_indexer(uid)
        if (at < 0).any():
            raise InputError(None, f"draw {draw.index}: planning unit {uid[at < 0][0]} is not a unit of this "
                             "scenario; expected the units the draws were made on", field="sites")
        xy = np.column_stack([g["lon"].to_numpy()[at], g["lat"].to_numpy()[at]])
        f.loc[f.index[rows], "lon"] = xy[:, 0]
        f.loc[f.index[rows], "lat"] = xy[:, 1]
        f.loc[f.index[rows], "location_source"] = [f"ensemble draw {draw.index} (seed {draw.seed}): unit {u}"
                                                   for u in uid]
        geom = f.geometry.to_numpy().copy()
        geom[rows] = shapely.points(xy[:, 0], xy[:, 1])
        f = f.set_geometry(geom, crs=city.facilities.crs)
    city = dataclasses.replace(city, facilities=f)
    if draw.population_seed is not None and draw.population_noise > 0:
        units = dataclasses.replace(units, gdf=g.assign(population=perturbed_population(
            g["population"].to_numpy(), g["district"].astype(str).to_numpy(), draw.population_noise,
            np.random.default_rng(draw.population_seed))))
    if draw.speed_kmh is not None:
        scenario = dataclasses.replace(scenario, travel=dataclasses.replace(scenario.travel, speed_kmh=draw.speed_kmh))
    return scenario, city, units


def perturbed_population(pop: np.ndarray, district: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Residents × log-normal factors (mean 1), rescaled to each district's total; integers (largest remainder).

    Parameters
    ----------
    pop : (n,) residents per unit (integers)
    district : (n,) district code of each unit
    sigma : σ of the log-normal factors
    """
    pop = np.asarray(pop, dtype=np.int64)
    raw = pop * np.exp(rng.normal(-sigma**2 / 2, sigma, pop.size))
    codes, inv = np.unique(district, return_inverse=True)
    total = np.bincount(inv, weights=pop, minlength=codes.size)
    got = np.bincount(inv, weights=raw, minlength=codes.size)
    scaled = raw * np.divide(total, got, out=np.zeros_like(total), where=got > 0)[inv]
    out = np.floor(scaled).astype(np.int64)
    short = (total - np.bincount(inv, weights=out, minlength=codes.size)).round().astype(np.int64)
    frac = scaled - out
    # largest remainders first, within each district: sort by (district, -fraction)
    order = np.lexsort((-frac, inv))
    rank = np.empty(pop.size, np.int64)
    starts = np.searchsorted(inv[order], np.arange(codes.size))
    rank[order] = np.arange(pop.size) - np.repeat(starts, np.bincount(inv, minlength=codes.size))
    out += (rank < short[inv]) & (pop > 0)
    return out


def sites_table(draws: list[Draw], units: PlanningUnits, city: CityData) -> pd.DataFrame:
    """One row per draw and moved facility: draw, facility_id, name, unit_id, lon, lat (for draw_sites.csv)."""
    g = units.gdf.set_index(units.gdf["unit_id"].astype(str))
    names = dict(zip(city.facilities["facility_id"].astype(str), city.facilities["name"], strict=True))
    rows = [(d.index, fid, names.get(fid, ""), uid) for d in draws for fid, uid in sorted(d.sites.items())]
    t = pd.DataFrame(rows, columns=["draw", "facility_id", "name", "unit_id"])
    t["lon"] = g["lon"].reindex(t["unit_id"]).to_numpy()
    t["lat"] = g["lat"].reindex(t["unit_id"]).to_numpy()
    return t
