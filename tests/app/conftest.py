"""Fixtures of the ``caregrid app`` tests: a SYNTHETIC two-district city (built in a temporary folder, H3 resolution
7: a few dozen units, so every test is quick), a workspace on it and the FastAPI test client.

The city is tests/synthetic_city.py's: 甲区 (west) and 乙区 (east), 0.1° × 0.1° each near lon 122, lat 41; three
tertiary general hospitals (two in 甲区, one in 乙区), secondary comprehensive hospitals, community health centres, a
maternal–child hospital, a CDC and an external provincial hospital (collaborating unit).
One hospital is named with ``<script>``, ``${…}`` and quotes: every page and answer must show it as text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_city import scenario_text, write_city

#: a facility name that is code in HTML, in a JS template literal and in an attribute if written raw
HOSTILE_NAME = '<script>alert(1)</script>乙市"第二"医院${1+1}`\'<img src=x onerror=alert(2)>'

#: the app's variant of the shared city: T2 carries the hostile name, T3 stands at its district's seat (an
#: approximate location the page marks), no third community health centre (C5); a few dozen units, 2–3 grids
FACILITY_CHANGES = {"T2": {"name": HOSTILE_NAME}, "T3": {"location_quality": "district_seat"}}
SCENARIO = scenario_text(resolution=7, time_limit_s=30, grids="min = 2\nmax = 3", allow_enterprise_leads=False)


def build_city(root: Path) -> Path:
    """Write the synthetic city into ``root``; returns the scenario file."""
    return write_city(root, SCENARIO, change=FACILITY_CHANGES, drop=("C5",))


@pytest.fixture(scope="session")
def city_toml(tmp_path_factory) -> Path:
    return build_city(tmp_path_factory.mktemp("app_city"))


@pytest.fixture
def workspace(city_toml, tmp_path):
    from simulator.app.state import Workspace

    return Workspace.create(tmp_path / "ws", city_toml)


@pytest.fixture
def client(workspace):
    from fastapi.testclient import TestClient

    from simulator.app.server import create_app

    with TestClient(create_app(workspace), base_url="http://127.0.0.1:8765") as c:
        yield c
