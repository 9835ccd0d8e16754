"""CLI: caregrid validate / units in-process (simulator.cli.main), exit codes, atomic output folders."""

from __future__ import annotations

import re

import geopandas as gpd
import pyogrio
import pytest
from conftest import FACILITY_FIELDS, GEODATA, SCENARIOS

from simulator import cli
from simulator.errors import InputError


def _panjin_census(census) -> int:
    return sum(r["population"] for r in census.values() if r["city"] == "panjin" and r["urban"])


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _broken_scenario(tmp_path, facility_csv):
    """Panjin's default scenario, but its facilities file lacks the 'kind' column."""
    bad = facility_csv("broken.csv", fields=[f for f in FACILITY_FIELDS if f != "kind"])
    text = (SCENARIOS / "panjin.toml").read_text(encoding="utf-8")
    for key, value in (("data", GEODATA / "panjin"), ("output", tmp_path / "default_out"), ("facilities", [bad])):
        value = f'["{value[0]}"]' if isinstance(value, list) else f'"{value}"'
        text, n = re.subn(rf"(?m)^{key} = .*$", lambda m, k=key, v=value: f"{k} = {v}", text)
        assert n == 1, key
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path, bad


def test_validate_panjin_exits_0_and_prints_census_total(capsys, census):
    rc = cli.main(["validate", str(SCENARIOS / "panjin.toml")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    total = _panjin_census(census)
    assert total == 214_290 + 529_394 + 422_797  # 双台子区 + 兴隆台区 + 大洼区 (districts.csv)
    assert f"residents {total:,} (modelled)" in out
    for adcode in ("211102", "211103", "211104"):
        assert adcode in out
    assert "OK: inputs are valid" in out


def test_units_writes_gpkg_in_wgs84_summing_to_census(tmp_path, capsys, census):
    out_dir = tmp_path / "out"
    rc = cli.main(["units", str(SCENARIOS / "panjin.toml"), "--out", str(out_dir)])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    path = out_dir / "units.gpkg"
    assert path.exists()
    assert [name for name, _ in pyogrio.list_layers(path)] == ["units"]
    gdf = gpd.read_file(path, layer="units")
    assert {"unit_id", "district", "population", "geometry"} <= set(gdf.columns)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["unit_id"].is_unique
    assert int(gdf["population"].sum()) == _panjin_census(census)
    assert sorted(set(gdf["district"])) == ["211102", "211103", "211104"]
    for code in ("211102", "211103", "211104"):
        assert int(gdf.loc[gdf["district"] == code, "population"].sum()) == census[code]["population"]
    assert gdf.geometry.is_valid.all()
    assert f"wrote {path}" in stdout
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folders left behind


def _caregrid_folder(out_dir, capsys):
    """An output folder written by caregrid (a first `caregrid units` run at resolution 5)."""
    rc = cli.main(["units", str(SCENARIOS / "panjin.toml"), "--out", str(out_dir), "--set", "units.resolution=5"])
    capsys.readouterr()
    assert rc == 0
    return out_dir


def test_units_rerun_keeps_other_files_in_output_folder(tmp_path, capsys):
    out_dir = _caregrid_folder(tmp_path / "out", capsys)
    (out_dir / "plan.txt").write_text("from another command", encoding="utf-8")
    first = len(gpd.read_file(out_dir / "units.gpkg", layer="units"))
    rc = cli.main(["units", str(SCENARIOS / "panjin.toml"), "--out", str(out_dir), "--set", "units.resolution=6"])
    capsys.readouterr()
    assert rc == 0
    assert (out_dir / "plan.txt").read_text(encoding="utf-8") == "from another command"
    gdf = gpd.read_file(out_dir / "units.gpkg", layer="units")  # the resolution-5 file was replaced
    assert len(gdf) > first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failing_run_leaves_existing_output_untouched(tmp_path, capsys, facility_csv):
    scenario, bad = _broken_scenario(tmp_path, facility_csv)
    out_dir = _caregrid_folder(tmp_path / "out", capsys)
    (out_dir / "notes.txt").write_text("keep me", encoding="utf-8")
    before = _snapshot(out_dir)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    rc = cli.main(["units", str(scenario), "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert _snapshot(out_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings  # no temp folder left beside the output
    assert str(bad) in err and "kind" in err


def test_failure_while_writing_leaves_existing_output_untouched(tmp_path, capsys, monkeypatch):
    out_dir = _caregrid_folder(tmp_path / "out", capsys)
    before = _snapshot(out_dir)

    def half_write(units, path):
        path.write_bytes(b"partial")
        raise InputError(path, "simulated failure half-way through writing", field="units")

    monkeypatch.setattr(cli, "write_units", half_write)
    rc = cli.main(["units", str(SCENARIOS / "panjin.toml"), "--out", str(out_dir), "--set", "units.resolution=6"])
    _, err = capsys.readouterr()
    assert rc == 2
    assert "simulated failure" in err
    assert _snapshot(out_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bad_input_exits_2_with_message_on_stderr(tmp_path, capsys, facility_csv):
    scenario, bad = _broken_scenario(tmp_path, facility_csv)
    rc = cli.main(["validate", str(scenario)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.startswith("caregrid: error 输入错误: ")  # InputError.label
    assert f"{bad}: field 'kind': missing column(s) kind in the facilities table" in err
    assert "OK" not in out
    assert not (tmp_path / "default_out").exists()


def test_bad_scenario_key_exits_2(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(
        f'name = "t"\ncity = "panjin"\ndata = "{GEODATA / "panjin"}"\n[solver]\ncontiguity = "foo"\n', encoding="utf-8"
    )
    rc = cli.main(["validate", str(path)])
    _, err = capsys.readouterr()
    assert rc == 2
    assert "solver.contiguity = 'foo'; expected one of exact, fast, flow, none" in err
    assert str(path) in err


def test_set_override_changes_resolution(tmp_path, capsys):
    out6 = tmp_path / "r6"
    assert cli.main(["units", str(SCENARIOS / "panjin.toml"), "--out", str(out6), "--set", "units.resolution=6"]) == 0
    capsys.readouterr()
    gdf = gpd.read_file(out6 / "units.gpkg", layer="units")
    import h3

    whole = gdf.loc[~gdf["unit_id"].str.contains("-"), "unit_id"]
    assert {h3.get_resolution(c) for c in whole} == {6}


@pytest.mark.parametrize("argv", [["validate"], ["frobnicate", "x.toml"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        cli.main(argv)
    assert ei.value.code == 2
    assert "usage: caregrid" in capsys.readouterr().err


def test_output_folder_gets_normal_permissions(tmp_path, capsys):
    reference = tmp_path / "reference"
    reference.mkdir()  # what a plain mkdir gives under the current umask
    out_dir = tmp_path / "out"
    assert (
        cli.main(["units", str(SCENARIOS / "panjin.toml"), "--out", str(out_dir), "--set", "units.resolution=6"]) == 0
    )
    capsys.readouterr()
    assert out_dir.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
