"""Facility figures as people read them: an estimated number says so, and on what basis, wherever it is shown.

The facility files record how each bed or outpatient figure was obtained in ``beds_status`` / ``outpatient_status``:
``fact (...)``, ``estimate (...)`` or ``gap``, and ``planned (scenario change)`` for a figure a what-if change
sets (shown "(planned 规划: Scenario change 方案调整)").
An estimate from the grade rule (the lower bound of the 1994 basic
standard for the hospital's level, geodata/build_facilities.py) is a floor, so it reads "≥ 500 beds (estimate 估算:
grade rule 等级标准下限)"; another estimate names its source in the same place.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..config.labels import Text

#: the parenthesised basis of a status ("estimate (low-confidence SEO page: 120 beds)" -> "low-confidence ...")
_BASIS = re.compile(r"\((.*)\)\s*$")


def is_estimate(status: Any) -> bool:
    """Whether a ``beds_status`` / ``outpatient_status`` value marks the figure as an estimate."""
    return str(status or "").strip().lower().startswith("estimate")


def is_planned(status: Any) -> bool:
    """Whether a figure is set by a what-if change (status ``planned (scenario change)``): the planner's figure."""
    return str(status or "").strip().lower().startswith("planned")


def is_rule_floor(status: Any) -> bool:
    """Whether the estimate is the grade rule's lower bound (the real figure is at least this)."""
    text = str(status or "").lower()
    return is_estimate(status) and ("rule" in text or "lower bound" in text)


def estimate_basis(status: Any) -> str:
    """What an estimate rests on: "grade rule 等级标准下限", the status's own note, or "" when not an estimate."""
    if not is_estimate(status):
        return ""
    if is_rule_floor(status):
        return str(Text.grade_rule)
    found = _BASIS.search(str(status).strip())
    return found.group(1).strip() if found else ""


def estimate_note(status: Any) -> str:
    """"(estimate 估算: grade rule 等级标准下限)" for an estimated figure, "" for a fact or a gap."""
    if not is_estimate(status):
        return ""
    basis = estimate_basis(status)
    return f"({Text.estimate}: {basis})" if basis else f"({Text.estimate})"


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def figure_text(value: Any, status: Any, unit: str = "") -> str:
    """A facility figure with its unit, "≥" for a rule floor and the estimate note; "no data 无数据" when absent.

    Examples
    --------
    >>> figure_text(500.0, "estimate (rule in geodata/build_facilities.py: level lower bound)", "beds")
    '≥ 500 beds (estimate 估算: grade rule 等级标准下限)'
    >>> figure_text(1200, "fact (annual report 2023)", "beds")
    '1,200 beds'
    >>> figure_text(20, "planned (scenario change)", "beds")
    '20 beds (planned 规划: Scenario change 方案调整)'
    """
    v = _number(value)
    if v is None:
        return str(Text.no_data)
    text = ("≥ " if is_rule_floor(status) else "") + f"{v:,.0f}" + (f" {unit}" if unit else "")
    note = estimate_note(status) or (f"({Text.planned_figure}: {Text.change_heading})" if is_planned(status) else "")
    return f"{text} {note}" if note else text
