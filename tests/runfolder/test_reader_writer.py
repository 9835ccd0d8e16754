"""The run folder's writer and reader on a small hand-made plan: file names and layers from the schema, types
that survive the round trip (ids as text, booleans as bool), missing files named, atomic replacement."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import Point, box

from simulator.errors import InputError
from simulator.plan.make import Plan
from simulator.runfolder import read_run, schema, write_plan
from simulator.runfolder.writer import json_default


@pytest.fixture
def plan() -> Plan:
    """Two square units in two grids "01" and "02" (ids that look like numbers), two facilities."""
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["u1", "u2"],
            "district": ["210902", "210902"],
            "district_name": ["海州区", "海州区"],
            "population": [1000, 3000],
            "population_status": ["modelled", "modelled"],
            "area_km2": [1.0, 1.0],
            "lon": [121.605, 121.615],
            "lat": [41.905, 41.905],
            "grid_id": ["01", "02"],
            "lead_facility_id": ["F1", "F2"],
            "travel_min_to_lead": [3.0, np.nan],
        },
        geometry=[box(121.60, 41.90, 121.61, 41.91), box(121.61, 41.90, 121.62, 41.91)],
        crs="EPSG:4326",
    )
    grids = gpd.GeoDataFrame(
        {"grid_id": ["01", "02"], "lead_facility_id": ["F1", "F2"], "lead_name": ["甲医院", "乙医院"],
         "population": [1000, 3000], "area_km2": [1.0, 1.0]},
        geometry=list(units.geometry), crs="EPSG:4326",
    )  # fmt: skip
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2"], "name": ["甲医院", "乙医院"], "level": ["tertiary", "tertiary"],
         "extra_column": [1, 2], "beds": [500.0, np.nan], "location_quality": ["exact", "district_seat"],
         "modelled": [False, True], "in_city": [True, False], "role": ["lead", "lead"]},
        geometry=[Point(121.605, 41.905), Point(121.615, 41.905)], crs="EPSG:4326",
    )  # fmt: skip
    groups = pd.DataFrame({"grid_id": ["01", "02"], "facility_id": ["F1", "F2"], "name": ["甲医院", "乙医院"],
                           "role": ["lead", "lead"]})  # fmt: skip
    compliance = pd.DataFrame({"rule_id": ["R1.grids", "R2.lead"], "scope": ["city", "01"], "passed": [True, False]})
    indicators = pd.DataFrame({"grid_id": ["01", "02", "city"], "population": [1000.0, 3000.0, 4000.0]})
    record = {"scenario": {"name": "测试 test"}, "objective": np.float32(np.nan), "units": np.int64(2),
              "timings": {"total_s": 0.1}}  # fmt: skip
    return Plan(
        scenario=None,
        units=units,
        grids=grids,
        facilities=facilities,
        groups=groups,
        referrals=pd.DataFrame(columns=["grid_id", "facility_id", "reserved_outpatient_slots"]),
        compliance=compliance,
        record=record,
        adjacency=sp.csr_matrix(np.array([[0, 1], [1, 0]], dtype=bool)),
        indicators=indicators,
    )


def test_writer_follows_the_schema(plan, tmp_path):
    out = write_plan(plan, tmp_path / "run")
    written = {p.name for p in out.iterdir()}
    assert written == {
        schema.PLAN_GPKG, schema.GROUPS_CSV, schema.REFERRALS_CSV, schema.COMPLIANCE_CSV, schema.INDICATORS_CSV,
        schema.INDICATORS_JSON, schema.ADJACENCY_CSV, schema.RUN_JSON, schema.MARKER,
    }  # fmt: skip
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(out / schema.PLAN_GPKG)]
    assert layers == [schema.UNITS_LAYER, schema.GRIDS_LAYER, schema.FACILITIES_LAYER]
    fac = gpd.read_file(out / schema.PLAN_GPKG, layer=schema.FACILITIES_LAYER)
    # schema columns in schema order; a column outside the schema is not written
    assert list(fac.columns) == [c for c in schema.FACILITY_COLUMNS if c in plan.facilities.columns]
    units = gpd.read_file(out / schema.PLAN_GPKG, layer=schema.UNITS_LAYER)
    assert "lon" not in units and set(units.columns) == set(schema.UNIT_COLUMNS)
    assert pd.read_csv(out / schema.ADJACENCY_CSV).to_dict("records") == [{"unit_a": "u1", "unit_b": "u2"}]
    record = json.loads((out / schema.RUN_JSON).read_text(encoding="utf-8"))
    assert record["objective"] is None and record["units"] == 2 and record["scenario"]["name"] == "测试 test"
    ind = json.loads((out / schema.INDICATORS_JSON).read_text(encoding="utf-8"))
    assert ind["city"]["population"] == 4000.0 and [g["grid_id"] for g in ind["grids"]] == ["01", "02"]


def test_reader_round_trip_keeps_types(plan, tmp_path):
    run = read_run(write_plan(plan, tmp_path / "run"))
    assert list(run.groups["grid_id"]) == ["01", "02"]  # text, not the numbers 1 and 2
    assert list(run.indicators["grid_id"]) == ["01", "02", "city"]
    assert run.facilities["modelled"].tolist() == [False, True]
    assert run.facilities["in_city"].tolist() == [True, False]
    assert run.compliance["passed"].dtype == bool and run.failed == 1
    assert run.verdict == ("1 of 2 rule checks failed", "1 项未通过")
    assert run.name == "测试 test" and run.population_modelled
    assert run.city_indicators["population"] == 4000.0 and list(run.grid_indicators["grid_id"]) == ["01", "02"]
    assert run.units.crs.to_epsg() == 4326 and len(run.grids) == 2
    assert run.referrals.empty


def test_reader_names_the_missing_file(plan, tmp_path):
    with pytest.raises(InputError, match="not a complete run folder") as err:
        read_run(tmp_path)
    assert err.value.path == str(tmp_path / schema.PLAN_GPKG)
    out = write_plan(plan, tmp_path / "run")
    (out / schema.INDICATORS_CSV).unlink()
    read_run(out)  # the maps need only plan.gpkg
    with pytest.raises(InputError) as err:
        read_run(out, required=schema.REQUIRED_COMPLETE)
    assert err.value.path == str(out / schema.INDICATORS_CSV)


def test_writer_replaces_a_folder_atomically(plan, tmp_path):
    out = write_plan(plan, tmp_path / "run")
    (out / schema.UNITS_GPKG).write_text("from caregrid units")
    (out / schema.MOVES_CSV).write_text("stale")
    write_plan(plan, out)
    assert (out / schema.UNITS_GPKG).read_text() == "from caregrid units"  # another command's output is kept
    assert not (out / schema.MOVES_CSV).exists()  # a stale file of this run's own contract is not

    before = (out / schema.RUN_JSON).read_text(encoding="utf-8")

    def broken_map(folder):
        raise RuntimeError("drawing failed")

    plan.record["scenario"]["name"] = "changed"
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_plan(plan, out, extras=(broken_map,))
    assert (out / schema.RUN_JSON).read_text(encoding="utf-8") == before


def test_json_default():
    assert json_default(np.float32(1.5)) == 1.5 and json_default(np.float64(np.inf)) is None
    assert json_default(np.arange(3)) == [0, 1, 2] and json_default(np.int8(3)) == 3
