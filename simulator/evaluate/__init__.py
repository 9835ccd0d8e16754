"""evaluate stage: one check per rule (compliance), indicators, both reading one GridPartition; the independent
verifier of written run folders (:mod:`.verify`, its own code)."""

from .compliance import CITY_CHECKS, GRID_CHECKS, Outcome, RuleContext, check_rules, compliance_table
from .indicators import compute_indicators, weighted_quantile
from .partition import GridPartition, grid_sort_key
from .verify import VerificationError, assert_valid_run, verify_run

__all__ = [
    "CITY_CHECKS",
    "GRID_CHECKS",
    "GridPartition",
    "Outcome",
    "RuleContext",
    "VerificationError",
    "assert_valid_run",
    "check_rules",
    "compliance_table",
    "compute_indicators",
    "grid_sort_key",
    "verify_run",
    "weighted_quantile",
]
