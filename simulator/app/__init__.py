"""The planner's workspace ``caregrid app``: paint planning units into grids in the browser, watch the rule checks
and indicators change on every edit, run the solver from the painted layout, save a scenario and export a run
folder. :mod:`.state` (the workspace, undo/redo, autosave), :mod:`.live` (the live panel), :mod:`.jobs` (solver
runs in the background), :mod:`.server` (FastAPI app and uvicorn runner), ``static/`` (the page)."""
