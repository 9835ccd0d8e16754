"""The JSON API of ``caregrid app`` (FastAPI TestClient on the synthetic city)."""

from __future__ import annotations

import signal
import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from simulator.app.server import TOKEN_HEADER, create_app
from simulator.app.state import Workspace
from simulator.evaluate.verify import verify_run

from .conftest import HOSTILE_NAME


def west_units(client, k: int) -> list[str]:
    return [u["unit_id"] for u in client.get("/api/state").json()["units"] if u["grid_id"] == "甲区"][:k]


def wait_job(client, job_id: str, timeout: float = 60) -> dict:
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < timeout:
        j = client.get(f"/api/jobs/{job_id}").json()
        seen.append((j["status"], j["progress"]))
        if j["status"] not in ("queued", "running"):
            j["seen"] = seen
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {timeout} s: {seen[-3:]}")


def test_state_has_the_issue_fields(client):
    s = client.get("/api/state").json()
    assert {"units", "facilities", "compliance", "summary"} <= set(s)
    assert set(s["units"][0]) >= {"unit_id", "grid_id"}
    assert {"rule_id", "grid_id", "status", "reason_en", "reason_zh"} <= set(s["compliance"][0])
    names = {f["facility_id"]: f["name"] for f in s["facilities"]}
    assert names["T2"] == HOSTILE_NAME  # data, returned as it is: the page writes it as text
    t3 = next(f for f in s["facilities"] if f["facility_id"] == "T3")
    assert t3["approximate"] is True and t3["location_quality"] == "district_seat"
    assert client.get("/api/units").json()["type"] == "FeatureCollection"


def test_assign_returns_the_delta_and_undo_redo(client):
    ids = west_units(client, 3)
    r = client.post("/api/assign", json={"unit_ids": ids, "grid_id": "乙区"})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["delta"] is True and sorted(u["unit_id"] for u in s["units"]) == sorted(ids)
    assert all(u["grid_id"] == "乙区" for u in s["units"])
    u = client.post("/api/undo", json={}).json()
    assert all(x["grid_id"] == "甲区" for x in u["units"]) and u["can_redo"] == 1
    assert client.post("/api/redo", json={}).json()["can_undo"] == 1


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("/api/assign", {"unit_ids": ["x1", "x2"], "grid_id": "乙区"}, "unit_ids", "'x1', 'x2'"),
        ("/api/assign", {"unit_ids": [], "grid_id": "G7"}, "grid_id", "unknown grid id 'G7'"),
        ("/api/assign", {"grid_id": "乙区"}, "unit_ids", "missing field 'unit_ids'"),
        ("/api/assign", {"unit_ids": "abc", "grid_id": "乙区"}, "unit_ids", "list of unit ids"),
        ("/api/merge", {"grid_id": "甲区", "into": "丙区"}, "into", "unknown grid id '丙区'"),
        ("/api/lead", {"grid_id": "甲区", "facility_id": "C1"}, "facility_id", "not a hospital that may lead"),
        ("/api/lead", {"grid_id": "甲区"}, "facility_id", "missing field 'facility_id'"),
        ("/api/lock", {"unit_ids": [], "locked": "yes"}, "locked", "true or false"),
        ("/api/facility", {"action": "move", "id": "T9", "lon": 122.0, "lat": 41.0}, "id", "T9"),
        ("/api/facility", {"action": "fly", "id": "T1"}, "action", "expected one of"),
        ("/api/facility", {"action": "move", "id": "T1", "lon": "east", "lat": 41.0}, "lon", "finite number"),
        ("/api/solve", {"mode": "magic"}, "mode", "expected one of repair, optimise, fill"),
        ("/api/export", {"out": "../escape"}, "out", "not a path"),
        ("/api/export", {"out": "/tmp/abs"}, "out", "not a path"),
        ("/api/export", {"out": "a/b"}, "out", "not a path"),
        ("/api/export", {"out": ".hidden"}, "out", "not a path"),
        ("/api/export", {"out": ".."}, "out", "not a path"),
        ("/api/export", {"out": "saved"}, "out", "workspace's own"),
        ("/api/export", {"out": 5}, "out", "not a path"),
    ],
)
def test_bad_requests_name_the_field(client, path, body, field, words):
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == field
    assert words in r.json()["error"]


def test_facility_what_ifs_through_the_api(client, workspace):
    s = client.post("/api/facility", json={"action": "link", "ids": ["T1", "S1"]}).json()
    campus = next(f for f in s["facilities"] if f["facility_id"] == "S1")
    assert campus["campus_of"] == "T1" and campus["role"] == "campus"
    s = client.post("/api/facility", json={"action": "change", "id": "S2", "level": "三级"}).json()
    assert next(f for f in s["facilities"] if f["facility_id"] == "S2")["level"] == "tertiary"
    s = client.post("/api/facility", json={"action": "close", "id": "C4"}).json()
    assert "C4" not in {f["facility_id"] for f in s["facilities"]}
    assert [c["action"] for c in s["changes"]] == ["link", "change", "close"]
    for _ in range(3):
        client.post("/api/undo", json={})
    assert client.get("/api/state").json()["changes"] == []


def test_delete_a_grid_joins_its_main_neighbour(client, workspace):
    ids = west_units(client, 3)
    client.post("/api/assign", json={"unit_ids": ids, "grid_id": "小", "new_grid": True})
    labels = {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]}
    # the independent count: edges of the small grid's units to each other grid
    pos = {u: i for i, u in enumerate(workspace.unit_ids)}
    shared: dict[str, int] = {}
    for u in ids:
        for j in workspace.units.adjacency[pos[u]].indices:
            g = labels[workspace.unit_ids[j]]
            if g != "小":
                shared[g] = shared.get(g, 0) + 1
    expected = max(sorted(shared), key=lambda g: shared[g])
    s = client.post("/api/delete", json={"grid_id": "小"}).json()
    assert {u["grid_id"] for u in s["units"]} == {expected} and "小" not in {g["grid_id"] for g in s["grids"]}
    assert client.post("/api/delete", json={"grid_id": "小"}).json()["field"] == "grid_id"
    client.post("/api/undo", json={})
    assert {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]} == labels


def test_nothing_to_undo_and_unknown_job(client):
    assert client.post("/api/undo", json={}).status_code == 400
    assert client.get("/api/jobs/nope").status_code == 404


def test_post_must_be_json(client):
    r = client.post("/api/undo", content="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_other_host_names_are_refused(workspace):
    with TestClient(create_app(workspace), base_url="http://evil.example:8765") as c:
        assert c.get("/api/state").status_code == 403


def test_token_required_when_bound_elsewhere(workspace):
    token = "s3cret-token"
    with TestClient(create_app(workspace, token), base_url="http://192.0.2.1:8765") as c:
        assert c.get("/api/state").status_code == 401
        assert c.get("/api/state", headers={TOKEN_HEADER: "wrong"}).status_code == 403
        assert c.post("/api/undo", json={}).status_code == 401
        assert c.get("/api/state", headers={TOKEN_HEADER: token}).status_code == 200
        # the page: ?token= once sets a cookie, later requests (scripts, fetch) carry it
        assert c.get(f"/?token={token}").status_code == 200
        assert c.get("/static/app.js").status_code == 200


def test_repair_job_progress_result_and_undo(client, workspace):
    # paint part of the west district into a grid without an eligible lead: repair must dissolve it
    ids = west_units(client, 4)
    client.post("/api/assign", json={"unit_ids": ids, "grid_id": "无牵头", "new_grid": True})
    before = {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]}
    r = client.post("/api/solve", json={"mode": "repair"})
    assert r.status_code == 200, r.text
    job = wait_job(client, r.json()["job_id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["result"]["units_moved"] >= 4
    after = {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]}
    assert "无牵头" not in set(after.values())
    moved = [u for u in before if before[u] != after[u]]
    assert len(moved) == job["result"]["units_moved"]
    client.post("/api/undo", json={})
    assert {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]} == before


def test_fill_assigns_only_the_units_of_leadless_grids(client, workspace):
    r = client.post("/api/solve", json={"mode": "fill"})
    assert wait_job(client, r.json()["job_id"])["error"].endswith("nothing to fill")
    ids = west_units(client, 5)
    client.post("/api/assign", json={"unit_ids": ids, "grid_id": "待定", "new_grid": True})
    before = {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]}
    job = wait_job(client, client.post("/api/solve", json={"mode": "fill"}).json()["job_id"])
    assert job["status"] == "done", job
    after = {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]}
    assert {after[u] for u in ids} <= {"甲区", "乙区"}
    assert all(after[u] == before[u] for u in before if before[u] != "待定")  # nothing else moved
    assert set(after.values()) == {"甲区", "乙区"}  # no grid added
    client.post("/api/undo", json={})
    assert {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]} == before


def test_optimise_keeps_locked_units_in_their_grid(client, workspace):
    # lock a chain of west units bordering the east into 乙区: optimise must keep them there
    s = client.get("/api/state").json()
    labels = {u["unit_id"]: u["grid_id"] for u in s["units"]}
    adj, ids = workspace.units.adjacency, workspace.unit_ids
    border = [ids[i] for i in range(len(ids)) if labels[ids[i]] == "甲区"
              and any(labels[ids[j]] == "乙区" for j in adj[i].indices)][:3]
    client.post("/api/assign", json={"unit_ids": border, "grid_id": "乙区"})
    client.post("/api/lock", json={"unit_ids": border, "locked": True})
    free = wait_job(client, client.post("/api/solve", json={"mode": "optimise"}).json()["job_id"])
    assert free["status"] == "done", free
    after = {u["unit_id"]: u["grid_id"] for u in client.get("/api/state").json()["units"]}
    assert all(after[u] == "乙区" for u in border)
    lead_of = {g["grid_id"]: g["lead_facility_id"] for g in client.get("/api/state").json()["grids"]}
    assert lead_of["乙区"] == "T2"
    # a locked unit in a grid without a lead cannot be kept: the job says which
    client.post("/api/lock", json={"unit_ids": border, "locked": False})
    client.post("/api/assign", json={"unit_ids": border[:1], "grid_id": "孤立", "new_grid": True})
    client.post("/api/lock", json={"unit_ids": border[:1], "locked": True})
    bad = wait_job(client, client.post("/api/solve", json={"mode": "repair"}).json()["job_id"])
    assert bad["status"] == "failed" and border[0] in bad["error"]


def test_without_fork_the_solver_runs_in_the_job_thread(client, workspace, monkeypatch):
    import multiprocessing

    import simulator.app.jobs as jobs

    calls = []

    def answer(scenario, city, units, repair, locks):  # the plan stage's answer, without a solver in this process
        calls.append(repair)
        grid = np.where(workspace.labels == "无牵头", "甲区", workspace.labels).astype(str)
        lead = np.where(grid == "甲区", "T1", "T2")
        return ("ok", pd.DataFrame({"grid_id": grid, "lead_facility_id": lead}), {"status": "optimal"}, [])

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(jobs, "_answer", answer)
    ids = west_units(client, 4)
    client.post("/api/assign", json={"unit_ids": ids, "grid_id": "无牵头", "new_grid": True})
    job = wait_job(client, client.post("/api/solve", json={"mode": "repair"}).json()["job_id"])
    assert job["status"] == "done" and job["result"]["units_moved"] == 4 and calls == [True]
    assert client.app.state.jobs.get(job["job_id"]).process is None


def test_cancel_kills_the_solver_and_leaves_the_layout(client, workspace, monkeypatch):
    import simulator.app.jobs as jobs

    def slow(*a, **k):  # a solver that would run for a minute (the forked process inherits the patch)
        time.sleep(60)

    monkeypatch.setattr(jobs, "build_plan", slow)
    before = client.get("/api/state").json()
    job_id = client.post("/api/solve", json={"mode": "optimise"}).json()["job_id"]
    assert client.post("/api/solve", json={"mode": "repair"}).status_code == 400  # one job at a time
    t0 = time.monotonic()
    while client.get(f"/api/jobs/{job_id}").json()["stage"] != "solving":
        assert time.monotonic() - t0 < 20
        time.sleep(0.05)
    proc = client.app.state.jobs.get(job_id).process
    t0 = time.monotonic()
    while proc is None:  # the process starts right after the stage changes
        time.sleep(0.01)
        proc = client.app.state.jobs.get(job_id).process
    assert proc.is_alive()
    # the page stays responsive while the solver runs: an edit is answered at once, and undone
    t1 = time.monotonic()
    ids = west_units(client, 1)
    assert client.post("/api/assign", json={"unit_ids": ids, "grid_id": "乙区"}).status_code == 200
    assert client.post("/api/undo", json={}).status_code == 200
    assert time.monotonic() - t1 < 10 and client.get(f"/api/jobs/{job_id}").json()["status"] == "running"
    c = client.post(f"/api/jobs/{job_id}/cancel", json={}).json()
    assert c["status"] == "cancelled"
    # the job thread reaps the process; joining it here too would race it for waitpid (the loser reads "alive")
    while proc.exitcode is None and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    assert proc.exitcode == -signal.SIGKILL and time.monotonic() - t0 < 10  # killed, not left to run its minute
    after = client.get("/api/state").json()
    assert after["units"] == before["units"] and after["can_undo"] == before["can_undo"]
    assert after["can_redo"] == 1  # the edit made while the solver ran
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "cancelled"


def test_solver_errors_reach_the_page(client, workspace):
    # every unit locked into one grid: no plan with two or more grids (the scenario's minimum) can keep them
    client.post("/api/merge", json={"grid_id": "乙区", "into": "甲区"})
    ids = [u["unit_id"] for u in client.get("/api/state").json()["units"]]
    client.post("/api/lock", json={"unit_ids": ids, "locked": True})
    job = wait_job(client, client.post("/api/solve", json={"mode": "optimise"}).json()["job_id"])
    assert job["status"] == "failed", job
    assert "no plan" in job["error"] or "grid" in job["error"], job["error"]


def test_export_writes_a_verified_run_folder(client, workspace):
    r = client.post("/api/export", json={"out": "方案A"})
    assert r.status_code == 200, r.text
    out = workspace.folder / "方案A"
    assert {"plan.gpkg", "compliance.csv", "run.json", "report.html", "map.html", "map.png", "map.pdf"} <= set(
        r.json()["files"])
    assert verify_run(out) == []  # the district layout passes every rule the verifier checks
    # the same files as `caregrid run` on the saved scenario
    from simulator import cli

    ref = workspace.folder.parent / "reference_run"
    assert cli.main(["run", str(workspace.folder / "saved" / "scenario.toml"), "--out", str(ref)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref.iterdir())
    for name in ("compliance.csv", "groups.csv", "referrals.csv", "indicators.csv", "adjacency.csv"):
        if (ref / name).exists():
            assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    # a painted layout that breaks rule 6: the verifier finds what the live panel and compliance.csv say
    ids = west_units(client, 2)
    s = client.post("/api/assign", json={"unit_ids": ids, "grid_id": "乙区"}).json()
    live_failed = {(c["rule_id"], c["grid_id"]) for c in s["compliance"] if c["status"] == "failed"}
    assert client.post("/api/export", json={"out": "方案A"}).status_code == 200  # replaces its own folder
    comp = pd.read_csv(out / "compliance.csv", dtype=str, keep_default_na=False)
    assert set(zip(comp.loc[comp.status == "failed", "rule_id"], comp.loc[comp.status == "failed", "scope"],
                   strict=True)) == live_failed
    found = verify_run(out)
    assert found and all(any(g in v for _, g in live_failed) for v in found), found
    assert client.post("/api/export", json={"out": "saved"}).status_code == 400


def test_reopened_workspace_serves_the_same_state(client, workspace):
    ids = west_units(client, 2)
    client.post("/api/assign", json={"unit_ids": ids, "grid_id": "乙区"})
    s1 = client.get("/api/state").json()
    with TestClient(create_app(Workspace.open(workspace.folder)), base_url="http://127.0.0.1:8765") as c2:
        s2 = c2.get("/api/state").json()
    assert s1["units"] == s2["units"] and s1["compliance"] == s2["compliance"]
