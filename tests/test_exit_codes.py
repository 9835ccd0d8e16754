"""One test per exit code of the command line (README, "Exit codes"); simulator/errors.py defines the classes.

Failures deep inside a run (solver, maps) are injected by replacing one function with a stub that raises what
the real one raises in that situation; the CLI's mapping of the error to its code is what is under test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import simulator.plan.make as make_mod
import simulator.render.maps as maps_mod
from simulator import cli
from simulator.errors import (
    CaregridError,
    InputError,
    OutputError,
    PlanningError,
    RenderError,
    SolverError,
    SolverTimeLimit,
    VerificationFailed,
)

ROOT = Path(__file__).resolve().parents[1]
PANJIN = str(ROOT / "scenarios" / "panjin.toml")


def run(argv: list[str], capsys) -> tuple[int, str]:
    rc = cli.main(argv)
    return rc, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_every_error_class_has_its_documented_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 3)[2]
    codes = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in cells[2].replace("`", "").split(","):
            codes[name.strip()] = int(cells[0])
    for cls in (CaregridError, InputError, OutputError, PlanningError, SolverTimeLimit, SolverError, RenderError,
                VerificationFailed):
        assert codes[cls.__name__] == cls.exit_code, cls
    assert codes["KeyboardInterrupt"] == cli.EXIT_INTERRUPTED == 130


def test_exit_0_validate(capsys):
    rc, err = run(["validate", PANJIN], capsys)
    assert rc == 0, err
    assert err == ""


def test_exit_2_bad_input(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    rc, err = run(["validate", str(missing)], capsys)
    assert rc == 2
    assert one_line(err) == f"caregrid: error 输入错误: {missing}: scenario file not found"


def test_exit_2_output_path_is_a_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.write_text("not a folder", encoding="utf-8")

    def must_not_plan(*args, **kwargs):
        raise AssertionError("the output path is checked before planning")

    monkeypatch.setattr(cli, "load_city", must_not_plan)
    rc, err = run(["run", PANJIN, "--out", str(out)], capsys)
    assert rc == 2
    assert one_line(err).startswith(f"caregrid: error 输出错误: {out}: is a file; expected a folder")
    assert out.read_text(encoding="utf-8") == "not a folder"


def test_exit_3_no_plan(tmp_path, capsys):
    # read "secondary only", Panjin's urban area has a secondary hospital in 2 planning units only: 3 grids cannot all
    # satisfy rule 3
    out = tmp_path / "out"
    rc, err = run(["run", PANJIN, "--out", str(out), "--set", "grids.count=3", "--set",
                   'plan.member_reading="secondary_only"'], capsys)
    assert rc == 3
    assert one_line(err).startswith("caregrid: no plan 无可行方案: rule 3 fails: 3 grids are asked for")
    assert not out.exists()


@pytest.mark.parametrize(
    ("error", "code", "label"),
    [
        (SolverTimeLimit("the solver found no plan within the time limit (1 s); raise solver.time_limit_s"), 4,
         "time limit 求解超时"),
        (SolverError("HiGHS returned an objective that does not match its solution"), 5, "solver error 求解器错误"),
    ],
    ids=["4-time-limit", "5-solver-error"],
)
def test_exit_4_and_5_from_the_solver(error, code, label, tmp_path, capsys, monkeypatch):
    def solver_fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(make_mod, "assign_units_to_grids", solver_fails)
    out = tmp_path / "out"
    rc, err = run(["run", PANJIN, "--out", str(out)], capsys)
    assert rc == code
    assert one_line(err) == f"caregrid: {label}: {error}"
    assert not out.exists()


def test_exit_6_render_error(tmp_path, capsys, monkeypatch):
    def map_fails(folder):
        raise RenderError("map.png: no font can draw the legend")

    monkeypatch.setattr(maps_mod, "write_maps", map_fails)
    rc, err = run(["run", PANJIN, "--out", str(tmp_path / "out")], capsys)
    assert rc == 6
    assert one_line(err) == "caregrid: render error 制图错误: map.png: no font can draw the legend"


def test_exit_7_verify_finds_a_violation(tmp_path, capsys):
    from synthetic_city import scenario_text, write_city

    scenario = write_city(tmp_path / "city", scenario_text(resolution=7, grids="min = 2\nmax = 3"))
    out = tmp_path / "run"
    assert cli.main(["run", str(scenario), "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["verify", str(out)]) == 0
    assert "verified 核验通过" in capsys.readouterr().out
    # a lead listed as a member: its grid has no lead, which the verifier names on stdout, one line on stderr
    groups = pd.read_csv(out / "groups.csv", dtype=str, keep_default_na=False)
    lead_row = groups.index[groups["role"] == "lead"][0]
    groups.loc[lead_row, "role"] = "member"
    groups.to_csv(out / "groups.csv", index=False)
    rc = cli.main(["verify", str(out)])
    captured = capsys.readouterr()
    assert rc == 7
    assert any(line.startswith("violation 违规: R2 lead: grid ") for line in captured.out.splitlines())
    assert one_line(captured.err).startswith("caregrid: verification failed 核验未通过: ")
    rc, err = run(["verify", str(tmp_path / "city")], capsys)  # not a run folder
    assert rc == 2 and "not a run folder (no run.json)" in one_line(err)


def _bug(*args, **kwargs):
    raise ZeroDivisionError("division by zero in a stub")


def test_exit_1_internal_error_in_one_line_without_traceback(capsys, monkeypatch):
    monkeypatch.setattr(cli, "load_scenario", _bug)
    rc, err = run(["validate", PANJIN], capsys)
    assert rc == 1
    assert one_line(err) == (
        "caregrid: internal error: ZeroDivisionError: division by zero in a stub (run with --debug for the traceback)"
    )


@pytest.mark.parametrize("argv", [["--debug", "validate", PANJIN], ["validate", PANJIN, "--debug"]])
def test_exit_1_internal_error_with_traceback_under_debug(argv, capsys, monkeypatch):
    monkeypatch.setattr(cli, "load_scenario", _bug)
    rc, err = run(argv, capsys)
    assert rc == 1
    assert err.startswith("Traceback (most recent call last):")
    assert "in _bug" in err
    assert err.strip().splitlines()[-1] == "caregrid: internal error: ZeroDivisionError: division by zero in a stub"


def test_exit_130_interrupted(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_scenario", interrupted)
    rc, err = run(["validate", PANJIN], capsys)
    assert rc == 130
    assert one_line(err) == "caregrid: interrupted 已中断"


def test_exit_code_of_the_installed_command(tmp_path):
    """The real process (console script entry point) exits with the code main returns, without a traceback."""
    missing = tmp_path / "nope.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "validate", str(missing)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"caregrid: error 输入错误: {missing}: scenario file not found"


def test_sweep_where_every_variant_fails_exits_with_their_code(tmp_path, capsys):
    out = tmp_path / "sweep"
    rc, err = run(["sweep", PANJIN, "--set", "grids=3..4", "--set", 'plan.member_reading="secondary_only"', "--out",
                   str(out), "--jobs", "1"], capsys)
    assert rc == 3
    assert "every variant failed" in err
    table = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert list(table["status"]) == ["no plan", "no plan"]
    assert list(table["exit_code"]) == [3, 3]
    assert list(table["failed_rules"]) == ["R3.member", "R3.member"]
    assert all(e.startswith("PlanningError: rule 3 fails") for e in table["error"])


def test_sweep_exit_code_rules():
    ok = pd.DataFrame({"exit_code": [0, 3]})
    assert cli.sweep_exit_code(ok) == 0
    assert cli.sweep_exit_code(pd.DataFrame({"exit_code": [3, 3]})) == 3
    assert cli.sweep_exit_code(pd.DataFrame({"exit_code": [2, 3]})) == 1
