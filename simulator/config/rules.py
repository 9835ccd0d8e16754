"""Rule sets as data (``simulator/rules/<id>.toml``); ``liaoning-2023`` is the default."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class RuleSet:
    """A province's rules; fields mirror the TOML tables (see ``rules/liaoning-2023.toml``)."""

    id: str
    title: str
    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def min_grids(self) -> int:
        return int(self.raw["grids"]["min_count"])


def available_rule_sets() -> list[str]:
    folder = resources.files("simulator.config") / "rules"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_rules(name_or_path: str) -> RuleSet:
    """Load a packaged rule set by id (``liaoning-2023``) or a rule file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("simulator.config") / "rules" / f"{name_or_path}.toml"
        if not res.is_file():
            raise InputError(
                None, f"unknown rule set {name_or_path!r}; available: {', '.join(available_rule_sets())}", field="rules"
            )
        text = res.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    return RuleSet(id=raw["id"], title=raw.get("title", raw["id"]), raw=raw)


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


def required_members(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    """Mask of facilities that satisfy rule 3 (secondary comprehensive hospital or continuing care)."""
    m = rules["members"]
    return (
        (facilities["level"].isin(m["required_levels"]) & facilities["kind"].isin(m["required_kinds"]))
        | facilities["kind"].isin(m["continuing_care_kinds"])
    ).to_numpy() & facilities["in_city"].to_numpy()


def primary_care(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    return (
        facilities["kind"].isin(rules["referral"]["primary_care_kinds"]).to_numpy() & facilities["in_city"].to_numpy()
    )


def cross_grid(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    return facilities["kind"].isin(rules["cross_grid"]["kinds"]).to_numpy() & facilities["in_city"].to_numpy()


def collaborating_candidates(facilities: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    """External units (outside the city, or provincial hospitals) that can collaborate with groups (rule 4)."""
    c = rules["collaborating"]
    external = ~facilities["in_city"].to_numpy() | (facilities["ownership"] == "provincial").to_numpy()
    return external & facilities["level"].isin(c["external_levels"]).to_numpy()
