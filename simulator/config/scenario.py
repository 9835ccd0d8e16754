"""Scenario files (TOML, read with the standard library's ``tomllib``).

A scenario names the city data folder, the planning area, the planning units, the rule set, the grid count,
the travel model, the solver and the output folder. Every section is a dataclass below; a key that is not a
field is an error naming the key and the allowed ones, so a typo never silently falls back to a default.
Relative paths are resolved against the scenario file's folder (``data``) or the data folder (``[inputs]``).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import vocabulary
from .targets import load_targets


@dataclass
class Inputs:
    """Input files, relative to the scenario's data folder unless absolute.

    ``*_crs`` is any pyproj CRS string (``EPSG:4326``…) or ``gcj02`` / ``bd09`` for Chinese map datums. A file's
    own declared CRS (GeoPackage, Shapefile ``.prj``, GeoJSON ``crs`` member, a CSV's sidecar ``NAME.prj``) is
    used; a ``*_crs`` that contradicts it is an error. ``facilities`` entries are file names or tables
    ``{path = "mine.csv", crs = "gcj02"}``; ``facilities_crs`` applies only to facility files that declare no CRS
    and name none, never to another file. ``reservations`` names the declared referral reservations of lead
    hospitals (rule 5; :mod:`simulator.load.reservations`), ``None``: nothing declared, rule 5 reports plan figures.
    """

    boundaries: str = "boundaries.geojson"
    boundaries_crs: str | None = None
    districts: str = "districts.csv"
    facilities: list[str | dict] = field(default_factory=lambda: ["facilities.csv"])
    facilities_crs: str | None = None
    population: str | None = None
    population_crs: str | None = None
    population_field: str = "population"
    units: str | None = None
    units_crs: str | None = None
    units_id_field: str = "unit_id"
    #: declared ties between facilities (facility_id, partner_facility_id, relation, source), e.g. a city hospital
    #: that is the managed branch of a provincial one: collaborating units 协作单位 honour them first (rule 4)
    affiliations: str | None = None
    reservations: str | None = None


@dataclass
class Units:
    """Planning units: ``h3`` cells at ``resolution`` or the planner's ``polygons`` (``inputs.units``)."""

    kind: str = "h3"
    resolution: int = 8
    #: refuse to build more units than this (estimated from the area before building); raise it knowingly
    max_units: int = 300_000


@dataclass
class PopulationModel:
    """Parameters of the modelled disaggregation (see ``simulator.units.population``)."""

    urban_share_district: float = 0.90
    urban_share_county: float = 0.30
    seat_bandwidth_km: float = 2.5
    facility_bandwidth_km: float = 1.5
    facility_weight: float = 0.25


@dataclass
class Grids:
    """Grid count: ``count`` fixed, or the range ``min``..``max``."""

    count: int | None = None
    min: int | None = None
    max: int | None = None
    min_population: float | None = None
    max_population: float | None = None
    min_beds_per_1000: float | None = None


@dataclass
class Travel:
    """Travel model: straight-line distance × ``circuity`` ÷ ``speed_kmh``, or a road network file."""

    speed_kmh: float = 30.0
    circuity: float = 1.3
    network: str | None = None
    network_speed_field: str = "speed_kmh"
    access_minutes: float = 30.0
    primary_care_minutes: float = 15.0


@dataclass
class Solver:
    name: str = "highs"
    time_limit_s: float = 120.0
    gap: float = 1e-3
    threads: int | None = None
    contiguity: str = "fast"
    objective: str = "weighted_time"
    candidate_k: int | None = None


@dataclass
class PlanSettings:
    """How the plan is made: ``optimise``, ``fixed_leads`` (``leads``) or ``given_layout`` (``layout``)."""

    mode: str = "optimise"
    #: false (default, the pilot plan's reading: only members are 网格内): a lead may stand outside its grid, even in
    #: one planning unit with another lead; true: the lead's own planning unit belongs to its grid (the old reading)
    lead_inside_grid: bool = False
    leads: list[str] = field(default_factory=list)
    layout: str | None = None
    layout_crs: str | None = None
    layout_grid_field: str = "grid_id"
    #: a ``unit_id,lead_id`` CSV of planning units locked to a lead's grid (simulator/plan/locks.py; ``caregrid app``
    #: saves its locks there); binds optimise, fixed_leads and ``--repair``
    locked_units: str | None = None
    #: enterprise-owned tertiary hospitals may lead ("地市级、区级" 原则上: not by default)
    allow_enterprise_leads: bool = False
    collaborating_units: list[str] = field(default_factory=list)
    #: "至少包括二级综合性医院": ``at_least_secondary`` (a non-leading tertiary comprehensive hospital counts too) or
    #: ``secondary_only``
    member_reading: str = "at_least_secondary"
    #: which grids a cross-grid institution serves: ``reach`` (the grid it stands in and grids it reaches) or
    #: ``every_group`` (every grid)
    cross_grid_reading: str = "reach"
    #: the planner's list: facility id → grid ids (or lead facility ids) it serves, or "all"; overrides the reading
    cross_grid_service: dict[str, list[str] | str] = field(default_factory=dict)
    #: shared centres 资源共享中心 (simulator/plan/shared_centres.py): adjacent grids' groups may share a host
    share_centres: bool = False
    #: cost of running one more shared centre, in volume-weighted minutes (weighs against sharing; ≥ 0)
    centre_open_cost: float = 0.0
    #: host rules of the shared centres: a name of simulator/config/centres/ or a TOML file
    centre_rules: str = "liaoning-2023"
    #: residents one family-doctor team 家庭医生团队 serves: a planner setting, no sourced default (None: not set)
    residents_per_family_doctor_team: float | None = None


@dataclass
class Ems:
    """Emergency medical services 院前急救: ambulance-station siting and five-centre coverage (issue 15).

    Siting runs when ``stations`` (maximal covering: add that many stations, maximise the residents within
    ``minutes``) or ``coverage`` (set covering: the fewest new stations so that this share of residents is within
    ``minutes``) is set, never both. ``candidates``: ``units`` (each planning unit's point) or ``facilities`` (the
    planning area's facilities); ``fixed``: facility ids of existing stations, kept open and counted as covering.
    ``centre_minutes``: the minutes within which a resident counts as reached by a capability (chest pain, stroke …)
    in the five-centre coverage (a planner setting: the plans quoted in issue 15 name no minutes).
    """

    stations: int | None = None
    coverage: float | None = None
    minutes: float = 12.0
    candidates: str = "units"
    fixed: list[str] = field(default_factory=list)
    centre_minutes: float = 30.0
    time_limit_s: float = 60.0

    @property
    def siting(self) -> bool:
        """Whether the scenario asks for ambulance-station siting."""
        return self.stations is not None or self.coverage is not None


@dataclass
class Change:
    """One what-if change ``[[changes]]`` of a scenario, applied to the facilities after loading.

    ``action`` is ``add`` (a new facility: ``id``, ``name``, ``level``, ``kind``, ``lon``/``lat`` in ``crs``;
    optional ``grade``, ``ownership``, ``beds``, ``outpatient_daily``, ``location_quality``, ``continuing_care``),
    ``change`` (``id`` and any of ``level``, ``grade``, ``kind``, ``ownership``, ``beds``, ``outpatient_daily``,
    ``continuing_care``), ``close`` (``id``)
    ``link`` (``ids`` = [main campus, other campuses…]: one institution) or ``move`` (``id``, ``lon``/``lat`` in
    ``crs``, optional ``location_quality``, default ``exact``: the facility's real location). ``label`` names the
    change for ``caregrid sweep --set changes=…`` (default ``<action>_<id>``); ``note`` says why (shown in the report).
    Level, kind and ownership are stored as the English values; the Chinese terms of
    :mod:`simulator.config.vocabulary` are accepted.
    """

    action: str
    label: str = ""
    id: str | None = None
    ids: list[str] = field(default_factory=list)
    name: str | None = None
    level: str | None = None
    grade: str | None = None
    kind: str | None = None
    ownership: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str | None = None
    beds: float | None = None
    outpatient_daily: float | None = None
    location_quality: str | None = None
    #: the planner's flag: the facility provides continuing care 接续性医疗服务 (rule 3), whatever its kind
    continuing_care: bool | None = None
    note: str = ""
    #: position in the scenario file's ``[[changes]]`` list (0-based), for messages
    index: int = 0


@dataclass
class EnsembleSettings:
    """What ``caregrid ensemble`` draws (:mod:`simulator.ensemble`); the command line overrides ``samples``/``seed``."""

    samples: int = 30
    seed: int = 0
    #: facilities whose location quality is one of these are drawn from their district's populated units
    move: list[str] = field(default_factory=lambda: ["district_seat", "district_centroid"])
    #: groups of facility ids the planner knows stand together (one campus): drawn as one site
    same_site: list[list[str]] = field(default_factory=list)
    #: sigma of the multiplicative log-normal noise on each unit's modelled residents (0: off); district totals kept
    population_noise: float = 0.0
    #: [low, high] km/h: each draw's travel speed, uniform in the range (empty: the scenario's speed)
    speed_range: list[float] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    city: str
    data: Path
    districts: list[str] | str = "urban"
    rules: str = "liaoning-2023"
    #: the planning targets file (simulator/config/targets/<id>.toml or a TOML path), like ``rules``
    targets: str = "liaoning-2023"
    output: Path | None = None
    description: str = ""
    inputs: Inputs = field(default_factory=Inputs)
    units: Units = field(default_factory=Units)
    population_model: PopulationModel = field(default_factory=PopulationModel)
    grids: Grids = field(default_factory=Grids)
    travel: Travel = field(default_factory=Travel)
    solver: Solver = field(default_factory=Solver)
    plan: PlanSettings = field(default_factory=PlanSettings)
    ensemble: EnsembleSettings = field(default_factory=EnsembleSettings)
    ems: Ems = field(default_factory=Ems)
    #: what-if changes to the facilities (``[[changes]]``), applied after loading (:mod:`simulator.load.changes`)
    changes: list[Change] = field(default_factory=list)
    path: Path | None = None

    def facility_files(self) -> list[tuple[Path, str | None]]:
        """(path, stated CRS or None) of every facility file."""
        out = []
        for entry in self.inputs.facilities:
            if isinstance(entry, dict):
                out.append((self.input_path(entry["path"]), entry.get("crs")))
            else:
                out.append((self.input_path(entry), None))
        return out

    def input_path(self, name: str) -> Path:
        """Resolve an input file name against the data folder."""
        p = Path(name)
        return p if p.is_absolute() else (self.data / p).resolve()

    def to_dict(self) -> dict[str, Any]:
        """Plain-data echo of the scenario (for run records)."""

        def conv(v: Any) -> Any:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v

        return conv(dataclasses.asdict(self))


_SECTIONS = {
    "inputs": Inputs,
    "units": Units,
    "population_model": PopulationModel,
    "grids": Grids,
    "travel": Travel,
    "solver": Solver,
    "plan": PlanSettings,
    "ensemble": EnsembleSettings,
    "ems": Ems,
}
_TOP = ("name", "city", "data", "districts", "rules", "targets", "output", "description", "changes")

_CHOICES = {
    ("units", "kind"): ("h3", "polygons"),
    # solver.name, solver.contiguity and solver.objective are checked against the optimiser's registries
    # (simulator.plan.precheck.check_solver_names): a new family or objective is one module + one registry line
    ("plan", "mode"): ("optimise", "fixed_leads", "given_layout"),
    ("plan", "member_reading"): ("at_least_secondary", "secondary_only"),
    ("plan", "cross_grid_reading"): ("reach", "every_group"),
    ("ems", "candidates"): ("units", "facilities"),
}


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


#: (section, key) → (test, the allowed range in words); None values are not checked (they mean "not set")
_RANGES: dict[tuple[str, str], tuple[Any, str]] = {
    ("units", "resolution"): (lambda v: 0 <= v <= 15, "an H3 resolution 0..15"),
    ("units", "max_units"): (lambda v: v >= 1, "a unit count ≥ 1"),
    ("population_model", "urban_share_district"): (lambda v: 0 <= v <= 1, "a share in [0, 1]"),
    ("population_model", "urban_share_county"): (lambda v: 0 <= v <= 1, "a share in [0, 1]"),
    ("population_model", "seat_bandwidth_km"): (lambda v: v > 0, "a distance > 0 km"),
    ("population_model", "facility_bandwidth_km"): (lambda v: v > 0, "a distance > 0 km"),
    ("population_model", "facility_weight"): (lambda v: v >= 0, "a weight ≥ 0"),
    ("grids", "count"): (lambda v: v >= 1, "a grid count ≥ 1"),
    ("grids", "min"): (lambda v: v >= 1, "a grid count ≥ 1"),
    ("grids", "max"): (lambda v: v >= 1, "a grid count ≥ 1"),
    ("grids", "min_population"): (lambda v: v >= 0, "residents ≥ 0"),
    ("grids", "max_population"): (lambda v: v > 0, "residents > 0"),
    ("grids", "min_beds_per_1000"): (lambda v: v >= 0, "beds per 1,000 residents ≥ 0"),
    ("travel", "speed_kmh"): (lambda v: 0 < v <= 200, "a speed in (0, 200] km/h"),
    ("ensemble", "samples"): (lambda v: 1 <= v <= 100_000, "a draw count in [1, 100000]"),
    ("ensemble", "population_noise"): (lambda v: 0 <= v <= 2, "a log-normal sigma in [0, 2]"),
    ("travel", "circuity"): (lambda v: 1 <= v <= 5, "a detour factor in [1, 5] (road distance ÷ straight distance)"),
    ("travel", "access_minutes"): (lambda v: v > 0, "minutes > 0"),
    ("travel", "primary_care_minutes"): (lambda v: v > 0, "minutes > 0"),
    ("solver", "time_limit_s"): (lambda v: v > 0, "seconds > 0"),
    ("solver", "gap"): (lambda v: 0 <= v < 1, "a relative gap in [0, 1)"),
    ("solver", "threads"): (lambda v: v >= 1, "a thread count ≥ 1"),
    ("solver", "candidate_k"): (lambda v: v >= 1, "a count ≥ 1"),
    ("ems", "stations"): (lambda v: v >= 0, "a station count ≥ 0"),
    ("ems", "coverage"): (lambda v: 0 < v <= 1, "a share of residents in (0, 1]"),
    ("ems", "minutes"): (lambda v: v > 0, "minutes > 0"),
    ("ems", "centre_minutes"): (lambda v: v > 0, "minutes > 0"),
    ("ems", "time_limit_s"): (lambda v: v > 0, "seconds > 0"),
    ("plan", "centre_open_cost"): (lambda v: v >= 0, "volume-weighted minutes ≥ 0"),
    ("plan", "residents_per_family_doctor_team"): (lambda v: v > 0, "residents > 0"),
}


def _check_range(path: Path, section: str, key: str, value: Any) -> None:
    rule = _RANGES.get((section, key))
    if rule is None or value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return
    test, allowed = rule
    if not (_finite(float(value)) and test(value)):
        raise InputError(path, f"{section}.{key} = {value!r}; expected {allowed}", field=f"{section}.{key}")


def _check_keys(path: Path, where: str, got: dict, allowed: tuple[str, ...] | list[str]) -> None:
    for key in got:
        if key not in allowed:
            raise InputError(path, f"unknown key '{key}' in {where}; allowed keys: {', '.join(allowed)}", field=key)


_TYPE_NAMES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list[str]": list, "list[str | dict]": list,
               "list[float]": list, "list[list[str]]": list}
#: element check of a list annotation
_ELEMENTS = {
    "list[str]": lambda v: isinstance(v, str),
    "list[float]": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "list[list[str]]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def _check_type(path: Path, section: str, key: str, value: Any, annotation: str) -> None:
    """Check a value against the dataclass annotation (``int | None``, ``list[str]``…)."""
    if annotation == "list[str | dict]":
        _check_file_list(path, section, key, value)
        return
    if annotation.startswith("dict["):
        _check_service_table(path, section, key, value)
        return
    names = [a.strip() for a in str(annotation).split("|")]
    if value is None and "None" in names:
        return
    for n in names:
        expected = _TYPE_NAMES.get(n)
        if expected is None:
            continue
        if isinstance(value, bool) and n != "bool":
            continue  # TOML booleans are not numbers here
        if isinstance(value, expected):
            if n in _ELEMENTS and not all(_ELEMENTS[n](v) for v in value):
                continue
            return
    wanted = " or ".join(n for n in names if n != "None")
    raise InputError(path, f"{section}.{key} = {value!r}; expected {wanted}", field=key)


def _check_file_list(path: Path, section: str, key: str, value: Any) -> None:
    """A list of file names or ``{path = "…", crs = "…"}`` tables."""
    if not isinstance(value, list) or not value:
        raise InputError(path, f"{section}.{key} = {value!r}; expected a non-empty list of file names", field=key)
    for k, entry in enumerate(value):
        if isinstance(entry, str):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and set(entry) <= {"path", "crs"} and (
            entry.get("crs") is None or isinstance(entry.get("crs"), str)
        ):
            continue
        raise InputError(
            path,
            f"{section}.{key}[{k}] = {entry!r}; expected a file name or a table "
            '{path = "file.csv", crs = "gcj02"}',
            field=key,
        )


def _check_service_table(path: Path, section: str, key: str, value: Any) -> None:
    """A table facility id → a list of grid ids, or "all" (``plan.cross_grid_service``)."""
    if not isinstance(value, dict):
        raise InputError(path, f"{section}.{key} = {value!r}; expected a table facility_id = [grid ids] or \"all\"",
                         field=key)
    for fid, grids in value.items():
        ok = grids == "all" or (isinstance(grids, list) and grids and all(isinstance(g, str) for g in grids))
        if not ok:
            raise InputError(
                path, f"{section}.{key}.{fid} = {grids!r}; expected a non-empty list of grid ids (G1, …, or the lead's "
                "facility id) or \"all\"", field=f"{key}.{fid}",
            )


def _build_section(path: Path, name: str, cls: type, values: Any):
    if not isinstance(values, dict):
        raise InputError(path, f"[{name}] must be a table", field=name)
    names = [f.name for f in dataclasses.fields(cls)]
    _check_keys(path, f"[{name}]", values, names)
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    for key, value in values.items():
        _check_type(path, name, key, value, types[key])
        choices = _CHOICES.get((name, key))
        if choices and value not in choices:
            raise InputError(path, f"{name}.{key} = {value!r}; expected one of {', '.join(choices)}", field=key)
        _check_range(path, name, key, value)
    return cls(**values)


def _read_toml(path: Path) -> dict[str, Any]:
    """The scenario file's TOML; UTF-8 with or without a byte-order mark (Windows Notepad writes one)."""
    if path.is_symlink() and not path.exists():
        raise InputError(path, "broken symbolic link or link loop; expected a scenario file (TOML)")
    if not path.exists():
        raise InputError(path, "scenario file not found")
    if path.is_dir():
        raise InputError(path, "is a folder; expected a scenario file (TOML), e.g. scenarios/panjin.toml")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(path, "the scenario file is empty; expected TOML with at least name, city and data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = " (it looks like GBK/GB18030)"
        except UnicodeDecodeError:
            pass
        raise InputError(
            path, f"not UTF-8 text{hint}: undecodable byte at line {line}; save the file as UTF-8", row=f"line {line}"
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from exc


def _set_dotted(path: Path, raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Apply one ``--set section.key=value`` override; every part but the last must name a table."""
    parts = dotted.split(".")
    if not all(parts):
        raise InputError(path, f"--set {dotted}=…: empty key part; expected e.g. grids.count=3", field="--set")
    node = raw
    for k, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            where = ".".join(parts[: k + 1])
            raise InputError(path, f"--set {dotted}=…: '{where}' is a value, not a table", field="--set")
    node[parts[-1]] = value


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read a scenario TOML file.

    Parameters
    ----------
    path : the scenario file
    overrides : dotted keys to set after reading, e.g. ``{"grids.count": 3, "units.resolution": 7}``
        (used by ``caregrid sweep`` and the CLI's ``--set``)
    """
    path = Path(path)
    raw = _read_toml(path)
    path = path.resolve()
    overrides = dict(overrides or {})
    selection = overrides.pop("changes", CHANGES_ALL)  # --set changes=all|none|label+label…
    for dotted, value in overrides.items():
        if dotted in ("grids.count", "grids.min", "grids.max"):
            # a fixed count and a range exclude each other: an override replaces whichever the file had
            drop = ("min", "max") if dotted == "grids.count" else ("count",)
            for key in drop:
                raw.get("grids", {}).pop(key, None)
        _set_dotted(path, raw, dotted, value)
    _check_keys(path, "the scenario's top level", raw, _TOP + tuple(_SECTIONS))
    for key in ("name", "city", "data"):
        if key not in raw:
            raise InputError(path, f"missing required key '{key}'", field=key)
    sections = {name: _build_section(path, name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    base = path.parent
    data = (base / raw["data"]).resolve()
    if not data.is_dir():
        raise InputError(path, f"data folder {data} does not exist", field="data")
    output = raw.get("output")
    districts = raw.get("districts", "urban")
    if not (districts in ("urban", "all") or isinstance(districts, list)):
        raise InputError(path, "expected 'urban', 'all' or a list of adcodes", field="districts")
    if isinstance(districts, list):
        districts = [str(d) for d in districts]
    scenario = Scenario(
        name=str(raw["name"]),
        city=str(raw["city"]),
        data=data,
        districts=districts,
        rules=_rules_reference(base, str(raw.get("rules", "liaoning-2023"))),
        targets=_rules_reference(base, str(raw.get("targets", "liaoning-2023"))),
        output=(base / output).resolve() if output else None,
        description=str(raw.get("description", "")),
        changes=select_changes(path, parse_changes(path, raw.get("changes", [])), selection),
        path=path,
        **sections,
    )
    g = scenario.grids
    if g.count is not None and (g.min is not None or g.max is not None):
        raise InputError(path, "give either grids.count or grids.min/grids.max, not both", field="grids.count")
    if scenario.units.kind == "polygons" and not scenario.inputs.units:
        raise InputError(path, "units.kind = 'polygons' needs inputs.units (a polygon file)", field="inputs.units")
    _check_plan(path, scenario)
    load_targets(scenario.targets)  # a broken targets file is refused now, naming the file and its key
    return scenario


def _rules_reference(base: Path, rules: str) -> str:
    """A rule set is a bundled id (``liaoning-2023``) or a TOML file, resolved against the scenario's folder."""
    if rules.endswith(".toml") or "/" in rules or "\\" in rules:
        p = Path(rules)
        return str(p if p.is_absolute() else (base / p).resolve())
    return rules


def _check_plan(path: Path, scenario: Scenario) -> None:
    """Cross-field checks: what a mode needs, and ranges that involve two keys."""
    g, p = scenario.grids, scenario.plan
    if g.min is not None and g.max is not None and g.min > g.max:
        raise InputError(path, f"grids.min = {g.min} exceeds grids.max = {g.max}", field="grids.min")
    if g.min_population is not None and g.max_population is not None and g.min_population > g.max_population:
        raise InputError(
            path, f"grids.min_population = {g.min_population} exceeds grids.max_population = {g.max_population}",
            field="grids.min_population",
        )
    if p.mode == "given_layout" and not p.layout:
        raise InputError(
            path,
            "plan.mode = 'given_layout' needs plan.layout (a polygon file with grid_id, or a unit_id,grid_id CSV)",
            field="plan.layout",
        )
    if scenario.ems.stations is not None and scenario.ems.coverage is not None:
        raise InputError(path, "give either ems.stations (maximal covering) or ems.coverage (set covering), not both",
                         field="ems.stations")
    if p.mode == "fixed_leads" and not p.leads:
        raise InputError(path, "plan.mode = 'fixed_leads' needs plan.leads = [facility ids]", field="plan.leads")
    _check_ensemble(path, scenario.ensemble)


def _check_ensemble(path: Path, e: EnsembleSettings) -> None:
    """``[ensemble]``: a speed range of two speeds, known location qualities, each facility in one site group."""
    if e.speed_range and not (len(e.speed_range) == 2 and 0 < e.speed_range[0] <= e.speed_range[1] <= 200):
        raise InputError(path, f"ensemble.speed_range = {e.speed_range!r}; expected [low, high] km/h with "
                         "0 < low <= high <= 200", field="ensemble.speed_range")
    bad = [q for q in e.move if q not in _LOCATION_QUALITIES]
    if bad:
        raise InputError(path, f"ensemble.move = {e.move!r}: unknown location quality {bad[0]!r}; expected some of "
                         f"{', '.join(_LOCATION_QUALITIES)}", field="ensemble.move")
    seen: dict[str, int] = {}
    for k, group in enumerate(e.same_site):
        if len(group) < 2:
            raise InputError(path, f"ensemble.same_site[{k}] = {group!r}; expected two or more facility ids that "
                             "stand together", field="ensemble.same_site")
        for fid in group:
            if fid in seen:
                raise InputError(path, f"ensemble.same_site: {fid} is in groups {seen[fid]} and {k}; expected each "
                                 "facility in one group", field="ensemble.same_site")
            seen[fid] = k


# ------------------------------------------------------------------------------------------ what-if changes
#: keys each change action accepts (besides ``action``, ``label`` and ``note``), and those it requires
CHANGE_KEYS: dict[str, tuple[str, ...]] = {
    "add": ("id", "name", "level", "grade", "kind", "ownership", "lon", "lat", "crs", "beds", "outpatient_daily",
            "location_quality", "continuing_care"),
    "change": ("id", "level", "grade", "kind", "ownership", "beds", "outpatient_daily", "continuing_care"),
    "close": ("id",),
    "link": ("ids",),
    # the planner's real location of a facility (e.g. dragged in `caregrid app`)
    "move": ("id", "lon", "lat", "crs", "location_quality"),
}
CHANGE_REQUIRED: dict[str, tuple[str, ...]] = {
    "add": ("id", "name", "level", "kind", "lon", "lat"),
    "change": ("id",),
    "close": ("id",),
    "link": ("ids",),
    "move": ("id", "lon", "lat"),
}
#: what a change may set on an existing facility
CHANGE_FIELDS = ("level", "grade", "kind", "ownership", "beds", "outpatient_daily", "continuing_care")
_CHANGE_VOCABULARY = {
    "level": (vocabulary.LEVEL_SYNONYMS, vocabulary.LEVELS),
    "kind": (vocabulary.KIND_SYNONYMS, vocabulary.KINDS),
    "ownership": (vocabulary.OWNERSHIP_SYNONYMS, vocabulary.OWNERSHIPS),
}
_LOCATION_QUALITIES = ("exact", "street", "district_seat", "district_centroid", "modelled")
#: ``--set changes=…`` selections besides change labels
CHANGES_ALL, CHANGES_NONE = "all", "none"


def _change_error(path: Path, k: int, key: str, message: str) -> InputError:
    return InputError(path, message, row=f"changes[{k}]", field=key)


def _change_number(path: Path, k: int, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(float(value)):
        raise _change_error(path, k, key, f"{key} = {value!r}; expected a finite number")
    if key in ("beds", "outpatient_daily") and value < 0:
        raise _change_error(path, k, key, f"{key} = {value!r}; expected a number ≥ 0")
    return float(value)


def _change_ids(path: Path, k: int, key: str, value: Any) -> list[str]:
    if not (isinstance(value, list) and len(value) >= 2 and all(isinstance(v, str) and v.strip() for v in value)):
        raise _change_error(path, k, key, f"ids = {value!r}; expected a list of at least two facility ids "
                            "[main campus, other campus, …]")
    ids = [v.strip() for v in value]
    if len(set(ids)) < len(ids):
        raise _change_error(path, k, key, f"ids = {value!r}; a campus is listed twice")
    return ids


def _change_flag(path: Path, k: int, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _change_error(path, k, key, f"{key} = {value!r}; expected true or false")
    return value


#: checks of the values that are not text
_CHANGE_CHECKS = {"lon": _change_number, "lat": _change_number, "beds": _change_number,
                  "outpatient_daily": _change_number, "ids": _change_ids, "continuing_care": _change_flag}


def _change_value(path: Path, k: int, key: str, value: Any) -> Any:
    """One value of a change, checked and normalised (Chinese terms → English values)."""
    if key in _CHANGE_CHECKS:
        return _CHANGE_CHECKS[key](path, k, key, value)
    if not isinstance(value, str) or (not value.strip() and key != "note"):
        raise _change_error(path, k, key, f"{key} = {value!r}; expected text")
    value = value.strip()
    if key == "level" and vocabulary.level_of_grade(value):
        return value  # a grade such as 三级甲等: read below (it also sets the grade)
    if key in _CHANGE_VOCABULARY:
        synonyms, values = _CHANGE_VOCABULARY[key]
        if value.lower() not in synonyms:
            raise _change_error(path, k, key, f"{key} = {value!r}; expected one of {vocabulary.allowed_text(values)}")
        return synonyms[value.lower()]
    if key == "location_quality" and value not in _LOCATION_QUALITIES:
        raise _change_error(path, k, key, f"{key} = {value!r}; expected one of {', '.join(_LOCATION_QUALITIES)}")
    return value


def _parse_change(path: Path, k: int, raw: Any) -> Change:
    """``[[changes]]`` entry ``k``: known action, its keys only, the keys it needs, values of the right kind."""
    if not isinstance(raw, dict):
        raise InputError(path, f"changes[{k}] = {raw!r}; expected a table [[changes]] with action = …",
                         row=f"changes[{k}]", field="changes")
    action = raw.get("action")
    if action not in CHANGE_KEYS:
        raise _change_error(path, k, "action", f"action = {action!r}; expected one of {', '.join(CHANGE_KEYS)}")
    allowed = ("action", "label", "note", *CHANGE_KEYS[action])
    for key in raw:
        if key not in allowed:
            raise _change_error(path, k, key, f"unknown key '{key}' for action '{action}'; allowed keys: "
                                + ", ".join(allowed))
    for key in CHANGE_REQUIRED[action]:
        if key not in raw:
            raise _change_error(path, k, key, f"action '{action}' needs '{key}'; it needs "
                                + ", ".join(CHANGE_REQUIRED[action]))
    values = {key: _change_value(path, k, key, v) for key, v in raw.items() if key != "action"}
    if action == "change" and not set(values) & set(CHANGE_FIELDS):
        raise _change_error(path, k, "id", "action 'change' needs at least one of " + ", ".join(CHANGE_FIELDS))
    level = values.get("level")
    if level is not None and vocabulary.level_of_grade(level):
        values.setdefault("grade", level)
        values["level"] = vocabulary.level_of_grade(level)
    if not values.get("label"):
        values["label"] = f"{action}_{values['id'] if 'id' in values else values['ids'][0]}"
    return Change(action=action, index=k, **values)


def parse_changes(path: Path, raw: Any) -> list[Change]:
    """The scenario's ``[[changes]]`` list (see :class:`Change`); labels must be unique."""
    if not isinstance(raw, list):
        raise InputError(path, f"changes = {raw!r}; expected a list of tables [[changes]]", field="changes")
    changes = [_parse_change(path, k, entry) for k, entry in enumerate(raw)]
    seen: dict[str, int] = {}
    for c in changes:
        if c.label in (CHANGES_ALL, CHANGES_NONE) or "+" in c.label or "," in c.label:
            raise _change_error(path, c.index, "label", f"label = {c.label!r}; 'all', 'none', '+' and ',' are "
                                "reserved for --set changes=…; expected a name such as upgrade_dawa")
        if c.label in seen:
            raise _change_error(path, c.index, "label", f"label {c.label!r} is already used by "
                                f"changes[{seen[c.label]}]; expected a label of its own")
        seen[c.label] = c.index
    return changes


def select_changes(path: Path, changes: list[Change], selection: Any) -> list[Change]:
    """The changes a ``--set changes=…`` selection switches on.

    ``all`` keeps every change, ``none`` none; otherwise labels joined by ``+`` (``upgrade_dawa+new_chc``) or a
    TOML list of labels keep those changes, in the scenario file's order.
    """
    if isinstance(selection, str):
        text = selection.strip()
        if text == CHANGES_ALL:
            return list(changes)
        if text in (CHANGES_NONE, ""):
            return []
        labels = [x.strip() for x in text.split("+")]
    elif isinstance(selection, list) and all(isinstance(x, str) for x in selection):
        labels = [x.strip() for x in selection]
    else:
        raise InputError(path, f"--set changes={selection!r}; expected all, none or change labels joined by +",
                         field="--set changes")
    known = [c.label for c in changes]
    unknown = [x for x in labels if x not in known]
    if unknown:
        raise InputError(
            path,
            f"--set changes: unknown change label(s) {', '.join(unknown)}; the scenario's changes are "
            + (", ".join(known) or "none") + " (or all, none)",
            field="--set changes",
        )
    return [c for c in changes if c.label in labels]
