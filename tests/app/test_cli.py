"""``caregrid app``: what it opens (scenario, run folder, workspace), the URL it prints, the token off 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator import cli
from simulator.app import server as server_mod
from simulator.app.cli import resolve_source


@pytest.fixture
def served(monkeypatch):
    """Replace uvicorn.run by a recorder: (app, host, port) of each start."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, log_level: calls.append((app, host, port)))
    return calls


def test_app_binds_localhost_without_token(city_toml, tmp_path, served, capsys):
    code = cli.main(["app", str(city_toml), "--workspace", str(tmp_path / "ws"), "--no-browser", "--port", "9001"])
    assert code == 0
    out = capsys.readouterr().out
    assert "open http://127.0.0.1:9001/" in out and "token" not in out
    assert served[0][1:] == ("127.0.0.1", 9001)
    assert (tmp_path / "ws" / "workspace.json").exists()


def test_other_host_prints_a_random_token_every_request_needs(city_toml, tmp_path, served, capsys):
    from fastapi.testclient import TestClient

    tokens = []
    for k in range(2):
        assert cli.main(["app", str(city_toml), "--workspace", str(tmp_path / f"ws{k}"), "--no-browser",
                         "--host", "0.0.0.0"]) == 0
        out = capsys.readouterr().out
        assert "?token=" in out
        tokens.append(out.split("?token=")[1].split()[0])
    assert tokens[0] != tokens[1] and len(tokens[0]) >= 24
    app = served[-1][0]
    with TestClient(app, base_url="http://192.0.2.7:8765") as c:
        assert c.get("/api/state").status_code == 401
        assert c.get("/api/state", headers={server_mod.TOKEN_HEADER: tokens[0]}).status_code == 403
        assert c.get("/api/state", headers={server_mod.TOKEN_HEADER: tokens[1]}).status_code == 200


def test_workspace_folder_reopens_and_run_folder_seeds_the_layout(city_toml, tmp_path, served):
    ws_dir = tmp_path / "ws"
    assert cli.main(["app", str(city_toml), "--workspace", str(ws_dir), "--no-browser"]) == 0
    scenario, folder, labels = resolve_source(str(ws_dir), None)
    assert scenario is None and folder == ws_dir and labels is None
    run = tmp_path / "run"
    # the optimised run in a process of its own: HiGHS fixes its thread pool at a process's first solve, and the
    # ensemble tests later in this process solve with one thread
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(city_toml), "--out", str(run), "--set",
                           "grids.count=2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    scenario, folder, (labels, leads) = resolve_source(str(run), str(tmp_path / "ws2"))
    assert scenario == city_toml.resolve() and set(labels.values()) == {"G1", "G2"}
    assert cli.main(["app", str(run), "--workspace", str(tmp_path / "ws2"), "--no-browser"]) == 0
    from simulator.app.state import Workspace

    ws = Workspace.open(tmp_path / "ws2")
    assert set(ws.labels) == {"G1", "G2"}
    assert ws.grid_lead() == leads  # the run's own leads, even one standing outside its grid


def test_bad_source_is_an_input_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["app", str(tmp_path / "empty"), "--no-browser"]) == 2
    assert "run.json or workspace.json" in capsys.readouterr().err
