"""Compliance row P.shared_centres: passed when every applicable centre kind is hosted or shared, failed when the
members' capability flags leave a kind without a host, no_data when only the level/kind rule found none."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from simulator.evaluate.compliance import GRID_CHECKS, centres_shared


def _table(status_b: str, declared_b: bool) -> pd.DataFrame:
    return pd.DataFrame({
        "grid_id": ["G1", "G1", "G1", "G2"],
        "centre_kind": ["lab", "pathology", "tcm_dispensing", "lab"],
        "status": ["own", status_b, "not_applicable", "shared"],
        "capability_declared": [False, declared_b, False, False],
    })


@pytest.mark.parametrize("status_b, declared_b, expected", [
    ("own", False, "passed"),
    ("shared", False, "passed"),
    ("no_host", True, "failed"),
    ("no_host", False, "no_data"),
])
def test_outcome(status_b, declared_b, expected):
    o = centres_shared(SimpleNamespace(shared_centres=_table(status_b, declared_b)), "G1")
    assert o.status == expected
    assert "2 centre kind(s): lab, pathology" in o.required  # TCM dispensing does not apply to G1


def test_shared_kinds_are_named_and_absent_table_means_no_row():
    o = centres_shared(SimpleNamespace(shared_centres=_table("own", False)), "G2")
    assert o.passed and "shared: lab" in str(o.actual)
    assert centres_shared(SimpleNamespace(shared_centres=None), "G1") is None
    assert GRID_CHECKS["P.shared_centres"] is centres_shared
