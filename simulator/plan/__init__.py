"""plan stage: pre-checks (:mod:`.precheck`), the modes (:mod:`.make`) and the medical groups (:mod:`.groups`)."""

from .groups import Groups, facility_units, form_groups, grid_labels
from .make import MODES, Plan, make_plan, write_plan
from .precheck import grid_range, precheck

__all__ = [
    "MODES",
    "Groups",
    "Plan",
    "facility_units",
    "form_groups",
    "grid_labels",
    "grid_range",
    "make_plan",
    "precheck",
    "write_plan",
]
