"""Ambulance-station siting against brute force: every subset of candidate sites on tiny random cities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from simulator.optimise.ems_siting import (
    coverage_matrix,
    covered_units,
    maximal_covering,
    set_covering,
    site_coverage,
)

T = 12.0


def _city(seed: int, n: int = 8, s: int = 6, f: int = 0):
    rng = np.random.default_rng(seed)
    pop = rng.integers(0, 5000, n).astype(float)
    pop[rng.random(n) < 0.15] = 0.0  # some empty units
    minutes = rng.uniform(2, 30, (n, s))
    fixed = rng.uniform(2, 30, (n, f))
    return pop, coverage_matrix(minutes, T), coverage_matrix(fixed, T) if f else None


def _covered(pop, cover, subset, fixed):
    return float(pop[covered_units(cover, np.array(subset, dtype=np.int64), fixed)].sum())


def _best_k(pop, cover, k, fixed):
    s = cover.shape[1]
    return max(_covered(pop, cover, c, fixed) for r in range(k + 1) for c in itertools.combinations(range(s), r))


def _fewest(pop, cover, share, fixed):
    """(fewest stations, most residents covered with that many) by brute force; None when no subset reaches it."""
    s = cover.shape[1]
    for r in range(s + 1):
        values = [_covered(pop, cover, c, fixed) for c in itertools.combinations(range(s), r)]
        ok = [v for v in values if v >= share * pop.sum()]
        if ok:
            return r, max(ok)
    return None


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("f", [0, 2])
def test_maximal_covering_matches_brute_force(seed, f):
    pop, cover, fixed = _city(seed, f=f)
    for k in (0, 1, 2, 3):
        got = maximal_covering(pop, cover, k, fixed)
        assert got.status == "optimal"
        assert len(got.chosen) <= k
        best = _best_k(pop, cover, k, fixed)
        # the answer's coverage is recomputed from the matrix, and equals the brute-force optimum
        assert got.covered_population == pytest.approx(best)
        assert got.objective == pytest.approx(best)
        assert got.bound >= best - 1e-6 * max(best, 1)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("f", [0, 2])
def test_set_covering_matches_brute_force(seed, f):
    pop, cover, fixed = _city(seed, f=f)
    for share in (0.3, 0.6, 0.9, 1.0):
        got = set_covering(pop, cover, share, fixed)
        want = _fewest(pop, cover, share, fixed)
        if want is None:
            assert got.status == "infeasible" and len(got.chosen) == 0
            assert got.reachable_share < share
            continue
        assert got.status == "optimal"
        assert len(got.chosen) == want[0]
        assert got.covered_population >= share * pop.sum() - 1e-6
        # among the fewest, the most residents
        assert got.covered_population == pytest.approx(want[1])


def test_fixed_stations_change_the_answer():
    """Two units far apart, each a candidate; an existing station already covers the bigger one."""
    pop = np.array([1000.0, 10.0])
    cover = sp.csr_matrix(np.array([[1, 0], [0, 1]], bool))
    fixed = sp.csr_matrix(np.array([[1], [0]], bool))
    assert list(maximal_covering(pop, cover, 1).chosen) == [0]
    with_fixed = maximal_covering(pop, cover, 1, fixed)
    assert list(with_fixed.chosen) == [1] and with_fixed.covered_population == 1010.0
    assert len(set_covering(pop, cover, 0.99, fixed).chosen) == 0  # the existing station already covers 99 %
    assert list(set_covering(pop, cover, 1.0, fixed).chosen) == [1]


def test_unreachable_share_is_reported_not_forced():
    pop = np.array([50.0, 50.0])
    cover = sp.csr_matrix(np.array([[1], [0]], bool))  # nothing reaches unit 1
    got = set_covering(pop, cover, 0.9)
    assert got.status == "infeasible" and got.reachable_share == pytest.approx(0.5)


def test_site_coverage_is_the_travel_model_within_limit():
    # sites at the units themselves: a unit always covers itself; 0.1° of latitude ≈ 11.1 km ≈ 28.9 min at 30 km/h ×1.3
    lon = np.array([122.0, 122.0, 122.0])
    lat = np.array([41.0, 41.05, 41.1])
    cov = site_coverage(lon, lat, lon, lat, 15.0, 30.0, 1.3).toarray()
    assert cov.diagonal().all()
    assert cov[0, 1] and not cov[0, 2]  # 0.05° ≈ 14.5 min within 15, 0.1° ≈ 28.9 min beyond
    assert sp.issparse(site_coverage(lon, lat, lon, lat, 15.0))


def test_bad_arguments():
    pop, cover, _ = _city(0)
    with pytest.raises(ValueError, match="k must be"):
        maximal_covering(pop, cover, -1)
    with pytest.raises(ValueError, match="share"):
        set_covering(pop, cover, 0.0)


@pytest.mark.parametrize("seed", range(10))
def test_reduction_keeps_the_optimum_with_duplicate_units_and_sites(seed):
    """Copies of sites and of units (the reduction merges and drops them) still give the brute-force optimum."""
    rng = np.random.default_rng(100 + seed)
    base = rng.random((5, 4)) < 0.45
    dense = np.hstack([base, base[:, [0, 2]]])  # sites 4 and 5 copy sites 0 and 2
    dense = np.vstack([dense, dense[[1, 3]]])  # units 5 and 6 copy units 1 and 3
    cover = sp.csr_matrix(dense)
    pop = rng.integers(1, 1000, len(dense)).astype(float)
    for k in range(4):
        got = maximal_covering(pop, cover, k)
        assert got.covered_population == pytest.approx(_best_k(pop, cover, k, None))
    for share in (0.5, 0.8, 1.0):
        got, want = set_covering(pop, cover, share), _fewest(pop, cover, share, None)
        if want is None:
            assert got.status == "infeasible"
        else:
            assert len(got.chosen) == want[0] and got.covered_population == pytest.approx(want[1])


def test_reduce_instance_merges_rows_and_drops_dominated_sites():
    from simulator.optimise.ems_siting import reduce_instance

    cover = sp.csr_matrix(np.array([[1, 1, 0, 1], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 1]], bool))
    w, c, kept = reduce_instance(np.array([1.0, 2.0, 3.0, 4.0]), cover)
    # rows 0 and 3 are alike; site 1 copies site 0 (the lower index stays), sites 2 and 3 are subsets of site 0
    assert sorted(w.tolist()) == [2.0, 3.0, 5.0]
    assert kept.tolist() == [0]
    assert c.shape == (3, 1)


def test_site_coverage_counts_minutes_from_the_site_to_the_unit():
    """On a directed network the ambulance's way (site → unit) counts, not the resident's (unit → site)."""

    class OneWay:
        """Origins east of a point reach it in 5 minutes, origins west of it need 50 (a one-way street westward)."""

        def minutes(self, o_lon, o_lat, p_lon, p_lat, speed_kmh, circuity):
            return np.where(np.asarray(o_lon)[:, None] >= np.asarray(p_lon)[None, :], 5.0, 50.0)

    units_lon, lat = np.array([122.0, 122.2]), np.array([41.0, 41.0])
    site_lon = np.array([122.1])
    cov = site_coverage(units_lon, lat, site_lon, np.array([41.0]), 12.0, network=OneWay()).toarray()
    # the site (122.1) lies east of unit 0 (reached: 5 min westward) and west of unit 1 (50 min: not reached)
    assert cov[:, 0].tolist() == [True, False]
