"""Judge the targets file against figures: ``targets.csv`` (one row per target and scope).

The figures are a table with ``scope`` (grid / district / city), ``scope_id``, ``scope_name`` and one column per
quantity (e.g. ``ambulances_per_30000``). Several such tables (emergency indicators, and whatever another module
computes) are merged on ``(scope, scope_id)``. A target whose quantity no table holds, or whose figure is missing
(NaN), is ``no_data``; otherwise ``passed`` or ``failed`` (the vocabulary of :data:`simulator.config.rules.STATUSES`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..config.rules import STATUSES
from ..config.targets import TargetSet

PASSED, FAILED, NO_DATA = "passed", "failed", "no_data"

#: columns of targets.csv, in order
TARGET_COLUMNS = (
    "target_id",
    "text_en",
    "text_zh",
    "quantity",
    "scope",
    "scope_id",
    "scope_name",
    "baseline",
    "target",
    "norm",
    "year",
    "status",
    "source_quote",
    "source_document",
    "source_url",
    "note",
)
KEYS = ("scope", "scope_id")


def merge_figures(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One figures table from several (outer join on ``scope``, ``scope_id``; the first table's names win)."""
    out: pd.DataFrame | None = None
    for t in tables:
        if t is None or t.empty:
            continue
        if out is None:
            out = t.copy()
            continue
        new = [c for c in t.columns if c not in out.columns or c in KEYS]
        out = out.merge(t[new], on=list(KEYS), how="outer")
    if out is None:
        return pd.DataFrame(columns=[*KEYS, "scope_name"])
    if "scope_name" not in out:
        out["scope_name"] = ""
    return out


def targets_table(targets: TargetSet, figures: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Each target of ``targets`` at each of its scopes that ``figures`` has a row for.

    Parameters
    ----------
    targets : the scenario's targets file (:func:`simulator.config.targets.load_targets`)
    figures : a figures table, or several (merged with :func:`merge_figures`)

    Returns
    -------
    pandas.DataFrame
        :data:`TARGET_COLUMNS`; ``baseline`` is the figure (NaN: no data), ``status`` passed / failed / no_data
    """
    fig = figures if isinstance(figures, pd.DataFrame) else merge_figures(figures)
    rows = []
    for t in targets:
        for scope in t.scopes:
            sel = fig[fig["scope"] == scope] if "scope" in fig else fig.iloc[0:0]
            if t.quantity in fig:
                values = pd.to_numeric(sel[t.quantity], errors="coerce").to_numpy(dtype=float)
            else:
                values = np.full(len(sel), np.nan)
            for (_, r), v in zip(sel.iterrows(), values, strict=True):
                status = NO_DATA if not np.isfinite(v) else PASSED if t.passes(float(v)) else FAILED
                rows.append({
                    "target_id": t.id, "text_en": t.text_en, "text_zh": t.text_zh, "quantity": t.quantity,
                    "scope": scope,
                    "scope_id": str(r["scope_id"]), "scope_name": str(r.get("scope_name", "") or ""),
                    "baseline": v, "target": t.target_text, "norm": t.norm, "year": t.year, "status": status,
                    "source_quote": t.source.quote, "source_document": t.source.document, "source_url": t.source.url,
                    "note": t.note,
                })
    return pd.DataFrame(rows, columns=list(TARGET_COLUMNS))


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    """``{status: rows}`` of a targets table (statuses that occur)."""
    if table.empty:
        return {}
    return {s: int((table["status"] == s).sum()) for s in STATUSES if (table["status"] == s).any()}
