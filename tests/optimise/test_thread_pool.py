"""HiGHS keeps one thread scheduler per process: solves asking for different thread counts in one process (a sweep
or ensemble in this process after other solves) all succeed, with the same plan."""

from __future__ import annotations

import highspy
import numpy as np
import pytest
from test_optimise import random_inst, square_adjacency

from simulator.optimise import ModelSpec, assign_units_to_grids
from simulator.optimise import solvers as solvers_mod


@pytest.mark.parametrize("solver", ["highs", "highs_pulp"])
def test_one_process_solves_with_the_default_then_one_thread_then_the_default(solver, monkeypatch):
    inst = random_inst(square_adjacency(4, 5, 7), [0, 9, 19], 7)
    spec = ModelSpec(inst.population, inst.cost, inst.adjacency, inst.lead_unit, 2)
    highspy.Highs.resetGlobalScheduler(True)  # this test's first solve starts the scheduler, with HiGHS's default
    monkeypatch.setattr(solvers_mod, "_SCHEDULER_THREADS", [None], raising=False)
    results = [assign_units_to_grids(spec, contiguity="exact", solver=solver, threads=t, lead_sets="never")
               for t in (None, 1, None, 1)]
    assert [r.status for r in results] == ["optimal"] * 4
    assert all(np.array_equal(r.unit_lead, results[0].unit_lead) for r in results)
    assert len({round(r.objective, 6) for r in results}) == 1
