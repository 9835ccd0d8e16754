"""Panjin's embedded data copied to a temporary folder with one table's rows edited (a planner's own columns)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def panjin_copy(base: Path, table: str, edit: Callable[[dict[str, str]], None]) -> Path:
    """Copy ``geodata/panjin`` and ``geodata/liaoning`` under ``base``, call ``edit(row)`` on every row of
    ``panjin/<table>`` (it sets cells in place; a new key becomes a new column) and return the copied Panjin folder
    (a scenario's ``data``)."""
    shutil.copytree(ROOT / "geodata" / "panjin", base / "panjin")
    shutil.copytree(ROOT / "geodata" / "liaoning", base / "liaoning")
    path = base / "panjin" / table
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        edit(row)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return base / "panjin"
