"""config stage: the scenario (what to plan) and the rule set (which rules a plan must satisfy, with their texts)."""

from .rules import (
    CHECKED_RULE_IDS,
    RuleSet,
    RuleText,
    Switches,
    available_rule_sets,
    collaborating_candidates,
    continuing_care,
    cross_grid,
    eligible_leads,
    load_rules,
    primary_care,
    required_members,
)
from .scenario import PlanSettings, Scenario, load_scenario

__all__ = [
    "CHECKED_RULE_IDS",
    "PlanSettings",
    "RuleSet",
    "RuleText",
    "Scenario",
    "Switches",
    "available_rule_sets",
    "collaborating_candidates",
    "continuing_care",
    "cross_grid",
    "eligible_leads",
    "load_rules",
    "load_scenario",
    "primary_care",
    "required_members",
]
