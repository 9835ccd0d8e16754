"""Draws of the uncertain inputs: seeded, recorded, inside their district, and never moving a known location."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ensemble_support import FUXIN, load_fuxin_r7

from simulator.config.scenario import EnsembleSettings, load_scenario
from simulator.ensemble import apply_draw, perturbed_population, sample_draws
from simulator.errors import InputError


@pytest.fixture
def fuxin_r7():
    return load_fuxin_r7()


def test_same_seed_same_draws_and_each_draw_independent_of_the_count(fuxin_r7):
    _, city, units = fuxin_r7
    s = EnsembleSettings()
    a, _ = sample_draws(city, units, s, 5, seed=7)
    b, _ = sample_draws(city, units, s, 5, seed=7)
    assert a == b
    # draw k depends only on (seed, k): a cluster that runs draws in any order, or more of them, agrees
    c, _ = sample_draws(city, units, s, 3, seed=7)
    assert c == a[:3]
    d, _ = sample_draws(city, units, s, 5, seed=8)
    assert [x.sites for x in d] != [x.sites for x in a]


def test_only_district_level_locations_in_the_area_move(fuxin_r7):
    _, city, units = fuxin_r7
    draws, _ = sample_draws(city, units, EnsembleSettings(), 20, seed=1)
    f = city.facilities.set_index("facility_id")
    moved = set().union(*(d.sites for d in draws))
    vague = f.index[f["in_area"] & f["location_quality"].isin(["district_seat", "district_centroid"])
                    & ~f["modelled"].astype(bool)]
    assert moved == set(vague) and len(moved) == 7
    # the county hospitals (outside the urban districts) and the modelled centres stay where they are
    assert not moved & set(f.index[~f["in_area"] | f["modelled"].astype(bool)])
    g = units.gdf.set_index("unit_id")
    for d in draws:
        units_of = list(d.sites.values())
        assert len(set(units_of)) == len(units_of), "distinct facilities in distinct units"
        for fid, uid in d.sites.items():
            assert g.at[uid, "district"] == f.at[fid, "district"]
            assert g.at[uid, "population"] > 0


def test_draws_follow_residents(fuxin_r7):
    """Probability by residents: over many draws the most populous units are drawn far more often than sparse ones."""
    _, city, units = fuxin_r7
    draws, _ = sample_draws(city, units, EnsembleSettings(), 300, seed=2)
    g = units.gdf.set_index("unit_id")
    hits = g["population"] * 0.0
    for d in draws:
        for uid in d.sites.values():
            hits[uid] += 1
    hz = g[(g["district"] == "210902") & (g["population"] > 0)]
    dense = hz["population"] >= hz["population"].quantile(0.75)
    assert hits[hz.index[dense]].mean() > 3 * hits[hz.index[~dense]].mean()


def test_same_site_groups_move_together(fuxin_r7):
    _, city, units = fuxin_r7
    s = EnsembleSettings(same_site=[["FX-H01", "FX-H05"]])
    draws, _ = sample_draws(city, units, s, 10, seed=3)
    assert all(d.sites["FX-H01"] == d.sites["FX-H05"] for d in draws)
    others = [[u for fid, u in d.sites.items() if fid != "FX-H05"] for d in draws]
    assert all(len(set(o)) == len(o) for o in others)


@pytest.mark.parametrize("groups,match", [
    ([["FX-H01", "FX-H99"]], "FX-H99, which is no facility"),
    ([["FX-H01", "FX-H06"]], "spans several districts"),
])
def test_bad_same_site_is_an_input_error(fuxin_r7, groups, match):
    _, city, units = fuxin_r7
    with pytest.raises(InputError, match=match) as ei:
        sample_draws(city, units, EnsembleSettings(same_site=groups), 2, seed=0)
    assert ei.value.field == "ensemble.same_site"


def test_apply_draw_moves_copies_only(fuxin_r7):
    scenario, city, units = fuxin_r7
    before = city.facilities[["lon", "lat"]].copy()
    pop_before = units.gdf["population"].copy()
    (d,), _ = sample_draws(city, units, EnsembleSettings(population_noise=0.3, speed_range=[20, 40]), 1, seed=4)
    sc2, city2, units2 = apply_draw(d, scenario, city, units)
    assert city.facilities[["lon", "lat"]].equals(before) and units.gdf["population"].equals(pop_before)
    f2 = city2.facilities.set_index("facility_id")
    g = units.gdf.set_index("unit_id")
    for fid, uid in d.sites.items():
        assert (f2.at[fid, "lon"], f2.at[fid, "lat"]) == (g.at[uid, "lon"], g.at[uid, "lat"])
        assert f2.at[fid, "geometry"].x == g.at[uid, "lon"]
        assert f2.at[fid, "location_quality"] == "district_seat"  # still approximate: a draw is not a fact
        assert "ensemble draw 0 (seed 4)" in f2.at[fid, "location_source"]
    assert 20 <= sc2.travel.speed_kmh <= 40 and scenario.travel.speed_kmh == 30.0
    assert not units2.gdf["population"].equals(pop_before)


def test_perturbed_population_keeps_district_totals():
    rng = np.random.default_rng(0)
    pop = rng.integers(0, 5000, 400)
    pop[::7] = 0
    district = np.where(np.arange(400) < 150, "A", np.where(np.arange(400) < 390, "B", "C"))
    out = perturbed_population(pop, district, 0.5, np.random.default_rng(1))
    assert out.dtype.kind == "i" and (out >= 0).all()
    for d in ("A", "B", "C"):
        assert out[district == d].sum() == pop[district == d].sum()
    assert (out[pop == 0] == 0).all()
    assert np.abs(out - pop).sum() > 0.1 * pop.sum()  # the noise is real
    assert np.array_equal(out, perturbed_population(pop, district, 0.5, np.random.default_rng(1)))


@pytest.mark.parametrize("key,value,match", [
    ("ensemble.speed_range", [40, 20], "expected \\[low, high\\]"),
    ("ensemble.speed_range", [20], "expected \\[low, high\\]"),
    ("ensemble.move", ["somewhere"], "unknown location quality 'somewhere'"),
    ("ensemble.samples", 0, "a draw count"),
    ("ensemble.population_noise", -0.1, "a log-normal sigma"),
    ("ensemble.same_site", [["FX-H01"]], "two or more facility ids"),
    ("ensemble.same_site", [["FX-H01", "FX-H02"], ["FX-H02", "FX-H03"]], "FX-H02 is in groups 0 and 1"),
    ("ensemble.same_site", ["FX-H01"], "expected list\\[list\\[str\\]\\]"),
    ("ensemble.colour", 1, "unknown key 'colour'"),
])
def test_bad_ensemble_settings(key, value, match):
    with pytest.raises(InputError, match=match):
        load_scenario(FUXIN, {key: value})


def test_settings_round_trip():
    s = load_scenario(FUXIN, {"ensemble.speed_range": [25, 35], "ensemble.same_site": [["FX-H01", "FX-H05"]]})
    assert dataclasses.asdict(s.ensemble)["speed_range"] == [25, 35]
