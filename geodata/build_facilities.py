"""Build the facility tables the scenarios read, from the curated facts.

Inputs (hand-curated, every figure with its source; see each folder's SOURCES.md):
``geodata/fuxin/facilities_curated.csv``, ``geodata/panjin/facilities_curated.csv``,
``geodata/liaoning/collaborating_curated.csv``.

Outputs: ``facilities.csv`` beside each curated file (``collaborating_units.csv`` for the external units), the
same rows with beds and daily outpatient capacity filled where no source gives them, by this **documented
estimate rule** (status ``estimate``):

* beds = the lower bound of the bed range for the hospital's level in 《医疗机构基本标准（试行）》 (1994):
  三级综合医院 ≥ 500 beds, 二级 100–499, 一级 20–99 — i.e. 500 / 100 / 20; TCM and specialty hospitals use the same
  level bounds (an assumption: their own standards differ in detail). Maternal–child health, public-health
  (CDC) and unrated facilities get no bed estimate (left empty: "no data", never zero).
* outpatient_daily = 3 × beds, the planning ratio of daily outpatient visits to beds (日门（急）诊量与编制床位数之比
  3:1) of the 综合医院建设标准 (建标 110) — an estimate of capacity, not of actual visits.

Usage: ``python geodata/build_facilities.py`` then ``python geodata/build_primary_care.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

BEDS_BY_LEVEL = {"tertiary": 500, "secondary": 100, "primary": 20}
NO_BED_ESTIMATE_KINDS = {"maternal_child", "public_health"}
OUTPATIENT_PER_BED = 3.0
RULE = "estimate (rule in geodata/build_facilities.py: 医疗机构基本标准 1994 level lower bound)"
RULE_OP = "estimate (rule in geodata/build_facilities.py: 3 daily outpatient visits per bed, 综合医院建设标准)"

PAIRS = [
    (HERE / "fuxin" / "facilities_curated.csv", HERE / "fuxin" / "facilities.csv"),
    (HERE / "panjin" / "facilities_curated.csv", HERE / "panjin" / "facilities.csv"),
    (HERE / "liaoning" / "collaborating_curated.csv", HERE / "liaoning" / "collaborating_units.csv"),
]


def estimate_capacity(df: pd.DataFrame) -> pd.DataFrame:
    """Fill empty beds / outpatient_daily by the rule above and mark them ``estimate``."""
    df = df.copy()
    beds = pd.to_numeric(df["beds"], errors="coerce")
    rule_beds = df["level"].map(BEDS_BY_LEVEL).astype(float)
    rule_beds[df["kind"].isin(NO_BED_ESTIMATE_KINDS)] = np.nan
    fill = beds.isna() & rule_beds.notna()
    df.loc[fill, "beds"] = rule_beds[fill].astype(int).astype(str)
    df.loc[fill, "beds_status"] = RULE
    beds = pd.to_numeric(df["beds"], errors="coerce")
    op = pd.to_numeric(df["outpatient_daily"], errors="coerce")
    fill_op = op.isna() & beds.notna()
    df.loc[fill_op, "outpatient_daily"] = (beds[fill_op] * OUTPATIENT_PER_BED).round().astype(int).astype(str)
    df.loc[fill_op, "outpatient_status"] = RULE_OP
    df["modelled"] = "false"
    return df


def main() -> None:
    for src, dst in PAIRS:
        df = pd.read_csv(src, dtype=str, keep_default_na=False)
        out = estimate_capacity(df)
        tmp = dst.with_suffix(".tmp")
        out.to_csv(tmp, index=False)
        tmp.replace(dst)
        # the CSV's coordinates are WGS-84 degrees; a sidecar .prj declares it (simulator.load.readers.declared_crs)
        dst.with_suffix(".prj").write_text("EPSG:4326\n", encoding="utf-8")
        est = out["beds_status"].str.startswith("estimate").sum()
        print(f"{dst.relative_to(HERE.parent)}: {len(out)} facilities, {est} bed figures estimated by rule")


if __name__ == "__main__":
    main()
