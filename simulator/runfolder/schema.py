"""The run folder's one schema: file names, GeoPackage layers, columns and ``run.json`` keys.

A run folder (``caregrid run --out DIR``) holds::

    plan.gpkg          layers units, grids, facilities (EPSG:4326; the facilities layer keeps the planner's
                       hosts_* capability flags)
    groups.csv         one row per (grid, facility) in a medical group, with its role and basis
    referrals.csv      referral reservations of each lead to its primary-care members (columns REFERRAL_COLUMNS):
                       ``reserved_*_basis`` declared (the lead's declaration, inputs.reservations) / planned (the
                       share rule 5 requires, the plan's figure) / no_data; ``reserved_*_status`` fact / estimate
                       of the lead capacity the share is taken of
    compliance.csv     one row per rule per scope (grid or city)
    indicators.csv     one row per grid and one "city" row (indicators.json: the same as JSON)
    adjacency.csv      unit pairs sharing an edge
    moves.csv          units moved by ``--repair`` (only then)
    emergency.csv      emergency readiness and five-centre coverage per grid, district and city (issue 15)
    targets.csv        each target of the scenario's targets file per scope: baseline, target, status, source
    ems_stations.csv   ambulance stations (existing and new) when the scenario's [ems] asks for siting; also the
                       plan.gpkg layer ems_stations
    shared_centres.csv the host of each shared centre kind per grid (simulator.plan.shared_centres)
    indicators_district.csv   access and capacity indicators per district/county and urban/rural part, with
                       inequality measures; service_lines.csv: the service lines of each group
    family_doctors.csv GPs and family-doctor teams per grid (declared, needed by the norm, shortfall)
    referral_allocations.csv  the lead's reserved slots and beds per receiving team (or facility)
    run.json           the run record (scenario, solver, status, notes, versions, timings)
    .caregrid          marker: a folder caregrid wrote (and may replace), see :mod:`simulator.runfolder.atomic`
    map.html / map.png / map.pdf / report.html    drawn from the files above by :mod:`simulator.render`

:mod:`simulator.runfolder.writer` writes these names and :mod:`simulator.runfolder.reader` reads them; the
independent verifier (:mod:`simulator.evaluate.verify`) deliberately keeps its own reading.
"""

from __future__ import annotations

from typing import Final

from ..load.validate import CAPABILITY_PREFIX
from ..plan.groups import REFERRAL_COLUMNS  # noqa: F401 - columns of referrals.csv (the plan stage forms them)
from .atomic import MARKER  # noqa: F401 - the marker file of every folder caregrid writes (``.caregrid``)

# ------------------------------------------------------------------------------------------------------- files

PLAN_GPKG: Final = "plan.gpkg"
GROUPS_CSV: Final = "groups.csv"
REFERRALS_CSV: Final = "referrals.csv"
COMPLIANCE_CSV: Final = "compliance.csv"
INDICATORS_CSV: Final = "indicators.csv"
INDICATORS_JSON: Final = "indicators.json"
ADJACENCY_CSV: Final = "adjacency.csv"
MOVES_CSV: Final = "moves.csv"
EMERGENCY_CSV: Final = "emergency.csv"
TARGETS_CSV: Final = "targets.csv"
EMS_STATIONS_CSV: Final = "ems_stations.csv"
#: host of each shared centre kind per grid (simulator.plan.shared_centres.CENTRE_COLUMNS)
SHARED_CENTRES_CSV: Final = "shared_centres.csv"
#: every indicator per district/county and per urban/rural part (simulator.evaluate.equity)
INDICATORS_DISTRICT_CSV: Final = "indicators_district.csv"
#: service lines (prevention, rehab, nursing, maternal–child, TCM) each group offers (simulator.evaluate.equity)
SERVICE_LINES_CSV: Final = "service_lines.csv"
#: general practitioners and family-doctor teams per grid: declared, needed, shortfall (simulator.plan.family_doctors)
FAMILY_DOCTORS_CSV: Final = "family_doctors.csv"
#: who receives the lead's reserved slots and beds: family-doctor teams, or the facility without declared teams
REFERRAL_ALLOCATIONS_CSV: Final = "referral_allocations.csv"
RUN_JSON: Final = "run.json"
MAP_HTML: Final = "map.html"
MAP_PNG: Final = "map.png"
MAP_PDF: Final = "map.pdf"
REPORT_HTML: Final = "report.html"
#: written by ``caregrid units`` into the same folder; a run keeps it
UNITS_GPKG: Final = "units.gpkg"

#: files without which a folder is not a run folder at all (the maps need nothing else)
REQUIRED_FOR_MAPS: Final = (PLAN_GPKG,)
#: files a comparison or a report needs
REQUIRED_COMPLETE: Final = (RUN_JSON, INDICATORS_CSV, COMPLIANCE_CSV, PLAN_GPKG)

# ------------------------------------------------------------------------------------------------------ layers

UNITS_LAYER: Final = "units"
GRIDS_LAYER: Final = "grids"
FACILITIES_LAYER: Final = "facilities"
#: ambulance stations (only when the scenario asks for siting)
EMS_STATIONS_LAYER: Final = "ems_stations"
CRS: Final = "EPSG:4326"

#: columns of the units layer (``lon``/``lat`` of the plan are dropped on writing)
UNIT_COLUMNS: Final = (
    "unit_id",
    "district",
    "district_name",
    "population",
    "population_status",
    "area_km2",
    "geometry",
    "grid_id",
    "lead_facility_id",
    "travel_min_to_lead",
)
GRID_COLUMNS: Final = ("grid_id", "lead_facility_id", "lead_name", "population", "area_km2", "geometry")
#: columns of the facilities layer, in this order (those the plan has)
FACILITY_COLUMNS: Final = (
    "facility_id",
    "name",
    "level",
    "grade",
    "kind",
    "ownership",
    "beds",
    "beds_status",
    "outpatient_daily",
    "outpatient_status",
    "location_quality",
    "location_source",
    "modelled",
    "in_city",
    "continuing_care",
    "grid_id",
    "role",
    "reserved_outpatient_slots",
    "reserved_beds",
    "source",
    "change",
    "campus_of",
    "geometry",
)
#: the planner's shared-centre capability flags (``hosts_lab`` …: 1 true / 0 false / blank undeclared) follow those
#: columns in the facilities layer, so the map and the verifier see why a host was chosen
#: (simulator.plan.shared_centres)
CAPABILITY_COLUMN_PREFIX: Final = CAPABILITY_PREFIX


def facility_layer_columns(columns) -> list[str]:
    """Columns of the facilities layer for a plan's facility table with ``columns``: :data:`FACILITY_COLUMNS` it
    has, in that order, with its ``hosts_*`` capability flags (sorted) before ``geometry``."""
    have = [c for c in FACILITY_COLUMNS if c in columns and c != "geometry"]
    flags = sorted(str(c) for c in columns if str(c).startswith(CAPABILITY_COLUMN_PREFIX))
    return have + flags + (["geometry"] if "geometry" in columns else [])


#: boolean columns of the facilities layer (GeoPackage stores them as integers)
FACILITY_BOOL_COLUMNS: Final = ("modelled", "in_city", "continuing_care")
#: id columns kept as text when CSVs are read back (a planner's grid "01" must not become 1)
ID_COLUMNS: Final = ("grid_id", "facility_id", "part_id", "host_facility_id", "host_grid_id")
#: the "grid" of the city-wide row of indicators.csv and the scope of city-wide rule checks
CITY: Final = "city"

#: ``location_quality`` values that are a real address (others are district seats or modelled)
EXACT_LOCATIONS: Final = ("exact", "street")
#: roles in groups.csv
ROLES: Final = ("lead", "member", "cross_grid", "collaborating", "campus")


# ---------------------------------------------------------------------------------------------------- run.json


class RunKey:
    """Keys of ``run.json`` that other code reads (the record holds more: solver details, model size, ...)."""

    SCENARIO: Final = "scenario"
    MODE: Final = "mode"
    RULES: Final = "rules"
    POPULATION_STATUS: Final = "population_status"
    SOLVER: Final = "solver"
    STATUS: Final = "status"
    CONTIGUITY: Final = "contiguity"
    NOTES: Final = "notes"
    SOLVER_NOTES: Final = "solver_notes"
    COMPLIANCE_PASSED: Final = "compliance_passed"
    FAILED_RULES: Final = "failed_rules"
    BRIDGES: Final = "bridges"
    #: the what-if changes applied to the facilities (simulator.load.changes records)
    CHANGES: Final = "changes"
    #: ambulance-station siting facts (model, minutes, stations, covered shares), when the scenario asks for it
    EMS: Final = "ems"
    #: the targets file used and the count of targets.csv rows per status
    TARGETS: Final = "targets"
    #: vary from run to run on the same input: left out when two run folders are compared for sameness
    TIMINGS: Final = "timings"
    VERSIONS: Final = "versions"


#: keys of ``run.json`` that differ between two runs of one scenario (machine speed, installed packages)
VOLATILE_KEYS: Final = (RunKey.TIMINGS, RunKey.VERSIONS)
#: packages whose versions ``run.json`` records
VERSIONED_PACKAGES: Final = (
    "caregrid",
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "scipy",
    "pulp",
    "highspy",
    "h3",
    "pyproj",
)

#: first characters that make a spreadsheet read a CSV cell as a formula; such text cells get a leading apostrophe
FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")
