"""plan stage: pre-checks (:mod:`.precheck`), the modes (:mod:`.make`) and the medical groups (:mod:`.groups`)."""

from .groups import Groups, facility_units, form_groups, grid_labels, grid_sort_key
from .make import MODES, Plan, build_plan
from .precheck import grid_range, precheck

__all__ = [
    "MODES",
    "Groups",
    "Plan",
    "build_plan",
    "facility_units",
    "form_groups",
    "grid_labels",
    "grid_range",
    "grid_sort_key",
    "precheck",
]
