"""The HTTP side of ``caregrid app``: a FastAPI app over one :class:`~.state.Workspace`, and the uvicorn runner.

JSON API (documented in the README, section "The planner's workspace"):

====================  =====================================================================================
``GET /api/state``    every unit's grid, facilities, compliance rows (with reasons), grids, city summary
``POST /api/assign``  ``{"unit_ids": […], "grid_id": "…", "new_grid": false}`` → the changed units + panel
``POST /api/merge``   ``{"grid_id": "…", "into": "…"}`` (delete a grid = merge it into another)
``POST /api/delete``  ``{"grid_id": "…"}``: its units join the neighbouring grid sharing the most edges
``POST /api/lock``    ``{"unit_ids": […], "locked": true}``
``POST /api/lead``    ``{"grid_id": "…", "facility_id": "…" | null}``: choose a grid's lead (null: the largest inside)
``POST /api/facility`` a ``[[changes]]`` entry: ``{"action": "move", "id": "…", "lon": …, "lat": …}``, add…
``POST /api/solve``   ``{"mode": "repair" | "optimise" | "fill"}`` → ``{"job_id"}``; ``GET /api/jobs/{id}``;
                      ``POST /api/jobs/{id}/cancel``
``POST /api/undo``    / ``POST /api/redo``
``POST /api/save``    scenario + layout into ``<workspace>/saved``
``POST /api/export``  ``{"out": "NAME"}``: a run folder ``<workspace>/NAME`` (what ``caregrid run`` writes)
====================  =====================================================================================

Errors are JSON ``{"error": "…", "field": "…"}``: 400 for a bad field or unknown unit/grid ids (named), 404 for
an unknown job, 409 when an output folder cannot be written, 415 for a POST that is not JSON. Bound to 127.0.0.1
the server answers only requests whose ``Host`` is 127.0.0.1 or localhost (no DNS rebinding); bound elsewhere
every request must carry the access token (header ``X-Caregrid-Token``, or ``?token=`` once, which sets a cookie
for the page): 401 without it, 403 with a wrong one.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Body, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..config.labels import APP, KINDS, LEVELS, ROLES
from ..errors import CaregridError, InputError, OutputError, PlanningError
from .jobs import JobRunner
from .state import REQUEST, SAVED, WORKSPACE_JSON, Workspace

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_HEADER = "X-Caregrid-Token"
TOKEN_COOKIE = "caregrid_token"
#: an export folder name: letters (any script), digits, _ - . ; not starting with a dot
EXPORT_NAME_RE = re.compile(r"^[\w\-][\w\-.]{0,63}$")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: request bodies: a JSON object (required, or optional for POSTs that need no fields)
JsonBody = Annotated[dict[str, Any], Body()]
OptionalBody = Annotated[dict[str, Any] | None, Body()]


def export_folder(ws_folder: Path, name: Any) -> Path:
    """The folder ``name`` inside the workspace folder, or :class:`InputError`: a name, not a path (no ``/``,
    ``\\``, ``..``, absolute path or leading dot), and not one of the workspace's own files."""
    if not isinstance(name, str) or not EXPORT_NAME_RE.match(name) or ".." in name:
        raise InputError(REQUEST, f"out = {name!r}; expected a folder name inside the workspace (letters, digits, "
                         "_ - .), not a path", field="out")
    if name in (WORKSPACE_JSON, SAVED, ".jobs"):
        raise InputError(REQUEST, f"out = {name!r} is the workspace's own; expected another name", field="out")
    out = (ws_folder / name).resolve()
    if out.parent != ws_folder.resolve():
        raise InputError(REQUEST, f"out = {name!r} leaves the workspace folder; expected a folder name", field="out")
    return out


def _json(obj: Any) -> Response:
    """A JSON answer written by :func:`json.dumps` directly (FastAPI's generic encoder costs more than the live
    evaluation on a city of 5,000 units); NaN is never sent (the panel turns it into null first)."""
    return Response(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_default),
                    media_type="application/json")


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON")


def _error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "field": field, **extra}, status_code=status)


def _host_of(request: Request) -> str:
    host = request.headers.get("host", "")
    return host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"


def create_app(ws: Workspace, token: str | None = None) -> FastAPI:
    """The FastAPI app of workspace ``ws``; with ``token`` every request must carry it (see the module doc)."""
    app = FastAPI(title=str(APP["title"]), docs_url=None, redoc_url=None, openapi_url=None)
    lock = threading.RLock()
    runner = JobRunner(ws, lock)
    app.state.workspace, app.state.jobs = ws, runner

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token is None:
            if _host_of(request) not in LOCAL_HOSTS:
                return _error(403, "this server answers requests to 127.0.0.1 / localhost only", "host")
        else:
            given = (request.headers.get(TOKEN_HEADER) or request.query_params.get("token")
                     or request.cookies.get(TOKEN_COOKIE))
            if not given:
                return _error(401, f"access token required (header {TOKEN_HEADER} or ?token=)", "token")
            if not secrets.compare_digest(given.encode(), token.encode()):
                return _error(403, "wrong access token", "token")
        if request.method == "POST" and "application/json" not in request.headers.get("content-type", ""):
            return _error(415, "expected a JSON body (Content-Type: application/json)", "content-type")
        response = await call_next(request)
        if token is not None and request.query_params.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.exception_handler(CaregridError)
    async def caregrid_error(request: Request, exc: CaregridError):
        if isinstance(exc, InputError):
            return _error(400, exc.detail if exc.path == REQUEST else str(exc), exc.field)
        if isinstance(exc, OutputError):
            return _error(409, str(exc))
        if isinstance(exc, PlanningError):
            return _error(422, str(exc), failures=[{"rule_id": f.rule_id, "message": f.message, "fix": f.fix}
                                                  for f in exc.failures])
        return _error(500, f"{exc.label}: {exc}")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/vendor/{name}")
    def vendor(name: str) -> Response:
        body, media = _vendor_asset(name)
        return Response(body, media_type=media)

    @app.get("/api/labels")
    def labels() -> dict[str, Any]:
        return {"app": {k: {"en": v.en, "zh": v.zh} for k, v in APP.items()},
                "roles": {k: {"en": v.en, "zh": v.zh} for k, v in ROLES.items()},
                "levels": {k: {"en": v.en, "zh": v.zh} for k, v in LEVELS.items()},
                "kinds": {k: {"en": v.en, "zh": v.zh} for k, v in KINDS.items()}}

    @app.get("/api/units")
    def units() -> Response:
        with lock:
            return _json(ws.units_geojson())

    @app.get("/api/boundaries")
    def boundaries() -> Response:
        with lock:
            return _json(ws.boundaries_geojson())

    @app.get("/api/state")
    def state() -> Response:
        with lock:
            return _json(ws.state())

    @app.post("/api/assign")
    def assign(body: JsonBody) -> Response:
        _require(body, "unit_ids", "grid_id")
        with lock:
            return _json(ws.state(ws.assign(body["unit_ids"], body["grid_id"], bool(body.get("new_grid", False)))))

    @app.post("/api/merge")
    def merge(body: JsonBody) -> Response:
        _require(body, "grid_id", "into")
        with lock:
            return _json(ws.state(ws.merge(body["grid_id"], body["into"])))

    @app.post("/api/delete")
    def delete(body: JsonBody) -> Response:
        _require(body, "grid_id")
        with lock:
            return _json(ws.state(ws.delete_grid(body["grid_id"])))

    @app.post("/api/lock")
    def lock_units(body: JsonBody) -> Response:
        _require(body, "unit_ids", "locked")
        with lock:
            return _json(ws.state(ws.lock(body["unit_ids"], body["locked"])))

    @app.post("/api/lead")
    def lead(body: JsonBody) -> Response:
        _require(body, "grid_id", "facility_id")
        with lock:
            ws.set_lead(body["grid_id"], body["facility_id"])
            return _json(ws.state(np.array([], dtype=np.int64)))

    @app.post("/api/facility")
    def facility(body: JsonBody) -> Response:
        _require(body, "action")
        with lock:
            ws.change_facility(body)
            return _json(ws.state())

    @app.post("/api/undo")
    def undo(body: OptionalBody = None) -> Response:
        with lock:
            changed = ws.undo()
            if changed is None:
                raise InputError(REQUEST, "nothing to undo", field="undo")
            return _json(ws.state(changed))

    @app.post("/api/redo")
    def redo(body: OptionalBody = None) -> Response:
        with lock:
            changed = ws.redo()
            if changed is None:
                raise InputError(REQUEST, "nothing to redo", field="redo")
            return _json(ws.state(changed))

    @app.post("/api/solve")
    def solve(body: JsonBody) -> dict[str, Any]:
        _require(body, "mode")
        return runner.submit(body["mode"]).as_dict()

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> Any:
        try:
            return runner.get(job_id).as_dict()
        except KeyError:
            return _error(404, f"unknown job id {job_id!r}", "job_id")

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: str, body: OptionalBody = None) -> Any:
        try:
            return runner.cancel(job_id).as_dict()
        except KeyError:
            return _error(404, f"unknown job id {job_id!r}", "job_id")

    @app.post("/api/save")
    def save(body: OptionalBody = None) -> dict[str, Any]:
        with lock:
            path = ws.save()
            kept, _, left_out = ws.locks_to_save()
            left = ws.unit_ids[left_out].tolist()
        return {"scenario": str(path), "layout": str(path.parent / "layout.csv"),
                "locked_units": str(path.parent / "locked_units.csv") if len(kept) else None,
                "locks_saved": len(kept), "locks_not_saved": left}

    @app.post("/api/export")
    def export(body: JsonBody) -> dict[str, Any]:
        _require(body, "out")
        out = export_folder(ws.folder, body["out"])
        with lock:
            scenario_path = ws.save()
        written = export_run(scenario_path, out)
        return {"out": str(written), "files": sorted(p.name for p in written.iterdir() if not p.name.startswith("."))}

    return app


def _require(body: dict[str, Any], *fields: str) -> None:
    for name in fields:
        if name not in body:
            raise InputError(REQUEST, f"missing field '{name}'", field=name)


def export_run(scenario_path: Path, out: Path) -> Path:
    """Write the run folder of the saved scenario into ``out``: the same steps and files as ``caregrid run``."""
    from ..config.scenario import load_scenario
    from ..load.city import load_city
    from ..render.maps import write_maps
    from ..render.report import write_report
    from ..runfolder.writer import write_plan
    from ..units.pipeline import planning_units
    from ..workflow import make_plan

    scenario = load_scenario(scenario_path)
    city = load_city(scenario)
    units = planning_units(scenario, city)
    plan = make_plan(scenario, city, units)
    return write_plan(plan, out, extras=(write_maps, write_report))


def _vendor_asset(name: str) -> tuple[str, str]:
    """Leaflet's JS / CSS from the offline assets the maps inline (``folium-offline``)."""
    from ..render.assets import asset_table

    wanted = {"leaflet.js": ("/leaflet.js", "text/javascript"), "leaflet.css": ("/leaflet.css", "text/css")}
    if name not in wanted:
        raise InputError(REQUEST, f"unknown asset {name!r}", field="name")
    suffix, media = wanted[name]
    table = asset_table()
    hits = sorted(k for k in table if k.endswith(suffix) and "leaflet@" in k)
    if not hits:
        raise InputError(REQUEST, f"no offline copy of {name} in folium-offline", field="name")
    return table[hits[-1]], media


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          open_browser: bool = True) -> None:
    """Run the app with uvicorn until Ctrl-C; prints the URL (with the token when there is one)."""
    import uvicorn

    url = f"http://{'127.0.0.1' if host in ('127.0.0.1', 'localhost') else host}:{port}/"
    if token:
        url += f"?token={token}"
    print(f"caregrid app: {ws.scenario.name}; workspace {ws.folder.resolve()}")
    print(f"open {url}" + ("  (access token required: keep this URL private)" if token else ""), flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    uvicorn.run(create_app(ws, token), host=host, port=port, log_level="warning")
