"""evaluate stage: one check per rule (compliance), indicators, both reading one GridPartition (evaluate_plan runs
them on a plan); the independent verifier of written run folders (:mod:`.verify`, its own code)."""

from ..config.rules import STATUSES, failed_checks
from .compliance import CITY_CHECKS, GRID_CHECKS, Outcome, RuleContext, check_rules, compliance_table
from .evaluation import census_population, evaluate_plan
from .indicators import compute_indicators, weighted_quantile
from .partition import GridPartition
from .verify import VerificationError, assert_valid_run, verify_run

__all__ = [
    "CITY_CHECKS",
    "GRID_CHECKS",
    "GridPartition",
    "Outcome",
    "STATUSES",
    "failed_checks",
    "RuleContext",
    "VerificationError",
    "assert_valid_run",
    "census_population",
    "check_rules",
    "compliance_table",
    "compute_indicators",
    "evaluate_plan",
    "verify_run",
    "weighted_quantile",
]
