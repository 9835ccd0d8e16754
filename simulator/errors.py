"""Errors raised for bad input. Every message names the file, the row or feature, the field and what was expected."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input data or scenario.

    Parameters
    ----------
    path : file the problem is in (or ``None`` for in-memory data)
    message : what was expected and what was found
    row : 1-based data row (CSV, header excluded) or 0-based feature index, when one row is at fault
    field : column / key at fault
    """

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        row: int | str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.field = field
        self.detail = message
        where = [self.path or "<in-memory data>"]
        if row is not None:
            where.append(f"{row}" if isinstance(row, str) else f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}")


class PlanningError(RuntimeError):
    """No plan satisfies the rules; the message says which rule fails and why, with the facts."""
