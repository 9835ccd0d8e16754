"""From many draws to what a planner reads: per-unit agreement, one row per draw, and the ensemble's summary.

Grids are labelled by their lead hospital, so a unit "agrees" across draws when the same hospital leads its grid,
whatever the grid's name in each draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .solve import KEY_INDICATORS, DrawResult

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def lead_matrix(results: list[DrawResult]) -> tuple[np.ndarray, list[str]]:
    """(draws, units) matrix of lead codes into one shared list of lead ids (−1: the draw has no plan)."""
    leads = sorted({fid for r in results for fid in r.leads})
    code = {fid: k for k, fid in enumerate(leads)}
    n = next(r.unit_lead.size for r in results if r.unit_lead is not None)
    mat = np.full((len(results), n), -1, np.int32)
    for row, r in enumerate(results):
        if r.leads:
            remap = np.array([code[fid] for fid in r.leads], np.int32)
            ok = r.unit_lead >= 0
            mat[row, ok] = remap[r.unit_lead[ok]]
    return mat, leads


def unit_agreement(results: list[DrawResult]) -> pd.DataFrame:
    """Per unit: the most frequent lead over the draws with a plan, the share of those draws that agree with it
    (``stability``, 0–1), the share of all draws whose plan put the unit in a grid meeting every rule
    (``feasible_share``), and the share of draws with a plan at all (``plan_share``).

    Ties go to the lead first in id order (deterministic).
    """
    mat, leads = lead_matrix(results)
    n_draws, n = mat.shape
    planned = (mat >= 0).any(axis=1)
    counts = np.zeros((max(len(leads), 1), n), np.int64)
    for k in range(len(leads)):
        counts[k] = (mat == k).sum(axis=0)
    n_plan = int(planned.sum())
    majority = counts.argmax(axis=0)
    top = counts.max(axis=0)
    failed = np.stack([r.unit_failed for r in results])
    return pd.DataFrame({
        "majority_lead": [leads[k] if n_plan and top[i] > 0 else "" for i, k in enumerate(majority)],
        "stability": top / n_plan if n_plan else np.zeros(n),
        "feasible_share": (~failed).mean(axis=0),
        "plan_share": np.full(n, n_plan / n_draws),
    })


def draws_table(results: list[DrawResult], draws) -> pd.DataFrame:
    """One row per draw: seed, status, objective, key indicators, which rules failed, the leads."""
    rows = []
    for r, d in zip(results, draws, strict=True):
        rows.append({
            "draw": r.index, "seed": d.seed, "spawn_key": d.index, "status": r.status, "exit_code": r.exit_code,
            "grids": len(r.leads), "leads": ";".join(r.leads), "objective": r.objective,
            **{k: r.indicators.get(k, np.nan) for k in KEY_INDICATORS},
            "failed_rules": ";".join(r.failed_rules), "speed_kmh": d.speed_kmh,
            "population_perturbed": d.population_seed is not None, "seconds": r.solve_s, "error": r.error[:300],
        })
    return pd.DataFrame(rows)


def summarise(results: list[DrawResult], rule_ids: list[str]) -> dict:
    """Feasible share per rule, indicator quantiles over draws with a plan, and how often each hospital leads."""
    n = len(results)
    planned = [r for r in results if r.status == "plan"]
    per_rule = {rid: sum(rid not in r.failed_rules for r in results) / n for rid in rule_ids}
    quant = {}
    for k in KEY_INDICATORS:
        vals = np.array([r.indicators[k] for r in planned if k in r.indicators], float)
        if vals.size:
            quant[k] = {f"q{int(q * 100):02d}": float(np.quantile(vals, q)) for q in QUANTILES} | {
                "mean": float(vals.mean()), "n": int(vals.size)}
    leads = sorted({fid for r in planned for fid in r.leads})
    status = pd.Series([r.status for r in results]).value_counts().to_dict()
    return {
        "draws": n,
        "status_counts": {str(k): int(v) for k, v in status.items()},
        "plan_share": len(planned) / n,
        "compliant_share": sum(not r.failed_rules and r.status == "plan" for r in results) / n,
        "rule_pass_share": per_rule,
        "indicator_quantiles": quant,
        "lead_share": {fid: sum(fid in r.leads for r in planned) / max(len(planned), 1) for fid in leads},
        "grid_count_share": {str(k): v / max(len(planned), 1) for k, v in sorted(
            pd.Series([len(r.leads) for r in planned]).value_counts().to_dict().items())},
    }
