"""Rule compliance of a plan: one row per rule per grid and per city (``compliance.csv``)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..config.rules import RuleSet, eligible_leads, required_members
from ..plan.groups import grid_sort_key
from ..units.graph import components_per_grid

COLUMNS = ["rule_id", "scope", "rule_en", "rule_zh", "required", "actual", "passed"]


def grid_components(unit_grid: np.ndarray, adjacency: sp.csr_matrix) -> dict[str, int]:
    """Number of connected pieces of each grid, keyed by the grid label as text."""
    return {str(g): c for g, c in components_per_grid(unit_grid, adjacency).items()}


def compliance_table(
    units: gpd.GeoDataFrame,
    unit_grid: np.ndarray,
    adjacency: sp.csr_matrix,
    grid_lead: dict[str, str],
    facilities: gpd.GeoDataFrame,
    groups: pd.DataFrame,
    rules: RuleSet,
    *,
    allow_enterprise: bool,
    census_population: int | None = None,
    pop_bounds: tuple[float | None, float | None] = (None, None),
    min_beds_per_1000: float | None = None,
) -> pd.DataFrame:
    """Check every rule of ``rules`` on a plan; returns the table with columns :data:`COLUMNS`."""
    rows = []
    grids = sorted(grid_lead, key=grid_sort_key)
    # a planner's layout may hold grids without an eligible lead: they count as grids but form no group
    all_grids = sorted({str(g) for g in unit_grid} | set(grids), key=grid_sort_key)
    n_min = rules.min_grids
    rows.append(
        (
            "R1.grids",
            "city",
            f"At least {n_min} grids",
            f"至少{n_min}个网格",
            f">= {n_min}",
            len(all_grids),
            len(all_grids) >= n_min,
        )
    )
    pop = units["population"].to_numpy(dtype=float)
    assigned = np.isin(unit_grid, grids)
    covered = float(pop[assigned].sum())
    total = float(pop.sum()) if census_population is None else float(census_population)
    rows.append(
        (
            "R1.coverage",
            "city",
            "Grids cover every resident, each in exactly one grid with a medical group",
            "网格覆盖全部常住人口，每位居民仅属一个网格（且网格有医疗集团）",
            f"{total:,.0f}",
            f"{covered:,.0f} in grids with a group",
            bool(assigned.all()) and abs(covered - total) < 0.5,
        )
    )
    leads = list(grid_lead.values())
    rows.append(
        (
            "R2.one_group_per_grid",
            "city",
            "One medical group per grid, each with its own lead",
            "每个网格组建一个医疗集团",
            f"{len(all_grids)} groups with distinct leads",
            f"{len(set(leads))} groups with distinct leads",
            len(set(leads)) == len(all_grids),
        )
    )

    fid = facilities["facility_id"].to_numpy()
    eligible = eligible_leads(facilities, rules, allow_enterprise)
    strict = eligible_leads(facilities, rules, False)
    req = required_members(facilities, rules)
    comps = grid_components(unit_grid, adjacency)
    share_o, share_b = rules["referral"]["outpatient_share"], rules["referral"]["bed_share"]
    for g in grids:
        li = int(np.flatnonzero(fid == grid_lead[g])[0])
        lead = facilities.iloc[li]
        desc = f"{lead['name']} ({lead['grade'] or lead['level']}, {lead['kind']}, {lead['ownership']})"
        if eligible[li] and not strict[li]:
            desc += "; enterprise-owned lead, allowed by the scenario switch 企业办医院牵头（方案允许）"
        rows.append(
            (
                "R2.lead",
                g,
                "Led by a tertiary (三级) comprehensive or TCM hospital at city or district level",
                "由市级或区级三级综合医院（含中医医院）牵头",
                "eligible lead",
                desc,
                bool(eligible[li]),
            )
        )
        members = groups[(groups.grid_id == g) & groups.role.isin(["member", "lead"])]["facility_id"]
        n_req = int(req[np.isin(fid, members.to_numpy())].sum())
        need = rules["members"]["min_required"]
        rows.append(
            (
                "R3.member",
                g,
                "At least one secondary comprehensive hospital or continuing-care facility "
                "(rehab, nursing) inside the grid",
                "至少包含1家二级综合医院或接续性医疗机构（康复、护理）",
                f">= {need}",
                n_req,
                n_req >= need,
            )
        )
        n_col = int(((groups.grid_id == g) & (groups.role == "collaborating")).sum())
        need_c = rules["collaborating"]["min_per_group"]
        rows.append(
            (
                "R4.collaborating",
                g,
                "At least one collaborating unit (provincial hospital / regional medical centre)",
                "至少1家协作单位（省级医院/区域医疗中心）",
                f">= {need_c}",
                n_col,
                n_col >= need_c,
            )
        )
        for rid, col, cap_col, share, en, zh in (
            (
                "R5.outpatient",
                "reserved_outpatient_slots",
                "outpatient_daily",
                share_o,
                "Lead reserves ≥ 1/3 of daily outpatient slots for primary-care referrals",
                "牵头医院≥1/3门诊号源下沉基层",
            ),
            (
                "R5.beds",
                "reserved_beds",
                "beds",
                share_b,
                "Lead reserves ≥ 1/4 of beds for primary-care referrals",
                "牵头医院≥1/4住院床位下沉基层",
            ),
        ):
            cap = lead[cap_col]
            if not np.isfinite(cap):
                rows.append((rid, g, en, zh, f"{share:.3f} × capacity", "no data (capacity unknown)", False))
                continue
            need_r = math.ceil(share * cap - 1e-9)
            pcs = groups[(groups.grid_id == g) & (groups.role == "member")]["facility_id"]
            alloc = facilities.loc[
                facilities.facility_id.isin(pcs) & facilities.kind.isin(rules["referral"]["primary_care_kinds"]), col
            ].sum()
            rows.append(
                (
                    rid,
                    g,
                    en,
                    zh,
                    f">= {need_r} (of {cap:.0f})",
                    f"{alloc:.0f} allocated to primary care",
                    bool(alloc >= need_r),
                )
            )
        rows.append(
            (
                "R6.contiguous",
                g,
                "Grid is one connected piece of planning units",
                "网格连片（地域相连）",
                "1 piece",
                f"{comps[g]} piece(s)",
                comps[g] == 1,
            )
        )
        gpop = float(pop[unit_grid == g].sum())
        lo, hi = pop_bounds
        if lo is not None or hi is not None:
            ok = (lo is None or gpop >= lo - 0.5) and (hi is None or gpop <= hi + 0.5)
            rows.append(
                (
                    "S.population",
                    g,
                    "Grid population within the scenario's bounds",
                    "网格人口在方案范围内",
                    f"{lo or 0:,.0f}–{hi or float('inf'):,.0f}",
                    f"{gpop:,.0f}",
                    ok,
                )
            )
        if min_beds_per_1000 is not None:
            beds = facilities.loc[
                facilities.facility_id.isin(
                    groups[(groups.grid_id == g) & groups.role.isin(["member", "lead"])]["facility_id"]
                ),
                "beds",
            ].sum()
            rate = beds / gpop * 1000 if gpop else float("nan")
            rows.append(
                (
                    "S.beds_per_1000",
                    g,
                    "Group beds per 1,000 residents",
                    "每千人口集团床位数",
                    f">= {min_beds_per_1000}",
                    f"{rate:.2f}",
                    bool(rate >= min_beds_per_1000 - 1e-9),
                )
            )
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["actual"] = df["actual"].astype(str)
    return df
