"""Rule sets as data (``simulator/config/rules/<id>.toml``); ``liaoning-2023`` is the default.

A rule file holds the thresholds (tables ``[grids]``, ``[lead]``, ``[members]``, …) and the rule catalogue
(``[[catalogue]]``): every rule id with its English and Chinese text and the short wording pre-check messages use.
No rule text lives in the code; adding a province's rules means adding one TOML file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, RuleFailure

#: rule ids the code checks or reports (compliance, pre-checks); every rule file's catalogue must define them
CHECKED_RULE_IDS = (
    "R1.grids",
    "R1.coverage",
    "R2.one_group_per_grid",
    "R2.lead",
    "R3.member",
    "R3.maternal_child",
    "R3.public_health",
    "R4.collaborating",
    "R5.outpatient",
    "R5.beds",
    "R5.primary_care",
    "R6.contiguous",
    "S.population",
    "S.beds_per_1000",
    "P.shared_centres",
)
CATALOGUE_FIELDS = ("id", "scope", "label", "text_en", "text_zh", "short_en")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\}")

#: what a compliance row can say: ``passed`` / ``failed`` (checked against the plan and its data), ``planned`` (a
#: figure the plan sets, nothing to check yet, e.g. a referral reservation nobody has declared) or ``no_data`` (the
#: data cannot judge the rule, e.g. the city's data holds no facility of the kind)
STATUSES = ("passed", "failed", "planned", "no_data")

#: readings of the pilot plan's words the code uses; every rule file defines their texts under ``[readings.<id>]``
READING_IDS = (
    "lead_city_district",
    "lead_enterprise_allowed",
    "lead_outside_grid",
    "lead_inside_grid",
    "member_at_least_secondary",
    "member_secondary_only",
    "cross_grid_reach",
    "cross_grid_every_group",
    "collaborating_declared",
    "collaborating_distance",
    "collaborating_named",
)
#: ``plan.member_reading``: does a non-leading tertiary comprehensive hospital satisfy "至少包括二级综合性医院"?
MEMBER_READINGS = ("at_least_secondary", "secondary_only")
#: ``plan.cross_grid_reading``: which grids a cross-grid institution serves
CROSS_GRID_READINGS = ("reach", "every_group")


def failed_checks(compliance: pd.DataFrame) -> np.ndarray:
    """(rows,) bool: the rule checks that fail (``status == "failed"``; tables without ``status``: not ``passed``)."""
    if "status" in compliance:
        return (compliance["status"].astype(str) == "failed").to_numpy()
    return ~compliance["passed"].astype(bool).to_numpy()



@dataclass(frozen=True)
class RuleText:
    """One entry of the rule catalogue, with ``{table.key}`` placeholders already filled in.

    Parameters
    ----------
    id : rule id, e.g. ``"R3.member"`` (the ``rule_id`` column of ``compliance.csv``)
    scope : ``"city"`` (one row per plan) or ``"grid"`` (one row per grid)
    label : how messages name the rule, e.g. ``"rule 3"``
    text_en, text_zh : the rule in English and Chinese (``rule_en`` / ``rule_zh`` of ``compliance.csv``)
    short_en : short requirement wording used inside pre-check messages
    """

    id: str
    scope: str
    label: str
    text_en: str
    text_zh: str
    short_en: str


@dataclass(frozen=True)
class RuleSet:
    """A province's rules; ``raw`` mirrors the TOML tables, ``catalogue`` maps rule id → :class:`RuleText`."""

    id: str
    title: str
    raw: dict[str, Any]
    catalogue: Mapping[str, RuleText] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def min_grids(self) -> int:
        """Fewest grids a city may have (``grids.min_count``)."""
        return int(self.raw["grids"]["min_count"])

    def text(self, rule_id: str) -> RuleText:
        """Catalogue entry of ``rule_id`` (``KeyError`` for an id the rule file does not define)."""
        return self.catalogue[rule_id]

    def reading(self, reading_id: str) -> str:
        """The text of a reading (``"English 中文"``) from the rule file's ``[readings.<id>]``."""
        r = self.raw["readings"][reading_id]
        return f"{r['en']} {r['zh']}"

    def failure(self, rule_id: str, facts: str, fix: str = "") -> RuleFailure:
        """A :class:`RuleFailure` whose message reads ``"<label> fails: <facts>"`` (e.g. ``rule 3 fails: …``)."""
        return RuleFailure(rule_id, f"{self.text(rule_id).label} fails: {facts}", fix)


def available_rule_sets() -> list[str]:
    folder = resources.files("simulator.config") / "rules"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _fill(source: str | None, text: str, raw: dict[str, Any], where: str) -> str:
    """Replace ``{table.key}`` in ``text`` by that value of the rule file (integers plainly, floats with ``g``)."""

    def value(m: re.Match) -> str:
        table, key = m.group(1), m.group(2)
        try:
            v = raw[table][key]
        except (KeyError, TypeError):
            raise InputError(source, f"{where} names {{{table}.{key}}}, which the rule file does not define",
                             field="catalogue") from None
        return f"{v:g}" if isinstance(v, float) else str(v)

    return _PLACEHOLDER.sub(value, text)


def _catalogue(source: str | None, raw: dict[str, Any]) -> dict[str, RuleText]:
    """Parse and check ``[[catalogue]]``: every field present, ids unique, every checked rule id defined."""
    entries = raw.get("catalogue")
    if not isinstance(entries, list):
        raise InputError(source, "the rule file has no [[catalogue]] of rule ids and texts", field="catalogue")
    out: dict[str, RuleText] = {}
    for k, entry in enumerate(entries):
        missing = [f for f in CATALOGUE_FIELDS if not isinstance(entry.get(f), str)]
        if missing:
            raise InputError(source, f"[[catalogue]] entry {k + 1} lacks text field(s) {', '.join(missing)}",
                             field="catalogue")
        if entry["id"] in out:
            raise InputError(source, f"rule id {entry['id']} is defined twice in [[catalogue]]", field="catalogue")
        if entry["scope"] not in ("city", "grid"):
            raise InputError(source, f"rule {entry['id']}: scope must be \"city\" or \"grid\", got {entry['scope']!r}",
                             field="catalogue")
        texts = {f: _fill(source, entry[f], raw, f"rule {entry['id']} {f}") for f in CATALOGUE_FIELDS}
        out[entry["id"]] = RuleText(**texts)
    absent = [r for r in CHECKED_RULE_IDS if r not in out]
    if absent:
        raise InputError(source, f"[[catalogue]] lacks rule id(s) {', '.join(absent)}", field="catalogue")
    return out


def load_rules(name_or_path: str) -> RuleSet:
    """Load a packaged rule set by id (``liaoning-2023``) or a rule file by path.

    Raises
    ------
    InputError
        unknown id, or a catalogue that lacks a rule id the code checks, a text field, or names an unknown threshold
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path:
        if not path.is_file():
            raise InputError(path, "rule file not found (rules = … in the scenario names it)", field="rules")
        try:
            text, source = path.read_text(encoding="utf-8-sig"), str(path)
        except UnicodeDecodeError as exc:
            raise InputError(path, "the rule file is not UTF-8 text; save it as UTF-8") from exc
    else:
        res = resources.files("simulator.config") / "rules" / f"{name_or_path}.toml"
        if not res.is_file():
            raise InputError(
                None, f"unknown rule set {name_or_path!r}; available: {', '.join(available_rule_sets())}", field="rules"
            )
        text, source = res.read_text(encoding="utf-8"), f"rules/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML: {exc}") from None
    _check_thresholds(source, raw)
    _check_readings(source, raw)
    return RuleSet(id=raw["id"], title=raw.get("title", raw["id"]), raw=raw, catalogue=_catalogue(source, raw))


#: every threshold the code reads: (table, key) → the kind of value expected (None: the top level)
THRESHOLDS: dict[tuple[str | None, str], str] = {
    (None, "id"): "text",
    ("grids", "min_count"): "count",
    ("lead", "levels"): "list",
    ("lead", "kinds"): "list",
    ("lead", "ownerships"): "list",
    ("members", "required_levels"): "list",
    ("members", "higher_levels"): "list",
    ("members", "required_kinds"): "list",
    ("members", "continuing_care_kinds"): "list",
    ("members", "min_required"): "count",
    ("cross_grid", "kinds"): "list",
    ("cross_grid", "maternal_child_kinds"): "list",
    ("cross_grid", "public_health_kinds"): "list",
    ("cross_grid", "reach_share"): "share",
    ("cross_grid", "administrative_kinds"): "list",
    ("cross_grid", "city_wide_ownerships"): "list",
    ("collaborating", "min_per_group"): "count",
    ("referral", "outpatient_share"): "share",
    ("referral", "bed_share"): "share",
    ("referral", "primary_care_kinds"): "list",
}
_KINDS_OF_VALUE = {
    "text": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty text"),
    "count": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number ≥ 0"),
    "list": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of texts"),
    "share": (lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1, "a share in [0, 1]"),
}


def _check_thresholds(source: str, raw: dict[str, Any]) -> None:
    """Every threshold the code reads is present and of the right kind, named with its table."""
    if "targets" in raw:  # the readiness norms moved to the targets file; a copy here would be a second source
        raise InputError(source, "the rule file holds a [targets] table; readiness norms (nurses per doctor, "
                         "ambulances, AEDs) live in the targets file (scenario key targets = …, see "
                         "simulator/config/targets/liaoning-2023.toml); expected no [targets] table", field="targets")
    for (table, key), kind in THRESHOLDS.items():
        node = raw if table is None else raw.get(table)
        where = key if table is None else f"{table}.{key}"
        if not isinstance(node, dict) or key not in node:
            raise InputError(source, f"the rule file lacks {where}", field=where)
        test, expected = _KINDS_OF_VALUE[kind]
        if not test(node[key]):
            raise InputError(source, f"{where} = {node[key]!r}; expected {expected}", field=where)


def _check_readings(source: str, raw: dict[str, Any]) -> None:
    """Every reading the code names has an English and a Chinese text under ``[readings.<id>]``."""
    readings = raw.get("readings")
    for rid in READING_IDS:
        entry = readings.get(rid) if isinstance(readings, dict) else None
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k] for k in ("en", "zh")):
            raise InputError(source, f"the rule file lacks readings.{rid} (en and zh texts)", field=f"readings.{rid}")


@dataclass(frozen=True)
class Switches:
    """The scenario's choices among the readings of the pilot plan's words (``[plan]`` keys).

    Parameters
    ----------
    allow_enterprise_leads : enterprise-owned tertiary hospitals may lead (default: no, "地市级、区级" 原则上)
    lead_inside_grid : the lead must stand inside its grid (default: no, only members are "网格内")
    member_reading : :data:`MEMBER_READINGS`; ``at_least_secondary`` (default) lets a non-leading tertiary
        comprehensive hospital count as the required member
    cross_grid_reading : :data:`CROSS_GRID_READINGS`; ``reach`` (default) or ``every_group`` (each serves all)
    declared_ties : the scenario names an affiliations file (``inputs.affiliations``): collaborating units honour
        declared ties first
    """

    allow_enterprise_leads: bool = False
    lead_inside_grid: bool = False
    member_reading: str = "at_least_secondary"
    cross_grid_reading: str = "reach"
    declared_ties: bool = False

    @classmethod
    def of(cls, scenario: Any) -> Switches:
        """The switches of a scenario (keys a scenario does not have keep their defaults)."""
        plan = getattr(scenario, "plan", None)
        keys = ("allow_enterprise_leads", "lead_inside_grid", "member_reading", "cross_grid_reading")
        values = {k: getattr(plan, k, getattr(cls, k)) for k in keys}
        return cls(**values, declared_ties=bool(getattr(getattr(scenario, "inputs", None), "affiliations", None)))

    def lead_reading(self, rules: RuleSet) -> str:
        """R2.lead's reading: who may lead, and where the lead stands."""
        who = "lead_enterprise_allowed" if self.allow_enterprise_leads else "lead_city_district"
        where = "lead_inside_grid" if self.lead_inside_grid else "lead_outside_grid"
        return f"{rules.reading(who)}; {rules.reading(where)}"

    def member_text(self, rules: RuleSet) -> str:
        """R3.member's reading."""
        return rules.reading(f"member_{self.member_reading}")

    def cross_grid_text(self, rules: RuleSet) -> str:
        """R3.maternal_child / R3.public_health reading."""
        return rules.reading(f"cross_grid_{self.cross_grid_reading}")

    def collaborating_text(self, rules: RuleSet, named: bool = False) -> str:
        """R4.collaborating reading: units the scenario names, declared ties then distance, or distance alone."""
        key = "named" if named else "declared" if self.declared_ties else "distance"
        return rules.reading(f"collaborating_{key}")


def eligible_leads(facilities: gpd.GeoDataFrame, rules: RuleSet, allow_enterprise: bool) -> np.ndarray:
    """Boolean mask of facilities that may lead a group (rule 2)."""
    lead = rules["lead"]
    owners = list(lead["ownerships"]) + (["enterprise"] if allow_enterprise and lead.get("enterprise_switch") else [])
    return (
        facilities["level"].isin(lead["levels"]).to_numpy()
        & facilities["kind"].isin(lead["kinds"]).to_numpy()
        & facilities["ownership"].isin(owners).to_numpy()
        & facilities["in_city"].to_numpy()
        & ~facilities["modelled"].to_numpy()
    )


def continuing_care(facilities: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Mask of facilities offering continuing care 接续性医疗服务: a continuing-care kind (rehab, nursing, hospice) or
    the planner's ``continuing_care`` flag."""
    flag = facilities["continuing_care"] if "continuing_care" in facilities else pd.Series(False, facilities.index)
    kinds = facilities["kind"].isin(rules["members"]["continuing_care_kinds"]).to_numpy()
    return kinds | flag.fillna(False).astype(bool).to_numpy()


def required_members(
    facilities: pd.DataFrame, rules: RuleSet, reading: str = "at_least_secondary"
) -> np.ndarray:
    """Mask of in-city facilities that count as rule 3's required member, the lead of the group aside.

    "至少包括二级综合性医院或能够提供接续性医疗服务的医疗机构", with the lead's "(含中医类医院，下同)": a comprehensive
    hospital (general, integrated or TCM) of ``members.required_levels`` (plus ``members.higher_levels`` under the
    default reading ``at_least_secondary``, which reads "二级" as a floor), or a continuing-care facility
    (:func:`continuing_care`). The caller leaves out the group's own lead.
    """
    m = rules["members"]
    if reading not in MEMBER_READINGS:
        raise ValueError(f"member reading {reading!r}; expected one of {', '.join(MEMBER_READINGS)}")
    levels = list(m["required_levels"]) + (list(m["higher_levels"]) if reading == "at_least_secondary" else [])
    comprehensive = (facilities["level"].isin(levels) & facilities["kind"].isin(m["required_kinds"])).to_numpy()
    return (comprehensive | continuing_care(facilities, rules)) & facilities["in_city"].to_numpy().astype(bool)


def primary_care(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    return (
        facilities["kind"].isin(rules["referral"]["primary_care_kinds"]).to_numpy() & facilities["in_city"].to_numpy()
    )


def cross_grid(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    """Mask of in-city institutions that may serve several grids (``cross_grid.kinds``) 可跨网格提供服务."""
    return facilities["kind"].isin(rules["cross_grid"]["kinds"]).to_numpy() & facilities["in_city"].to_numpy()


#: the kinds of institution every grid must be served by (rule id → ``[cross_grid]`` key of the kinds)
SERVED_BY = {"R3.maternal_child": "maternal_child_kinds", "R3.public_health": "public_health_kinds"}


def collaborating_candidates(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    """External units (outside the city, or provincial hospitals) that can collaborate with groups (rule 4)."""
    c = rules["collaborating"]
    external = ~facilities["in_city"].to_numpy() | (facilities["ownership"] == "provincial").to_numpy()
    return external & facilities["level"].isin(c["external_levels"]).to_numpy()
